"""``zegel dmarc record|parse`` and the report-address authorization check."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.dmarc.helpers import run

from zegel.dmarc import check_report_authorization, parse_record
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

Factory = Callable[..., TestDnsServer]

ZONE_TEXT = """\
_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject; sp=quarantine; pct=50; rua=mailto:d@example.com!10m"
_dmarc.gov.example. 300 IN TXT "v=DMARC1; p=quarantine; psd=y"
"""


def zegel(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys; from zegel.cli import main; sys.exit(main(sys.argv[1:]))", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_record_command_json_both_modes(tmp_path: Path) -> None:
    zone = tmp_path / "draft.zone"
    zone.write_text(ZONE_TEXT)
    out = zegel("dmarc", "record", "a.b.example.com", "--zone", str(zone), "--offline", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["status"], data["policy_domain"], data["org_domain"]) == ("found", "example.com", "example.com")
    assert data["policies"] == {"p": "reject", "sp": "quarantine", "np": "quarantine"}
    assert [w["code"] for w in data["record"]["warnings"]] == ["dropped-tag", "obsolete-size-limit"]
    assert data["record"]["rua"][0]["size_limit"] == 10 * 1024 * 1024
    assert [lookup["name"] for lookup in data["lookups"]] == [
        "_dmarc.a.b.example.com", "_dmarc.b.example.com", "_dmarc.example.com", "_dmarc.com"]
    old = json.loads(zegel("dmarc", "record", "a.b.example.com", "--zone", str(zone), "--offline",
                           "--mode", "rfc7489", "--json").stdout)
    assert old["mode"] == "rfc7489" and len(old["lookups"]) == 2
    psd = json.loads(zegel("dmarc", "record", "x.agency.gov.example", "--zone", str(zone), "--offline", "--json").stdout)
    assert (psd["psd_domain"], psd["org_domain"]) == ("gov.example", "agency.gov.example")
    plain = zegel("dmarc", "record", "nothing.example.net", "--zone", str(zone), "--offline")
    assert plain.returncode == 1 and "none" in plain.stdout


def test_parse_command() -> None:
    good = zegel("dmarc", "parse", "v=DMARC1; p=none; np=reject; rua=mailto:a@b.example", "--json")
    assert good.returncode == 0
    assert json.loads(good.stdout)["policies"]["np"] == "reject"
    plain = zegel("dmarc", "parse", "v=DMARC1; p=quarantine; foo=bar")
    assert plain.returncode == 0 and "unknown tag 'foo'" in plain.stdout
    bad = zegel("dmarc", "parse", "v=DMARC1; p=x")
    assert bad.returncode == 1 and "UNUSABLE" in bad.stdout
    garbage = zegel("dmarc", "parse", "x" * 100_000)
    assert garbage.returncode == 1 and garbage.stderr.count("\n") == 1 and "Traceback" not in garbage.stderr
    usage = zegel("dmarc", "record", "bad domain")
    assert usage.returncode == 2 and usage.stderr.startswith("zegel: ")


def test_report_authorization(dns_server: Factory) -> None:
    server = dns_server({
        "example.com._report._dmarc.reports.example.net": [("TXT", "v=DMARC1")],
        "other.example._report._dmarc.reports.example.net": [("TXT", "v=spf1 -all")],
        "moved.example._report._dmarc.reports.example.net": [("TXT", "v=DMARC1; rua=mailto:new@reports.example.net")],
    }, servfail=["flaky.example._report._dmarc.reports.example.net"])
    resolver = Resolver([server.address])
    record = parse_record("v=DMARC1; p=none; rua=mailto:agg@reports.example.net, mailto:d@mail.example.com")
    external, internal = record.rua
    ok = run(check_report_authorization("example.com", external, resolver))
    assert ok.authorized is True and ok.query_name == "example.com._report._dmarc.reports.example.net"
    same = run(check_report_authorization("example.com", internal, resolver))
    assert same.authorized is True and same.query_name is None
    assert run(check_report_authorization("other.example", "mailto:x@reports.example.net", resolver)).authorized is False
    assert run(check_report_authorization("flaky.example", "reports.example.net", resolver)).authorized is None
    assert run(check_report_authorization("example.com", "mailto:broken", resolver)).authorized is False
    moved = run(check_report_authorization("moved.example", "reports.example.net", resolver))
    assert moved.authorized is True and [u.address for u in moved.rua_override] == ["new@reports.example.net"]
    assert ok.rua_override == ()
