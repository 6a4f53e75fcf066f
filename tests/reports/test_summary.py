"""Summary: per-source statistics, who a stricter policy would hurt, PTR names over real DNS,
and the recommendation in English and Dutch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from zegel.dns import Resolver
from zegel.reports.ingest import Ingester
from zegel.reports.store import ReportStore
from zegel.reports.summary import summarize

BEGIN = 1_790_000_000


def report(report_id: str, p: str, rows: list[str], org: str = "Reporter A") -> bytes:
    records = "".join(rows)
    return (f"<feedback><report_metadata><org_name>{org}</org_name><email>r@a.example</email>"
            f"<report_id>{report_id}</report_id><date_range><begin>{BEGIN}</begin><end>{BEGIN + 86399}</end>"
            f"</date_range></report_metadata><policy_published><domain>example.com</domain><p>{p}</p>"
            f"</policy_published>{records}</feedback>").encode()


def row(ip: str, count: int, dkim_eval: str, spf_eval: str, spf: tuple[str, str], dkim: tuple[str, str] | None,
        disposition: str = "none") -> str:
    dkim_xml = f"<dkim><domain>{dkim[0]}</domain><result>{dkim[1]}</result></dkim>" if dkim else ""
    return (f"<record><row><source_ip>{ip}</source_ip><count>{count}</count><policy_evaluated>"
            f"<disposition>{disposition}</disposition><dkim>{dkim_eval}</dkim><spf>{spf_eval}</spf>"
            f"</policy_evaluated></row><identifiers><header_from>example.com</header_from></identifiers>"
            f"<auth_results>{dkim_xml}<spf><domain>{spf[0]}</domain><result>{spf[1]}</result></spf>"
            f"</auth_results></record>")


OWN = row("192.0.2.5", 900, "pass", "pass", ("example.com", "pass"), ("example.com", "pass"))
ESP = row("198.51.100.20", 80, "fail", "fail", ("bounces.esp.example", "pass"), ("esp.example", "pass"))
SPOOF = row("203.0.113.66", 20, "fail", "fail", ("example.com", "fail"), None, "none")


def ingest(store: ReportStore, tmp_path: Path, files: dict[str, bytes]) -> None:
    folder = tmp_path / "reports"
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    with Ingester(store) as ingester:
        assert {r.status for r in ingester.ingest_paths([folder])} <= {"stored", "duplicate"}


def test_summary_flags_sources_a_policy_would_hurt(store: ReportStore, tmp_path: Path,
                                                  dns_server: Callable[..., Any]) -> None:
    ingest(store, tmp_path, {
        "a.xml": report("a1", "none", [OWN, ESP, SPOOF]),
        "b.xml": report("b1", "none", [OWN], org="Reporter B"),
    })
    server = dns_server(zone_text=(
        "$ORIGIN arpa.\n$TTL 300\n"
        "5.2.0.192.in-addr IN PTR mail.example.com.\n"
        "20.100.51.198.in-addr IN PTR out.esp.example.\n"))
    result = asyncio.run(summarize(store, "example.com", BEGIN - 10, resolver=Resolver([server.address])))
    assert result.messages == 1900 and result.dmarc_pass == 1800 and result.reports == 2
    assert result.policy == "none"
    by_key = {s.source_ip: s for s in result.sources}
    assert len(result.sources) == 3  # one row per source: its reporters merged
    own = by_key["192.0.2.5"]
    assert (own.ptr, own.category, own.reporters) == ("mail.example.com", "passing", ("Reporter A", "Reporter B"))
    assert own.spf_aligned == own.dkim_aligned == own.messages
    esp = by_key["198.51.100.20"]
    assert (esp.ptr, esp.category, esp.spf_pass, esp.spf_aligned, esp.dkim_pass) == (
        "out.esp.example", "misaligned", 80, 0, 80)
    assert by_key["203.0.113.66"].category == "unauthenticated"
    assert [s.source_ip for s in result.hurt] == ["198.51.100.20"]
    assert [s.source_ip for s in result.spoofing] == ["203.0.113.66"]
    assert result.next_step == "fix-sources"
    assert "198.51.100.20 (out.esp.example)" in result.recommendation
    assert "p=quarantine" in result.recommendation
    dutch = asyncio.run(summarize(store, "example.com", BEGIN - 10, lang="nl"))
    assert "Nog niet overstappen naar p=quarantine" in dutch.recommendation
    assert "vervalsing" in dutch.recommendation
    assert result.to_json()["would_be_hurt"] == [{"source_ip": "198.51.100.20", "ptr": "out.esp.example", "failing": 80}]


def test_summary_recommends_next_step(store: ReportStore, tmp_path: Path) -> None:
    ingest(store, tmp_path, {"a.xml": report("q1", "quarantine", [OWN, SPOOF])})
    result = asyncio.run(summarize(store, "example.com", BEGIN - 10))
    assert result.next_step == "reject"
    assert "Next step: p=reject" in result.recommendation
    assert "Volgende stap: p=reject" in asyncio.run(summarize(store, "example.com", BEGIN - 10, lang="nl")).recommendation
    empty = asyncio.run(summarize(store, "example.com", BEGIN + 10 * 86400))
    assert empty.next_step == "publish-rua" and empty.messages == 0
