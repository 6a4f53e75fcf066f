"""DNSSEC of the domain and of each MX host, as the validating resolver reports it (the AD bit,
see zegel.dns.dnssec), with the chain shown: DS at the parent, DNSKEY, and the RRSIGs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zegel import aio
from zegel.audit.findings import Finding, Texts
from zegel.dns import Resolver, Security


@dataclass(frozen=True, slots=True)
class DnssecAudit:
    findings: tuple[Finding, ...]
    state: str  # secure | insecure | bogus | error | draft
    chain: tuple[str, ...] = ()
    hosts: tuple[tuple[str, str], ...] = ()  # (MX host, its state)

    def host_state(self, host: str) -> str:
        return dict(self.hosts).get(host, "error")


def _chain(domain: str, soa: Security, ds: Security, dnskey: Security) -> tuple[str, ...]:
    lines = [f"{domain} DS {text}" for text in ds.records[:4]]
    lines += [f"{domain} DNSKEY {text[:60]}…" for text in dnskey.records[:4]]
    lines += [f"{domain} {sig}" for sig in (*dnskey.signatures[:2], *soa.signatures[:2])]
    return tuple(lines)


async def _state(name: str, rdtype: str, resolver: Resolver) -> Security:
    """The DNSSEC state from the answer the audit already has (its AD bit, RFC 4035 3.2.3):
    no extra query, except to tell bogus from other failures when the lookup failed."""
    if resolver.offline or resolver.overlay.lookup(name, rdtype, offline=False) is not None:
        return Security("draft")
    answer = await resolver.query(name, rdtype)
    if answer.is_tempfail:
        return await resolver.secure(name, rdtype)
    return Security("secure" if answer.authenticated else "insecure")


async def audit_dnssec(domain: str, mx_hosts: Sequence[str], resolver: Resolver, texts: Texts) -> DnssecAudit:
    """The domain's state from its MX answer, each MX host's from its A answer; the chain (DS,
    DNSKEY, RRSIGs) is fetched only where there is one (secure) or where it breaks (bogus)."""
    soa, *hosts = await aio.gather(_state(domain, "MX", resolver),
                                       *(_state(host, "A", resolver) for host in mx_hosts))
    ds = dnskey = Security("insecure")
    if soa.state in ("secure", "bogus"):
        soa, ds, dnskey = await aio.gather(resolver.secure(domain, "SOA"), resolver.secure(domain, "DS"),
                                               resolver.secure(domain, "DNSKEY"))
    return judge_dnssec(domain, mx_hosts, soa, ds, dnskey, hosts, texts)


def judge_dnssec(domain: str, mx_hosts: Sequence[str], soa: Security, ds: Security, dnskey: Security,
                 hosts: Sequence[Security], texts: Texts) -> DnssecAudit:
    """The findings from the resolver's answers (pure)."""
    chain = _chain(domain, soa, ds, dnskey)
    shown = "; ".join(chain) or "-"
    findings: list[Finding] = []
    if soa.state == "secure":
        findings.append(texts.finding("dnssec.secure", domain=domain, chain=shown))
    elif soa.state == "bogus":
        findings.append(texts.finding("dnssec.bogus", domain=domain, chain=shown))
    elif soa.state == "insecure":
        findings.append(texts.finding("dnssec.insecure", domain=domain))
    elif soa.state == "draft":
        findings.append(texts.finding("dnssec.draft", domain=domain))
    else:
        findings.append(texts.finding("dnssec.dns-error", name=domain, reason=soa.reason or "no answer"))
    pairs = tuple(zip(mx_hosts, (h.state for h in hosts), strict=True))
    for host, state in pairs:
        if state == "bogus":
            findings.append(texts.finding("dnssec.mx-bogus", host=host))
        elif state == "insecure":
            findings.append(texts.finding("dnssec.mx-insecure", host=host))
        elif state == "secure":
            findings.append(texts.finding("dnssec.mx-secure", host=host))
    return DnssecAudit(tuple(findings), soa.state, chain, pairs)


__all__ = ["DnssecAudit", "audit_dnssec", "judge_dnssec"]
