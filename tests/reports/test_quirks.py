"""Real reporters' quirks (each reproduced by a fixture built here) and the hostile-input
reproducers of the fail-closed work: each one a regression test."""

from __future__ import annotations

import base64
import gzip
import json
import random
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from zegel.cli import cli
from zegel.reports.corpus import as_email, as_gzip, make_report
from zegel.reports.ingest import (
    AggregateParser,
    Ingester,
    IngestResult,
    ReportError,
    gunzip_capped,
    parse_aggregate,
    parse_tls_report,
    repair_xml,
)
from zegel.reports.store import ReportStore, open_store


def ingest(store: ReportStore, paths: list[Path]) -> dict[str, IngestResult]:
    with Ingester(store) as ingester:
        return {Path(r.source.split(" [")[0]).name: r for r in ingester.ingest_paths(paths)}


def report_xml(index: int = 1, domain: str = "example.com") -> bytes:
    return make_report("outlook", random.Random(index), index=index, records=3, domain=domain)[1]


# A report in the shape reporters wrap, quote or mis-encode: kept small and literal.
PLAIN = b"""<?xml version="1.0" encoding="UTF-8"?>
<feedback>
  <report_metadata><org_name>%(org)s</org_name><email>%(email)s</email>
    <report_id>%(id)s</report_id><date_range><begin>1538690400</begin><end>1538776800</end></date_range>
  </report_metadata>
  <policy_published><domain>example.de</domain><p>none</p><pct>100</pct></policy_published>
  <record><row><source_ip>192.0.2.7</source_ip><count>2</count>
    <policy_evaluated><disposition>none</disposition><dkim>fail</dkim><spf>pass</spf></policy_evaluated></row>
    <identifiers><header_from>%(from)s</header_from></identifiers>
    <auth_results><spf><domain>example.de</domain><result>pass</result></spf></auth_results></record>
</feedback>
"""


def plain(**fields: bytes) -> bytes:
    values = {b"org": b"ikea.example", b"email": b"dmarc@ikea.example", b"id": b"r-1", b"from": b"example.de"}
    values.update({name.encode(): value for name, value in fields.items()})
    return PLAIN % values


# --- the reporters' quirks ----------------------------------------------------------------------


def test_mimecast_gzip_followed_by_crlf(store: ReportStore, tmp_path: Path) -> None:
    """Mimecast: a valid gzip followed by CRLF inside the base64 attachment (gzip(1) ignores
    trailing garbage, so do we)."""
    payload = as_gzip(report_xml()) + b"\r\n"
    (tmp_path / "mimecast.eml").write_bytes(as_email("mimecast", payload, "xml.gz"))
    result = ingest(store, [tmp_path / "mimecast.eml"])["mimecast.eml"]
    assert (result.status, result.kind) == ("stored", "aggregate")
    assert gunzip_capped(gzip.compress(b"abc") + b"\r\n", 1 << 20) == b"abc"
    with pytest.raises(ReportError, match="no gzip header"):
        gunzip_capped(b"\r\n" + gzip.compress(b"abc"), 1 << 20)


def netease_failure_report() -> bytes:
    feedback = (b"Feedback-Type: auth-failure\r\nUser-Agent: NtesDmarcReporter/1.0\r\nVersion: 1\r\n"
                b"Original-Mail-From: <bounces@mail.esp.example>\r\nArrival-Date: Fri, 28 Sep 2018 16:48:42 +0800\r\n"
                b"Source-IP: 198.51.100.24\r\nReported-Domain: example.com\r\nDKIM-Domain: esp.example\r\n"
                b"Identity-Alignment: spf,dkim")
    encoded = base64.encodebytes(feedback).decode()
    return (
        "From: <abuse@163.example>\r\nTo: <dmarc@example.com>\r\nSubject: [Netease DMARC Failure Report] Hi\r\n"
        "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B_1\"\r\n\r\n"
        "--B_1\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nThis is a failure report.\r\n"
        "--B_1\r\nContent-Type: message/feedback-report; name=\"ATT00001\"\r\n"
        "Content-Disposition: attachment; filename=\"ATT00001\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{encoded}\r\n"
        "--B_1\r\nContent-Type: message/rfc822\r\n\r\nFrom: Shop <info@example.com>\r\nSubject: Rent Reminder\r\n"
        "Message-ID: <m1@esp.example>\r\n\r\nbody\r\n--B_1--\r\n"
    ).encode()


def test_netease_multipart_mixed_with_base64_feedback_part(store: ReportStore, tmp_path: Path) -> None:
    (tmp_path / "netease.eml").write_bytes(netease_failure_report())
    result = ingest(store, [tmp_path / "netease.eml"])["netease.eml"]
    assert (result.status, result.kind, result.detail) == ("stored", "failure", "example.com")
    with store.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT feedback_type, source_ip, dkim_domain, subject FROM failure_reports")).one()
    assert tuple(row) == ("auth-failure", "198.51.100.24", "esp.example", "Rent Reminder")


def test_plain_text_notice_is_refused_with_the_rfc_reason(store: ReportStore, tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "no-reply@mx.example", "dmarc@example.com", "DMARC Forensic"
    message.set_content("A message claiming to be from you has failed DMARC.")
    message.make_mixed()
    message.replace_header("Content-Type", message["Content-Type"].replace("multipart/mixed", "multipart/report"))
    (tmp_path / "exim.eml").write_bytes(message.as_bytes())
    result = ingest(store, [tmp_path / "exim.eml"])["exim.eml"]
    assert result.status == "rejected" and "RFC 6591" in result.detail


def stored_repairs(store: ReportStore) -> list[str]:
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.text("SELECT repairs FROM agg_reports ORDER BY id"))]


def test_aggregate_inside_an_unclosed_schema_element_is_recovered(store: ReportStore, tmp_path: Path) -> None:
    """IKEA: the aggregate sits in an <xs:schema> that is never closed."""
    body = plain().split(b"?>", 1)[1]
    wrapped = (b'<?xml version="1.0"?> <xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
               b'targetNamespace="http://dmarc.org/dmarc-xml/0.1">' + body)
    (tmp_path / "ikea.xml").write_bytes(wrapped)
    result = ingest(store, [tmp_path / "ikea.xml"])["ikea.xml"]
    assert result.status == "stored" and "xs:schema" in result.repairs
    assert stored_repairs(store) == ["<feedback> read out of a wrapping <xs:schema> element"]


def test_cp1252_byte_in_utf8_document_is_recovered() -> None:
    report = AggregateParser().parse(plain(org=b"Caf\xe9 \x91quoted\x92"))
    assert report.metadata.org_name == "Caf\u00e9 \u2018quoted\u2019"
    assert report.repairs == ("3 byte(s) not valid UTF-8 read as Windows-1252",)
    # Valid UTF-8 beside it is left as it is; a document declared in another encoding is not touched.
    assert AggregateParser().parse(plain(org=b"Caf\xc3\xa9 \xe9")).metadata.org_name == "Caf\u00e9 \u00e9"
    latin = plain(org=b"Caf\xe9").replace(b'encoding="UTF-8"', b'encoding="ISO-8859-1"')
    assert AggregateParser().parse(latin).repairs == ()


def test_address_written_as_a_tag_is_recovered(store: ReportStore, tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_bytes(plain(email=b"<bad-xml@bad-xml.example>", **{"from": b"bad<xml.example"}))
    result = ingest(store, [tmp_path / "bad.xml"])["bad.xml"]
    assert result.status == "stored"
    assert result.repairs == "1 mail address(es) written as a tag read as text; 1 stray '<' in element text read as text"
    report = AggregateParser().parse(plain(email=b"<bad-xml@bad-xml.example>"))
    assert report.metadata.email == "bad-xml@bad-xml.example"


def test_well_formed_reports_are_not_repaired_and_unrepairable_ones_keep_their_error() -> None:
    assert AggregateParser().parse(plain()).repairs == ()
    with pytest.raises(ReportError, match="not well-formed XML"):
        parse_aggregate(b"<feedback><report_metadata>")
    assert repair_xml(plain()) == (plain(), ())


def test_files_that_are_plainly_not_reports_are_skipped(tmp_path: Path) -> None:
    data, tmp_path = tmp_path / "data", tmp_path / "in"
    tmp_path.mkdir()
    (tmp_path / "make_samples.py").write_text('"""Write the sample reports."""\nimport gzip\n')
    (tmp_path / "reverse.zone").write_text("; PTR names\n$TTL 3600\n")
    (tmp_path / "notes.md").write_text("")
    (tmp_path / "r.xml.gz").write_bytes(as_gzip(report_xml()))
    result = CliRunner().invoke(cli, ["reports", "ingest", "--data-dir", str(data), str(tmp_path)],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert "1 stored (1 aggregate)" in result.stdout and "3 skipped (not reports)" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 3 and all(line.startswith("zegel: skipped ") for line in lines)
    assert any("reverse.zone: not a report" in line for line in lines)
    assert any("notes.md: not a report (an empty file)" in line for line in lines)


def test_an_empty_or_unreadable_report_file_is_still_rejected(store: ReportStore, tmp_path: Path) -> None:
    (tmp_path / "empty.xml").write_bytes(b"")
    (tmp_path / "junk.json").write_bytes(b"\x00\x01binary")
    results = ingest(store, [tmp_path / "empty.xml", tmp_path / "junk.json"])
    assert results["empty.xml"].status == "rejected" and "RFC 7489" in results["empty.xml"].detail
    assert results["junk.json"].status == "rejected"


# --- hostile input: the fail-closed reproducers ------------------------------------------------------


def test_many_empty_gzip_members_decompress_in_linear_time() -> None:
    assert gunzip_capped(gzip.compress(b"") * 100_000, 100 << 20) == b""
    assert gunzip_capped(gzip.compress(b"a") * 50_000 + b"\0" * 10, 1 << 20) == b"a" * 50_000
    with pytest.raises(ReportError, match="limit"):
        gunzip_capped(gzip.compress(b"a" * 1000) * 2000, 1 << 20)


def test_deeply_nested_tls_json_is_one_line_rejection() -> None:
    with pytest.raises(ReportError, match="nested too deeply"):
        parse_tls_report(b'{"policies":' + b"[" * 100000 + b"]" * 100000 + b"}")


def test_hostile_file_does_not_stop_a_directory_run(tmp_path: Path) -> None:
    data, tmp_path = tmp_path / "data", tmp_path / "in"
    tmp_path.mkdir()
    (tmp_path / "a-hostile.json").write_bytes(b'{"policies":' + b"[" * 100000 + b"]" * 100000 + b"}")
    (tmp_path / "b-good.xml").write_bytes(report_xml())
    (tmp_path / "c-shapes.json").write_bytes(b'{"policies":[{"policy":[1],"summary":"x","failure-details":7}],'
                                             b'"report-id":{"a":1},"date-range":[]}')
    result = CliRunner().invoke(cli, ["reports", "ingest", "--data-dir", str(data), str(tmp_path)],
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "1 stored (1 aggregate)" in result.stdout and "2 rejected" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and all(line.startswith("zegel: rejected ") for line in lines)
    assert "JSON nested too deeply" in lines[0] and "without report-id" in lines[1]
    store = open_store(None, data)
    assert len(store.report_totals()) == 1
    store.close()


def test_hostile_message_is_no_poison_pill_for_a_maildir(store: ReportStore, tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    nested = b'{"policies":' + b"[" * 50000 + b"]" * 50000 + b"}"
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "tlsrpt@mx.example", "tls@example.com", "Report"
    message.add_attachment(nested, maintype="application", subtype="tlsrpt+json", filename="r.json")
    (maildir / "new" / "1.host").write_bytes(message.as_bytes())
    (maildir / "new" / "2.host").write_bytes(as_email("r", as_gzip(report_xml(2)), "xml.gz"))
    (maildir / "new" / "3.host").write_bytes(as_email("g", gzip.compress(b"") * 20_000, "xml.gz"))
    with Ingester(store) as ingester:
        results = list(ingester.ingest_maildir(maildir))
    assert ingester.stats.stored == 1 and ingester.stats.rejected == 2 and len(results) == 3


@pytest.mark.parametrize("count", ["\u0661\u0662", "\uff11", "inf", "nan", "1_000", "-3", "1e3", "0x10", "12 3"])
def test_malformed_record_counts_are_syntax_errors(count: str) -> None:
    xml = report_xml().replace(b"<count>", b"<count>" + count.encode() + b"<!-- -->", 1)
    with pytest.raises(ReportError, match="bad record count"):
        parse_aggregate(xml)


def test_numbers_take_ascii_digits_only() -> None:
    assert parse_aggregate(plain()).policy.pct == 100
    assert parse_aggregate(plain().replace(b"<pct>100", "<pct>\u0661\u0660".encode())).policy.pct is None
    tls = {"report-id": "x", "date-range": {"start-datetime": "2026-01-01T00:00:00Z",
                                            "end-datetime": "2026-01-01T23:59:59Z"},
           "policies": [{"policy": {}, "summary": {"total-successful-session-count": "\u0661"}}]}
    with pytest.raises(ReportError, match="bad session count"):
        parse_tls_report(json.dumps(tls).encode())
    for bad in (float("inf"), float("nan"), -1, "1e3"):
        tls["policies"][0]["summary"]["total-successful-session-count"] = bad  # type: ignore[index]
        with pytest.raises(ReportError, match="session count"):
            parse_tls_report(json.dumps(tls).encode())
    with pytest.raises(ReportError, match="date"):
        parse_aggregate(plain().replace(b"<begin>1538690400", "<begin>\u0661\u0665".encode()))
