"""The plain definition of where a raw message's header section ends, line by line, for tests
to check zegel.rfc5322 and the fast paths built on it against: a line ends at LF, with or
without a CR before it (as DKIM, dkimpy, OpenDKIM and Postfix read mail), and the header
section ends at the first empty line (or lone CR); when that is the first line, the message
has no header fields."""

from __future__ import annotations


def separator_by_lines(data: bytes) -> tuple[int, int] | None:
    """``(start, end)``: start of the last header line's line end, start of the body."""
    line_start, previous_line_end = 0, None
    for index, byte in enumerate(data):
        if byte != 10:
            continue
        if data[line_start:index] in (b"", b"\r"):
            return (0 if previous_line_end is None else previous_line_end), index + 1
        previous_line_end = index - 1 if index > line_start and data[index - 1] == 13 else index
        line_start = index + 1
    return None


def blank_line_by_lines(data: bytes) -> int:
    """Where the header fields end (without their last line end), or -1 without an empty line."""
    separator = separator_by_lines(data)
    return -1 if separator is None else separator[0]
