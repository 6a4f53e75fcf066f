"""The runner over the real network path (TestDnsServer on loopback): bulk mode, deadlines,
DNS failures and bad input. One slow or broken domain never stalls the batch."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from zegel.audit import (
    CheckOptions,
    DomainReport,
    audit_domain,
    check_domain,
    check_domains,
    mail_domain,
)
from zegel.dns import Answer, Resolver

from .conftest import ZONE_FILES


def _codes(report: DomainReport) -> set[str]:
    return {f.code for f in report.findings}


def _resolver(server: Any, **options: Any) -> Resolver:
    options.setdefault("timeout", 0.3)
    options.setdefault("lifetime", 0.6)
    return Resolver([server.address], **options)


async def _collect(domains: list[str], resolver: Resolver, options: CheckOptions, concurrency: int) -> list[DomainReport]:
    return [report async for report in check_domains(domains, resolver, options, concurrency=concurrency)]


@pytest.mark.parametrize("name", ["", "bad domain", "a..b.example", "1.2.3.4",
                                  "-bad.example", "xn--zz.example", "localhost", "x" * 64 + ".example"])
def test_invalid_domain_names(name: str) -> None:
    with pytest.raises(ValueError):
        mail_domain(name)
    report = asyncio.run(audit_domain(name, Resolver(offline=True)))
    assert _codes(report) == {"domain.invalid"}
    assert report.grade == "F" and report.protected is False and report.has_errors
    assert "\n" not in report.findings[0].message


def test_idna_2008_not_2003() -> None:
    # IDNA 2008 keeps the sharp s (IDNA 2003 mapped it to "ss").
    assert mail_domain("faß.example") == "xn--fa-hia.example"
    assert mail_domain("MÜNCHEN-test.Example.") == "xn--mnchen-test-thb.example"


def test_batch_continues_past_slow_broken_and_invalid_domains(dns_server) -> None:
    dead = ["dead.example", "_dmarc.dead.example", "_domainkey.dead.example"]
    server = dns_server(zone_files=ZONE_FILES, drop=dead)
    resolver = _resolver(server)
    batch = ["good.example", "dead.example", "not a domain", "münchen-test.example", "parked.example",
             "missing.example", "deep.example"]
    reports = asyncio.run(_collect(batch, resolver, CheckOptions(domain_timeout=10), concurrency=3))
    by_domain = {r.domain: r for r in reports}
    assert sorted(by_domain) == sorted(d.lower() for d in batch)
    assert by_domain["good.example"].grade == "A"
    assert _codes(by_domain["dead.example"]) == {"domain.dns-error"}
    assert _codes(by_domain["not a domain"]) == {"domain.invalid"}
    assert "nomail.ok" in _codes(by_domain["münchen-test.example"])
    assert _codes(by_domain["missing.example"]) == {"domain.not-found"}
    assert "spf.too-many-lookups" in _codes(by_domain["deep.example"])
    assert server.stats.dropped > 0


def test_per_domain_deadline(dns_server) -> None:
    server = dns_server(zone_files=ZONE_FILES, delays={"sluggish.example": 5.0})
    resolver = _resolver(server, timeout=10, lifetime=10)
    reports = asyncio.run(_collect(["sluggish.example", "good.example"], resolver,
                                   CheckOptions(domain_timeout=0.5), concurrency=2))
    by_domain = {r.domain: r for r in reports}
    timeout = by_domain["sluggish.example"]
    assert _codes(timeout) == {"domain.timeout"} and timeout.grade == "F"
    assert "0.5 seconds" in timeout.findings[0].message
    assert by_domain["good.example"].grade == "A"


def test_shared_lookup_cancelled_by_another_domains_deadline(dns_server) -> None:
    # Both domains include the same (slow) name; the resolver sends one query for both. When the
    # first domain hits its deadline, the second must still get its answer.
    server = dns_server({
        "first.example": [("TXT", "v=spf1 include:_spf.shared.example -all")],
        "second.example": [("TXT", "v=spf1 include:_spf.shared.example -all")],
        "_spf.shared.example": [("TXT", "v=spf1 ip4:192.0.2.1 -all")],
    }, delays={"_spf.shared.example": 1.0})
    resolver = _resolver(server, timeout=5, lifetime=5)

    async def both() -> tuple[DomainReport, DomainReport]:
        first = asyncio.create_task(check_domain("first.example", resolver, CheckOptions(domain_timeout=0.4)))
        await asyncio.sleep(0.1)
        second = asyncio.create_task(check_domain("second.example", resolver, CheckOptions(domain_timeout=8)))
        return await first, await second

    first, second = asyncio.run(both())
    assert _codes(first) == {"domain.timeout"}
    assert "spf.lookups" in _codes(second)
    assert "domain.dns-error" not in _codes(second)


def test_dns_failures_per_area(dns_server) -> None:
    server = dns_server({
        "spf-fail.example": [("TXT", "v=spf1 include:_spf.flaky.example -all"), ("MX", (10, "mx.flaky.example"))],
        "_dmarc.spf-fail.example": [("TXT", "v=DMARC1; p=reject; rua=mailto:r@reports.flaky.example")],
        "_spf.flaky.example": [("TXT", "v=spf1 -all")],
        "mx.flaky.example": [("A", "192.0.2.5")],
        "sel._domainkey.spf-fail.example": [("TXT", "v=DKIM1; p=")],
        "reports.flaky.example": [("A", "192.0.2.6")],
        "dmarc-fail.example": [("TXT", "v=spf1 -all")],
    }, servfail=["_spf.flaky.example", "mx.flaky.example", "sel._domainkey.spf-fail.example",
                 "spf-fail.example._report._dmarc.reports.flaky.example", "_dmarc.dmarc-fail.example",
                 "_domainkey.dmarc-fail.example"])
    resolver = _resolver(server)
    report = asyncio.run(check_domain("spf-fail.example", resolver, CheckOptions(selectors=("sel",))))
    assert {"spf.include-dns-error", "mx.host-dns-error", "dkim.dns-error", "dmarc.report-check-failed"} <= _codes(report)
    other = asyncio.run(check_domain("dmarc-fail.example", resolver, CheckOptions()))
    assert "dmarc.dns-error" in _codes(other)
    # probing selectors under a failing _domainkey: one finding, not one per guessed name
    assert [f.code for f in other.findings].count("dkim.dns-error") == 1
    assert other.verdict.startswith("Unknown")


def test_spf_and_mx_lookup_failures(dns_server, tmp_path) -> None:
    # The draft zone answers one type; the other goes to a server that fails for the name
    # (SERVFAIL at once: nothing here waits for a timeout, so the resolver keeps its default limits).
    server = dns_server(servfail=["split-fail.example"])
    zone = tmp_path / "draft.zone"
    zone.write_text("txt-only.split-fail.example. 300 IN TXT \"v=spf1 -all\"\n"
                    "split-fail.example. 300 IN MX 0 .\n")
    resolver = Resolver([server.address], zones=[str(zone)])
    report = asyncio.run(check_domain("split-fail.example", resolver, CheckOptions()))
    assert "spf.dns-error" in _codes(report)  # TXT went to the failing server, MX came from the draft
    zone.write_text("split-fail.example. 300 IN TXT \"v=spf1 -all\"\n")
    resolver = Resolver([server.address], zones=[str(zone)])
    report = asyncio.run(check_domain("split-fail.example", resolver, CheckOptions()))
    assert "mx.dns-error" in _codes(report)


class _BrokenResolver(Resolver):
    """A resolver whose lookups fail with an unexpected exception (a bug stand-in)."""

    async def query(self, name: str, rdtype: str) -> Answer[Any]:
        raise RuntimeError("simulated defect")


def test_unexpected_failure_becomes_a_finding() -> None:
    reports = asyncio.run(_collect(["one.example", "two.example"], _BrokenResolver(offline=True),
                                   CheckOptions(), concurrency=2))
    assert [_codes(r) for r in reports] == [{"domain.check-failed"}] * 2
    assert "simulated defect" in reports[0].findings[0].message


def test_bulk_reads_lazily_and_keeps_memory_bounded(zone_resolver) -> None:
    produced = 0

    def source() -> Any:
        nonlocal produced
        for index in range(200):
            produced += 1
            yield f"gen{index}.parked.example" if index % 2 else "parked.example"

    async def first_few() -> int:
        seen = 0
        async with contextlib.aclosing(check_domains(source(), zone_resolver, CheckOptions(), concurrency=4)) as reports:
            async for _ in reports:
                seen += 1
                if seen == 5:
                    break
        return seen

    assert asyncio.run(first_few()) == 5
    assert produced < 40  # the runner did not read the whole input ahead
