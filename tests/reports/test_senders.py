"""Senders by name, forwarded mail apart, trends, the --since hint, and the commands that show
everything stored (failures, tls, export)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.reports.test_quirks import netease_failure_report
from tests.reports.test_summary import BEGIN, ESP, OWN, SPOOF, ingest, report, row

from zegel.cli import cli
from zegel.dns import Resolver
from zegel.reports.senders import Sender, advice, as_info, identify_sender
from zegel.reports.store import ReportStore, open_store
from zegel.reports.summary import build_trend, sparkline, summarize
from zegel.reports.summary import trend as trend_of

MAILCHIMP = row("198.2.128.5", 300, "fail", "fail", ("mail123.mcsv.net", "pass"), ("mcsv.net", "pass"))
SES = row("54.240.8.10", 50, "fail", "pass", ("example.com", "pass"), ("amazonses.com", "pass"))


def with_reason(record: str, kind: str, comment: str) -> str:
    return record.replace("</policy_evaluated>",
                          f"<reason><type>{kind}</type><comment>{comment}</comment></reason></policy_evaluated>")


# Mail of ours that a mailing list re-sent: SPF fails for the list's IP, its changes broke DKIM.
LIST = with_reason(row("192.0.2.77", 40, "fail", "fail", ("lists.example.org", "pass"), ("example.com", "fail")),
                   "mailing_list", "")
ARC = with_reason(row("192.0.2.78", 30, "fail", "fail", ("relay.example.net", "pass"), ("example.com", "fail")),
                  "local_policy", "arc=pass as[2].d=relay.example.net as[1].d=example.com")


def test_identify_sender_by_ptr_dkim_spf_and_network() -> None:
    assert identify_sender("example.com", ptr="mail-sor-f41.google.com") == Sender("Google Workspace", "mailbox")
    assert identify_sender("example.com", dkim_domains=("mcsv.net",)) == Sender("Mailchimp", "esp")
    assert identify_sender("example.com", spf_domains=("bounces.sendgrid.net",)) == Sender("SendGrid", "esp")
    assert identify_sender("example.com", as_name="AMAZON-AES") == Sender("Amazon SES", "esp")
    assert identify_sender("example.com", ptr="mx1.example.com") == Sender("example.com (own servers)", "own")
    assert identify_sender("example.com", dkim_domains=("example.com",)).kind == "own"
    assert identify_sender("example.com", ptr="smtp.host.co.uk") == Sender("host.co.uk", "other")
    assert identify_sender("example.com") == Sender("unknown", "unknown")


def test_advice_names_what_to_fix_in_english_and_dutch() -> None:
    mailchimp = Sender("Mailchimp", "esp")
    args: dict[str, Any] = {"failing": 10, "spoofing": False, "forwarded": 0, "dkim_domains": ("mcsv.net",),
                            "envelope_domains": ("mail1.mcsv.net",), "dkim_pass": 10, "spf_pass": 10}
    assert advice(mailchimp, "example.com", "en", **args) == (
        "Mailchimp signs with d=mcsv.net: set up DKIM for your domain example.com in Mailchimp.")
    assert "stel in Mailchimp DKIM in voor uw domein example.com" in advice(mailchimp, "example.com", "nl", **args)
    assert advice(mailchimp, "example.com", "en", **dict(args, failing=0)) == "Passes DMARC: nothing to fix."


def test_offline_network_database() -> None:
    country, network = as_info("8.8.8.8")
    assert len(country) == 2 and "GOOGLE" in network.upper()
    assert as_info("192.0.2.1") == ("", "")  # documentation range: private, nothing to say


def test_senders_and_forwarded_mail(store: ReportStore, tmp_path: Path) -> None:
    ingest(store, tmp_path, {"a.xml": report("s1", "none", [OWN, ESP, SPOOF, MAILCHIMP, SES, LIST, ARC])})
    result = asyncio.run(summarize(store, "example.com", BEGIN - 10, networks=False))
    senders = {s.name: s for s in result.senders}
    assert senders["Mailchimp"].to_fix and senders["Mailchimp"].dkim_domains == ("mcsv.net",)
    assert senders["Mailchimp"].advice.startswith("Mailchimp signs with d=mcsv.net")
    assert senders["Amazon SES"].dmarc_pass == 50 and not senders["Amazon SES"].to_fix
    assert senders["example.com (own servers)"].messages == 900
    # Forwarded mail: shown as forwarded, never a source to fix, left out of the readiness figure.
    by_ip = {s.source_ip: s for s in result.sources}
    assert by_ip["192.0.2.77"].category == "forwarded" and by_ip["192.0.2.77"].forwarded == 40
    assert by_ip["192.0.2.78"].category == "forwarded"  # local_policy with arc=pass (RFC 8617 7.2.1)
    assert result.forwarded == 70
    assert {s.source_ip for s in result.hurt} == {"198.51.100.20", "198.2.128.5"}
    assert result.legitimate_messages == 900 + 80 + 300 + 50
    assert "70 failing messages were forwarded" in result.recommendation
    misaligned = by_ip["198.2.128.5"]
    assert misaligned.misaligned_dkim_domains == ("mcsv.net",)
    assert misaligned.misaligned_envelope_from == ("mail123.mcsv.net",)
    data = result.to_json()
    assert {"senders", "forwarded", "legitimate_pass_rate", "explanations", "older_reports"} <= set(data)
    assert {"domain", "reports", "messages", "pass_rate", "sources", "would_be_hurt", "recommendation"} <= set(data)


def test_summary_cli_dutch_table_and_since_hint(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(None, data)
    ingest(store, tmp_path, {"a.xml": report("s1", "none", [OWN, MAILCHIMP])})
    store.close()
    args = ["reports", "summary", "--data-dir", str(data), "--domain", "example.com", "--no-ptr"]
    dutch = CliRunner().invoke(cli, [*args, "--since", "2026-01-01", "--lang", "nl"], catch_exceptions=False)
    assert dutch.exit_code == 0
    assert "bron" in dutch.stdout and "berichten" in dutch.stdout and "DKIM uitgelijnd" in dutch.stdout
    assert "falende post: envelope-from mail123.mcsv.net; DKIM d= mcsv.net" in dutch.stdout
    assert "Legitieme post geslaagd" in dutch.stdout
    hidden = CliRunner().invoke(cli, [*args, "--since", "1d"], catch_exceptions=False)
    assert "1 older report(s), from 2026-09-21 on, are left out by --since 1d" in hidden.stdout
    shown = CliRunner().invoke(cli, [*args, "--since", "2026-09-21"], catch_exceptions=False)
    assert "example.com: 1 report(s), 1200 message(s), p=none" in shown.stdout


def test_ptr_is_looked_up_for_shown_rows_only_and_cached(store: ReportStore, tmp_path: Path,
                                                        dns_server: Callable[..., Any]) -> None:
    ingest(store, tmp_path, {"a.xml": report("s1", "none", [OWN, ESP, SPOOF])})
    server = dns_server(zone_text=(
        "$ORIGIN arpa.\n$TTL 300\n5.2.0.192.in-addr IN PTR mail.example.com.\n"
        "20.100.51.198.in-addr IN PTR out.esp.example.\n66.113.0.203.in-addr IN PTR spoof.example.\n"))
    seen: list[tuple[int, int]] = []
    result = asyncio.run(summarize(store, "example.com", BEGIN - 10, resolver=Resolver([server.address]), top=2,
                                   progress=lambda done, total: seen.append((done, total)), networks=False))
    assert [s.ptr for s in result.sources] == ["mail.example.com", "out.esp.example", ""]
    assert seen[-1] == (2, 2)
    assert store.cached_ptr(["192.0.2.5", "198.51.100.20", "203.0.113.66"], 3600) == {
        "192.0.2.5": "mail.example.com", "198.51.100.20": "out.esp.example"}
    # Cached now: a resolver that knows nothing (offline, no zones) still gives the names.
    again = asyncio.run(summarize(store, "example.com", BEGIN - 10, resolver=Resolver(offline=True),
                                  top=2, networks=False))
    assert [s.ptr for s in again.sources][:2] == ["mail.example.com", "out.esp.example"]


def test_trends_per_day_and_week(store: ReportStore, tmp_path: Path) -> None:
    day = 86400
    trend = build_trend("example.com", [(BEGIN // day * day, 100, 50), ((BEGIN // day + 1) * day, 300, 300),
                                        ((BEGIN // day + 8) * day, 10, 0)], "week")
    assert [p.messages for p in trend.points] == [400, 10]
    assert all(p.start % (7 * day) == 4 * day for p in trend.points)  # Mondays
    assert sparkline([0, 5, 10]) == "▁▄█" and sparkline([3, 3]) == "██"
    ingest(store, tmp_path, {"a.xml": report("t1", "none", [OWN, SPOOF])})
    assert trend_of(store, "example.com", BEGIN - 10).to_json()["series"] == [
        {"start": BEGIN // day * day, "messages": 920, "dmarc_pass": 900, "pass_rate": round(900 / 920, 4)}]


def test_trends_command(tmp_path: Path) -> None:
    store = open_store(None, tmp_path / "data")
    ingest(store, tmp_path, {"a.xml": report("t1", "none", [OWN, SPOOF])})
    store.close()
    args = ["reports", "trends", "--data-dir", str(tmp_path / "data"), "--domain", "example.com", "--since", "2026-01-01"]
    text = CliRunner().invoke(cli, args, catch_exceptions=False).stdout
    assert "DMARC pass  █" in text and "2026-09-21        920   97.8%" in text
    series = json.loads(CliRunner().invoke(cli, [*args, "--by", "week", "--json"], catch_exceptions=False).stdout)
    assert series["period"] == "week" and series["series"][0]["messages"] == 920


def test_failures_tls_and_export_commands(tmp_path: Path) -> None:
    data = tmp_path / "data"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.xml").write_bytes(report("e1", "none", [OWN, with_reason(ESP, "forwarded", "list")]))
    (folder / "netease.eml").write_bytes(netease_failure_report())
    (folder / "tls.json").write_text(json.dumps({
        "organization-name": "Org", "report-id": "t-1", "contact-info": "a@org.example",
        "date-range": {"start-datetime": "2026-11-01T00:00:00Z", "end-datetime": "2026-11-01T23:59:59Z"},
        "policies": [{"policy": {"policy-type": "sts", "policy-domain": "example.com"},
                      "summary": {"total-successful-session-count": 9, "total-failure-session-count": 2},
                      "failure-details": [{"result-type": "starttls-not-supported", "failed-session-count": 2}]}]}))
    runner = CliRunner()
    assert runner.invoke(cli, ["reports", "ingest", "--data-dir", str(data), str(folder)]).exit_code == 0
    listed = runner.invoke(cli, ["reports", "failures", "--data-dir", str(data)], catch_exceptions=False)
    assert "example.com" in listed.stdout and "198.51.100.24" in listed.stdout
    one = runner.invoke(cli, ["reports", "failures", "--data-dir", str(data), "1", "--json"], catch_exceptions=False)
    assert json.loads(one.stdout)["dkim_domain"] == "esp.example"
    missing = runner.invoke(cli, ["reports", "failures", "--data-dir", str(data), "9"])
    assert missing.exit_code == 1 and missing.stderr == "zegel: no failure report 9\n"
    tls = runner.invoke(cli, ["reports", "tls", "--data-dir", str(data)], catch_exceptions=False)
    assert "starttls-not-supported 2" in tls.stdout
    exported = runner.invoke(cli, ["reports", "export", "--data-dir", str(data), "--format", "csv"],
                             catch_exceptions=False)
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    parsedmarc_columns = {"envelope_from", "dkim_domains", "dkim_selectors", "dkim_results", "spf_domains",
                          "spf_results", "org_name", "begin_date", "end_date", "disposition",
                          "policy_override_reasons", "source_ip_address", "count", "header_from"}
    assert parsedmarc_columns <= set(rows[0]) and {"reporter", "period_begin", "period_end"} <= set(rows[0])
    esp = next(r for r in rows if r["source_ip_address"] == "198.51.100.20")
    assert (esp["envelope_from"], esp["dkim_domains"], esp["policy_override_reasons"]) == (
        "bounces.esp.example", "esp.example", "forwarded")
    lines = runner.invoke(cli, ["reports", "export", "--data-dir", str(data)], catch_exceptions=False).stdout
    assert len(lines.splitlines()) == 2 and json.loads(lines.splitlines()[0])["reporter"] == "Reporter A"


def test_sender_named_by_the_spf_include_that_authorises_it(store: ReportStore, tmp_path: Path,
                                                           dns_server: Callable[..., Any]) -> None:
    unknown = row("198.51.100.99", 60, "fail", "fail", ("bounce.unknown-esp.example", "pass"),
                  ("unknown-esp.example", "pass"))
    ingest(store, tmp_path, {"a.xml": report("i1", "none", [OWN, unknown])})
    server = dns_server(zone_text=(
        "$ORIGIN example.com.\n$TTL 300\n@ IN TXT \"v=spf1 ip4:192.0.2.5 include:_spf.mailgun.org -all\"\n"
        "$ORIGIN mailgun.org.\n_spf IN TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n"))
    result = asyncio.run(summarize(store, "example.com", BEGIN - 10, resolver=Resolver([server.address]),
                                   networks=False))
    by_ip = {s.source_ip: s for s in result.sources}
    assert (by_ip["198.51.100.99"].sender, by_ip["198.51.100.99"].spf_include) == ("Mailgun", "_spf.mailgun.org")
    assert by_ip["192.0.2.5"].spf_include == ""  # authorised by ip4:, not an include
