"""How aggregate report rows are read: several results per row, override reasons, first
identifiers, canonical IP text, and what ingest stores for them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zegel.reports.ingest import AggregateParser, Ingester, ReportError, parse_aggregate
from zegel.reports.store import ReportStore

REPORT = b"""<?xml version="1.0"?>
<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">
 <report_metadata><org_name>Rx</org_name><email>r@rx.example</email><report_id>r-1</report_id>
  <date_range><begin>1790000000</begin><end>1790086399</end></date_range></report_metadata>
 <policy_published><domain>Example.COM</domain><p>reject</p></policy_published>
 <record>
  <row><source_ip> 2001:DB8:0:0:0:0:0:1 </source_ip><count>7</count>
   <policy_evaluated><disposition>none</disposition><dkim>PASS</dkim><spf>fail</spf>
    <reason><type>Local_Policy</type><comment>  forwarded
       by list </comment></reason><reason><type>mailing_list</type></reason></policy_evaluated></row>
  <identifiers><header_from></header_from><header_from>Example.com</header_from>
   <envelope_from>Bounce.Example.com</envelope_from></identifiers>
  <auth_results>
   <dkim><domain>Example.com</domain><selector>s1</selector><result>pass</result><human_result> ok  fine </human_result></dkim>
   <dkim><domain>esp.example</domain><selector>k2</selector><result>FAIL</result></dkim>
   <spf><domain>bounce.example.com</domain><scope>MFROM</scope><result>softfail</result></spf>
  </auth_results>
 </record>
 <record><row><source_ip>::ffff:192.0.2.1</source_ip><policy_evaluated/></row>
  <identifiers><header_from>example.com</header_from></identifiers></record>
</feedback>
"""


def test_rows_are_read_with_every_result_and_reason() -> None:
    report = parse_aggregate(REPORT)
    assert report.format == "rfc9990" and report.policy.domain == "example.com"
    first, second = report.records
    assert first.source_ip == "2001:db8::1" and first.count == 7  # RFC 5952 text, as ipaddress writes it
    assert (first.disposition, first.dkim_eval, first.spf_eval) == ("none", "pass", "fail")
    assert [(r.type, r.comment) for r in first.reasons] == [("local_policy", "forwarded by list"), ("mailing_list", "")]
    assert first.header_from == "example.com" and first.envelope_from == "bounce.example.com"
    assert [(d.domain, d.selector, d.result, d.human_result) for d in first.dkim] == [
        ("example.com", "s1", "pass", "ok fine"), ("esp.example", "k2", "fail", "")]
    assert [(s.domain, s.scope, s.result) for s in first.spf] == [("bounce.example.com", "mfrom", "softfail")]
    assert first.dmarc_pass and first.dkim_pass and not first.spf_pass
    # Missing count means one message; an IPv4-mapped address keeps the ipaddress form.
    assert second.count == 1 and second.source_ip == "::ffff:c000:201" and second.disposition == "none"
    assert report.message_count == 8


def test_one_parser_reads_many_dialects_alike() -> None:
    parser = AggregateParser()
    plain = REPORT.replace(b' xmlns="urn:ietf:params:xml:ns:dmarc-2.0"', b"")
    upper = plain.replace(b"<record>", b"<RECORD>").replace(b"</record>", b"</RECORD>")
    reports = [parser.parse(doc).report() for doc in (REPORT, plain, upper, REPORT)]
    assert all(r.records == reports[0].records for r in reports)


@pytest.mark.parametrize("bad, reason", [
    (b"<source_ip>2001:DB8:0:0:0:0:0:1 </source_ip>", "bad source_ip"),
    (b"<count>7</count>", "bad record count"),
])
def test_bad_rows_reject_the_report(bad: bytes, reason: str) -> None:
    broken = REPORT.replace(b"<source_ip> 2001:DB8:0:0:0:0:0:1 </source_ip>", b"<source_ip>999.1.1.1</source_ip>") \
        if reason == "bad source_ip" else REPORT.replace(bad, b"<count>many</count>")
    with pytest.raises(ReportError, match=reason):
        parse_aggregate(broken)


def test_stored_rows(store: ReportStore, tmp_path: Path) -> None:
    path = tmp_path / "r.xml"
    path.write_bytes(REPORT)
    with Ingester(store) as ingester:
        results = list(ingester.ingest_paths([path, path]))
    assert [r.status for r in results] == ["stored", "duplicate"]
    import sqlalchemy as sa

    from zegel.reports.store import agg_records

    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(agg_records).order_by(agg_records.c.id)).mappings().all()
    assert len(rows) == 2
    assert rows[0]["source_ip"] == "2001:db8::1" and rows[0]["count"] == 7
    assert bool(rows[0]["dmarc_pass"]) and bool(rows[0]["dkim_pass"]) and not rows[0]["spf_pass"]
    assert json.loads(rows[0]["dkim_results"]) == [["example.com", "s1", "pass"], ["esp.example", "k2", "fail"]]
    assert json.loads(rows[0]["spf_results"]) == [["bounce.example.com", "mfrom", "softfail"]]
    assert json.loads(rows[0]["reasons"]) == [["local_policy", "forwarded by list"], ["mailing_list", ""]]
    assert rows[1]["dkim_results"] == "[]" and rows[1]["reasons"] == "[]"


def test_stored_json_escapes_odd_values() -> None:
    from zegel.reports.store import _record_row

    plain = ("192.0.2.1", 1, "none", "pass", "fail", "a.example", "", "", (),
             (("a.example", "s1", "pass", ""),), (("a.example", "mfrom", "fail", ""),))
    odd = (*plain[:9], (('a"b.example', "s\\1", "pass", ""),), (("a.example", "mfrom", "fail", ""),))
    row, odd_row = _record_row(1, plain), _record_row(1, odd)  # type: ignore[arg-type]
    assert json.loads(row[14]) == [["a.example", "s1", "pass"]] and row[7:9] == (False, True)
    assert json.loads(odd_row[14]) == [['a"b.example', "s\\1", "pass"]] and odd_row[7:9] == (False, True)
