"""MX checks: present, null MX (RFC 7505), and every MX host resolving to an address."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zegel.audit.findings import Finding, Texts
from zegel.dns import MxRecord, Resolver, Status

# RFC 5321 5.1 lets a sender try every MX; checking more than this many hosts tells the owner
# nothing new and would let one odd domain cost hundreds of queries.
MAX_MX_HOSTS = 10


@dataclass(frozen=True, slots=True)
class MxAudit:
    findings: tuple[Finding, ...]
    status: Status
    records: tuple[MxRecord, ...] = ()
    reason: str = ""
    # host -> its IPv4 and IPv6 addresses (for the SPF "do my MX hosts pass?" check)
    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def null_mx(self) -> bool:
        """RFC 7505 section 3: the only MX, with the root (".") as exchange. A null MX mixed with
        real ones is an error (mx.null-mixed), not a no-mail domain."""
        return bool(self.records) and all(record.exchange == "" for record in self.records)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(r.exchange for r in sorted(self.records, key=lambda r: r.preference) if r.exchange)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


async def audit_mx(domain: str, resolver: Resolver, texts: Texts) -> MxAudit:
    """Check the MX records of ``domain`` (an A-label name)."""
    answer = await resolver.mx(domain)
    if answer.status is Status.TEMPFAIL:
        return MxAudit((texts.finding("mx.dns-error", domain=domain, reason=answer.reason),),
                       answer.status, reason=answer.reason)
    if answer.status is not Status.ANSWER:
        return MxAudit((texts.finding("mx.none", domain=domain),), answer.status, reason=answer.reason)

    records = tuple(sorted(answer.records, key=lambda r: (r.preference, r.exchange)))
    findings: list[Finding] = []
    null = [r for r in records if r.exchange == ""]
    real = [r for r in records if r.exchange != ""]
    if null and real:
        findings.append(texts.finding("mx.null-mixed", domain=domain))
    elif null:
        findings.append(texts.finding("mx.null", domain=domain))
        return MxAudit(tuple(findings), answer.status, records)

    hosts: list[str] = []
    for record in real[:MAX_MX_HOSTS]:
        if record.exchange not in hosts:
            hosts.append(record.exchange)
    literal = [h for h in hosts if _is_ip_literal(h)]
    for host in literal:
        findings.append(texts.finding("mx.host-is-ip", domain=domain, host=host))
    named = [h for h in hosts if h not in literal]
    # Independent lookups: all hosts' A and AAAA at once.
    results = await asyncio.gather(*(resolver.addresses(host) for host in named))
    addresses: dict[str, tuple[str, ...]] = {}
    for host, (a, aaaa) in zip(named, results, strict=True):
        addresses[host] = a.records + aaaa.records
        if a.ok or aaaa.ok:
            continue
        if a.is_tempfail or aaaa.is_tempfail:
            reason = a.reason if a.is_tempfail else aaaa.reason
            findings.append(texts.finding("mx.host-dns-error", host=host, reason=reason))
        else:
            findings.append(texts.finding("mx.host-unresolvable", domain=domain, host=host,
                                          reason=a.reason or a.status.value))
    listing = ", ".join(f"{r.exchange} ({r.preference})" for r in real)
    findings.append(texts.finding("mx.hosts", domain=domain, hosts=listing))
    return MxAudit(tuple(findings), answer.status, records, addresses=MappingProxyType(addresses))


__all__ = ["MAX_MX_HOSTS", "MxAudit", "audit_mx"]
