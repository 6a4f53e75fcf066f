"""Sending aggregate reports: message format, destination authorization over real DNS,
size limits, suppression of bounced addresses, rate limits, each period once."""

from __future__ import annotations

import asyncio
import email
import gzip
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree
from tests.reports.conftest import SmtpSink

from zegel.dns import Resolver
from zegel.reports.generate import ReporterInfo
from zegel.reports.model import Outcome
from zegel.reports.send import AggregateSender, Mailer, MailerConfig, complete_periods
from zegel.reports.store import ReportStore

DAY = 86400
BEGIN = 20400 * DAY
REPORTER = ReporterInfo("Zegel Receiver", "dmarc@rx.example", "rx.example")
RUA = ("v=DMARC1; p=none; rua=mailto:dmarc@sender.example,mailto:agg@thirdparty.example,"
       "mailto:agg@authorized.example,mailto:small@sender.example!500,mailto:old@redirect.example")
DNS = {
    "_dmarc.sender.example": [("TXT", "v=DMARC1; p=none; rua=mailto:dmarc@sender.example")],
    "sender.example._report._dmarc.authorized.example": [("TXT", "v=DMARC1")],
    # RFC 7489 7.1: the authorizing record may name the mailbox to use instead
    "sender.example._report._dmarc.redirect.example": [("TXT", "v=DMARC1; rua=mailto:reports@redirect.example")],
}


def record(store: ReportStore, domain: str = "sender.example", rua: str = RUA, n: int = 5) -> None:
    store.add_outcomes([
        Outcome(time=BEGIN + 100 * i, source_ip=f"192.0.2.{i + 1}", header_from=domain,
                envelope_from=f"b@{domain}", spf_domain=domain, spf_result="pass", spf_aligned=True,
                dmarc_result="pass", policy_domain=domain, policy_record=rua, policy="none")
        for i in range(n)
    ])


def sender_for(store: ReportStore, resolver: Resolver, *, dry_run: Path | None = None, port: int = 25,
               rate: int = 20, fmt: str = "rfc9990") -> AggregateSender:
    config = MailerConfig(envelope_sender="bounces@rx.example", from_address="DMARC <dmarc@rx.example>",
                          relay_host="127.0.0.1", relay_port=port, starttls=False, rate_limit_per_hour=rate)
    return AggregateSender(store, REPORTER, Mailer(store, config, dry_run_dir=dry_run), resolver, fmt=fmt)  # type: ignore[arg-type]


def test_complete_periods_are_utc_days() -> None:
    assert complete_periods(BEGIN + 3 * DAY + 500, "day", 2) == [(BEGIN + DAY, BEGIN + 2 * DAY),
                                                                (BEGIN + 2 * DAY, BEGIN + 3 * DAY)]
    assert complete_periods(7200 + 5, "hour", 1) == [(3600, 7200)]


def test_dry_run_messages(store: ReportStore, tmp_path: Path, dns_server: Callable[..., Any],
                          conformance_dir: Path) -> None:
    server = dns_server(DNS)
    resolver = Resolver([server.address])
    record(store)
    out = tmp_path / "out"
    summary = asyncio.run(sender_for(store, resolver, dry_run=out).send([(BEGIN, BEGIN + DAY)]))
    status = {d.destination: d.status for d in summary.deliveries}
    assert status == {"dmarc@sender.example": "dry-run", "agg@thirdparty.example": "unauthorized",
                      "agg@authorized.example": "dry-run", "small@sender.example": "too-big",
                      "old@redirect.example": "redirected", "reports@redirect.example": "dry-run"}
    files = sorted(out.iterdir(), key=lambda p: "dmarc@sender.example" not in p.name)
    assert len(files) == 3
    message = email.message_from_bytes(files[0].read_bytes())
    assert re.fullmatch(r"Report Domain: sender\.example Submitter: rx\.example Report-ID: <[^>]+@rx\.example>",
                        message["Subject"])
    assert message["From"] == "DMARC <dmarc@rx.example>"
    [attachment] = [p for p in message.walk() if p.get_filename()]
    assert attachment.get_content_type() == "application/gzip"
    assert re.fullmatch(rf"rx\.example!sender\.example!{BEGIN}!{BEGIN + DAY - 1}!\w+\.xml\.gz", attachment.get_filename() or "")
    payload = attachment.get_payload(decode=True)
    assert isinstance(payload, bytes)
    schema = etree.XMLSchema(etree.parse(str(conformance_dir / "dmarc" / "rfc9990-aggregate.xsd")))
    assert schema.validate(etree.fromstring(gzip.decompress(payload))), schema.error_log
    # a dry run claims nothing: the next real run still has the period to report
    assert not store.is_reported("sender.example", BEGIN, BEGIN + DAY)


def test_send_bounce_and_once_only(store: ReportStore, smtp_sink: SmtpSink, dns_server: Callable[..., Any]) -> None:
    resolver = Resolver([dns_server(DNS).address])
    record(store, rua="v=DMARC1; p=none; rua=mailto:dmarc@sender.example,mailto:gone@sender.example")
    summary = asyncio.run(sender_for(store, resolver, port=smtp_sink.port).send([(BEGIN, BEGIN + DAY)]))
    assert {d.destination: d.status for d in summary.deliveries} == {
        "dmarc@sender.example": "sent", "gone@sender.example": "bounced"}
    [(mail_from, recipients, data)] = smtp_sink.messages
    assert mail_from == "bounces@rx.example" and recipients == ["dmarc@sender.example"]
    assert b"Report Domain: sender.example" in data
    assert store.is_suppressed("gone@sender.example")
    assert store.is_reported("sender.example", BEGIN, BEGIN + DAY)
    # a later run (say after a restart) reports the period no second time
    again = asyncio.run(sender_for(store, resolver, port=smtp_sink.port).send([(BEGIN, BEGIN + DAY)]))
    assert again.reports == 0 and again.already_reported == 1 and len(smtp_sink.messages) == 1


def test_rate_limit_and_relay_failure_are_retried(store: ReportStore, smtp_sink: SmtpSink,
                                                  dns_server: Callable[..., Any]) -> None:
    resolver = Resolver([dns_server(DNS).address])
    shared = "v=DMARC1; p=none; rua=mailto:dmarc@sender.example"
    record(store, "sender.example", shared)
    record(store, "sub.sender.example", shared)
    first = asyncio.run(sender_for(store, resolver, port=smtp_sink.port, rate=1).send([(BEGIN, BEGIN + DAY)]))
    assert sorted(d.status for d in first.deliveries) == ["rate-limited", "sent"]
    assert [store.is_reported(d, BEGIN, BEGIN + DAY) for d in ("sender.example", "sub.sender.example")].count(True) == 1

    record(store, "other.example", "v=DMARC1; p=none; rua=mailto:d@other.example", n=2)
    down = asyncio.run(sender_for(store, resolver, port=1).send([(BEGIN, BEGIN + DAY)]))
    assert [d.status for d in down.deliveries] == ["failed", "failed"]  # relay down
    assert not store.is_reported("other.example", BEGIN, BEGIN + DAY)
    later = asyncio.run(sender_for(store, resolver, port=smtp_sink.port, rate=5).send([(BEGIN, BEGIN + DAY)]))
    assert sorted(d.status for d in later.deliveries) == ["sent", "sent"]
    assert all(store.is_reported(d, BEGIN, BEGIN + DAY) for d in ("sender.example", "sub.sender.example", "other.example"))
