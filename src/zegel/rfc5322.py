"""Where the header section of a raw RFC 5322 message ends (section 2.1: header fields, an
empty line, the body), shared by the standards' packages that read headers from bytes.

A line ends at LF, with or without a CR before it: RFC 5322 allows only CRLF, but mail read
from files uses bare LF, and MTAs (Postfix's smtpd among them) take a bare LF as a line end,
so that is the header a recipient is shown; ``zegel.dkim`` reads it so too. Every package must
split a message where DKIM does, or one field could be signed text to DKIM and a header field
to DMARC."""

from __future__ import annotations

import re

# A line end (the CR before it, if any, is found by looking back) followed by an empty line.
_EMPTY_LINE_AFTER_LINE_END = re.compile(rb"\n\r?\n")


def header_separator(data: bytes, limit: int | None = None) -> tuple[int, int] | None:
    """``(start, end)`` of the line end that closes the last header line together with the
    empty line after it (CRLF CRLF, LF LF, LF CRLF or CRLF LF) in ``data[:limit]``, or None.
    A message that starts with the empty line has no header fields: ``(0, 2)`` or ``(0, 1)``.

    ``data[:start]`` is the header fields without their last line end; ``data[end:]`` is the
    body. One regex search: linear time on any input."""
    end = len(data) if limit is None else min(limit, len(data))
    # RFC 5322 2.1 and 3.5: the header fields may be none, and then the message starts with
    # the empty line (CRLF, or a bare LF as everywhere here).
    if data.startswith(b"\n", 0, end):
        return 0, 1
    if data.startswith(b"\r\n", 0, end):
        return 0, 2
    found = _EMPTY_LINE_AFTER_LINE_END.search(data, 0, end)
    if found is None:
        return None
    start = found.start()
    if start and data[start - 1] == 13:
        start -= 1  # the last header line ends in CRLF
    return start, found.end()


def header_split(data: bytes) -> tuple[int, int] | None:
    """``(header_end, body_start)``: ``data[:header_end]`` is the header fields with the last
    one's line end, ``data[body_start:]`` the body; None when there is no empty line. A
    message that starts with the empty line gives ``(0, body_start)``."""
    separator = header_separator(data)
    if separator is None:
        return None
    start, body_start = separator
    if start == 0:
        return 0, body_start  # no header fields, so no last line end either
    return start + (2 if data[start] == 13 else 1), body_start


def first_blank_line(data: bytes, limit: int | None = None) -> int:
    """Offset where the last header line's line end starts (see :func:`header_separator`):
    the header fields are ``data[:offset]`` (0: none, the message starts with the empty line);
    -1 when ``data[:limit]`` has no empty line."""
    separator = header_separator(data, limit)
    return -1 if separator is None else separator[0]


def header_section_end(message: bytes) -> int:
    """Offset just past the last header line's own line ending (so the empty line stays with
    the body): 0 for a message that starts with the empty line, the whole length without one."""
    split = header_split(message)
    return len(message) if split is None else split[0]
