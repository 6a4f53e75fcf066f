"""Message splitting, header selection and canonicalization (RFC 6376 sections 3.4, 3.7, 5.4.2).

Everything works on raw bytes. A message with bare LF line endings (a Unix .eml file) is
treated as if every LF were CRLF (decided by its header section; see ``Message.unix_newlines``). Bodies are canonicalized in bounded chunks cut at line
ends with whole-buffer bytes operations (no per-line Python loops), so a 50 MB body costs
one pass and about one chunk of extra memory.

Public, stable API (zegel.arc depends on it):

- ``parse_message(raw) -> Message``: header fields (``HeaderField(name, raw)``) and the body.
- ``select_headers(headers, names) -> list[HeaderField | None]``: bottom-up selection, None for
  a name with no instance left (over-signed / absent: hashes as nothing).
- ``canonicalize_header(raw_field, method) -> bytes``: one field, with its CRLF.
- ``headers_hash_input(headers, names, method) -> bytes``: the selected fields, canonicalized.
- ``signature_field_input(raw_field, method, tag="b") -> bytes``: the signature's own field
  with the b= value removed and no final CRLF (RFC 6376 section 3.7).
- ``body_hash(body, method, hash_name="sha256", limit=None, unix_newlines=None) -> BodyHash``
  (pass ``unix_newlines=message.unix_newlines``).
- ``canonicalize_body(body, method) -> bytes``; ``iter_canonical_body(body, method)``.
- ``MessageFormatError``: the header section cannot be split into fields.

``method`` is ``"simple"`` or ``"relaxed"``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import islice, repeat
from operator import itemgetter
from typing import NamedTuple, cast

from zegel.rfc5322 import header_split

__all__ = [
    "CANONICALIZATIONS",
    "BodyHash",
    "HeaderField",
    "Message",
    "MessageFormatError",
    "body_hash",
    "canonicalize_body",
    "canonicalize_header",
    "headers_hash_input",
    "iter_canonical_body",
    "parse_message",
    "select_headers",
    "signature_field_input",
]

CANONICALIZATIONS = ("simple", "relaxed")
CHUNK_SIZE = 1 << 20  # body canonicalization works on ~1 MiB pieces cut at line ends
# Bounds on the header section, so a hostile message cannot make parsing use unbounded memory
# (each field costs a Python object). Real header sections are far smaller (Postfix's default
# header_size_limit is 100 KiB); one 1 MB field is fine.
MAX_HEADER_BYTES = 16 << 20
MAX_HEADER_LINES = 200_000

_BARE_LF = re.compile(rb"(?<!\r)\n")
# One header field: name, optional WSP, colon, the rest of the line, continuation lines.
# Anchored at a line start ((?m)^): findall then tries each line once instead of every offset,
# which is what keeps a long line without a colon linear (unanchored, the name run was
# rescanned from every offset of it: quadratic).
_FIELD = re.compile(rb"(?m)^(([\x21-\x39\x3b-\x7e]+)[ \t]*:[^\n]*\n(?:[ \t][^\n]*\n)*)")
# RFC 5322 3.6.8: field-name = 1*ftext (printable US-ASCII except ":"); obsolete syntax
# (RFC 5322 4.5.8) allows WSP between the name and the colon.
_FIELD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_TAB_TO_SPACE = bytes.maketrans(b"\t", b" ")
# Substring tests use bytes.find: ``sub in data`` first tries ``sub`` as an integer and builds
# (and drops) a TypeError message each time, which costs more than the search itself.


_first = itemgetter(0)
_second = itemgetter(1)


class MessageFormatError(ValueError):
    """The header section of a message cannot be split into header fields (one-line reason)."""


class HeaderField(NamedTuple):
    """One header field: ``name`` lower-cased (ASCII) without trailing WSP, ``raw`` the whole
    field as in the message with CRLF line endings, including its final CRLF. (A NamedTuple:
    immutable, and cheap to build for every field of every message.)"""

    name: str
    raw: bytes


# HeaderField(name, raw) from a (name, raw) pair, as NamedTuple._make does, in C.
_new_field = cast("Callable[[tuple[str, bytes]], HeaderField]", partial(tuple.__new__, HeaderField))


@dataclass(frozen=True, slots=True)
class Message:
    """A message split at the first empty line.

    ``body`` is a zero-copy view of the original bytes (line endings as received).
    ``has_separator`` is False when no empty line was found: everything is header, the body
    is empty. ``skipped_mbox_line`` is True when a leading Unix mbox ``From `` line was dropped.
    ``unix_newlines`` is True when the header section has bare LF line ends (a Unix file):
    then the body's bare LFs are read as CRLF too; a message with CRLF headers (as from SMTP)
    has its body taken as it is.
    """

    headers: tuple[HeaderField, ...]
    body: memoryview
    has_separator: bool
    skipped_mbox_line: bool = False
    unix_newlines: bool = False

    def fields_named(self, name: str) -> list[HeaderField]:
        """All fields with that (case-insensitive) name, top to bottom."""
        wanted = name.lower()
        return [field for field in self.headers if field.name == wanted]


def _to_crlf(data: bytes) -> bytes:
    """Bare LF -> CRLF (a no-op, without copying, when the data already uses CRLF)."""
    newlines = data.count(b"\n")
    if newlines and newlines != data.count(b"\r\n"):
        return _BARE_LF.sub(b"\r\n", data)
    return data


def parse_message(raw: bytes) -> Message:
    """Split ``raw`` into header fields and body (RFC 5322 section 2.1).

    The header section ends at the first empty line; bare LF counts as CRLF. A leading mbox
    ``From `` line (not a header field) is skipped. Raises :class:`MessageFormatError` when
    a header line is neither a field nor a continuation line, or the header section exceeds
    MAX_HEADER_BYTES / MAX_HEADER_LINES.
    """
    view = memoryview(raw)
    if not raw:
        return Message((), view, False)
    # The one split every package shares (zegel.rfc5322), so DKIM signs and verifies exactly
    # the header fields that DMARC, ARC and the verifier read.
    split = header_split(raw)
    if split is not None and split[0] == 0:  # the message starts with the empty line
        return Message((), view[split[1]:], True, unix_newlines=split[1] == 1)
    if split is not None:
        header_bytes, body, has_separator = raw[: split[0]], view[split[1]:], True
    else:
        header_bytes, body, has_separator = raw, view[len(raw):], False
    if len(header_bytes) > MAX_HEADER_BYTES:
        raise MessageFormatError(f"header section larger than {MAX_HEADER_BYTES >> 20} MiB")
    newlines = header_bytes.count(b"\n")
    if newlines > MAX_HEADER_LINES:
        raise MessageFormatError(f"header section has more than {MAX_HEADER_LINES} lines")
    unix_newlines = False
    if newlines and newlines != header_bytes.count(b"\r\n"):  # _to_crlf, with the count at hand
        header_bytes, unix_newlines = _BARE_LF.sub(b"\r\n", header_bytes), True
    if not header_bytes.endswith(b"\r\n"):
        header_bytes += b"\r\n"
    skipped = False
    start = 0
    if header_bytes.startswith(b"From "):
        first_line_end = header_bytes.find(b"\r\n") + 2
        if not _FIELD_NAME.match(header_bytes, 0, first_line_end):
            start, skipped = first_line_end, True  # a Unix mbox separator line
    # findall runs the field grammar in C; the fields cover the section exactly when their
    # lengths add up, otherwise a line in between is not a header field.
    pairs = _FIELD.findall(header_bytes, start)
    raws = list(map(_first, pairs))
    if sum(map(len, raws)) != len(header_bytes) - start:
        position = start
        for match in _FIELD.finditer(header_bytes, start):
            if match.start() != position:
                break
            position = match.end()
        number = header_bytes.count(b"\r\n", start, position) + 1
        shown = header_bytes[position : position + 40].split(b"\r\n")[0]
        raise MessageFormatError(f"header line {number} is not a header field: {shown!r}")
    if not pairs:
        return Message((), body, has_separator, skipped, unix_newlines)
    # All names decoded and lower-cased at once (they are ASCII without LF), and the fields
    # built without a Python call each.
    names = b"\n".join(map(_second, pairs)).decode("ascii").lower().split("\n")
    fields = tuple(map(_new_field, zip(names, raws, strict=True)))
    return Message(fields, body, has_separator, skipped, unix_newlines)


def select_headers(headers: Sequence[HeaderField], names: Sequence[str]) -> list[HeaderField | None]:
    """The fields to hash for an h= list (RFC 6376 section 5.4.2).

    For a name listed several times, instances are taken from the bottom of the header
    upwards; a name with no unused instance left yields None, which hashes as nothing
    (this is what makes over-signing work).
    """
    lowered = [name.lower() for name in names]
    if len(set(lowered)) == len(lowered):
        # Each name listed once (the usual h=): its bottom-most field, which is what a dict
        # built top to bottom keeps, with no Python loop over the header.
        return list(map(dict(zip(map(_first, headers), headers, strict=True)).get, lowered))
    positions: dict[str, list[HeaderField]] = {name: [] for name in lowered}
    for field in headers:
        bucket = positions.get(field.name)
        if bucket is not None:
            bucket.append(field)
    return [bucket.pop() if (bucket := positions[name]) else None for name in lowered]


def _relaxed_field(field: bytes) -> bytes:
    # RFC 6376 3.4.2: lower-case the name, unfold, reduce WSP runs to one SP, delete WSP at
    # the end of the value and around the colon.
    # (bytes operations: a regex substitution costs more on a long value such as b=)
    name, _, value = field.partition(b":")
    if value.find(b"\n") >= 0:
        value = value.replace(b"\r\n", b"")
    if value.find(b"\t") >= 0:
        value = value.translate(_TAB_TO_SPACE)
    value = _collapse_spaces(value).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value + b"\r\n"


def canonicalize_header(raw_field: bytes, method: str) -> bytes:
    """One header field in canonical form, ending in CRLF (RFC 6376 sections 3.4.1, 3.4.2)."""
    if method == "relaxed":
        return _relaxed_field(raw_field[:-2] if raw_field.endswith(b"\r\n") else raw_field)
    if method == "simple":
        return raw_field if raw_field.endswith(b"\r\n") else raw_field + b"\r\n"
    raise ValueError(f"unknown canonicalization {method!r}")


def headers_hash_input(headers: Sequence[HeaderField], names: Sequence[str], method: str) -> bytes:
    """The canonicalized header fields named in h=, in h= order (RFC 6376 section 3.7)."""
    present = [field for field in select_headers(headers, names) if field is not None]
    if method == "relaxed":
        return _relaxed_fields(present)
    return b"".join([canonicalize_header(field.raw, method) for field in present])


def _relaxed_fields(fields: Sequence[HeaderField], *, terminated: bool = True) -> bytes:
    """RFC 6376 3.4.2 for several fields at once: unfolding and WSP rules run over the joined
    block with bytes operations; only the name and the colon are handled field by field.
    ``terminated=False`` leaves out the last field's CRLF."""
    raws = [field.raw for field in fields]
    if not all(map(bytes.endswith, raws, repeat(b"\r\n"))):
        joined = b"".join([canonicalize_header(raw, "relaxed") for raw in raws])
        return joined if terminated else joined[:-2]
    block = b"".join(raws)
    if block.find(b"\r\n ") >= 0 or block.find(b"\r\n\t") >= 0:  # unfold: a CRLF before WSP goes
        block = block.replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")
    if block.find(b"\t") >= 0:
        block = block.translate(_TAB_TO_SPACE)
    block = _collapse_spaces(block)
    if block.find(b" \r\n") >= 0:  # WSP at the end of a value
        block = block.replace(b" \r\n", b"\r\n")
    out = []
    # After unfolding each field is one line: "Name[ ]:[ ]value".
    for field, line in zip(fields, block.split(b"\r\n"), strict=False):
        size = len(field.name)
        if line[size : size + 2] == b": ":  # the usual "Name: value"
            out.append(line[:size].lower() + b":" + line[size + 2 :])
            continue
        rest = line[size + 1 :] if line[size : size + 1] == b":" else line[size + 2 :]  # past "[ ]:"
        out.append(line[:size].lower() + b":" + (rest[1:] if rest[:1] == b" " else rest))
    if terminated:
        out.append(b"")
    return b"\r\n".join(out)


def signature_field_input(raw_field: bytes, method: str, tag: str = "b") -> bytes:
    """The signature header field as it enters its own hash (RFC 6376 section 3.7): the value
    of ``tag`` (b=) deleted together with its surrounding whitespace, canonicalized, and
    without the trailing CRLF. ARC passes the same ``b`` tag for AMS and AS."""
    stripped = _without_tag_value(raw_field[:-2] if raw_field.endswith(b"\r\n") else raw_field, tag)
    if method == "relaxed":
        return _relaxed_field(stripped)[:-2]
    if method == "simple":
        return stripped
    raise ValueError(f"unknown canonicalization {method!r}")


def _without_tag_value(field: bytes, tag: str) -> bytes:
    colon = field.find(b":")
    wanted = tag.encode("ascii")
    # b= is usually the last tag: then only that piece is cut, without splitting the rest.
    last = max(field.rfind(b";"), colon) + 1
    name, equals, _ = field[last:].partition(b"=")
    if equals and name.strip(b" \t\r\n") == wanted:
        return field[:last] + name + b"="
    head, parts = field[: colon + 1], field[colon + 1 :].split(b";")
    for index in range(len(parts) - 1, -1, -1):
        name, equals, _ = parts[index].partition(b"=")
        if equals and name.strip(b" \t\r\n") == wanted:
            parts[index] = name + b"="
            break
    return head + b";".join(parts)


def signed_header_data(
    headers: Sequence[HeaderField], names: Sequence[str], method: str, signature: HeaderField, tag: str = "b"
) -> bytes:
    """``headers_hash_input(headers, names, method) + signature_field_input(signature.raw,
    method, tag)``: everything a signature's header hash covers. Relaxed, the signature field
    joins the selected ones in a single pass over one block."""
    if method != "relaxed" or not signature.raw.endswith(b"\r\n"):
        return headers_hash_input(headers, names, method) + signature_field_input(signature.raw, method, tag)
    present = list(filter(None, select_headers(headers, names)))  # a HeaderField is a non-empty tuple
    present.append(_new_field((signature.name, _without_tag_value(signature.raw[:-2], tag) + b"\r\n")))
    return _relaxed_fields(present, terminated=False)


def _chunks(body: bytes | memoryview) -> Iterator[bytes]:
    """The body in pieces of about CHUNK_SIZE, each ending right after an LF (except the
    last), so no line, CRLF or WSP run straddles two pieces."""
    view = memoryview(body)
    size = len(view)
    start = 0
    while start < size:
        end = start + CHUNK_SIZE
        if end >= size:
            yield bytes(view[start:])
            return
        piece = bytes(view[start:end])
        cut = piece.rfind(b"\n")
        while cut < 0 and end < size:  # one very long line: extend until a line end
            end = min(size, end + CHUNK_SIZE)
            piece = bytes(view[start:end])
            cut = piece.rfind(b"\n")
        if cut < 0:
            yield piece
            return
        yield piece[: cut + 1]
        start += cut + 1


def _trailing_line_ends(chunk: bytes) -> int:
    """Length of ``chunk`` without its trailing CR/LF octets, without copying the chunk
    (a short scan from the end; bytes.rstrip would copy everything before)."""
    end = len(chunk)
    index = end
    while index and chunk[index - 1] in (10, 13):
        index -= 1
        if end - index > 64:  # a long run of empty lines: let C do it
            return len(chunk.rstrip(b"\r\n"))
    return index


def _split_trailing_empty_lines(chunk: bytes) -> tuple[int, int]:
    """(content_length, n): ``chunk`` == chunk[:content_length] + CRLF * n, where the content
    is empty or does not end in an empty line (all LFs are in CRLF pairs here)."""
    core = _trailing_line_ends(chunk)
    tail = chunk[core:]
    if not tail:
        return len(chunk), 0
    if tail.endswith(b"\r") and not tail.endswith(b"\r\n"):
        return len(chunk), 0  # ends in a bare CR: no line end at all
    bare_cr = tail.rfind(b"\r\r")  # the last CR not followed by LF
    if bare_cr >= 0:
        keep = core + bare_cr + 1 + 2  # the line with the bare CR, and its CRLF
        return keep, (len(chunk) - keep) // 2
    if core:
        return core + 2, (len(tail) - 2) // 2
    return 0, len(tail) // 2


def _collapse_spaces(chunk: bytes) -> bytes:
    """Runs of SP -> one SP. split/join is one pass in C (bytes.replace with a shorter
    replacement makes two). A run of three or more SP leaves a piece that is empty or starts
    with SP; only then is another round needed, which spares a rescan of the whole chunk."""
    if chunk.find(b"  ") < 0:
        return chunk
    parts = chunk.split(b"  ")
    joined = b" ".join(parts)
    if len(parts) > 4096:  # very many runs: let C look for what is left
        while joined.find(b"  ") >= 0:
            joined = b" ".join(joined.split(b"  "))
        return joined
    for part in islice(parts, 1, None):
        if not part or part[0] == 0x20:
            return _collapse_spaces(joined)
    return joined


def iter_canonical_body(
    body: bytes | memoryview, method: str, *, unix_newlines: bool | None = None
) -> Iterator[bytes | memoryview]:
    """The canonical body (RFC 6376 sections 3.4.3 simple, 3.4.4 relaxed) as byte pieces.

    Empty lines at the end are dropped; a non-empty body gets a final CRLF; the simple
    canonical form of an empty body is one CRLF, the relaxed form is empty.

    Line endings: ``unix_newlines=True`` turns every bare LF into CRLF (a Unix .eml file),
    ``False`` takes the body as it is (a message from SMTP, where lines end in CRLF and a
    stray LF is data), ``None`` (default) detects bare LFs piece by piece and converts them.
    ``parse_message`` tells which applies: ``Message.unix_newlines``.
    """
    if method not in CANONICALIZATIONS:
        raise ValueError(f"unknown canonicalization {method!r}")
    relaxed = method == "relaxed"
    pending_crlf = 0
    emitted = False
    ends_with_crlf = True
    for chunk in _chunks(body):
        if unix_newlines is None:
            chunk = _to_crlf(chunk)
        elif unix_newlines and chunk.find(b"\n") >= 0:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if relaxed:
            # RFC 6376 3.4.4: WSP runs become one SP, WSP at line ends goes. Whole-buffer
            # C operations only: no per-line loop, no per-match objects.
            if chunk.find(b"\t") >= 0:
                chunk = chunk.translate(_TAB_TO_SPACE)
            chunk = _collapse_spaces(chunk)
            if chunk.find(b" \r\n") >= 0:
                chunk = b"\r\n".join(chunk.split(b" \r\n"))
            if chunk.endswith(b" "):  # only the final, unterminated line can end in WSP here
                chunk = chunk[:-1]
        content_length, empty_lines = _split_trailing_empty_lines(chunk)
        if content_length:
            while pending_crlf:
                run = min(pending_crlf, max(1, CHUNK_SIZE // 2))
                yield b"\r\n" * run
                pending_crlf -= run
            yield chunk if content_length == len(chunk) else memoryview(chunk)[:content_length]
            emitted = True
            ends_with_crlf = chunk.endswith(b"\r\n", 0, content_length)
        pending_crlf += empty_lines
    # A non-empty body ends in CRLF; the simple form of an empty body is a single CRLF.
    if (emitted and not ends_with_crlf) or (not emitted and not relaxed):
        yield b"\r\n"


def canonicalize_body(body: bytes | memoryview, method: str, *, unix_newlines: bool | None = None) -> bytes:
    """The whole canonical body as one bytes object (see :func:`iter_canonical_body`)."""
    return b"".join(iter_canonical_body(body, method, unix_newlines=unix_newlines))


@dataclass(frozen=True, slots=True)
class BodyHash:
    """``digest`` of the first ``limit`` canonical octets (all of them without a limit);
    ``length`` is the full canonical body length."""

    digest: bytes
    length: int


def body_hash(
    body: bytes | memoryview,
    method: str,
    *,
    hash_name: str = "sha256",
    limit: int | None = None,
    unix_newlines: bool | None = None,
) -> BodyHash:
    """Hash the canonical body (RFC 6376 section 3.7), honouring an l= ``limit``.
    ``unix_newlines``: see :func:`iter_canonical_body` (pass ``Message.unix_newlines``)."""
    hasher = hashlib.sha256() if hash_name == "sha256" else hashlib.new(hash_name)
    if (
        method == "simple" and unix_newlines is False and len(body) > 2
        and body[-2:] == b"\r\n" and body[-3] not in (10, 13)
    ):
        # The usual SMTP body, ending in one CRLF after text: its simple canonical form is the
        # body itself (what iter_canonical_body yields too), hashed without a copy.
        length = len(body)
        hasher.update(body if limit is None or limit >= length else body[:limit])
        return BodyHash(hasher.digest(), length)
    length = 0
    for piece in iter_canonical_body(body, method, unix_newlines=unix_newlines):
        if limit is None:
            hasher.update(piece)
        elif length < limit:
            hasher.update(piece[: limit - length])
        length += len(piece)
    return BodyHash(hasher.digest(), length)
