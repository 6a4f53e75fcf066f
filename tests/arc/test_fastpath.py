"""has_arc_fields (the cv=none shortcut) agrees with the header-line regex it guards."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.rfc5322_model import blank_line_by_lines

from zegel.arc import validate
from zegel.arc.validate import _ARC_FIELD_LINE, NO_ARC_FIELDS, has_arc_fields


def _header_end(message: bytes) -> int:
    """The blank line ending the header section, by its line-by-line definition (or the
    whole message; nothing when the message starts with the empty line)."""
    if message.startswith((b"\r\n", b"\n")):
        return 0
    end = blank_line_by_lines(message)
    return len(message) if end == -1 else end


def by_regex(message: bytes) -> bool:
    return _ARC_FIELD_LINE.search(message, 0, _header_end(message)) is not None


MESSAGES = [
    b"From: a@example.com\r\n\r\nbody",
    b"ARC-Seal: i=1\r\n\r\n",
    b"arc-message-signature : x\r\n\r\n",
    b"From: a\r\nARC-AUTHENTICATION-RESULTS:\tx\r\n\r\n",
    b"From: a\r\nX-ARC-Seal: x\r\n\r\n",
    b"From: a\r\n arc-seal: folded\r\n\r\n",
    b"From: a\r\nSubject: arc-seal: in a value\r\n\r\n",
    b"From: a\r\n\r\nARC-Seal: in the body\r\n",
    b"From: a\n\nARC-Seal: after a bare LF blank line\r\n\r\n",
    b"From: a\nARC-Seal: LF only\n\n",
    b"ARC-Seal x: not a field\r\n\r\n",
    b"ARC-Sealed: y\r\n\r\n",
    b"From: a\r\nArc-Seal: no blank line",
    b"",
    b"\r\n\r\nARC-Seal: x",
    b"\r\nARC-Seal: i=1\r\nbody\r\n",  # no header fields at all: what follows is the body
    b"From: a\n\r\nARC-Seal: after a bare LF and a CRLF blank line\r\n\r\n",
    b"From: a\r\n" + b"X: y\r\n" * 300_000 + b"arc-seal: past the lower-cased limit\r\n\r\n",
    b"From: a\r\n" + b"X: y\r\n" * 300_000 + b"\r\n",
]


@pytest.mark.parametrize("message", MESSAGES, ids=range(len(MESSAGES)))
def test_has_arc_fields_equals_the_regex(message: bytes) -> None:
    assert has_arc_fields(message) is by_regex(message)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"ARC-", b"arc-", b"Seal", b"seal", b"message-signature",
                                 b"Authentication-Results", b":", b" ", b"\t", b"\r\n", b"\n", b"x", b"\xc4"]),
                max_size=20))
def test_has_arc_fields_property(parts: list[bytes]) -> None:
    message = b"".join(parts)
    assert has_arc_fields(message) is by_regex(message)


def test_no_arc_fields_is_the_none_result() -> None:
    result = asyncio.run(validate(b"From: a@example.com\r\n\r\nbody"))
    assert result is NO_ARC_FIELDS
    assert (result.cv, result.reason, result.hops) == ("none", "no ARC header fields", ())
