"""zegel.rfc5322: where a raw message's header section ends, checked against the plain
definition (the earliest CRLF CRLF or LF LF) on generated messages and on the odd cases."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zegel.rfc5322 import first_blank_line, header_section_end


def _earliest_blank_line(data: bytes) -> int:
    """The definition, with two plain searches."""
    found = [i for i in (data.find(b"\r\n\r\n"), data.find(b"\n\n")) if i != -1]
    return min(found) if found else -1


# Messages made of the bytes that matter here: line ends in every mix, and a little text.
_pieces = st.lists(st.sampled_from([b"\r", b"\n", b"\r\n", b"a", b":", b" ", b"\t"]), max_size=40)


@settings(max_examples=500, deadline=None)
@given(_pieces)
def test_first_blank_line_is_the_earliest_crlf_crlf_or_lf_lf(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    assert first_blank_line(data) == _earliest_blank_line(data)
    for limit in (0, 3, len(data) // 2):
        assert first_blank_line(data, limit) == _earliest_blank_line(data[:limit])


@settings(max_examples=500, deadline=None)
@given(_pieces)
def test_header_section_end_keeps_the_last_line_ending_and_leaves_the_blank_line(pieces: list[bytes]) -> None:
    message = b"".join(pieces)
    end = header_section_end(message)
    blank = _earliest_blank_line(message)
    if message.startswith((b"\r\n", b"\n")):
        assert end == 0
    elif blank == -1:
        assert end == len(message)
    else:
        assert end == blank + (2 if message[blank:blank + 4] == b"\r\n\r\n" else 1)
        # What follows is the empty line itself.
        assert message[end:].startswith((b"\r\n", b"\n"))


@pytest.mark.parametrize(("message", "blank", "end"), [
    (b"A: 1\r\nB: 2\r\n\r\nbody\n\nmore", 10, 12),
    (b"A: 1\nB: 2\n\nbody\r\n\r\n", 9, 10),
    (b"A: 1\n\r\nB: 2\r\n\r\nbody", 11, 13),  # LF CR LF after a bare LF is not an empty line
    (b"A: 1\r\n\nbody", 5, 6),  # CR LF then LF: the LF LF counts
    (b"\r\nbody", -1, 0),  # no header fields at all
    (b"A: 1\r\nB: 2\r\n", -1, 12),  # no body
    (b"", -1, 0),
])
def test_odd_cases(message: bytes, blank: int, end: int) -> None:
    assert first_blank_line(message) == blank
    assert header_section_end(message) == end


def test_hostile_line_ends() -> None:
    """Long runs of LF CR LF without an empty line, then one: found, past every decoy."""
    data = b"x" + b"\n\r\na" * 200_000
    assert first_blank_line(data) == -1
    assert header_section_end(data) == len(data)
    assert first_blank_line(data + b"\n\n") == len(data)
    assert first_blank_line(data, 1000) == -1
