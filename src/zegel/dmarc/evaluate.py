"""DMARC evaluation: policy discovery, Identifier Alignment, the result, the policy that applied
and the disposition (RFC 9989 section 5.3, RFC 7489 section 6.6)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, cast

from publicsuffixlist import PublicSuffixList

from zegel import aio
from zegel.dmarc.alignment import (
    Alignment,
    alignment_without_lookups,
    check_alignment,
    shares_top_label,
)
from zegel.dmarc.author import AuthorDomains, author_domains
from zegel.dmarc.discovery import (
    MODES,
    Mode,
    OrgDomain,
    PolicyDiscovery,
    _discover_cached,
    _walk_rfc9989,
    discover_policy,
    domain_exists,
    load_psl,
    normalize_domain,
    organizational_domains,
)
from zegel.dmarc.record import DmarcRecord, Policy
from zegel.dns import Resolver

DmarcResultName = Literal["pass", "fail", "none", "temperror", "permerror"]
PolicyTag = Literal["p", "sp", "np"]

_ONE_LEVEL_DOWN: dict[Policy, Policy] = {"reject": "quarantine", "quarantine": "none", "none": "none"}
_STRICTNESS: dict[str, int] = {"none": 0, "quarantine": 1, "reject": 2}


class SpfLike(Protocol):
    """What evaluate needs of an SPF result (zegel.spf.SpfResult has it): the result for the
    RFC5321.MailFrom identity (postmaster@HELO for a null MAIL FROM, RFC 7208 2.4) and the
    domain it checked."""

    @property
    def result(self) -> str: ...

    @property
    def domain(self) -> str | None: ...


class DkimLike(Protocol):
    """What evaluate needs of one DKIM signature's result (zegel.dkim.DkimResult has it)."""

    @property
    def result(self) -> str: ...

    @property
    def domain(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class DmarcResult:
    """The DMARC verdict for one message (or one author domain of it).

    ``policy``: the Domain Owner Assessment Policy that applies (from ``policy_tag``: p, sp or np),
    None when no record applies. ``disposition``: what the sender asks to be done with *this*
    message after pct sampling (RFC 7489 mode) or t=y testing (RFC 9989 mode); ``none`` unless the
    result is ``fail``.
    """

    result: DmarcResultName
    from_domain: str | None
    policy: Policy | None = None
    disposition: Policy = "none"
    policy_domain: str | None = None
    org_domain: str | None = None
    record: DmarcRecord | None = None
    policy_tag: PolicyTag | None = None
    spf_aligned: bool = False
    dkim_aligned: bool = False
    spf_domain: str | None = None
    dkim_domains: tuple[str, ...] = ()  # d= of passing signatures that aligned
    alignments: tuple[Alignment, ...] = ()
    mode: Mode = "rfc9989"
    testing: bool = False  # t=y lowered the disposition (RFC 9989)
    sampled: bool | None = None  # RFC 7489 pct: True/False when pct < 100 decided, else None
    reason: str = ""
    discovery: PolicyDiscovery | None = field(default=None, repr=False)
    author: AuthorDomains | None = field(default=None, repr=False)

    @property
    def aligned(self) -> bool:
        return self.spf_aligned or self.dkim_aligned

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``result``, ``policy``, ``disposition``, ``from_domain`` and the details."""
        return {
            "result": self.result,
            "policy": self.policy,
            "disposition": self.disposition,
            "from_domain": self.from_domain,
            "policy_domain": self.policy_domain,
            "org_domain": self.org_domain,
            "policy_tag": self.policy_tag,
            "spf_aligned": self.spf_aligned,
            "dkim_aligned": self.dkim_aligned,
            "spf_domain": self.spf_domain,
            "dkim_domains": list(self.dkim_domains),
            "mode": self.mode,
            "testing": self.testing,
            "sampled": self.sampled,
            "record": self.record.text if self.record is not None else None,
            "reason": self.reason,
        }


_normalized_domain = normalize_domain


def _identifier(domain: str) -> str:
    """An authenticated domain as given by SPF/DKIM results; some tools pass the whole MAIL FROM
    address (RFC 8601 2.7.2 allows it for smtp.mailfrom), so the domain part is taken."""
    text = domain.rpartition("@")[2] if "@" in domain else domain
    return _normalized_domain(text) or text.strip().rstrip(".").lower()


def _passing(value: str | None) -> bool:
    return (type(value) is str and value == "pass") or str(value or "").strip().lower() == "pass"


async def evaluate(
    from_domain: str,
    *,
    spf: SpfLike | None,
    dkim: Sequence[DkimLike],
    resolver: Resolver | None = None,
    mode: Mode = "rfc9989",
    psl: PublicSuffixList | None = None,
    draw: float | None = None,
) -> DmarcResult:
    """Evaluate DMARC for author domain ``from_domain`` given the SPF result (for the MAIL FROM
    identity) and the DKIM results of the message's signatures.

    ``mode``: ``rfc9989`` (Tree Walk, t=) or ``rfc7489`` (Public Suffix List, pct=; pass the
    ``psl`` from ``load_psl()`` to avoid loading it per call). ``draw``: the random number in
    [0, 100) used for pct sampling — a message is subject to the policy when ``draw < pct``;
    None draws one.
    """
    return await _evaluate(from_domain, spf=spf, dkim=dkim, resolver=resolver, mode=mode, psl=psl, draw=draw,
                           found=None)


async def _evaluate(
    from_domain: str,
    *,
    spf: SpfLike | None,
    dkim: Sequence[DkimLike],
    resolver: Resolver | None,
    mode: Mode,
    psl: PublicSuffixList | None,
    draw: float | None,
    found: AuthorDomains | None,
) -> DmarcResult:
    """:func:`evaluate`, with ``found`` set as the result's ``author`` (evaluate_message with one
    author domain): each result is built once, not copied field by field."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    resolver = resolver if resolver is not None else Resolver()
    if mode == "rfc7489" and psl is None:
        psl = load_psl()
    author = _normalized_domain(from_domain) if isinstance(from_domain, str) else None
    if author is None:
        return DmarcResult("permerror", from_domain or None, mode=mode, author=found,
                           reason=f"author domain {from_domain!r} is not a valid domain name")

    # Authenticated identifiers (RFC 9989 4.4): the SPF-authenticated MAIL FROM domain and the
    # d= of each passing DKIM signature.
    spf_domain = None
    if spf is not None and _passing(spf.result) and spf.domain:
        spf_domain = _identifier(spf.domain)
    # Plain loops, not comprehensions: one signature is the usual case, and a comprehension's
    # own call costs more than its one step.
    passed: dict[str, None] = {}  # insertion-ordered set
    for sig in dkim:
        if _passing(sig.result) and sig.domain:
            passed[_identifier(sig.domain)] = None
    dkim_domains = list(passed)
    org_cache: dict[str, OrgDomain] = {}
    memo_key: tuple[Any, ...] | None = None
    # The Tree Walks relaxed alignment may need do not depend on the policy record: run them
    # beside policy discovery (they share most names, which the resolver coalesces and caches).
    walk_for: list[str] = []
    if mode == "rfc9989":
        for d in dict.fromkeys([spf_domain or "", *dkim_domains]):
            if d and d != author and shares_top_label(d, author):
                walk_for.append(d)
    if walk_for:
        discovery, orgs = await aio.gather(
            discover_policy(author, resolver, mode=mode, psl=psl),
            organizational_domains([author, *walk_for], resolver, mode=mode, psl=psl),
        )
        org_cache.update(orgs)
    else:
        # Usually the author domain's own record, cached: no coroutine for the lookup.
        early = _discover_cached(author, resolver, mode)
        if isinstance(early, PolicyDiscovery):
            discovery = early
            size = len(author) + len(spf_domain or "")
            for d in dkim_domains:
                size += len(d)
            if len(dkim_domains) <= _MEMO_SIGNERS and size <= 1024:
                # Below, a pure function of these and the discovery (one object per cached answer,
                # _own_record_outcome): reused while the cache gives that very discovery.
                memo_key = (author, spf_domain, *dkim_domains)
                memo = _DECIDED.get(memo_key)
                if memo is not None and memo[0] is discovery and memo[1] is found:
                    return memo[2]
        elif early is not None:
            discovery = await _walk_rfc9989(author, resolver, early)
        else:
            discovery = await discover_policy(author, resolver, mode=mode, psl=psl)
    status = discovery.status
    record = discovery.record
    if status in ("temperror", "permerror", "none") or record is None:
        result: DmarcResultName = status if status in ("temperror", "permerror") else "none"
        return _remember(memo_key, discovery, found, DmarcResult(
            result, author, mode=mode, discovery=discovery, policy_domain=discovery.policy_domain,
            org_domain=discovery.org_domain, reason=discovery.reason, author=found))
    if not record.usable(mode):
        # RFC 9989 4.10.1 / RFC 7489 6.6.3: an invalid p/sp/np without a valid rua means no DMARC
        # processing; zegel reports it as permerror so the broken record is visible.
        return _remember(memo_key, discovery, found, DmarcResult(
            "permerror", author, mode=mode, discovery=discovery, policy_domain=discovery.policy_domain,
            org_domain=discovery.org_domain, record=record, author=found, reason=(
                f"DMARC record at _dmarc.{discovery.policy_domain} has an invalid or missing policy "
                "and no valid rua")))

    identifiers = [(spf_domain, record.aspf)] if spf_domain else []
    for d in dkim_domains:
        identifiers.append((d, record.adkim))
    # The usual case (identical or unrelated names, strict mode) needs no DNS: those alignments
    # are known now, and the coroutines below are only made when one needs the Tree Walk.
    known = []
    for ident, amode in identifiers:
        known.append(alignment_without_lookups(ident, author, amode))
    policy_tag: PolicyTag = "p"
    subdomain_policy = discovery.is_subdomain_policy
    need_existence = subdomain_policy and mode == "rfc9989" and record.np is not None and not record.np_invalid
    if subdomain_policy:
        policy_tag = "sp"
    alignments: list[Alignment]
    if None not in known:
        alignments = cast("list[Alignment]", known)  # no None in it
        if need_existence:
            memo_key = None  # decided by a second answer too
            exists = await domain_exists(author, resolver)
        else:
            exists = None
    else:
        memo_key = None
        checks = [check_alignment(ident, author, amode, resolver, mode=mode, psl=psl, org_cache=org_cache)
                  for ident, amode in identifiers]
        if need_existence:
            alignments_done, exists = await aio.gather(aio.gather(*checks), domain_exists(author, resolver))
        else:
            alignments_done, exists = await aio.gather(*checks), None
        alignments = list(alignments_done)
    existence_note = ""
    if need_existence:
        if exists is False:
            policy_tag = "np"
        elif exists is None:
            existence_note = f"; existence of {author} unknown (DNS failure), sp applied"
    spf_alignment = alignments[0] if spf_domain else None
    dkim_alignments = alignments[1:] if spf_domain else alignments
    spf_aligned = bool(spf_alignment and spf_alignment.aligned)
    aligned: list[str] = []
    for alignment in dkim_alignments:
        if alignment.aligned:
            aligned.append(alignment.identifier)
    aligned_dkim = tuple(aligned)
    policy = record.policy_for(policy_tag, mode)
    org_domain = discovery.org_domain
    author_org = org_cache.get(author)
    if org_domain is None and author_org is not None and author_org.status == "ok":
        org_domain = author_org.org_domain  # known from an alignment walk

    # One result built in one place (no closure: its cells would slow every name above).
    disposition: Policy = "none"
    testing, sampled = False, None
    if spf_aligned or aligned_dkim:
        which = "SPF and DKIM" if spf_aligned and aligned_dkim else ("SPF" if spf_aligned else "DKIM")
        result, reason = "pass", f"aligned {which} pass" + existence_note
    else:
        unknown = next((a for a in alignments if a.aligned is None), None)
        if unknown is not None:
            result, reason = "temperror", f"alignment undetermined: {unknown.reason}"
        else:
            disposition, testing, sampled, note = _disposition(policy, record, mode, draw)
            result = "fail"
            reason = _fail_reason(author, spf_domain, dkim_domains, alignments) + note + existence_note
    return _remember(memo_key, discovery, found, DmarcResult(
        result, author, policy, disposition, discovery.policy_domain, org_domain, record, policy_tag, spf_aligned,
        bool(aligned_dkim), spf_domain, aligned_dkim, tuple(alignments), mode, testing, sampled, reason, discovery,
        found))


# _evaluate's results for a discovery made from one cached answer, keyed by the authenticated
# names (RFC 9989 mode only: no pct draw), with that discovery and the From parse they were
# made from; bounded in entries and in signers per key.
_DECIDED: dict[tuple[Any, ...], tuple[PolicyDiscovery, AuthorDomains | None, DmarcResult]] = {}
_MEMO_SIGNERS = 4


def _remember(key: tuple[Any, ...] | None, discovery: PolicyDiscovery, found: AuthorDomains | None,
              result: DmarcResult) -> DmarcResult:
    if key is not None:
        if len(_DECIDED) >= 4096:
            _DECIDED.clear()
        _DECIDED[key] = (discovery, found, result)
    return result


def _disposition(policy: Policy, record: DmarcRecord, mode: Mode, draw: float | None) -> tuple[Policy, bool, bool | None, str]:
    if policy == "none":
        return "none", False, None, ""
    if mode == "rfc9989":
        if record.t:
            # RFC 9989 4.7 t=y: apply the policy one level below the one published.
            lowered = _ONE_LEVEL_DOWN[policy]
            return lowered, True, None, f"; t=y: {policy} lowered to {lowered}"
        return policy, False, None, ""
    pct = record.pct_effective
    if pct >= 100:
        return policy, False, None, ""
    value = draw if draw is not None else random.random() * 100
    if value < pct:
        return policy, False, True, f"; selected by pct={pct}"
    # RFC 7489 6.6.4: a message not selected gets the next policy down.
    lowered = _ONE_LEVEL_DOWN[policy]
    return lowered, False, False, f"; not selected by pct={pct}: {policy} lowered to {lowered}"


def _fail_reason(author: str, spf_domain: str | None, dkim_domains: list[str], alignments: Sequence[Alignment]) -> str:
    if not spf_domain and not dkim_domains:
        return "no SPF or DKIM pass to align"
    details = "; ".join(f"{a.identifier}: {a.reason}" for a in alignments)
    return f"no authenticated identifier aligns with {author} ({details})"


async def evaluate_message(
    message: bytes,
    *,
    spf: SpfLike | None,
    dkim: Sequence[DkimLike],
    resolver: Resolver | None = None,
    mode: Mode = "rfc9989",
    psl: PublicSuffixList | None = None,
    draw: float | None = None,
) -> DmarcResult:
    """Evaluate DMARC for a raw message: extract the Author Domain(s) from its From field(s)
    (see zegel.dmarc.author for the choices) and evaluate each; the strictest result wins."""
    found = author_domains(message)
    if not found.domains:
        return DmarcResult("permerror", None, mode=mode, author=found,
                           reason="; ".join(found.problems) or "no author domain")
    resolver = resolver if resolver is not None else Resolver()
    if mode == "rfc7489" and psl is None:
        psl = load_psl()
    if len(found.domains) == 1:
        result = await _evaluate(found.domains[0], spf=spf, dkim=dkim, resolver=resolver, mode=mode, psl=psl,
                                 draw=draw, found=found)
    else:
        results = await aio.gather(*(
            evaluate(domain, spf=spf, dkim=dkim, resolver=resolver, mode=mode, psl=psl, draw=draw)
            for domain in found.domains
        ))
        note = f" [{len(results)} author domains: {', '.join(found.domains)}; strictest shown]"
        result = _with_author(strictest(results), found, note)
    return _no_pass_for_unattributed(result, found)


def _no_pass_for_unattributed(result: DmarcResult, found: AuthorDomains) -> DmarcResult:
    """A pass only for a From whose every mailbox was read: when part of it was not (a syntax
    error, a literal domain, ...), a mail client may show an author no check was run for, so
    the result is permerror, never pass (RFC 7489 6.6.1 and RFC 9989 5.3.1 leave such From
    fields to the receiver)."""
    if result.result != "pass" or not found.unattributed:
        return result
    why = "; ".join(p for p in found.problems if not p.startswith("several author domains"))
    return replace(result, result="permerror",
                   reason=f"{result.reason}; not a pass: part of the From field is not a mailbox with a domain ({why})")


def strictest(results: Sequence[DmarcResult]) -> DmarcResult:
    """RFC 7489 6.6.1: with several author domains, the most strict policy among those that fail.
    Order: fail (by disposition, then policy) > temperror > permerror > none > pass: a domain
    without a DMARC pass outranks one with, so the combined result (and the Authentication-
    Results field written from it) never claims a pass that one author lacks."""
    def rank(result: DmarcResult) -> tuple[int, int, int]:
        order = {"fail": 4, "temperror": 3, "permerror": 2, "none": 1, "pass": 0}[result.result]
        return (order, _STRICTNESS[result.disposition], _STRICTNESS.get(result.policy or "none", 0))
    return max(results, key=rank)


def _with_author(result: DmarcResult, found: AuthorDomains, note: str) -> DmarcResult:
    return replace(result, author=found, reason=result.reason + note)
