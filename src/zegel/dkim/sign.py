"""DKIM signing (RFC 6376 section 5, RFC 8463)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Sequence

from zegel.dkim.canonicalize import (
    CANONICALIZATIONS,
    body_hash,
    headers_hash_input,
    parse_message,
    signature_field_input,
)
from zegel.dkim.keys import PrivateKey, algorithm_for_key, domain_name, load_private_key, sign_bytes
from zegel.dns import InvalidName

__all__ = ["DEFAULT_OVERSIGN", "DEFAULT_SIGNED_HEADERS", "SigningError", "sign"]

# RFC 6376 section 5.4.1: the fields a signer SHOULD sign when present.
DEFAULT_SIGNED_HEADERS = (
    "from", "reply-to", "subject", "date", "to", "cc",
    "resent-date", "resent-from", "resent-to", "resent-cc",
    "in-reply-to", "references",
    "list-id", "list-help", "list-unsubscribe", "list-unsubscribe-post", "list-subscribe",
    "list-post", "list-owner", "list-archive",
    "message-id", "mime-version", "content-type", "content-transfer-encoding",
)
# Over-signing (RFC 6376 section 8.15): each name listed once more than it occurs, so that no
# further instance can be added without breaking the signature. From is always over-signed.
DEFAULT_OVERSIGN = ("from", "reply-to", "subject", "date", "to", "cc", "content-type", "mime-version")

_LINE_WIDTH = 76


class SigningError(ValueError):
    """Signing impossible: bad key, bad arguments, unparsable message (one-line reason)."""


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT_OVERSIGN"


_DEFAULT = _Default()


def _fold(tags: list[tuple[str, str]]) -> bytes:
    """``DKIM-Signature: t=v; t=v; ...`` folded at about 76 columns between tags. b= always
    starts its own line and is folded inside its base64 (FWS is allowed there, RFC 6376
    3.5), so the form hashed with an empty b= matches the final field byte for byte."""
    lines: list[str] = []
    line = "DKIM-Signature:"
    for name, value in tags:
        if name == "b":
            lines.append(line)
            line = "\tb=" + "\r\n\t ".join(value[i : i + 72] for i in range(0, len(value), 72))
            continue
        # h= may be folded around its colons (RFC 6376 3.5 sig-h-tag allows FWS there)
        items = value.split(":") if name == "h" else [value]
        pieces = [f"{name}={items[0]}" + (":" if len(items) > 1 else ";")]
        pieces += [item + (":" if n < len(items) - 1 else ";") for n, item in enumerate(items) if n]
        for piece in pieces:
            if len(line) + 1 + len(piece) > _LINE_WIDTH and line != "DKIM-Signature:":
                lines.append(line)
                line = "\t" + piece
            else:
                line += " " + piece
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def _headers_to_sign(present: Iterable[str], headers: Sequence[str] | None, oversign: Iterable[str]) -> list[str]:
    counts: dict[str, int] = {}
    for name in present:
        counts[name] = counts.get(name, 0) + 1
    wanted = [h.lower() for h in headers] if headers is not None else list(DEFAULT_SIGNED_HEADERS)
    if "from" not in wanted:
        wanted.insert(0, "from")  # RFC 6376 5.4: From MUST be signed
    extra = {name.lower() for name in oversign} | {"from"}
    result: list[str] = []
    seen: set[str] = set()
    for name in wanted:
        if name in seen:
            continue
        seen.add(name)
        count = counts.get(name, 0)
        if name in extra:
            result.extend([name] * (count + 1))
        else:
            result.extend([name] * count)
    return result


def sign(
    message: bytes,
    *,
    domain: str,
    selector: str,
    private_key: bytes | str | PrivateKey,
    headers: Sequence[str] | None = None,
    canonicalization: tuple[str, str] = ("relaxed", "relaxed"),
    oversign: Iterable[str] | _Default = _DEFAULT,
    expire_in: int | None = None,
    identity: str | None = None,
    timestamp: int | None = None,
    body_length: bool = False,
) -> bytes:
    """The DKIM-Signature header field (ending in CRLF) to prepend to ``message``.

    ``private_key``: PEM/DER bytes or a ``cryptography`` RSA / Ed25519 key; the algorithm
    follows the key (rsa-sha256 or ed25519-sha256). ``headers``: field names to sign
    (default: RFC 6376 section 5.4.1 list, those present); From is always signed and
    over-signed. ``oversign``: names listed once more than they occur (default
    :data:`DEFAULT_OVERSIGN`; pass ``()`` for only From). ``expire_in``: seconds until x=.
    ``identity``: i= (must be within ``domain``). ``timestamp``: t= (default now).
    ``body_length``: add l= (discouraged: RFC 6376 section 8.2). Raises :class:`SigningError`.
    """
    header_canon, body_canon = canonicalization
    if header_canon not in CANONICALIZATIONS or body_canon not in CANONICALIZATIONS:
        raise SigningError(f"unknown canonicalization {header_canon}/{body_canon}")
    try:
        domain = domain_name(domain)
        domain_name(f"{selector}._domainkey.{domain}")
    except InvalidName as exc:
        raise SigningError(f"bad domain or selector: {exc}") from None
    if identity is not None:
        identity_domain = identity.rpartition("@")[2].lower()
        if identity_domain != domain and not identity_domain.endswith("." + domain):
            raise SigningError(f"identity {identity} is not within {domain}")
    try:
        key = load_private_key(private_key)
    except ValueError as exc:
        raise SigningError(str(exc)) from None
    try:
        parsed = parse_message(message)
    except ValueError as exc:
        raise SigningError(str(exc)) from None
    if not any(field.name == "from" for field in parsed.headers):
        raise SigningError("message has no From field (RFC 6376 5.4 requires signing it)")
    algorithm = algorithm_for_key(key)
    chosen_oversign = DEFAULT_OVERSIGN if isinstance(oversign, _Default) else tuple(oversign)
    names = _headers_to_sign((f.name for f in parsed.headers), headers, chosen_oversign)
    computed = body_hash(parsed.body, body_canon, unix_newlines=parsed.unix_newlines)
    signed_at = int(time.time()) if timestamp is None else int(timestamp)
    tags: list[tuple[str, str]] = [
        ("v", "1"),
        ("a", algorithm),
        ("c", f"{header_canon}/{body_canon}"),
        ("d", domain),
        ("s", selector),
    ]
    if identity is not None:
        tags.append(("i", _qp_identity(identity)))
    tags.append(("t", str(signed_at)))
    if expire_in is not None:
        if expire_in <= 0:
            raise SigningError("expire_in must be positive")
        tags.append(("x", str(signed_at + int(expire_in))))
    if body_length:
        tags.append(("l", str(computed.length)))
    tags.append(("h", ":".join(names)))
    tags.append(("bh", base64.b64encode(computed.digest).decode("ascii")))
    unsigned = _fold([*tags, ("b", "")])
    data = headers_hash_input(parsed.headers, names, header_canon) + signature_field_input(unsigned, header_canon)
    signature = base64.b64encode(sign_bytes(key, algorithm, data)).decode("ascii")
    return _fold([*tags, ("b", signature)])


def _qp_identity(identity: str) -> str:
    # RFC 6376 2.11: dkim-quoted-printable; encode what is not a safe character.
    out = []
    for byte in identity.encode("utf-8"):
        char = chr(byte)
        if 0x21 <= byte <= 0x7E and char not in ";=":
            out.append(char)
        else:
            out.append(f"={byte:02X}")
    return "".join(out)
