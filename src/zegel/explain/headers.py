"""Reading pasted header sections as a helpdesk gets them (``zegel explain``).

Accepted: a raw message or only its header section; CRLF or LF; a paste indented as a whole or
starting with blank lines; the text of a webmail "show original" view (a summary above the real
header section); results on unindented lines of their own (as Ziggo's headers are often pasted);
a field name on one line and ``: value`` on the next. Anything else is :class:`NotAMessage`.

The work is linear and bounded: at most ``MAX_HEADER_BYTES`` are read and at most
``MAX_FIELDS`` fields kept.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_HEADER_BYTES = 256 * 1024
MAX_FIELDS = 2000
MAX_FIELD_NAME = 76  # RFC 5322 2.1.1 line length; no real field name is longer
# A webmail summary above the real header section is at most this many lines.
MAX_PREAMBLE_LINES = 60
# Fields that start the header section of a delivered message (trace and authentication
# fields come first, RFC 5321 4.4 / RFC 8601 5).
_SECTION_STARTS = (
    "received", "return-path", "delivered-to", "x-received", "arc-seal", "authentication-results",
    "arc-authentication-results", "dkim-signature", "x-original-to", "received-spf", "x-gm-message-state",
)
# At least one of these is present in anything that is a message or its header section.
_MESSAGE_FIELDS = frozenset({
    "from", "received", "authentication-results", "arc-authentication-results", "return-path",
    "delivered-to", "dkim-signature", "message-id", "date", "subject", "to", "x-received", "arc-seal",
})


_CONTROL_BYTES = bytes(c for c in range(32) if c not in (9, 10, 13)) + b"\x7f"


class NotAMessage(ValueError):
    """The input is not an email message; ``code`` names why (``explain.not_message.<code>``)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Field:
    name: str  # lower-case
    value: str  # unfolded, stripped


def _is_field_name(name: str) -> bool:
    # RFC 5322 3.6.8: printable US-ASCII except ':' (and no space).
    return 0 < len(name) <= MAX_FIELD_NAME and name.isascii() and name.isprintable() and " " not in name


def _split_field(line: str) -> tuple[str, str] | None:
    name, colon, value = line.partition(":")
    name = name.rstrip(" \t")  # "Subject : x" is obsolete syntax, RFC 5322 4.5.3
    if colon and _is_field_name(name):
        return name, value
    return None


def _sniff(data: bytes) -> None:
    """Reject what is plainly no message before reading it as text."""
    if not data.strip():
        raise NotAMessage("empty")
    start = data.lstrip()[:8]
    if start.startswith(b"\x1f\x8b"):
        raise NotAMessage("gzip")
    if start.startswith(b"PK\x03\x04"):
        raise NotAMessage("zip")
    if start.startswith((b"<?xml", b"<feedback")):
        raise NotAMessage("xml")
    if start.startswith((b"{", b"[")):
        raise NotAMessage("json")
    sample = data[:4096]
    if b"\x00" in sample:
        raise NotAMessage("binary")
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    undecodable = sample.decode("utf-8", "replace").count("\ufffd")
    if (controls + undecodable) * 20 > len(sample):  # more than 5% undecodable or control characters
        raise NotAMessage("binary")


def _lines(data: bytes) -> list[str]:
    text = data[:MAX_HEADER_BYTES].decode("utf-8", "replace")
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    if lines and lines[0][:1] in (" ", "\t"):
        # The whole paste is indented (quoted on a forum, copied from a table): remove the
        # first line's indentation from every line, so folded lines stay indented further.
        indent = lines[0][: len(lines[0]) - len(lines[0].lstrip(" \t"))]
        lines = [line[len(indent):] if line.startswith(indent) else line.lstrip(" \t") for line in lines]
    return lines


def _section_start(lines: list[str]) -> int:
    """Index of the first line of the header section (skipping a webmail summary)."""
    if lines and _split_field(lines[0]) is not None:
        return 0
    if len(lines) > 1 and _is_field_name(lines[0].strip()) and lines[1].lstrip().startswith(":"):
        return 0  # "Authentication-Results" / ": value", as some webmail copies it
    for index, line in enumerate(lines[:MAX_PREAMBLE_LINES]):
        split = _split_field(line)
        if split is not None and split[0].lower() in _SECTION_STARTS:
            return index
    return 0


@dataclass(frozen=True)
class Header:
    """The fields read, top to bottom; ``cut``: the input went on past ``MAX_HEADER_BYTES``
    without the empty line that ends the header section, so fields below the cut are unread."""

    fields: tuple[Field, ...]
    cut: bool


def read_fields(data: bytes) -> list[Field]:
    """The header fields of a pasted message or header section, top to bottom.

    Raises :class:`NotAMessage` when the input is not one.
    """
    return list(read_header(data).fields)


def read_header(data: bytes) -> Header:
    """:func:`read_fields`, and whether the read stopped at the size limit (see :class:`Header`)."""
    _sniff(data)
    lines = _lines(data)
    start = _section_start(lines)
    names: list[str] = []
    values: list[list[str]] = []
    pending_name: str | None = None
    ended = False
    for line in lines[start:]:
        if not line.strip():
            if names or pending_name is not None:
                ended = True
                break  # the empty line that ends the header section (RFC 5322 2.1)
            continue
        if pending_name is not None and line.lstrip().startswith(":"):
            # "Authentication-Results" on one line and ": value" on the next (webmail copy).
            names.append(pending_name)
            values.append([line.lstrip()[1:].strip()])
            pending_name = None
            continue
        pending_name = None
        if line[:1] in (" ", "\t"):
            if values:
                values[-1].append(line.strip())
            continue
        split = _split_field(line)
        if split is not None:
            if len(names) >= MAX_FIELDS:
                ended = True  # enough fields: what follows is not read, by design
                break
            names.append(split[0].lower())
            values.append([split[1].strip()])
        elif _is_field_name(line.strip()) and "=" not in line:
            pending_name = line.strip().lower()
        elif values:
            # An unindented continuation: a result on its own line, as pasted from Ziggo.
            values[-1].append(line.strip())
        else:
            raise NotAMessage("no_header")
    fields = tuple(Field(name, " ".join(part for part in value if part))
                   for name, value in zip(names, values, strict=True))
    if not any(f.name in _MESSAGE_FIELDS for f in fields):
        raise NotAMessage("no_header")
    return Header(fields, cut=not ended and len(data) > MAX_HEADER_BYTES)
