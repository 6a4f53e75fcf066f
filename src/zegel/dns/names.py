"""Domain-name normalisation shared by the resolver, the zone overlay and the test server."""

from __future__ import annotations

import ipaddress
import re

import dns.exception
import dns.name
import dns.reversename


class InvalidName(ValueError):
    """A string that cannot be a DNS name (empty label, label over 63 octets, name over 253)."""


def to_dns_name(name: str) -> dns.name.Name:
    """Parse ``name`` (A-labels or U-labels, IDNA 2008) into an absolute dnspython name."""
    text = name.strip()
    if not text or text == ".":
        if text == ".":
            return dns.name.root
        raise InvalidName("empty domain name")
    try:
        # IDNA 2008 (UTS 46 practical mapping) for internationalised names.
        parsed = dns.name.from_text(text, origin=dns.name.root, idna_codec=dns.name.IDNA_2008_Practical)
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise InvalidName(f"invalid domain name {name!r}: {exc}") from None
    for label in parsed.labels[:-1]:
        if not label:
            raise InvalidName(f"invalid domain name {name!r}: empty label")
    return parsed


# Plain ASCII names (letters, digits, '-', '_'; labels of 1-63 octets) need no IDNA mapping or
# escaping: their normal form is just lower-case without the final dot. Anything else takes the
# full dnspython path. This is the hot path of every lookup.
_PLAIN_NAME = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}\.?")


def plain_form(name: str) -> str | None:
    """:func:`normalize` of a plain ASCII name, or None for a name that needs the full path
    (IDNA, escapes, or invalid)."""
    if len(name) <= 254 and name.isascii():
        lowered = name.lower()
        if _PLAIN_NAME.fullmatch(lowered) and (len(lowered) <= 253 or lowered.endswith(".")):
            return lowered[:-1] if lowered.endswith(".") else lowered
    return None


def normalize(name: str) -> str:
    """Lower-case A-label form without the trailing dot; raises InvalidName."""
    plain = plain_form(name)
    if plain is not None:
        return plain
    return to_dns_name(name).to_text(omit_final_dot=True).lower()


def reverse_name(ip: str) -> str:
    """The in-addr.arpa / ip6.arpa name of an address (for PTR lookups)."""
    address = ipaddress.ip_address(ip)
    return dns.reversename.from_address(str(address)).to_text(omit_final_dot=True).lower()

