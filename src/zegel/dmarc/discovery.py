"""Where a domain's DMARC policy lives, and its Organizational Domain.

Two methods, chosen per call with ``mode``:

- ``"rfc9989"`` (default): the DNS Tree Walk of RFC 9989 section 4.10 — at most eight queries,
  PSD records (``psd=y``) and ``psd=n`` boundaries honoured (4.10.1 policy discovery, 4.10.2
  Organizational Domain).
- ``"rfc7489"``: RFC 7489 section 6.6.3 — the author domain, then its Organizational Domain taken
  from the Public Suffix List (RFC 7489 section 3.2). The list is loaded once with ``load_psl()``
  into an object the caller keeps and passes in as ``psl=``.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Literal

from publicsuffixlist import PublicSuffixList

from zegel import aio
from zegel.dmarc.record import DmarcRecord, DmarcRecordError, is_dmarc_record, parse_record
from zegel.dns import Answer, InvalidName, Resolver, Status, normalize

Mode = Literal["rfc9989", "rfc7489"]
MODES: tuple[Mode, ...] = ("rfc9989", "rfc7489")
MAX_TREE_WALK_QUERIES = 8  # RFC 9989 section 4.10
_WALK_SHORTCUT_LABELS = 7  # RFC 9989 4.10 step 4: "until 7 labels remain"

LookupStatus = Literal["record", "none", "multiple", "invalid", "tempfail"]


def load_psl(path: str | None = None) -> PublicSuffixList:
    """Load the Public Suffix List once (the copy shipped with publicsuffixlist, or ``path``).

    Keep the returned object and pass it as ``psl=`` for RFC 7489 mode: loading takes tens of
    milliseconds, lookups microseconds.
    """
    if path is None:
        return PublicSuffixList()
    with open(path, "rb") as handle:
        return PublicSuffixList(handle)


@dataclass(frozen=True, slots=True)
class DmarcLookup:
    """One ``_dmarc.DOMAIN`` TXT query and what it yielded."""

    domain: str
    status: LookupStatus
    record: DmarcRecord | None = None
    texts: tuple[str, ...] = ()  # the DMARC-looking TXT records (v=DMARC1 ...)
    error: str = ""  # parse error (invalid) or DNS reason (tempfail)

    @property
    def query_name(self) -> str:
        return f"_dmarc.{self.domain}"


@dataclass(frozen=True, slots=True)
class PolicyDiscovery:
    """The outcome of policy discovery for one author domain.

    ``status``: ``found`` (``record`` and ``policy_domain`` set), ``none`` (DMARC does not apply),
    ``temperror`` (a DNS failure stopped discovery) or ``permerror`` (the applicable record is
    broken). ``psd_domain`` is set when the record came from a Public Suffix Domain (psd=y).
    """

    domain: str
    mode: Mode
    status: Literal["found", "none", "temperror", "permerror"]
    record: DmarcRecord | None = None
    policy_domain: str | None = None
    org_domain: str | None = None
    psd_domain: str | None = None
    lookups: tuple[DmarcLookup, ...] = ()
    reason: str = ""

    @property
    def is_subdomain_policy(self) -> bool:
        """True when the record is an ancestor's (sp/np apply), False for the domain's own (p)."""
        return self.policy_domain is not None and self.policy_domain != self.domain

    @property
    def queries(self) -> int:
        return len(self.lookups)


@dataclass(frozen=True, slots=True)
class OrgDomain:
    """The Organizational Domain of ``domain``; ``status`` is ``tempfail`` if DNS failed."""

    domain: str
    org_domain: str
    status: Literal["ok", "tempfail"] = "ok"
    reason: str = ""
    lookups: tuple[DmarcLookup, ...] = ()


def labels_of(domain: str) -> list[str]:
    return [label for label in domain.split(".") if label]


def tree_walk_names(domain: str) -> list[str]:
    """The names a full RFC 9989 Tree Walk queries (section 4.10 steps 1-7): the domain itself,
    then — after shortening a name of eight or more labels to seven — each parent up to the
    top-level label. Never more than eight names."""
    labels = labels_of(domain)
    names = [".".join(labels)]
    count = len(labels)
    # Step 4: x >= 8 -> keep the right-most 7 labels; x < 8 -> remove the left-most label.
    labels = labels[-_WALK_SHORTCUT_LABELS:] if count >= 8 else labels[1:]
    while labels:
        names.append(".".join(labels))
        labels = labels[1:]
    return names[:MAX_TREE_WALK_QUERIES]


async def fetch_dmarc(domain: str, resolver: Resolver) -> DmarcLookup:
    """Query ``_dmarc.DOMAIN`` and classify the answer (RFC 9989 4.10 step 2, RFC 7489 6.6.3):
    records not starting with v=DMARC1 are discarded; several DMARC records count as none."""
    name = f"_dmarc.{domain}"
    answer = resolver.cached(name, "TXT") if type(resolver) is Resolver else None
    if answer is None:
        answer = await resolver.txt(name)
    return _lookup_of(domain, answer)


def _fetch_cached(domain: str, resolver: Resolver) -> DmarcLookup | None:
    """:func:`fetch_dmarc` when the resolver has the answer cached (no coroutine), else None
    with nothing counted."""
    answer = resolver.cached(f"_dmarc.{domain}", "TXT") if type(resolver) is Resolver else None
    return None if answer is None else _lookup_of(domain, answer)


def _lookup_of(domain: str, answer: Answer[str]) -> DmarcLookup:
    if answer.status is Status.TEMPFAIL:
        return DmarcLookup(domain, "tempfail", error=answer.reason or "DNS failure")
    if answer.status is not Status.ANSWER:
        return DmarcLookup(domain, "none")
    return _classify(domain, tuple(answer.records))


# _classify is pure (the name and the answer's texts in, an immutable DmarcLookup out): keyed by
# the answer's texts themselves, so a receiver classifies each published answer once.
@functools.lru_cache(maxsize=4096)
def _classify(domain: str, records: tuple[str, ...]) -> DmarcLookup:
    texts = tuple(text for text in records if is_dmarc_record(text))
    if not texts:
        return DmarcLookup(domain, "none")
    if len(texts) > 1:
        return DmarcLookup(domain, "multiple", texts=texts,
                           error=f"{len(texts)} DMARC records at _dmarc.{domain}: all discarded")
    try:
        record = parse_record(texts[0])
    except DmarcRecordError as exc:
        return DmarcLookup(domain, "invalid", texts=texts, error=exc.reason)
    return DmarcLookup(domain, "record", record=record, texts=texts)


async def _walk(names: list[str], resolver: Resolver) -> tuple[list[DmarcLookup], DmarcLookup | None]:
    """Query ``names`` in order, stopping after a record with psd=y or psd=n (steps 2 and 6).
    Returns the lookups done and the first TEMPFAIL lookup, if any (which also stops the walk)."""
    lookups: list[DmarcLookup] = []
    for name in names:
        lookup = await fetch_dmarc(name, resolver)
        lookups.append(lookup)
        if lookup.status == "tempfail":
            return lookups, lookup
        if lookup.record is not None and lookup.record.psd in ("y", "n"):
            break
    return lookups, None


def _select_org_domain(start: str, lookups: list[DmarcLookup]) -> tuple[str, str | None]:
    """RFC 9989 4.10.2 selection over one walk; returns (org domain, psd domain or None)."""
    found = [lookup for lookup in lookups if lookup.record is not None]
    start_labels = labels_of(start)
    for lookup in found:  # longest to shortest
        assert lookup.record is not None
        if lookup.record.psd == "n":
            return lookup.domain, None  # rule 1
        if lookup.record.psd == "y" and lookup.domain != start:
            # rule 2: the domain one label below the PSD, on the path to the start domain
            below = len(labels_of(lookup.domain)) + 1
            return ".".join(start_labels[-below:]), lookup.domain
    if found:
        return found[-1].domain, None  # rule 3: the fewest labels
    return start, None  # nothing found: the start domain is its own Organizational Domain


def _org_domain_psl(domain: str, psl: PublicSuffixList) -> str:
    # RFC 7489 3.2: the public suffix plus one label; a public suffix itself is its own org domain.
    org = psl.privatesuffix(domain)
    return str(org) if org else domain


_HOST_LABEL_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?")


def normalize_domain(domain: str) -> str | None:
    """``domain`` as lower-case A-labels without the trailing dot (RFC 9989 5.3.1: U-labels are
    converted), or None if it is not a host name (letters, digits, hyphens; '_' tolerated)."""
    return _normalize_text(domain) if isinstance(domain, str) else None


# Pure (a name in, its normal form out) and asked for the same few names on every message:
# memoized, bounded. Only str reaches it (hashable).
@functools.lru_cache(maxsize=4096)
def _normalize_text(domain: str) -> str | None:
    text = domain.strip().rstrip(".")
    if not text or len(text) > 253:
        return None
    try:
        name = normalize(text)
    except InvalidName:
        return None
    if not name or not all(_HOST_LABEL_RE.fullmatch(label) for label in name.split(".")):
        return None
    return name


_normalized = normalize_domain


async def organizational_domain(
    domain: str,
    resolver: Resolver,
    *,
    mode: Mode = "rfc9989",
    psl: PublicSuffixList | None = None,
) -> OrgDomain:
    """The Organizational Domain of ``domain``: RFC 9989 4.10.2 (a Tree Walk from the domain
    itself) or RFC 7489 3.2 (the Public Suffix List)."""
    name = _normalized(domain) or domain.lower()
    if mode == "rfc7489":
        return OrgDomain(name, _org_domain_psl(name, psl if psl is not None else load_psl()))
    lookups, failed = await _walk(tree_walk_names(name), resolver)
    if failed is not None:
        return OrgDomain(name, name, "tempfail", f"_dmarc.{failed.domain}: {failed.error}", tuple(lookups))
    org, _ = _select_org_domain(name, lookups)
    return OrgDomain(name, org, "ok", "", tuple(lookups))


async def discover_policy(
    domain: str,
    resolver: Resolver,
    *,
    mode: Mode = "rfc9989",
    psl: PublicSuffixList | None = None,
) -> PolicyDiscovery:
    """Find the DMARC record that applies to author domain ``domain``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    name = _normalized(domain)
    if name is None:
        return PolicyDiscovery(domain, mode, "permerror", reason=f"{domain!r} is not a valid domain name")
    if mode == "rfc7489":
        return await _discover_rfc7489(name, resolver, psl if psl is not None else load_psl())
    # _discover_rfc9989's first step inline (one coroutine fewer for the usual own record).
    own = await fetch_dmarc(name, resolver)
    outcome = _own_record_outcome(name, "rfc9989", own)
    if outcome is not None:
        return outcome
    return await _walk_rfc9989(name, resolver, own)


def _discover_cached(domain: str, resolver: Resolver, mode: Mode) -> PolicyDiscovery | DmarcLookup | None:
    """The first step of :func:`discover_policy` (RFC 9989 mode) from the resolver's cache,
    without a coroutine: its PolicyDiscovery when the author domain's own answer decides it;
    the own lookup (already counted) when the Tree Walk must go on (:func:`_walk_rfc9989`);
    None, with nothing counted, when discover_policy must run as it is."""
    if mode != "rfc9989":
        return None
    if _normalized(domain) != domain:
        return None  # not already normal (or not a name): discover_policy normalizes it
    own = _fetch_cached(domain, resolver)
    if own is None:
        return None
    outcome = _own_record_outcome(domain, "rfc9989", own)
    return own if outcome is None else outcome


def _own_record_outcome(name: str, mode: Mode, own: DmarcLookup) -> PolicyDiscovery | None:
    # A published record's lookup is one object per answer (_classify is memoized): its outcome
    # is a pure function of it, kept beside it (the lookup itself is the check, by identity).
    key = (name, mode)
    memo = _OWN_OUTCOMES.get(key)
    if memo is not None and memo[0] is own:
        return memo[1]
    outcome = _own_record_outcome_of(name, mode, own)
    if own.status == "record" and type(name) is str and len(name) <= 253:
        if len(_OWN_OUTCOMES) >= 4096:
            _OWN_OUTCOMES.clear()
        _OWN_OUTCOMES[key] = (own, outcome)
    return outcome


_OWN_OUTCOMES: dict[tuple[str, str], tuple[DmarcLookup, PolicyDiscovery | None]] = {}


def _own_record_outcome_of(name: str, mode: Mode, own: DmarcLookup) -> PolicyDiscovery | None:
    if own.status == "tempfail":
        return PolicyDiscovery(name, mode, "temperror", lookups=(own,),
                               reason=f"DNS failure at _dmarc.{name}: {own.error}")
    if own.status == "invalid":
        return PolicyDiscovery(name, mode, "permerror", policy_domain=name, lookups=(own,),
                               reason=f"invalid DMARC record at _dmarc.{name}: {own.error}")
    if own.record is not None:
        return PolicyDiscovery(name, mode, "found", record=own.record, policy_domain=name, lookups=(own,),
                               reason=f"record at _dmarc.{name}")
    return None


async def _discover_rfc9989(name: str, resolver: Resolver) -> PolicyDiscovery:
    # RFC 9989 4.10.1: first the author domain itself.
    own = await fetch_dmarc(name, resolver)
    outcome = _own_record_outcome(name, "rfc9989", own)
    if outcome is not None:
        # The Organizational Domain is not needed to apply the author's own record; callers that
        # want it (alignment, reports) ask organizational_domain(), which walks from the domain.
        return outcome
    return await _walk_rfc9989(name, resolver, own)


async def _walk_rfc9989(name: str, resolver: Resolver, own: DmarcLookup) -> PolicyDiscovery:
    # Several records at the author domain are all discarded (step 2); the walk goes on.
    names = tree_walk_names(name)
    walked, failed = await _walk(names[1:], resolver)
    lookups = [own, *walked]
    if failed is not None:
        return PolicyDiscovery(name, "rfc9989", "temperror", lookups=tuple(lookups),
                               reason=f"DNS failure at _dmarc.{failed.domain}: {failed.error}")
    org, psd = _select_org_domain(name, lookups)
    by_domain = {lookup.domain: lookup for lookup in lookups}
    # The record to apply: the Organizational Domain's, else the Public Suffix Domain's.
    for candidate, is_psd in ((org, False), (psd, True)):
        if candidate is None or candidate == name:
            continue
        lookup = by_domain.get(candidate)
        if lookup is None:
            continue
        if lookup.record is not None:
            return PolicyDiscovery(name, "rfc9989", "found", record=lookup.record, policy_domain=candidate,
                                   org_domain=org, psd_domain=candidate if is_psd else None,
                                   lookups=tuple(lookups),
                                   reason=f"record at _dmarc.{candidate} "
                                          f"({'public suffix domain' if is_psd else 'organizational domain'})")
    invalid = next((lookup for lookup in lookups if lookup.status == "invalid"
                    and lookup.domain in (org, psd)), None)
    if invalid is not None:
        return PolicyDiscovery(name, "rfc9989", "permerror", policy_domain=invalid.domain, org_domain=org,
                               lookups=tuple(lookups),
                               reason=f"invalid DMARC record at _dmarc.{invalid.domain}: {invalid.error}")
    why = own.error if own.status == "multiple" else f"no DMARC record for {name} or its parents"
    return PolicyDiscovery(name, "rfc9989", "none", org_domain=org, lookups=tuple(lookups), reason=why)


async def _discover_rfc7489(name: str, resolver: Resolver, psl: PublicSuffixList) -> PolicyDiscovery:
    own = await fetch_dmarc(name, resolver)
    org = _org_domain_psl(name, psl)
    outcome = _own_record_outcome(name, "rfc7489", own)
    if outcome is not None:
        return PolicyDiscovery(name, "rfc7489", outcome.status, record=outcome.record,
                               policy_domain=outcome.policy_domain, org_domain=org, lookups=outcome.lookups,
                               reason=outcome.reason)
    if own.status == "multiple":
        # RFC 7489 6.6.3 step 3: several records -> policy discovery terminates.
        return PolicyDiscovery(name, "rfc7489", "none", org_domain=org, lookups=(own,), reason=own.error)
    if org == name:
        return PolicyDiscovery(name, "rfc7489", "none", org_domain=org, lookups=(own,),
                               reason=f"no DMARC record at _dmarc.{name}")
    # RFC 7489 6.6.3 step 4: query the Organizational Domain.
    parent = await fetch_dmarc(org, resolver)
    lookups = (own, parent)
    if parent.status == "tempfail":
        return PolicyDiscovery(name, "rfc7489", "temperror", org_domain=org, lookups=lookups,
                               reason=f"DNS failure at _dmarc.{org}: {parent.error}")
    if parent.status == "invalid":
        return PolicyDiscovery(name, "rfc7489", "permerror", policy_domain=org, org_domain=org, lookups=lookups,
                               reason=f"invalid DMARC record at _dmarc.{org}: {parent.error}")
    if parent.record is not None:
        return PolicyDiscovery(name, "rfc7489", "found", record=parent.record, policy_domain=org, org_domain=org,
                               lookups=lookups, reason=f"record at _dmarc.{org} (organizational domain)")
    why = parent.error if parent.status == "multiple" else f"no DMARC record at _dmarc.{name} or _dmarc.{org}"
    return PolicyDiscovery(name, "rfc7489", "none", org_domain=org, lookups=lookups, reason=why)


async def domain_exists(domain: str, resolver: Resolver) -> bool | None:
    """RFC 9989 3.2.13 (RFC 8020): a domain does not exist when a query for it is answered
    NXDOMAIN. Returns None when DNS failed."""
    answer = await resolver.a(domain)
    if answer.status is Status.TEMPFAIL:
        return None
    return answer.status is not Status.NXDOMAIN


async def organizational_domains(
    domains: list[str], resolver: Resolver, *, mode: Mode = "rfc9989", psl: PublicSuffixList | None = None
) -> dict[str, OrgDomain]:
    """Organizational Domains of several domains, looked up concurrently."""
    unique = list(dict.fromkeys(domains))
    results = await aio.gather(*(organizational_domain(d, resolver, mode=mode, psl=psl) for d in unique))
    return dict(zip(unique, results, strict=True))
