"""ARC sealing: add the next ARC set as an intermediary (RFC 8617 section 5.1).

The new set is ARC-Authentication-Results (this hop's results), ARC-Message-Signature (a
DKIM-style signature over the message) and ARC-Seal (a signature over the whole chain).
Tags are written in alphabetical order, one space after each semicolon, folded only at
semicolons: the relaxed canonical form is then the exact form the public test suite signs.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Sequence

from zegel.arc.headers import (
    ARC_FIELDS,
    MAX_INSTANCE,
    ArcSet,
    ArcStructureError,
    build_chain,
    collect_arc_fields,
)
from zegel.dkim.canonicalize import (
    HeaderField,
    MessageFormatError,
    body_hash,
    canonicalize_header,
    headers_hash_input,
    parse_message,
    signature_field_input,
)
from zegel.dkim.keys import PrivateKey, algorithm_for_key, load_private_key, sign_bytes

__all__ = ["DEFAULT_SIGNED_HEADERS", "ArcSealError", "collect_auth_results", "seal"]

# Header fields the ARC-Message-Signature covers by default: those that identify and
# describe the message (RFC 6376 section 5.4.1's recommendations), plus DKIM-Signature so a
# later hop can tell the original signature was intact (RFC 8617 section 4.1.2 suggests it).
# ARC fields are never listed (RFC 8617 section 4.1.2).
DEFAULT_SIGNED_HEADERS = (
    "from", "to", "cc", "subject", "date", "message-id", "reply-to", "in-reply-to",
    "references", "mime-version", "content-type", "content-transfer-encoding",
    "list-id", "list-post", "list-unsubscribe", "dkim-signature",
)

_LINE_LIMIT = 78  # RFC 5322 section 2.1.1: lines SHOULD be at most 78 characters
_ARC_RESULT = re.compile(r"(?:^|;)\s*arc\s*=\s*([A-Za-z]+)", re.I)
_AUTHSERV_ID = re.compile(r"[^\s;()\"]+\Z")
_WSP_OR_BREAK = re.compile(r"\s+")


class ArcSealError(ValueError):
    """The message cannot be sealed with these arguments (one-line reason)."""


def seal(
    message: bytes,
    *,
    domain: str,
    selector: str,
    private_key: bytes | str | PrivateKey,
    authserv_id: str,
    auth_results: str,
    timestamp: int | None = None,
    headers: Sequence[str] | None = None,
    cv: str | None = None,
) -> list[bytes]:
    """The ARC-Seal, ARC-Message-Signature and ARC-Authentication-Results header fields
    (in that order, each ending in CRLF) to prepend to ``message`` for the next instance.

    ``auth_results``: this hop's results without the authserv-id, e.g.
    ``"spf=pass smtp.mailfrom=example.org; dkim=pass header.d=example.org; arc=pass"``.
    ``cv``: this hop's verdict on the chain it received (none|pass|fail). When omitted it is
    ``none`` for a message without ARC sets and otherwise read from the ``arc=`` result in
    ``auth_results`` (RFC 8617 section 5.1.1 says the sealer records it there).
    Returns ``[]`` when no set may be added: the newest seal already says cv=fail (the chain
    is terminated) or the chain holds 50 sets (RFC 8617 section 4.2.1).
    Raises :class:`ArcSealError` for arguments or a message that cannot be sealed.
    """
    if not _AUTHSERV_ID.match(authserv_id):
        raise ArcSealError(f"invalid authserv-id {authserv_id!r}")
    _check_name(domain, "domain")
    _check_name(selector, "selector")
    try:
        key = load_private_key(private_key)
    except ValueError as exc:
        raise ArcSealError(str(exc)) from None
    try:
        parsed = parse_message(message)
    except MessageFormatError as exc:
        raise ArcSealError(f"not a message: {exc}") from None
    names = [name.strip().lower() for name in (headers if headers is not None else DEFAULT_SIGNED_HEADERS)]
    banned = sorted({name for name in names if name in ARC_FIELDS})
    if banned:
        # RFC 8617 section 4.1.2: ARC header fields MUST NOT be in the AMS's h= list.
        raise ArcSealError(f"the ARC-Message-Signature must not sign {', '.join(banned)}")
    if any(not name or ":" in name or _WSP_OR_BREAK.search(name) for name in names):
        raise ArcSealError("invalid header field name in headers")

    chain, broken = _existing_chain(parsed.headers)
    if chain and chain[-1].cv == "fail":
        return []  # RFC 8617 section 5.1.2: a chain that ended in cv=fail is not extended
    highest = chain[-1].instance if chain else broken
    cv = _chain_status(cv, bool(chain) or broken > 0, broken > 0, auth_results)
    instance = highest + 1
    if instance > MAX_INSTANCE:
        return []
    when = int(time.time()) if timestamp is None else int(timestamp)
    algorithm = algorithm_for_key(key)

    aar = _field("ARC-Authentication-Results", _aar_value(instance, authserv_id, auth_results))
    digest = body_hash(parsed.body, "relaxed", hash_name="sha256").digest
    ams_tags = {
        "a": algorithm,
        "b": "",
        "bh": base64.b64encode(digest).decode("ascii"),
        "c": "relaxed/relaxed",
        "d": domain,
        "h": ":".join(names),
        "i": str(instance),
        "s": selector,
        "t": str(when),
    }
    unsigned_ams = _field("ARC-Message-Signature", _tag_list(ams_tags))
    # RFC 6376 section 3.7 as used by RFC 8617 section 5.1.1: the signed fields, then the AMS
    # itself with an empty b=, relaxed.
    ams_input = headers_hash_input(parsed.headers, names, "relaxed")
    ams_input += signature_field_input(unsigned_ams, "relaxed")
    ams_tags["b"] = base64.b64encode(sign_bytes(key, algorithm, ams_input)).decode("ascii")
    ams = _field("ARC-Message-Signature", _tag_list(ams_tags))

    seal_tags = {"a": algorithm, "b": "", "cv": cv, "d": domain, "i": str(instance), "s": selector,
                 "t": str(when)}
    unsigned_seal = _field("ARC-Seal", _tag_list(seal_tags))
    seal_input = b""
    # RFC 8617 section 5.1.2: after a failed chain the seal covers only the new set.
    if cv != "fail":
        for arc_set in chain:
            for arc_field in arc_set.fields_in_seal_order():
                seal_input += canonicalize_header(arc_field.raw, "relaxed")
    seal_input += canonicalize_header(aar, "relaxed") + canonicalize_header(ams, "relaxed")
    seal_input += signature_field_input(unsigned_seal, "relaxed")
    seal_tags["b"] = base64.b64encode(sign_bytes(key, algorithm, seal_input)).decode("ascii")
    return [_field("ARC-Seal", _tag_list(seal_tags)), ams, aar]


def _existing_chain(fields: Sequence[HeaderField]) -> tuple[list[ArcSet], int]:
    """(the chain, 0) when the ARC fields form a valid structure; ([], highest instance seen)
    when they do not (the new set then records cv=fail)."""
    try:
        arc_fields = collect_arc_fields(fields)
    except ArcStructureError:
        return [], MAX_INSTANCE
    if not arc_fields:
        return [], 0
    try:
        return build_chain(arc_fields), 0
    except ArcStructureError:
        pass
    highest = 0
    for arc_field in arc_fields:
        match = re.search(r"(?:^|[;\s])i\s*=\s*([0-9]{1,2})\s*(?:;|$)", arc_field.value)
        if match:
            highest = max(highest, min(int(match.group(1)), MAX_INSTANCE))
    return [], max(highest, 1)


def _chain_status(cv: str | None, has_chain: bool, broken: bool, auth_results: str) -> str:
    """The cv= of the new seal (RFC 8617 section 5.1.1 / 4.1.3)."""
    if not has_chain:
        if cv not in (None, "none"):
            raise ArcSealError(f"cv={cv} for a message without ARC sets (it must be none)")
        return "none"
    if broken:
        return "fail"
    if cv is None:
        match = _ARC_RESULT.search(auth_results)
        if match is None:
            raise ArcSealError("the message has ARC sets: give cv= or an arc= result in auth_results")
        cv = match.group(1).lower()
    if cv not in ("pass", "fail"):
        raise ArcSealError(f"cv={cv} for a message with ARC sets (it must be pass or fail)")
    return cv


def _check_name(value: str, what: str) -> None:
    labels = value.split(".")
    if not value or any(not label or not re.fullmatch(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9])?", label)
                        for label in labels):
        raise ArcSealError(f"invalid {what} {value!r}")


def _aar_value(instance: int, authserv_id: str, auth_results: str) -> str:
    # RFC 8617 section 4.1.1: "i=N; " then the RFC 8601 payload. Line breaks in the input are
    # flattened so they cannot start a new header field.
    results = _WSP_OR_BREAK.sub(" ", auth_results).strip().strip(";").strip()
    return f"i={instance}; {authserv_id}; {results or 'none'}"


def _tag_list(tags: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in tags.items())


def _field(name: str, value: str) -> bytes:
    """``Name: value`` CRLF, folded only after a "; " so relaxed canonicalization restores the
    unfolded form exactly."""
    lines: list[str] = []
    line = f"{name}:"
    for piece in _split_results(value):
        if len(line) + 1 + len(piece) > _LINE_LIMIT and not line.endswith(":"):
            lines.append(line)
            # A space, not a tab: some validators (dkimpy) look for " i=N;" in the raw field.
            line = " " + piece
        else:
            line += " " + piece
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _split_results(value: str) -> list[str]:
    """``value`` cut after each ';' outside comments and quoted strings, pieces keep the ';'."""
    pieces: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        current.append(char)
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif quoted:
            quoted = char != '"'
        elif char == '"':
            quoted = True
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif char == ";" and not depth:
            pieces.append("".join(current).strip())
            current = []
    tail = "".join(current).strip()
    if tail:
        pieces.append(tail)
    return pieces


def collect_auth_results(message: bytes, authserv_id: str) -> str:
    """This ADMD's results from the message's Authentication-Results fields, for the AAR.

    Every Authentication-Results field whose authserv-id is ``authserv_id`` (case-insensitive)
    contributes its results, top to bottom, joined with "; " (the consolidation the ARC test
    suite assumes; RFC 8617 section 5.1.1 leaves it to the implementation). Returns "" when
    there are none. A message that cannot be parsed has none.
    """
    try:
        parsed = parse_message(message)
    except MessageFormatError:
        return ""
    wanted = authserv_id.lower()
    results: list[str] = []
    for header in parsed.fields_named("authentication-results"):
        value = header.raw.partition(b":")[2].decode("utf-8", "replace")
        pieces = _split_results(_WSP_OR_BREAK.sub(" ", value))
        if not pieces:
            continue
        # RFC 8601 section 2.2: authserv-id [ CFWS authres-version ] ";" ...
        head = pieces[0].rstrip(";").split()
        if not head or head[0].lower() != wanted:
            continue
        results.extend(p.rstrip(";").strip() for p in pieces[1:] if p.rstrip(";").strip())
    return "; ".join(results)
