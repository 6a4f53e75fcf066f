"""Identifier Alignment (RFC 9989 section 3.2.10 and 4.4, RFC 7489 section 3.1).

Strict: the authenticated domain equals the author domain. Relaxed: both have the same
Organizational Domain — found by the DNS Tree Walk (RFC 9989 4.10.2) or the Public Suffix List
(RFC 7489 3.2), depending on ``mode``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from publicsuffixlist import PublicSuffixList

from zegel import aio
from zegel.dmarc.discovery import Mode, OrgDomain, labels_of, organizational_domain
from zegel.dns import InvalidName, Resolver, normalize

AlignmentMode = Literal["r", "s"]


@dataclass(frozen=True, slots=True)
class Alignment:
    """Whether ``identifier`` aligns with ``author_domain``; ``aligned`` is None when a DNS failure
    kept the Organizational Domains from being found."""

    identifier: str
    author_domain: str
    mode: AlignmentMode
    aligned: bool | None
    reason: str = ""


def _canonical(domain: str) -> str:
    return _canonical_text(domain) if type(domain) is str else _canonical_uncached(domain)


def _canonical_uncached(domain: str) -> str:
    text = domain.strip().rstrip(".").lower()
    try:
        return normalize(text) if text else text
    except InvalidName:
        return text


# Pure and asked for the same few names on every message: memoized, bounded.
_canonical_text = functools.lru_cache(maxsize=4096)(_canonical_uncached)


def shares_top_label(a: str, b: str) -> bool:
    """Two names can only have the same Organizational Domain if they share its labels, so at
    least the top-level one; otherwise relaxed alignment needs no lookups."""
    return bool(labels_of(a)) and bool(labels_of(b)) and labels_of(a)[-1] == labels_of(b)[-1]


def alignment_without_lookups(identifier: str, author_domain: str, alignment_mode: AlignmentMode) -> Alignment | None:
    """The Alignment :func:`check_alignment` gives when it needs no DNS (no identifier,
    identical names, strict mode, no shared top-level label), or None when it needs the
    Organizational Domains."""
    if (type(identifier) is str and type(author_domain) is str and type(alignment_mode) is str
            and len(identifier) + len(author_domain) <= 600):
        return _known_alignment(identifier, author_domain, alignment_mode)
    return _alignment_without_lookups(identifier, author_domain, alignment_mode)


def _alignment_without_lookups(identifier: str, author_domain: str, alignment_mode: AlignmentMode) -> Alignment | None:
    ident, author = _canonical(identifier), _canonical(author_domain)
    if not ident:
        return Alignment(identifier, author_domain, alignment_mode, False, "no domain")
    if ident == author:
        # Identical names are aligned in both modes; no lookups needed (RFC 9989 4.10.2 note).
        return Alignment(ident, author, alignment_mode, True, "identical domains")
    if alignment_mode == "s":
        return Alignment(ident, author, "s", False, f"strict alignment: {ident} is not {author}")
    if not shares_top_label(ident, author):
        return Alignment(ident, author, "r", False, f"{ident} and {author} share no parent domain")
    return None


# Pure (three strings in, an immutable Alignment or None out): memoized, bounded.
_known_alignment = functools.lru_cache(maxsize=4096)(_alignment_without_lookups)


async def check_alignment(
    identifier: str,
    author_domain: str,
    alignment_mode: AlignmentMode,
    resolver: Resolver,
    *,
    mode: Mode = "rfc9989",
    psl: PublicSuffixList | None = None,
    org_cache: dict[str, OrgDomain] | None = None,
) -> Alignment:
    """Check one authenticated identifier (SPF MAIL FROM domain or DKIM d=) against the author
    domain. ``org_cache`` (domain -> OrgDomain) lets one evaluation share its tree walks."""
    known = alignment_without_lookups(identifier, author_domain, alignment_mode)
    if known is not None:
        return known
    ident, author = _canonical(identifier), _canonical(author_domain)
    orgs = await _org_domains([ident, author], resolver, mode=mode, psl=psl, cache=org_cache)
    org_ident, org_author = orgs[ident], orgs[author]
    for org in (org_ident, org_author):
        if org.status != "ok":
            return Alignment(ident, author, "r", None, f"organizational domain of {org.domain} unknown: {org.reason}")
    if org_ident.org_domain == org_author.org_domain:
        return Alignment(ident, author, "r", True, f"same organizational domain {org_author.org_domain}")
    return Alignment(ident, author, "r", False,
                     f"organizational domains differ: {org_ident.org_domain} vs {org_author.org_domain}")


async def _org_domains(
    domains: list[str],
    resolver: Resolver,
    *,
    mode: Mode,
    psl: PublicSuffixList | None,
    cache: dict[str, OrgDomain] | None,
) -> dict[str, OrgDomain]:
    cache = cache if cache is not None else {}
    missing = [d for d in dict.fromkeys(domains) if d not in cache]
    if missing:
        found = await aio.gather(*(organizational_domain(d, resolver, mode=mode, psl=psl) for d in missing))
        for domain, org in zip(missing, found, strict=True):
            cache[domain] = org
    return {d: cache[d] for d in domains}
