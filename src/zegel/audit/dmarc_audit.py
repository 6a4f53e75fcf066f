"""DMARC audit: discovery, the record's tags against RFC 9989 (and what RFC 7489 receivers still
read), the policy and the path to enforcement, and the authorization of report addresses in
other domains.

Record parsing and policy discovery are zegel.dmarc's; this module turns their results into
findings a domain owner can act on.
"""

from __future__ import annotations

from dataclasses import dataclass

from zegel import aio
from zegel.audit.findings import Finding, Texts
from zegel.dmarc import (
    DmarcRecord,
    PolicyDiscovery,
    check_report_authorization,
    discover_policy,
    parse_report_uri,
)
from zegel.dns import Resolver

_RANK = {"none": 0, "quarantine": 1, "reject": 2}
# RFC 9989 "t" tag: in testing mode receivers apply the next weaker policy.
_TESTING_STEP_DOWN = {"reject": "quarantine", "quarantine": "none", "none": "none"}
# Engine warnings that make the policy itself unreliable: reported as a syntax error.
_SEVERE_ISSUES = frozenset({"unusable"})
_POLICY_TAGS = frozenset({"p", "sp", "np"})
# Engine warnings this module reports in its own, more specific words.
_COVERED_ISSUES = frozenset({"dropped-tag", "invalid-uri", "no-valid-uri"})


@dataclass(frozen=True, slots=True)
class DmarcAudit:
    findings: tuple[Finding, ...]
    status: str  # found | none | invalid | tempfail
    record: str | None = None
    policy_domain: str | None = None
    requested: str | None = None  # the policy the record asks for this domain (p or sp)
    record_policy: str | None = None  # the record's own p (its domain's policy; sp may differ)
    effective: str | None = None  # after t=y (RFC 9989)
    pct: int = 100  # RFC 7489 sampling rate (100 when absent)
    reason: str = ""


async def _report_findings(policy_domain: str, record: DmarcRecord, resolver: Resolver,
                           texts: Texts) -> list[Finding]:
    """Report addresses in another Organizational Domain need that domain's consent: the
    v=DMARC1 TXT record at POLICY._report._dmarc.TARGET (RFC 9989 / RFC 7489 7.1). The check
    itself is zegel.dmarc's."""
    addressed = [(tag, uri) for tag, uris in (("rua", record.rua), ("ruf", record.ruf))
                 for uri in uris if uri.domain is not None]
    results = await aio.gather(*(check_report_authorization(policy_domain, uri, resolver)
                                     for _, uri in addressed))
    findings: list[Finding] = []
    for (tag, uri), outcome in zip(addressed, results, strict=True):
        if outcome.authorized is None:
            findings.append(texts.finding("dmarc.report-check-failed", tag=tag, target=outcome.target_domain,
                                          domain=policy_domain, reason=outcome.reason))
        elif not outcome.authorized:
            findings.append(texts.finding("dmarc.report-unauthorized", tag=tag, uri=uri.uri,
                                          target=outcome.target_domain, domain=policy_domain))
    return findings


def _record_findings(domain: str, record_name: str, record: DmarcRecord, texts: Texts) -> list[Finding]:
    findings: list[Finding] = []
    for issue in record.warnings:
        if issue.code in _COVERED_ISSUES:
            continue
        severe = issue.code in _SEVERE_ISSUES or (
            issue.code in ("invalid-value", "empty-value") and issue.tag in _POLICY_TAGS)
        code = "dmarc.syntax" if severe else "dmarc.warning"
        findings.append(texts.finding(code, record_name=record_name, reason=issue.message, domain=domain))
    # Report URIs that do not parse are skipped by receivers (RFC 9989 4.7).
    for tag, value in record.tags:
        if tag not in ("rua", "ruf"):
            continue
        for item in value.split(","):
            if not item.strip():
                continue
            try:
                parse_report_uri(item)
            except ValueError:
                findings.append(texts.finding("dmarc.invalid-uri", uri=item.strip(), tag=tag, domain=domain))
    for tag in ("pct", "rf", "ri"):
        if record.has_tag(tag) and not (tag == "pct" and record.pct_effective < 100):
            extra = texts.phrase("dmarc.pct-extra") if tag == "pct" else ""
            findings.append(texts.finding("dmarc.tag-removed", tag=tag, extra=extra))
    for tag in ("np", "psd", "t"):
        if record.has_tag(tag):
            findings.append(texts.finding("dmarc.tag-new", tag=tag))
    return findings


async def audit_dmarc(domain: str, resolver: Resolver, texts: Texts) -> DmarcAudit:
    """Audit the DMARC policy that applies to ``domain`` (A-label)."""
    discovery: PolicyDiscovery = await discover_policy(domain, resolver)
    own = discovery.lookups[0] if discovery.lookups else None
    findings: list[Finding] = []
    if own is not None and own.status == "multiple":
        findings.append(texts.finding("dmarc.multiple-records", domain=domain, count=len(own.texts)))
    if discovery.status == "temperror":
        findings.append(texts.finding("dmarc.dns-error", domain=domain, reason=discovery.reason))
        return DmarcAudit(tuple(findings), "tempfail", reason=discovery.reason)
    if discovery.status == "permerror":
        where = discovery.policy_domain or domain
        reason = next((lookup.error for lookup in discovery.lookups if lookup.domain == where and lookup.error),
                      discovery.reason)
        findings.append(texts.finding("dmarc.syntax", record_name=f"_dmarc.{where}", reason=reason,
                                      domain=domain))
        return DmarcAudit(tuple(findings), "invalid", policy_domain=where, reason=discovery.reason)
    record = discovery.record
    if discovery.status != "found" or record is None:
        if own is None or own.status != "multiple":
            findings.append(texts.finding("dmarc.none", domain=domain))
        return DmarcAudit(tuple(findings), "none", reason=discovery.reason)

    policy_domain = discovery.policy_domain or domain
    inherited = discovery.is_subdomain_policy
    if inherited:
        findings.append(texts.finding("dmarc.inherited", domain=domain, policy_domain=policy_domain))
    findings.extend(_record_findings(policy_domain, f"_dmarc.{policy_domain}", record, texts))

    # The policy for this domain: p for its own record, sp for a parent's (RFC 9989 4.10.1).
    requested = record.policy_for("sp" if inherited else "p")
    effective = _TESTING_STEP_DOWN[requested] if record.t else requested
    if record.t and requested != "none":
        findings.append(texts.finding("dmarc.testing", policy=requested, effective=effective))
    else:
        findings.append(texts.finding(f"dmarc.policy-{requested}", domain=domain))
    if record.pct_effective < 100:
        findings.append(texts.finding("dmarc.pct", pct=record.pct_effective))
    p = record.policy_for("p")
    if not inherited and record.sp is not None and _RANK[record.sp] < _RANK[p]:
        findings.append(texts.finding("dmarc.sp-weaker", sp=record.sp, policy=p, domain=domain))
    if record.np is not None and _RANK[record.np] < _RANK[p]:
        findings.append(texts.finding("dmarc.np-weaker", np=record.np, policy=p, domain=policy_domain))
    if not record.rua:
        findings.append(texts.finding("dmarc.no-rua", domain=policy_domain))
    findings.extend(await _report_findings(policy_domain, record, resolver, texts))
    findings.append(texts.finding("dmarc.alignment", adkim=_mode_name(record.adkim, texts),
                                  aspf=_mode_name(record.aspf, texts), domain=policy_domain))
    return DmarcAudit(tuple(findings), "found", record=record.text, policy_domain=policy_domain,
                      requested=requested, effective=effective, pct=record.pct_effective, record_policy=p)


def _mode_name(mode: str, texts: Texts) -> str:
    return texts.phrase("alignment.strict" if mode == "s" else "alignment.relaxed")


__all__ = ["DmarcAudit", "audit_dmarc"]
