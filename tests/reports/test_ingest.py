"""Ingest: a varied corpus (reporter styles, compressed forms, mail), broken files, hostile
files (entity expansion, external entities, decompression bombs), duplicates, TLS reports,
failure reports and bounces."""

from __future__ import annotations

import gzip
import io
import json
import random
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from zegel.reports.corpus import STYLES, as_email, as_gzip, as_zip, make_report, write_corpus
from zegel.reports.ingest import Ingester, IngestResult, Limits, parse_aggregate, parse_timestamp
from zegel.reports.store import ReportStore


def ingest(store: ReportStore, paths: list[Path], limits: Limits | None = None) -> list[IngestResult]:
    with Ingester(store, limits=limits) as ingester:
        return list(ingester.ingest_paths(paths))


@pytest.mark.parametrize("style", STYLES)
def test_each_reporter_style_parses(style: str) -> None:
    rng = random.Random(1)
    _, xml = make_report(style, rng, index=1, records=7, domain="example.com")
    report = parse_aggregate(xml)
    assert report.policy.domain == "example.com"
    assert len(report.records) == 7
    assert report.metadata.org_name.strip() == report.metadata.org_name  # padded text trimmed
    assert report.metadata.end - report.metadata.begin == 86399
    assert report.format == ("rfc9990" if style == "rfc9990" else "rfc7489")
    for record in report.records:
        assert record.dkim_eval in ("pass", "fail") and record.spf_eval in ("pass", "fail")
        assert record.header_from == "example.com"


def test_corpus_of_every_form_is_stored(store: ReportStore, tmp_path: Path) -> None:
    paths = write_corpus(tmp_path / "corpus", 60, seed=3)
    suffixes = {p.name.rsplit(".", 2)[-1] if not p.name.endswith(".xml.gz") else "xml.gz" for p in paths}
    assert suffixes == {"xml", "xml.gz", "zip", "eml"}
    results = ingest(store, [tmp_path / "corpus"])
    assert [r for r in results if r.status != "stored"] == []
    assert len(results) == 60
    expected = sum(parse_aggregate(_xml_of(p)).message_count for p in paths)
    assert sum(total[4] for total in store.report_totals()) == expected


def _xml_of(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        return gzip.decompress(data)
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return archive.read(archive.namelist()[0])
    if path.name.endswith(".eml"):
        import email

        message = email.message_from_bytes(data)
        part = next(p for p in message.walk() if p.get_filename())
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        return gzip.decompress(payload)
    return data


def test_duplicates_are_stored_once(store: ReportStore, tmp_path: Path) -> None:
    rng = random.Random(5)
    tmp_path = tmp_path / "in"
    tmp_path.mkdir()
    stem, xml = make_report("gmail", rng, index=9, records=4, domain="example.com")
    (tmp_path / "a.xml").write_bytes(xml)
    (tmp_path / "b.xml.gz").write_bytes(as_gzip(xml))
    (tmp_path / "c.zip").write_bytes(as_zip("r.xml", xml))
    (tmp_path / "d.eml").write_bytes(as_email(stem, as_gzip(xml), "xml.gz"))
    results = ingest(store, [tmp_path])
    assert [r.status for r in results] == ["stored", "duplicate", "duplicate", "duplicate"]
    assert store.counts()["agg_reports"] == 1
    assert store.counts()["agg_records"] == 4
    # a second run over the same files changes nothing
    assert {r.status for r in ingest(store, [tmp_path])} == {"duplicate"}
    assert store.counts()["agg_records"] == 4


QUIRKY = b"""<?xml version="1.0"?>
<FEEDBACK xmlns="http://example.invalid/wrong-namespace">
  <report_metadata>
    <org_name>
        Odd   Reporter
    </org_name>
    <report_id>  odd-1  </report_id>
    <date_range><begin>1790000000000</begin><end>2026-09-21T23:59:59Z</end></date_range>
  </report_metadata>
  <policy_published><domain>Example.COM.</domain></policy_published>
  <record>
    <row><source_ip> 192.0.2.1 </source_ip><count>3</count>
      <policy_evaluated><disposition>NONE</disposition><dkim>Pass</dkim><spf>FAIL</spf></policy_evaluated>
    </row>
    <identifiers><header_from>example.com</header_from></identifiers>
  </record>
  <record><row><source_ip>2001:DB8:0:0::1</source_ip><count>2</count></row></record>
</FEEDBACK>
"""


def test_quirks_are_tolerated() -> None:
    report = parse_aggregate(QUIRKY)
    assert report.metadata.org_name == "Odd Reporter"
    assert report.metadata.report_id == "odd-1"
    assert report.metadata.begin == 1790000000  # milliseconds understood
    assert report.metadata.end == parse_timestamp("2026-09-21T23:59:59+00:00")
    assert report.policy.domain == "example.com" and report.policy.p == "none"
    first, second = report.records
    assert (first.source_ip, first.count, first.dkim_eval, first.spf_eval, first.disposition) == (
        "192.0.2.1", 3, "pass", "fail", "none")
    assert first.spf == () and first.dkim == ()
    assert second.source_ip == "2001:db8::1" and second.header_from == ""


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<feedback><report_metadata><org_name>&lol9;</org_name></report_metadata></feedback>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE feedback [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<feedback><report_metadata><org_name>&xxe;</org_name></report_metadata></feedback>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE feedback SYSTEM "http://192.0.2.1/evil.dtd">
<feedback/>
"""


def _broken_and_hostile(tmp_path: Path) -> dict[str, bytes]:
    rng = random.Random(8)
    _, good = make_report("yahoo", rng, index=1, records=2)
    bomb_zip = io.BytesIO()
    with zipfile.ZipFile(bomb_zip, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.xml", b"<" + b"\0" * (3 << 20))
    lying_zip = bytearray(as_zip("r.xml", b"<feedback>" + b" " * (3 << 20) + b"</feedback>"))
    return {
        "laughs.xml": BILLION_LAUGHS,
        "xxe.xml": EXTERNAL_ENTITY,
        "dtd.xml": EXTERNAL_DTD,
        "bomb.xml.gz": gzip.compress(b"\0" * (3 << 20)),
        "bomb.zip": bomb_zip.getvalue(),
        "truncated.xml.gz": as_gzip(good)[:-40],
        "corrupt.zip": b"PK\x03\x04" + b"\x00" * 50,
        "not-xml.xml": b"<feedback><report_metadata>",
        "wrong-root.xml": b"<html><body>hi</body></html>",
        "no-id.xml": good.replace(b"<report_id>", b"<other>").replace(b"</report_id>", b"</other>"),
        "empty.xml": b"",
        "binary.bin": bytes(range(256)),
        "bad-ip.xml": good.replace(b"<source_ip>", b"<source_ip>999.", 1),
        "bad-json.json": b'{"policies": [}',
        "no-attachment.eml": b"From: a@b.example\r\nSubject: hi\r\n\r\nno report here\r\n",
        "good.xml": good,
        "good.xml.gz": as_gzip(good.replace(b"yahoo-1-", b"other-1-")),
        "deep.gz": gzip.compress(gzip.compress(gzip.compress(gzip.compress(gzip.compress(good))))),
        "lying.zip": bytes(lying_zip),
    }


def test_broken_and_hostile_files_are_rejected_one_line_each(store: ReportStore, tmp_path: Path) -> None:
    tmp_path = tmp_path / "in"
    tmp_path.mkdir()
    files = _broken_and_hostile(tmp_path)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    limits = Limits(max_decompressed=1 << 20, max_attachment=1 << 20)
    results = {Path(r.source.split(" [")[0]).name: r for r in ingest(store, sorted(tmp_path.iterdir()), limits)}
    assert set(results) == set(files)
    stored = {name for name, r in results.items() if r.status == "stored"}
    assert stored == {"good.xml", "good.xml.gz"}
    for name, result in results.items():
        if name not in stored:
            assert result.status == "rejected", name
            assert result.detail and "\n" not in result.detail, name
    assert "DTD" in results["laughs.xml"].detail and "DTD" in results["xxe.xml"].detail
    assert "DTD" in results["dtd.xml"].detail
    assert "bomb" in results["bomb.xml.gz"].detail and "bomb" in results["bomb.zip"].detail
    assert "bomb" in results["lying.zip"].detail
    assert "nested too deeply" in results["deep.gz"].detail
    assert "truncated" in results["truncated.xml.gz"].detail
    assert "report_id" in results["no-id.xml"].detail
    assert "source_ip" in results["bad-ip.xml"].detail
    assert "without a report attachment" in results["no-attachment.eml"].detail
    assert store.counts()["agg_reports"] == 2


def test_huge_attachment_refused(store: ReportStore, tmp_path: Path) -> None:
    message = EmailMessage()
    message["From"] = "r@reporter.example"
    message["Subject"] = "Report Domain: example.com"
    message.set_content("report attached")
    message.add_attachment(b"\x1f\x8b" + random.Random(1).randbytes(300_000), maintype="application",
                           subtype="gzip", filename="big.xml.gz")
    (tmp_path / "big.eml").write_bytes(message.as_bytes())
    [result] = ingest(store, [tmp_path / "big.eml"], Limits(max_attachment=100_000))
    assert result.status == "rejected" and "attachment" in result.detail and "refused" in result.detail


def test_maildir_streams_and_counts(store: ReportStore, tmp_path: Path) -> None:
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    rng = random.Random(11)
    total = 0
    for index in range(30):
        stem, xml = make_report(STYLES[index % 5], rng, index=index, records=3)
        total += parse_aggregate(xml).message_count
        kind = ("zip", as_zip(f"{stem}.xml", xml)) if index % 2 else ("xml.gz", as_gzip(xml))
        body = as_email(stem, kind[1], kind[0], report_id=stem)
        (maildir / ("new" if index % 3 else "cur") / f"{index}.host:2,S").write_bytes(body)
    (maildir / "new" / "junk.host").write_bytes(b"Subject: spam\r\n\r\nbuy now\r\n")
    with Ingester(store, commit_every=7) as ingester:
        results = list(ingester.ingest_maildir(maildir))
    assert ingester.stats.stored == 30 and ingester.stats.rejected == 1
    assert sum(t[4] for t in store.report_totals()) == total
    assert len(results) == 31


TLS_REPORT = {
    "organization-name": "Company-X",
    "date-range": {"start-datetime": "2026-04-01T00:00:00Z", "end-datetime": "2026-04-01T23:59:59Z"},
    "contact-info": "sts-reporting@company-x.example",
    "report-id": "5065427c-23d3-47ca-b6e0-946ea0e8c4be",
    "policies": [{
        "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: testing"],
                   "policy-domain": "example.com", "mx-host": ["*.mail.example.com"]},
        "summary": {"total-successful-session-count": 5326, "total-failure-session-count": 303},
        "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "2001:db8:abcd:0012::1",
                             "receiving-mx-hostname": "mx1.mail.example.com", "failed-session-count": 100}],
    }],
}


def test_tls_reports(store: ReportStore, tmp_path: Path) -> None:
    raw = json.dumps(TLS_REPORT).encode()
    (tmp_path / "tls.json").write_bytes(raw)
    (tmp_path / "tls.json.gz").write_bytes(gzip.compress(raw))
    results = ingest(store, [tmp_path / "tls.json", tmp_path / "tls.json.gz"])
    assert [(r.kind, r.status) for r in results] == [("tls", "stored"), ("tls", "duplicate")]
    assert store.counts()["tls_reports"] == 1


ARF = (
    b"From: dmarc-failure@receiver.example\r\n"
    b"To: ruf@example.com\r\n"
    b"Subject: DMARC failure report for example.com\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=feedback-report; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain\r\n\r\nA failure.\r\n"
    b"--b1\r\nContent-Type: message/feedback-report\r\n\r\n"
    b"Feedback-Type: auth-failure\r\nUser-Agent: test/1\r\nVersion: 1\r\n"
    b"Original-Mail-From: <bounce@spoofer.example>\r\nArrival-Date: Mon, 21 Sep 2026 10:00:00 +0000\r\n"
    b"Source-IP: 198.51.100.9\r\nReported-Domain: example.com\r\nAuth-Failure: dmarc\r\n"
    b"Identity-Alignment: none\r\n\r\n"
    b"--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    b"From: ceo@example.com\r\nSubject: Urgent wire transfer\r\nMessage-ID: <x1@spoofer.example>\r\n\r\n"
    b"--b1--\r\n"
)

DSN = (
    b"From: MAILER-DAEMON@relay.example\r\nTo: dmarc-bounces@rx.example\r\nSubject: Undelivered\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="d1"\r\n\r\n'
    b"--d1\r\nContent-Type: text/plain\r\n\r\nCould not deliver.\r\n"
    b"--d1\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; relay.example\r\n\r\n"
    b"Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
    b"Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n"
    b"Final-Recipient: rfc822; busy@example.net\r\nAction: delayed\r\nStatus: 4.2.2\r\n\r\n"
    b"--d1--\r\n"
)


def test_failure_reports_and_bounces(store: ReportStore, tmp_path: Path) -> None:
    (tmp_path / "arf.eml").write_bytes(ARF)
    (tmp_path / "dsn.eml").write_bytes(DSN)
    results = ingest(store, [tmp_path / "arf.eml", tmp_path / "arf.eml", tmp_path / "dsn.eml"])
    assert [(r.kind, r.status) for r in results] == [
        ("failure", "stored"), ("failure", "duplicate"), ("bounce", "suppressed")]
    assert results[2].detail == "gone@example.net"
    assert store.is_suppressed("gone@example.net") and not store.is_suppressed("busy@example.net")
    assert store.counts()["failure_reports"] == 1


def test_memory_stays_bounded_on_a_large_maildir(tmp_path: Path) -> None:
    """Peak memory does not grow with the number of messages (streaming, batched commits)."""
    import tracemalloc

    from zegel.reports.store import open_store

    def peak_for(count: int, name: str) -> int:
        maildir = tmp_path / name
        (maildir / "new").mkdir(parents=True)
        (maildir / "cur").mkdir()
        rng = random.Random(count)
        for index in range(count):
            stem, xml = make_report(STYLES[index % 5], rng, index=index, records=2)
            (maildir / "new" / f"{index}.eml").write_bytes(as_email(stem, as_gzip(xml), "xml.gz", report_id=stem))
        store = open_store(None, tmp_path / f"db-{name}")
        tracemalloc.start()
        with Ingester(store, commit_every=100) as ingester:
            for _ in ingester.ingest_maildir(maildir):
                pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert ingester.stats.stored == count
        store.close()
        return peak

    small, large = peak_for(200, "small"), peak_for(1200, "large")
    assert large < small * 1.5 + 2_000_000, (small, large)


def test_values_the_database_cannot_hold_reject_only_that_file(store: ReportStore, tmp_path: Path) -> None:
    tls = dict(TLS_REPORT, **{"organization-name": "Nul\u0000Org", "report-id": "nul-1"})
    huge = dict(TLS_REPORT, **{"report-id": "huge-1", "policies": [{
        "policy": {"policy-type": "sts", "policy-domain": "example.com"},
        "summary": {"total-successful-session-count": 10**30, "total-failure-session-count": 0}}]})
    rng = random.Random(3)
    _, xml = make_report("gmail", rng, index=4, records=2, domain="example.com")
    files = {
        "nul.json": json.dumps(tls).encode(),
        "huge.json": json.dumps(huge).encode(),
        "count.xml": xml.replace(b"<count>", b"<count>99999999999999999999", 1),
        "pct.xml": xml.replace(b"<pct>100</pct>", b"<pct>99999999999999999999</pct>").replace(b"gmail-4-", b"gmail-5-"),
        "after.xml": xml,
    }
    folder = tmp_path / "in"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    results = {Path(r.source).name: r for r in ingest(store, sorted(folder.iterdir()))}
    assert results["nul.json"].status == "stored"  # NUL removed, stored
    assert results["huge.json"].status == "rejected" and "implausible" in results["huge.json"].detail
    assert results["count.xml"].status == "rejected" and "implausible record count" in results["count.xml"].detail
    assert results["pct.xml"].status == "stored"  # an unusable pct is dropped, not fatal
    assert results["after.xml"].status == "stored"
