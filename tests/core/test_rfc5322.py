"""zegel.rfc5322: where a raw message's header section ends, checked against a plain
line-by-line definition (a line ends at LF, with or without CR; the header ends at the first
empty line, which may be the first line) on generated messages and on the odd cases, and against DKIM's own
split of the same messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.rfc5322_model import blank_line_by_lines, separator_by_lines

from zegel.dkim.canonicalize import MessageFormatError, parse_message
from zegel.rfc5322 import first_blank_line, header_section_end, header_separator

# Messages made of the bytes that matter here: line ends in every mix, and a little text.
_pieces = st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b":", b" ", b"\t"]), max_size=40)


@settings(max_examples=500, deadline=None)
@given(_pieces)
def test_first_blank_line_follows_the_line_by_line_definition(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    assert header_separator(data) == separator_by_lines(data)
    assert first_blank_line(data) == blank_line_by_lines(data)
    for limit in (0, 3, len(data) // 2):
        assert header_separator(data, limit) == separator_by_lines(data[:limit])
        assert first_blank_line(data, limit) == blank_line_by_lines(data[:limit])


_field_lines = st.lists(
    st.tuples(st.sampled_from([b"From: a@example.com", b"To: b", b"X: y", b" folded", b""]),
              st.sampled_from([b"\r\n", b"\n"])),
    max_size=12)


@settings(max_examples=500, deadline=None)
@given(_field_lines)
def test_dkim_splits_header_and_body_where_every_other_package_does(lines: list[tuple[bytes, bytes]]) -> None:
    """DKIM (which signs what it sees as header fields) and the packages that read headers
    through zegel.rfc5322 (DMARC's From, ARC, the verifier, A-R stripping, failure reports)
    must agree on where the body starts, in every mix of line ends."""
    message = b"".join(text + end for text, end in lines) + b"body\r\n"
    try:
        parsed = parse_message(message)
    except MessageFormatError:
        return  # a line that is not a field: DKIM gives permerror, nothing is read as a field
    if message.startswith((b"\r\n", b"\n")):
        assert parsed.headers == () and header_section_end(message) == 0
        return
    separator = header_separator(message)
    if separator is None:
        assert not parsed.has_separator
        return
    assert bytes(parsed.body) == message[separator[1]:]
    assert len(parsed.headers) == len([t for t, _ in lines[: message[: separator[0]].count(b"\n") + 1]
                                      if t and not t.startswith(b" ")])


@settings(max_examples=500, deadline=None)
@given(_pieces)
def test_header_section_end_keeps_the_last_line_ending_and_leaves_the_blank_line(pieces: list[bytes]) -> None:
    message = b"".join(pieces)
    end = header_section_end(message)
    blank = blank_line_by_lines(message)
    if message.startswith((b"\r\n", b"\n")):
        assert end == 0
    elif blank == -1:
        assert end == len(message)
    else:
        assert end == blank + (2 if message[blank:blank + 2] == b"\r\n" else 1)
        # What follows is the empty line itself.
        assert message[end:].startswith((b"\r\n", b"\n"))


@pytest.mark.parametrize(("message", "blank", "end"), [
    (b"A: 1\r\nB: 2\r\n\r\nbody\n\nmore", 10, 12),
    (b"A: 1\nB: 2\n\nbody\r\n\r\n", 9, 10),
    (b"A: 1\n\r\nB: 2\r\n\r\nbody", 4, 5),  # a bare LF ends the line, then CR LF: empty
    (b"A: 1\r\n\nbody", 4, 6),  # CR LF ends the line, then a bare LF: empty
    (b"\r\nbody", 0, 0),  # no header fields at all (RFC 5322 2.1)
    (b"\nbody\n\nmore", 0, 0),
    (b"\r\n\r\nbody", 0, 0),
    (b"\r\r\nA: 1\r\n\r\n", 7, 9),  # a first line of two CRs is not empty
    (b"A: 1\r\nB: 2\r\n", -1, 12),  # no body
    (b"", -1, 0),
])
def test_odd_cases(message: bytes, blank: int, end: int) -> None:
    assert first_blank_line(message) == blank
    assert header_section_end(message) == end


def test_a_leading_empty_line_is_the_separator_for_every_reader() -> None:
    from zegel.dmarc.author import header_block
    from zegel.reports.failure import header_section

    for message, empty_line in ((b"\r\nFrom: a@b.example\r\n\r\nx", b"\r\n"), (b"\nFrom: a@b.example\n\nx", b"\n")):
        assert header_separator(message) == (0, len(empty_line))
        assert header_block(message) == b""
        assert header_section(message) == empty_line
        parsed = parse_message(message)
        assert parsed.headers == () and bytes(parsed.body) == message[len(empty_line):]
    assert header_separator(b"\r\nx", 1) is None  # a CR alone is not yet a line end
    assert header_separator(b"\nx", 1) == (0, 1)


def test_hostile_line_ends() -> None:
    """Long runs of near-empty lines (a CR too many before each LF) without an empty line,
    then one: found, past every decoy, in one pass."""
    data = b"x" + b"\r\r\na" * 200_000
    assert first_blank_line(data) == -1
    assert header_section_end(data) == len(data)
    assert first_blank_line(data + b"\n\n") == len(data)
    assert header_separator(data + b"\r\n\r\n") == (len(data), len(data) + 4)
    assert first_blank_line(data, 1000) == -1
