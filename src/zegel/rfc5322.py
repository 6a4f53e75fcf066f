"""Where the header section of a raw RFC 5322 message ends (section 2.1: header fields, an
empty line, the body), shared by the standards' packages that read headers from bytes."""

from __future__ import annotations

import re

_LF_CR_LF = re.compile(rb"\n\r?\n")


def first_blank_line(data: bytes, limit: int | None = None) -> int:
    """Offset of the first CRLF CRLF or LF LF in ``data[:limit]`` (the earlier of the two), or -1.

    One scan for LF [CR] LF (two bytes.find calls stumble on every CRLF of the header); a
    LF CR LF is a CRLF CRLF only after a CR, else the scan goes on (linear: it only advances)."""
    position = 0
    end = len(data) if limit is None else min(limit, len(data))
    search = _LF_CR_LF.search
    while (found := search(data, position, end)) is not None:
        start = found.start()
        if found.end() - start == 2:
            return start  # LF LF
        if start and data[start - 1] == 13:
            return start - 1  # CR LF CR LF
        position = start + 1
    return -1


def header_section_end(message: bytes) -> int:
    """Offset just past the last header line's own line ending (so the empty line stays with
    the body): 0 for a message that starts with the empty line, the whole length without one."""
    if message.startswith((b"\r\n", b"\n")):
        return 0
    blank = first_blank_line(message)
    if blank == -1:
        return len(message)
    return blank + (2 if message[blank] == 13 else 1)
