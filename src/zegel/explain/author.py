"""The From domain of a pasted message: one call, linear, never recursing on attacker text.

``email.utils.getaddresses`` recurses on nested comments (a From followed by 1,000 ``(`` raises
RecursionError), so it is never used here: explain reads From with the receiver's own parser,
:func:`zegel.dmarc.author.parse_address_list`, so a helpdesk sees the author domain exactly as
the DMARC check judges it.
"""

from __future__ import annotations

from collections.abc import Sequence

from zegel.dmarc.author import address_domain, parse_address_list

MAX_FROM_VALUE = 16_384  # of a Return-Path-like value read for the next-step command only


def from_mailboxes(value: str) -> list[str]:
    """The addr-specs of one From value (linear; see parse_address_list)."""
    return list(parse_address_list(value).addresses)


def author_domain(from_values: Sequence[str]) -> tuple[str | None, str]:
    """The single author domain of the From field values, and an empty problem or why none.

    No domain when there is no From, several From fields or mailboxes with different domains,
    or a value the receiver's parser finds malformed (RFC 7489 6.6.1: no single author domain,
    so nothing is authenticated).
    """
    if not from_values:
        return None, "no_from"
    if len(from_values) > 1:
        return None, "several_from"
    parsed = parse_address_list(from_values[0])
    if parsed.problems:
        return None, "bad_from"
    domains: list[str] = []
    for mailbox in parsed.addresses:
        domain, problem = address_domain(mailbox)
        if problem or domain is None:
            return None, "bad_from"
        if domain not in domains:
            domains.append(domain)
    if not domains:
        return None, "bad_from"
    if len(domains) > 1:
        return None, "several_from"
    return domains[0], ""
