"""SPF macro expansion (RFC 7208 section 7).

Expansion itself is pure: the one macro that needs DNS, %{p} (the validated client name, 7.3),
is resolved by the evaluator beforehand and passed in as ``validated_name``.
"""

from __future__ import annotations

import ipaddress
import re
import time
from dataclasses import dataclass
from urllib.parse import quote

from zegel.spf.parser import MacroExpand, MacroString

__all__ = ["MAX_DOMAIN_LENGTH", "MacroContext", "expand", "expand_domain", "truncate_domain"]

MAX_DOMAIN_LENGTH = 253

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class MacroContext:
    """The values macros expand to, fixed for one check_host() call (RFC 7208 7.2)."""

    sender: str  # s: <sender>
    local_part: str  # l
    sender_domain: str  # o
    ip: IpAddress
    helo: str  # h
    receiver: str = "unknown"  # r: the checking host's name (7.2: "unknown" if not known)
    timestamp: int | None = None  # t: None means "now"

    @property
    def ip_dotted(self) -> str:
        """i: dotted quad, or the dot-separated nibbles of an IPv6 address (7.3)."""
        if self.ip.version == 4:
            return str(self.ip)
        return ".".join(self.ip.exploded.replace(":", ""))

    @property
    def ip_readable(self) -> str:
        """c: the SMTP client IP in its usual text form (RFC 5952 for IPv6) (7.3)."""
        return str(self.ip)

    @property
    def ip_version_label(self) -> str:
        """v: "in-addr" for IPv4, "ip6" for IPv6 (7.2)."""
        return "in-addr" if self.ip.version == 4 else "ip6"


def _raw_value(letter: str, ctx: MacroContext, domain: str, validated_name: str | None) -> str:
    if letter == "s":
        return ctx.sender
    if letter == "l":
        return ctx.local_part
    if letter == "o":
        return ctx.sender_domain
    if letter == "d":
        return domain
    if letter == "i":
        return ctx.ip_dotted
    if letter == "h":
        return ctx.helo
    if letter == "v":
        return ctx.ip_version_label
    if letter == "p":
        return validated_name or "unknown"
    if letter == "c":
        return ctx.ip_readable
    if letter == "r":
        return ctx.receiver
    if letter == "t":
        return str(ctx.timestamp if ctx.timestamp is not None else int(time.time()))
    raise ValueError(f"unknown macro letter {letter!r}")  # the parser rejects these


def _transform(value: str, macro: MacroExpand) -> str:
    # RFC 7208 7.3: split on the delimiters (default "."), optionally reverse, keep the
    # right-most N parts, and join with "." whatever the delimiters were.
    if macro.digits is None and not macro.reverse and not macro.delimiters:
        return value
    if macro.delimiters:
        parts = re.split("[" + re.escape(macro.delimiters) + "]", value)
    else:
        parts = value.split(".")
    if macro.reverse:
        parts.reverse()
    if macro.digits is not None and macro.digits < len(parts):
        parts = parts[len(parts) - macro.digits:]
    return ".".join(parts)


def expand(spec: MacroString, ctx: MacroContext, domain: str, validated_name: str | None = None) -> str:
    """Expand a macro-string for the current ``domain`` (the <domain> of check_host)."""
    out: list[str] = []
    for part in spec.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        value = _transform(_raw_value(part.letter, ctx, domain, validated_name), part)
        if part.url_escape:
            # RFC 7208 7.3: upper-case macro letters are URL-escaped (RFC 3986 unreserved kept).
            value = quote(value, safe="-._~")
        out.append(value)
    return "".join(out)


def truncate_domain(name: str) -> str:
    """RFC 7208 7.3: a name over 253 characters loses labels from the left until it fits."""
    if name.endswith("."):
        name = name[:-1]  # a trailing dot is ignored for domains
    while len(name) > MAX_DOMAIN_LENGTH and "." in name:
        name = name.split(".", 1)[1]
    return name


def expand_domain(spec: MacroString, ctx: MacroContext, domain: str, validated_name: str | None = None) -> str:
    """Expand a domain-spec into the name to query."""
    if spec.is_literal:
        return truncate_domain(spec.literal)
    return truncate_domain(expand(spec, ctx, domain, validated_name))
