"""MX checks: present, null MX (RFC 7505), and every MX host resolving to an address."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from zegel import aio
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
    results = await aio.gather(*(resolver.addresses(host) for host in named))
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


async def _cname(host: str, resolver: Resolver) -> str | None:
    """The alias target, from the address answers the MX audit already has (cached)."""
    a, aaaa = await resolver.addresses(host)
    return a.canonical or aaaa.canonical or None


async def _fcrdns(ip: str, resolver: Resolver) -> tuple[str, bool]:
    """(the PTR name or "", whether that name resolves back to ``ip``): forward-confirmed
    reverse DNS, which many receivers expect of a mail server (RFC 8601 2.7.3 "iprev")."""
    ptr = await resolver.ptr(ip)
    if not ptr.ok or not ptr.records:
        return "", False
    name = str(ptr.records[0])
    a, aaaa = await resolver.addresses(name)
    wanted = ipaddress.ip_address(ip)
    forward = [ipaddress.ip_address(x) for x in (*a.records, *aaaa.records)]
    return name, wanted in forward


async def audit_mx_hosts(mx: MxAudit, resolver: Resolver, texts: Texts) -> tuple[Finding, ...]:
    """Per MX host: not an alias (RFC 2181 10.3), an IPv6 address, and forward-confirmed reverse
    DNS for each address."""
    hosts = [h for h in mx.addresses if mx.addresses[h]]
    if not hosts:
        return ()
    pairs = [(host, ip) for host in hosts for ip in mx.addresses[host]]
    cnames, reverse = await aio.gather(
        aio.gather(*(_cname(host, resolver) for host in hosts)),
        aio.gather(*(_fcrdns(ip, resolver) for _, ip in pairs)),
    )
    findings: list[Finding] = []
    for host, target in zip(hosts, cnames, strict=True):
        if target:
            findings.append(texts.finding("mx.cname", host=host, target=target))
    without_v6 = [h for h in hosts if not any(":" in ip for ip in mx.addresses[h])]
    if without_v6:
        findings.append(texts.finding("mx.no-ipv6", hosts=", ".join(without_v6)))
    else:
        findings.append(texts.finding("mx.ipv6", hosts=", ".join(hosts)))
    broken = [f"{ip} ({name or 'no PTR'})" for (_, ip), (name, ok) in zip(pairs, reverse, strict=True) if not ok]
    if broken:
        findings.append(texts.finding("mx.fcrdns", addresses=", ".join(broken)))
    else:
        findings.append(texts.finding("mx.fcrdns-ok", count=len(pairs)))
    return tuple(findings)


__all__ = ["MAX_MX_HOSTS", "MxAudit", "audit_mx", "audit_mx_hosts"]
