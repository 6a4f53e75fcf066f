"""DKIM tag-lists (RFC 6376 section 3.2) and the value encodings used inside them.

Shared by DKIM-Signature fields, DKIM key records and the ARC header fields (RFC 8617
section 4.1 uses the same tag-list syntax).

Public, stable API (zegel.arc depends on it):

- ``parse_tag_list(text) -> dict[str, str]``: tag name -> value, in order of appearance.
- ``decode_base64(value) -> bytes``: base64 with folding whitespace (b=, bh=, p=).
- ``decode_qp(value) -> str``: DKIM quoted-printable (i=, z=; RFC 6376 section 2.11).
- ``split_colon_list(value) -> list[str]``: colon-separated lists (h=, q=, k= lists, s=, t=).
- ``TagListError``: raised with a one-line reason.
"""

from __future__ import annotations

import binascii
import re

__all__ = ["TagListError", "decode_base64", "decode_qp", "parse_tag_list", "split_colon_list"]


class TagListError(ValueError):
    """A tag-list (or a value in it) that does not follow RFC 6376 section 3.2; one-line reason."""


# RFC 6376 3.2: tag-name = ALPHA *ALNUMPUNC
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_TAG_NAMES = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:;[A-Za-z][A-Za-z0-9_]*)*\Z")
# tval = 1*VALCHAR, VALCHAR = %x21-3A / %x3C-7E; values may contain FWS between tvals.
# RFC 8616 section 4 lets i= (and d= in U-label form) carry UTF-8, so octets above 0x7E pass.
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WSP = " \t\r\n"
_PRINTABLE_OR_TAB = bytes(range(0x20, 0x7F)) + b"\t"
_ALL_WSP = re.compile(r"[ \t\r\n]+")


def parse_tag_list(text: str) -> dict[str, str]:
    """Parse a tag-list into ``{name: value}`` (RFC 6376 section 3.2).

    - folding whitespace is allowed around names, ``=`` and values and is stripped from the
      ends of values; whitespace inside a value is kept (callers strip it where the tag's
      grammar says so, e.g. base64 values via :func:`decode_base64`);
    - a trailing ``;`` is allowed; an empty tag-spec elsewhere is an error;
    - a tag name that appears twice is an error ("Tags with duplicate names MUST NOT occur");
    - tag names are case-sensitive; unknown tags are returned too (callers ignore them).

    Raises :class:`TagListError` with the reason.
    """
    # Character checks run once over the whole text rather than per tag. Whitespace around
    # the whole list (e.g. a header field's final CRLF) is not part of it.
    text = text.strip(_WSP)
    if not _plain_folded_ascii(text):
        # Unfold with C string methods, then isprintable() (False for any control
        # character, and for some harmless Unicode, which the precise regex then clears).
        flat = text
        if "\n" in text or "\r" in text:
            flat = text.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ")
        if "\r" in flat or "\n" in flat:
            raise TagListError("line break without folding whitespace in tag-list")
        if not flat.replace("\t", " ").isprintable() and _BAD_VALUE_CHAR.search(text):
            raise TagListError("control character in tag-list")
    tags: dict[str, str] = {}
    specs = text.split(";")
    last = len(specs) - 1
    for index, spec in enumerate(specs):
        name, equals, value = spec.partition("=")
        name = name.strip(_WSP)
        if not equals:
            if not name and index == last and index > 0:
                break  # tag-list = tag-spec *( ";" tag-spec ) [ ";" ]
            if not name:
                raise TagListError("empty tag in tag-list" if index else "empty tag-list")
            raise TagListError(f"tag {_shorten(name)!r} has no '='")
        if name in tags:
            raise TagListError(f"duplicate tag {name}=")
        tags[name] = value.strip(_WSP)
    # All names checked in one match; on failure, find the culprit for the message.
    if not _TAG_NAMES.match(";".join(tags)):  # ";" cannot occur inside a name
        bad = next(name for name in tags if not _TAG_NAME.match(name))
        raise TagListError(f"invalid tag name {_shorten(bad)!r}")
    return tags


def _plain_folded_ascii(text: str) -> bool:
    """True when ``text`` is printable ASCII, tabs and CRLF SP folds only (the usual field):
    then neither check above can fail. Bytes operations are cheaper here than str ones."""
    if not text.isascii():
        return False
    data = text.encode("ascii")
    if data.find(b"\n") >= 0 or data.find(b"\r") >= 0:
        data = data.replace(b"\r\n ", b" ")
    return not data.translate(None, _PRINTABLE_OR_TAB)


def decode_base64(value: str) -> bytes:
    """Decode a base64 tag value, ignoring folding whitespace (RFC 6376 section 2.6 / 3.5 b=).

    Strict: characters outside the base64 alphabet or bad padding raise :class:`TagListError`.
    """
    compact = "".join(value.split()) if " " in value or "\n" in value or "\t" in value else value
    try:
        return binascii.a2b_base64(compact.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise TagListError(f"invalid base64 ({exc})") from None


def decode_qp(value: str) -> str:
    """Decode DKIM quoted-printable (RFC 6376 section 2.11): ``=XX`` hex octets, FWS ignored.

    The octets are decoded as UTF-8 (RFC 8616); an invalid ``=`` escape raises
    :class:`TagListError`.
    """
    if "=" not in value:
        return _ALL_WSP.sub("", value)
    compact = _ALL_WSP.sub("", value)
    out = bytearray()
    parts = compact.split("=")
    out += parts[0].encode("utf-8")
    for part in parts[1:]:
        hexpair = part[:2]
        if len(hexpair) != 2 or not all(c in "0123456789ABCDEFabcdef" for c in hexpair):
            raise TagListError(f"invalid quoted-printable escape ={_shorten(hexpair)}")
        out.append(int(hexpair, 16))
        out += part[2:].encode("utf-8")
    return out.decode("utf-8", "replace")


def split_colon_list(value: str) -> list[str]:
    """Split a colon-separated tag value (h=, q=, key h=/s=/t=), stripping FWS around items.

    Empty items are dropped only at the very end (``a:b:`` is tolerated); an empty item
    elsewhere raises :class:`TagListError`.
    """
    items = [item.strip(_WSP) for item in value.split(":")]
    if items and not items[-1]:
        items.pop()
    if any(not item for item in items):
        raise TagListError("empty item in colon-separated list")
    return items


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
