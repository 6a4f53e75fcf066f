"""The From domain of a pasted message: one call, linear, never recursing on attacker text.

``email.utils.getaddresses`` recurses on nested comments (a From followed by 1,000 ``(`` raises
RecursionError), so it is never used here. :func:`author_domain` is the single place explain
finds the author domain; when ``zegel.dmarc.author_domains`` parses From linearly (issue 10) it
can be pointed there: ``author_domains(b"From: " + value + b"\\r\\n\\r\\n").domain``.
"""

from __future__ import annotations

from collections.abc import Sequence

from zegel.dmarc.discovery import normalize_domain

MAX_FROM_VALUE = 16_384


def from_mailboxes(value: str) -> list[str]:
    """The addr-specs of one From value: the ``<...>`` of each mailbox, or its bare address.

    One pass; comments are skipped with a depth counter and quoted strings with a flag
    (RFC 5322 3.2.2-3.2.4), so work is linear in the length.
    """
    found: list[str] = []
    bare: list[str] = []
    angle: list[str] | None = None
    depth = 0
    quoted = False
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if angle is not None:
                angle.append(char)
            elif depth == 0:
                bare.append(char)
            continue
        if char == "\\" and (quoted or depth):
            escaped = True
            continue
        if quoted:
            if char == '"':
                quoted = False
            if angle is not None:
                angle.append(char)
            continue
        if depth:
            depth += 1 if char == "(" else -1 if char == ")" else 0
            continue
        if char == "(":
            depth = 1
        elif char == '"':
            quoted = True
            if angle is not None:
                angle.append(char)
        elif char == "<":
            angle = []
            bare = []
        elif char == ">" and angle is not None:
            found.append("".join(angle).strip())
            angle = None
        elif char in ",;" and angle is None:
            # A mailbox (or group) ended: keep its bare address, if it had one.
            address = "".join(bare).strip()
            if "@" in address:
                found.append(address)
            bare = []
        elif angle is not None:
            angle.append(char)
        elif char == ":":
            bare = []  # a group's display name ("undisclosed: a@b;")
        else:
            bare.append(char)
    address = "".join(bare).strip()
    if "@" in address and angle is None:
        found.append(address.split()[-1])
    return found


def author_domain(from_values: Sequence[str]) -> tuple[str | None, str]:
    """The single author domain of the From field values, and an empty problem or why none.

    No domain when there is no From, several From fields or mailboxes with different domains,
    or an address that is not ``local@domain`` with a DNS name (RFC 7489 6.6.1: no single
    author domain, so nothing is authenticated).
    """
    if not from_values:
        return None, "no_from"
    if len(from_values) > 1:
        return None, "several_from"
    value = from_values[0]
    if len(value) > MAX_FROM_VALUE or "\x00" in value:
        return None, "bad_from"
    domains: list[str] = []
    for mailbox in from_mailboxes(value):
        if "=?" in mailbox:
            return None, "bad_from"  # an encoded-word is not an address (RFC 2047 5)
        host = mailbox.rpartition("@")[2].strip()
        domain = normalize_domain(host) if len(host) <= 253 else None
        if domain is None:
            return None, "bad_from"
        if domain not in domains:
            domains.append(domain)
    if not domains:
        return None, "bad_from"
    if len(domains) > 1:
        return None, "several_from"
    return domains[0], ""
