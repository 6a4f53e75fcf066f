"""Monitoring: scheduled runs on an injected clock, history diffs, and alerts delivered to a
real SMTP receiver and a real webhook server, with DNS from the loopback test server."""

from __future__ import annotations

import asyncio
import email
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.monitor.conftest import DAY, Clock, MailReceiver, WebhookReceiver, add_report, record
from zegel.dns import Resolver
from zegel.monitor import (
    Mailer,
    Monitor,
    MtaStsPolicy,
    Snapshot,
    Watch,
    diff,
    open_monitor,
    snapshot_alerts,
)
from zegel.monitor.snapshot import parse_policy
from zegel.reports.store import ReportStore, open_store

START = 1_790_000_000
KEY = ("v=DKIM1; k=ed25519; p=Uo2q/w9B5sCA+UlZfp5szccZadzFktSeaaBD0siAYZQ=")
ZONE = {
    "shop.example": [("TXT", "v=spf1 ip4:192.0.2.10 -all"), ("MX", (10, "mail.shop.example"))],
    "mail.shop.example": [("A", "192.0.2.10")],
    "_dmarc.shop.example": [("TXT", "v=DMARC1; p=reject; rua=mailto:dmarc@shop.example")],
    "s1._domainkey.shop.example": [("TXT", KEY)],
    "_mta-sts.shop.example": [("TXT", "v=STSv1; id=2026")],
    "default._bimi.shop.example": [("TXT", "v=BIMI1; l=https://shop.example/logo.svg")],
}


def _monitor(tmp_path: Path, server: Any, clock: Clock, mail: MailReceiver | None = None,
             reports: ReportStore | None = None, **options: Any) -> Monitor:
    store = open_monitor(None, tmp_path)
    mailer = Mailer("127.0.0.1", mail.port, "monitor@zegel.test") if mail else None
    return Monitor(store, Resolver([server.address], timeout=1.0), reports=reports, mailer=mailer, clock=clock,
                   **options)


def test_schedule_runs_due_domains_and_alerts_when_a_record_breaks(
        tmp_path: Path, dns_server: Callable[..., Any], mail_receiver: MailReceiver,
        webhook: WebhookReceiver) -> None:
    server = dns_server(ZONE, default_ttl=0)
    clock = Clock(START)
    monitor = _monitor(tmp_path, server, clock, mail_receiver)
    monitor.store.add(Watch("shop.example", ("s1",), interval=3600, emails=("owner@shop.example",),
                            webhook=webhook.url, added_at=START))

    async def scenario() -> None:
        assert await monitor.run_due() == []  # the first run is the baseline
        assert monitor.store.due(int(clock())) == []
        clock.advance(1800)
        assert await monitor.run_due() == []  # not due yet: nothing checked
        assert len(monitor.store.history("shop.example")) == 1
        # Someone points SPF at an include that publishes nothing (RFC 7208 5.2) and removes BIMI.
        server.add({"shop.example": [("TXT", "v=spf1 include:esp.example -all")]})
        server.nodes.pop(next(n for n in server.nodes if str(n) == "default._bimi.shop.example."))
        clock.advance(1800)
        alerts = await monitor.run_due()
        kinds = {a.kind for a in alerts}
        assert {"record-broken", "record-gone"} <= kinds
        assert any(a.kind == "record-broken" and ": spf." in a.message for a in alerts)
        assert any("BIMI" in a.message for a in alerts if a.kind == "record-gone")

    asyncio.run(scenario())
    # Delivered: one mail per alert to the real SMTP receiver, one POST per alert to the webhook.
    alerts = monitor.store.alerts("shop.example")
    assert len(mail_receiver.messages) == len(alerts) == len(webhook.bodies)
    sender, recipients, raw = mail_receiver.messages[0]
    assert sender == "monitor@zegel.test" and recipients == ["owner@shop.example"]
    message = email.message_from_bytes(raw)
    assert message["Subject"].startswith("[zegel] shop.example:") and message["Auto-Submitted"] == "auto-generated"
    assert {body["kind"] for body in webhook.bodies} == {a["kind"] for a in alerts}
    assert all(a["delivery"] == "mail: sent; webhook: HTTP 204" for a in alerts)
    # History: what changed when.
    history = monitor.store.history("shop.example")
    assert len(history) == 2
    latest, changes = history[0]
    assert latest.time == START + 3600
    assert ("spf", "added", "v=spf1 include:esp.example -all") in {(c.area, c.kind, c.after) for c in changes}
    assert ("bimi", "removed") in {(c.area, c.kind) for c in changes}
    assert monitor.store.get("shop.example").next_due == START + 7200  # type: ignore[union-attr]


def test_grade_drop_and_dmarc_record_gone(tmp_path: Path, dns_server: Callable[..., Any]) -> None:
    server = dns_server(ZONE, default_ttl=0)
    clock = Clock(START)
    monitor = _monitor(tmp_path, server, clock)
    monitor.store.add(Watch("shop.example", ("s1",), interval=600))

    async def scenario() -> list[Any]:
        await monitor.run_due()
        server.nodes.pop(next(n for n in server.nodes if str(n) == "_dmarc.shop.example."))
        clock.advance(600)
        return await monitor.run_due()

    alerts = asyncio.run(scenario())
    kinds = [a.kind for a in alerts]
    assert "grade-drop" in kinds and "record-gone" in kinds
    grade_alert = next(a for a in alerts if a.kind == "grade-drop")
    assert "to F" in grade_alert.message or "to D" in grade_alert.message
    stored = monitor.store.alerts("shop.example")
    assert stored[0]["delivery"] == "stored"  # no e-mail address, no webhook: kept for the console


def test_new_failing_sender_and_pass_rate_alerts(tmp_path: Path, dns_server: Callable[..., Any],
                                                 webhook: WebhookReceiver) -> None:
    server = dns_server(ZONE, default_ttl=0)
    clock = Clock(START + 3 * DAY)
    reports = open_store(None, tmp_path)
    monitor = _monitor(tmp_path, server, clock, reports=reports)
    monitor.store.add(Watch("shop.example", ("s1",), interval=600, webhook=webhook.url, pass_threshold=0.9))
    own = record("192.0.2.10", 900, dkim=("shop.example", "pass"), spf=("shop.example", "pass"),
                 envelope_from="shop.example", dkim_eval="pass", spf_eval="pass")
    add_report(reports, "shop.example", "r1", START, [own, record("203.0.113.9", 5)])

    async def scenario() -> list[Any]:
        first = await monitor.run_due()
        assert first == []  # baseline: a spoofer is no sender; 99% pass
        # A newsletter service starts sending, signing with its own domain: it fails DMARC.
        esp = record("198.51.100.7", 400, dkim=("mcsv.example", "pass"), spf=("bounce.mcsv.example", "pass"),
                     envelope_from="bounce.mcsv.example")
        add_report(reports, "shop.example", "r2", START + DAY, [own, esp])
        clock.advance(600)
        return await monitor.run_due()

    alerts = asyncio.run(scenario())
    by_kind = {a.kind: a for a in alerts}
    assert set(by_kind) == {"new-failing-sender", "pass-rate"}
    assert "bounce.mcsv.example" in by_kind["new-failing-sender"].message
    assert "d=" not in by_kind["new-failing-sender"].message or "mcsv.example" in by_kind["new-failing-sender"].message
    assert "set up DKIM for shop.example" in by_kind["new-failing-sender"].message
    assert "below 90%" in by_kind["pass-rate"].message
    assert {b["kind"] for b in webhook.bodies} == {"new-failing-sender", "pass-rate"}

    async def again() -> list[Any]:
        clock.advance(600)
        return await monitor.run_due()

    assert asyncio.run(again()) == []  # said once, not on every run
    reports.close()


def test_mta_sts_certificate_expiry_and_broken_policy() -> None:
    policy = MtaStsPolicy("version: STSv1\nmode: enforce\nmx: mail.shop.example\nmax_age: 86400\n",
                          "enforce", 86400, ("mail.shop.example",), START + 5 * DAY)
    old = Snapshot("shop.example", START - DAY, "A", (), {"mta_sts": ["v=STSv1; id=1"]},
                   MtaStsPolicy(mode="enforce", max_age=86400, cert_not_after=START + 90 * DAY))
    new = Snapshot("shop.example", START, "A", (), {"mta_sts": ["v=STSv1; id=1"]}, policy)
    alerts = snapshot_alerts(old, new, expiry_days=14)
    assert [a.kind for a in alerts] == ["mta-sts-expiry"]
    assert "(in 5 days)" in alerts[0].message
    later = Snapshot("shop.example", START + DAY, "A", (), new.records, policy)
    assert snapshot_alerts(new, later) == []  # once per certificate
    broken = Snapshot("shop.example", START + 2 * DAY, "A", (), new.records, MtaStsPolicy(error="HTTP/1.1 404"))
    assert [a.kind for a in snapshot_alerts(later, broken)] == ["record-broken"]
    assert parse_policy("version: STSv1\r\nmode: testing\r\nmx: *.shop.example\r\nmax_age: 604800\r\n") == (
        "testing", 604800, ("*.shop.example",))


def test_snapshot_round_trips_and_diff_of_first_run() -> None:
    snap = Snapshot("a.example", START, "B", ({"code": "x", "severity": "warning", "message": "m"},),
                    {"spf": ["v=spf1 -all"]}, MtaStsPolicy(mode="enforce", max_age=1, cert_not_after=5))
    assert Snapshot.from_json(snap.to_json()).to_json() == snap.to_json()
    changes = diff(None, snap)
    assert (changes[0].area, changes[0].kind) == ("grade", "changed")
    assert {(c.area, c.kind) for c in changes} == {("grade", "changed"), ("spf", "added"), ("finding", "added")}
