"""Outcomes -> generated aggregate report -> schema-valid XML -> ingested back: same counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from zegel.reports.generate import ReporterInfo, build_report, gzip_bytes, to_xml
from zegel.reports.ingest import Ingester, parse_aggregate
from zegel.reports.model import DkimOutcome, Outcome
from zegel.reports.store import ReportStore

REPORTER = ReporterInfo("Zegel Receiver", "dmarc-reports@rx.example", "rx.example")
DAY = 86400
BEGIN = 20000 * DAY


def outcomes() -> list[Outcome]:
    made = []
    for i in range(60):
        passing = i % 3 != 0
        made.append(Outcome(
            time=BEGIN + i * 600, source_ip=["192.0.2.10", "198.51.100.7", "2001:db8::25"][i % 3],
            helo="mx.sender.example", envelope_from=f"bounce{i}@sender.example" if passing else "x@other.example",
            header_from="sender.example", spf_domain="sender.example" if passing else "other.example",
            spf_result="pass" if passing else "softfail", spf_aligned=passing,
            dkim=(DkimOutcome("sender.example", "s2026", "pass" if passing else "fail", True),)
            + ((DkimOutcome("esp.example", "k1", "pass", False),) if i % 2 else ()),
            dmarc_result="pass" if passing else "fail", policy_domain="sender.example",
            policy_record="v=DMARC1; p=quarantine; rua=mailto:dmarc@sender.example; fo=1",
            policy="quarantine", disposition="none" if passing else "quarantine",
            override="trusted_forwarder" if i == 3 else None, override_comment="known forwarder" if i == 3 else "",
        ))
    # another domain and an outcome outside the period must not leak into the report
    made.append(Outcome(time=BEGIN + 5, source_ip="192.0.2.99", header_from="else.example",
                        dmarc_result="fail", policy_domain="else.example", policy_record="v=DMARC1; p=none"))
    made.append(Outcome(time=BEGIN + DAY + 5, source_ip="192.0.2.10", header_from="sender.example",
                        dmarc_result="pass", spf_result="pass", spf_aligned=True, policy_domain="sender.example"))
    return made


@pytest.mark.parametrize("fmt, xsd", [("rfc9990", "rfc9990-aggregate.xsd"), ("rfc7489", "rfc7489-aggregate.xsd")])
def test_round_trip(store: ReportStore, conformance_dir: Path, tmp_path: Path, fmt: str, xsd: str) -> None:
    recorded = outcomes()
    store.add_outcomes(recorded)
    assert store.reportable_domains(BEGIN, BEGIN + DAY) == ["else.example", "sender.example"]
    report = build_report(store, REPORTER, "sender.example", BEGIN, BEGIN + DAY, fmt)  # type: ignore[arg-type]
    assert report is not None
    xml = to_xml(report)
    schema = etree.XMLSchema(etree.parse(str(conformance_dir / "dmarc" / xsd)))
    document = etree.fromstring(xml)
    assert schema.validate(document), schema.error_log

    in_period = [o for o in recorded if o.policy_domain == "sender.example" and o.time < BEGIN + DAY]
    assert report.message_count == len(in_period) == 60
    assert report.policy.p == "quarantine" and report.policy.fo == "1"
    reasons = [r for rec in report.records for r in rec.reasons]
    assert [(r.type, r.comment) for r in reasons] == [("trusted_forwarder", "known forwarder")]

    # ingest it back (gzip-compressed, as it would be mailed) into the same database
    path = tmp_path / "report.xml.gz"
    path.write_bytes(gzip_bytes(xml))
    with Ingester(store) as ingester:
        results = list(ingester.ingest_paths([path]))
    assert [r.status for r in results] == ["stored"]
    parsed = parse_aggregate(xml)
    assert parsed.format == fmt
    assert parsed.message_count == 60
    assert sum(r.count for r in parsed.records if r.dmarc_pass) == sum(o.dmarc_result == "pass" for o in in_period)
    assert sum(r.count for r in parsed.records if r.disposition == "quarantine") == 20
    by_ip: dict[str, int] = {}
    for rec in parsed.records:
        by_ip[rec.source_ip] = by_ip.get(rec.source_ip, 0) + rec.count
    assert by_ip == {"192.0.2.10": 20, "198.51.100.7": 20, "2001:db8::25": 20}

    stats = {s.source_ip: s for s in store.source_stats("sender.example", since=0)}
    assert sum(s.messages for s in stats.values()) == 60
    assert stats["192.0.2.10"].dmarc_pass == 0 and stats["198.51.100.7"].dmarc_pass == 20
    assert stats["2001:db8::25"].spf_aligned == 20 and stats["192.0.2.10"].quarantined == 20
    assert store.report_totals("sender.example")[0][4] == 60
