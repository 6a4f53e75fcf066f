"""Remove Authentication-Results fields that claim our authserv-id (RFC 8601 section 5).

A border MTA must not pass on results that appear to come from itself: anything upstream could
have forged them. Fields that claim other servers' ids are left alone, as is the body.
"""

from __future__ import annotations

from collections.abc import Iterable

from zegel.authres.parse import parse
from zegel.rfc5322 import header_section_end

_FIELD = b"authentication-results"


def normal_id(authserv_id: str) -> str:
    """The form in which two authserv-ids are compared: case-insensitive, without surrounding
    (Unicode) white space or the root's trailing dot. A forged ``mx.example.`` or
    ``mx.example<NBSP>`` is the same host to a reader that normalizes names, so it goes too:
    stripping more of what claims to be ours never makes a message look better."""
    return authserv_id.strip().rstrip(".").strip().lower()


def _ids(authserv_id: str | Iterable[str]) -> frozenset[str]:
    items = [authserv_id] if isinstance(authserv_id, str) else list(authserv_id)
    return frozenset(normal for item in items if (normal := normal_id(item)))


def claims(value: bytes, ids: frozenset[str]) -> bool:
    """Whether a field value's authserv-id is one of ``ids`` (compared by :func:`normal_id`;
    ``ids`` already in that form)."""
    # Only the start is needed for the id; cap what is parsed so a huge field stays cheap.
    head = value[:2048].decode("utf-8", "replace")
    head = head.split(";", 1)[0] + ";"
    return normal_id(parse(head).authserv_id) in ids


def strip_ours(message: bytes, authserv_id: str | Iterable[str]) -> bytes:
    """Return ``message`` without the Authentication-Results fields whose authserv-id is ours.

    ``authserv_id``: our id, or several (e.g. old and new names). Everything else — other
    fields, their order and line endings, the body — is kept byte for byte.
    """
    ids = _ids(authserv_id)
    if not ids:
        return message
    end = header_section_end(message)
    header, rest = message[:end], message[end:]
    lines = header.splitlines(keepends=True)
    kept: list[bytes] = []
    field: list[bytes] = []

    def flush() -> None:
        if not field:
            return
        first = field[0]
        name, colon, value = first.partition(b":")
        if colon and name.rstrip(b" \t").lower() == _FIELD:
            unfolded = value + b"".join(field[1:])
            if claims(unfolded.replace(b"\r", b" ").replace(b"\n", b" "), ids):
                field.clear()
                return
        kept.extend(field)
        field.clear()

    for line in lines:
        if line[:1] in (b" ", b"\t") and field:
            field.append(line)
            continue
        flush()
        field.append(line)
    flush()
    return b"".join(kept) + rest
