"""The Author Domain(s): the domain(s) of the RFC5322.From header field, from raw message bytes.

RFC 7489 section 6.6.1 / RFC 9989 section 5.3.1 leave the odd cases to the receiver; zegel's
choices (docs/dmarc.md):

- no From field, or From fields without any domain (``From: undisclosed-recipients:;``,
  ``From: alice``): no Author Domain — ``evaluate_message`` gives ``permerror`` (RFC 5322 3.6
  requires exactly one From field with at least one mailbox);
- several From fields, or one with several mailboxes: every distinct domain is an Author Domain
  and each is evaluated; the strictest outcome wins (RFC 7489 6.6.1);
- a mailbox whose domain is a literal (``user@[192.0.2.1]``) or not a valid DNS name gives no
  domain and is reported in ``problems``.
"""

from __future__ import annotations

import email.utils
import functools
import re
from dataclasses import dataclass

from zegel.dmarc.discovery import normalize_domain

# Bounds that keep a hostile header block from costing unbounded time.
MAX_FROM_FIELDS = 20
MAX_FROM_VALUE = 16_384


@dataclass(frozen=True, slots=True)
class AuthorDomains:
    """What the From header field(s) of a message say. ``domains``: distinct A-label domains in
    order of appearance; ``problems``: one line per oddity (empty for a normal message)."""

    domains: tuple[str, ...]
    addresses: tuple[str, ...]
    field_count: int
    problems: tuple[str, ...] = ()

    @property
    def domain(self) -> str | None:
        """The single Author Domain, or None when there are zero or several."""
        return self.domains[0] if len(self.domains) == 1 else None


# A From value with one plain mailbox: an optional simple or quoted display name and <addr>,
# or a bare addr. Anything else (groups, comments, several mailboxes, escapes) goes to
# email.utils.getaddresses.
_SIMPLE_FROM = re.compile(
    r'\s*(?:(?:"[^"\\]*"|[^"<>,;:@()\\]*?)\s*<([^<>@\s",;:()\\]+@[A-Za-z0-9.-]+)>'
    r'|([^<>@\s",;:()\\]+@[A-Za-z0-9.-]+))\s*'
)

def header_block(message: bytes) -> bytes:
    """The header section: everything before the first empty line (CRLF or bare LF)."""
    if message.startswith((b"\r\n", b"\n")):
        return b""
    # The earlier of CRLF CRLF and LF LF: a LF LF ending before the first CRLF CRLF is found
    # without scanning the body.
    crlf = message.find(b"\r\n\r\n")
    lf = message.find(b"\n\n", 0, crlf) if crlf != -1 else message.find(b"\n\n")
    end = lf if lf != -1 else crlf
    return message[:end] if end != -1 else message


@functools.lru_cache(maxsize=64)
def _field_pattern(name: bytes) -> re.Pattern[bytes]:
    # Matched at a LF (the block gets one in front), in the lower-cased block: the name,
    # optional blanks and a colon; then the value with its continuation lines, which start
    # with a space or a tab (RFC 5322 2.2, 2.2.3).
    return re.compile(rb"\n" + re.escape(name) + rb"[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)")


def header_fields(block: bytes, name: bytes) -> list[bytes]:
    """Unfolded values of every field called ``name`` (case-insensitive), in order."""
    wanted = name.lower()
    if not wanted or any(c < 33 or c > 126 or c == 58 for c in wanted):
        return _header_fields_by_line(block, wanted)  # not a field name (RFC 5322 3.6.8)
    pattern = _field_pattern(wanted)
    needle = b"\n" + wanted
    # Candidate lines are found with bytes.find (ASCII case folding, like bytes.lower); offsets
    # in ``lowered`` are one past those in ``block``.
    lowered = b"\n" + block.lower()
    values: list[bytes] = []
    position = lowered.find(needle)
    while position != -1:
        match = pattern.match(lowered, position)
        if match is not None:
            value = block[match.start(1) - 1 : match.end(1) - 1]
            if b"\n" in value or value.endswith(b"\r"):
                value = b"".join(line.rstrip(b"\r") for line in value.split(b"\n"))
            values.append(value)
        position = lowered.find(needle, position + 1)
    return values


def _header_fields_by_line(block: bytes, wanted: bytes) -> list[bytes]:
    values: list[bytes] = []
    current: list[bytes] | None = None
    for line in block.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if current is not None:
                current.append(line)
            continue
        if current is not None:
            values.append(b"".join(current))
            current = None
        field_name, colon, value = line.partition(b":")
        if colon and field_name.rstrip(b" \t").lower() == wanted:
            current = [value]
    if current is not None:
        values.append(b"".join(current))
    return values


def _domain_of(address: str) -> tuple[str | None, str | None]:
    local, at, host = address.rpartition("@")
    if not at or not local:
        return None, f"mailbox {address!r} has no domain"
    host = host.strip().rstrip(".")
    if host.startswith("["):
        return None, f"mailbox {address!r} uses an address literal, not a domain"
    domain = normalize_domain(host)
    if not domain:
        return None, f"mailbox {address!r} has an invalid domain"
    return domain, None


def author_domains(message: bytes) -> AuthorDomains:
    """Extract the RFC5322.From domain(s) of a raw message."""
    fields = header_fields(header_block(message), b"from")
    problems: list[str] = []
    if not fields:
        return AuthorDomains((), (), 0, ("no From header field",))
    if len(fields) > 1:
        problems.append(f"{len(fields)} From header fields (RFC 5322 allows one)")
    domains: list[str] = []
    addresses: list[str] = []
    for raw in fields[:MAX_FROM_FIELDS]:
        if len(raw) > MAX_FROM_VALUE:
            problems.append(f"From field longer than {MAX_FROM_VALUE} octets; only its start is read")
            raw = raw[:MAX_FROM_VALUE]
        # RFC 6532 allows UTF-8 in header fields; anything else is kept as replacement characters.
        text = raw.decode("utf-8", "replace")
        simple = _SIMPLE_FROM.fullmatch(text)
        if simple:  # the common "Name <a@b>" / "a@b": same answer as getaddresses, much cheaper
            mailboxes = [simple.group(1) or simple.group(2)]
        else:
            mailboxes = [addr for _, addr in email.utils.getaddresses([text]) if addr]
        if not mailboxes:
            problems.append("From field without a mailbox")
            continue
        for mailbox in mailboxes:
            addresses.append(mailbox)
            domain, problem = _domain_of(mailbox)
            if problem:
                problems.append(problem)
            if domain and domain not in domains:
                domains.append(domain)
    if len(addresses) > 1 and len(fields) == 1:
        problems.append(f"From field holds {len(addresses)} mailboxes")
    if len(domains) > 1:
        problems.append(f"several author domains: {', '.join(domains)}")
    return AuthorDomains(tuple(domains), tuple(addresses), len(fields), tuple(problems))
