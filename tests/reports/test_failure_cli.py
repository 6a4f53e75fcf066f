"""``zegel reports failure``: verify a message and send the failure reports its DMARC record
asks for (dry run into a directory, or a real SMTP conversation with the test sink)."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

from click.testing import CliRunner
from tests.reports.conftest import SmtpSink

from zegel.cli import cli
from zegel.reports.ingest import parse_failure_report

MESSAGE = (b"From: CEO <ceo@ruf.example>\r\nTo: staff@rx.example\r\nSubject: Pay now\r\n"
           b"Message-ID: <x1@spoofer.example>\r\n\r\nPlease pay.\r\n")


def _zone(tmp_path: Path, fo: str = "1") -> Path:
    zone = tmp_path / "ruf.zone"
    zone.write_text("$ORIGIN ruf.example.\n$TTL 60\n"
                    '@ IN TXT "v=spf1 ip4:198.51.100.1 -all"\n'
                    f'_dmarc IN TXT "v=DMARC1; p=reject; ruf=mailto:ruf@ruf.example; fo={fo}"\n')
    return zone


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_failure_report_dry_run_is_redacted_arf(tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(MESSAGE)
    out = tmp_path / "out"
    common = ("reports", "failure", str(tmp_path / "m.eml"), "--ip", "203.0.113.9", "--helo", "bad.example",
              "--mail-from", "ceo@ruf.example", "--from", "dmarc@rx.example", "--authserv-id", "rx.example",
              "--zone", str(_zone(tmp_path)), "--offline", "--data-dir", str(tmp_path / "data"))
    code, stdout, _ = run(*common, "--dry-run", str(out), "--json")
    assert code == 0, stdout
    result = json.loads(stdout)
    assert result["dmarc"] == "fail" and [d["status"] for d in result["deliveries"]] == ["dry-run"]
    [path] = list(out.iterdir())
    raw = path.read_bytes()
    report = parse_failure_report(email.message_from_bytes(raw, policy=email.policy.compat32), raw)
    assert report.auth_failure == "dmarc" and report.reported_domain == "ruf.example"
    assert report.source_ip == "203.0.113.9" and report.subject == "Pay now"
    assert b"ceo@" not in raw and report.original_mail_from.startswith("redacted-")

    # The per-domain limit counts what was sent: with --per-domain-limit 1 the next is refused.
    code, stdout, _ = run(*common, "--dry-run", str(out), "--per-domain-limit", "1")
    assert code == 0 and "rate-limited" in stdout and len(list(out.iterdir())) == 1


def test_failure_report_to_relay_and_fo_that_does_not_ask(tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(MESSAGE)
    sink = SmtpSink()
    try:
        code, stdout, _ = run("reports", "failure", str(tmp_path / "m.eml"), "--ip", "203.0.113.9",
                              "--mail-from", "ceo@ruf.example", "--from", "dmarc@rx.example", "--no-redact",
                              "--relay", f"127.0.0.1:{sink.port}", "--no-starttls",
                              "--zone", str(_zone(tmp_path)), "--offline", "--data-dir", str(tmp_path / "data"))
        assert code == 0, stdout
        [(sender, recipients, data)] = sink.messages
        assert sender == "dmarc@rx.example" and recipients == ["ruf@ruf.example"]
        assert b"report-type=\"feedback-report\"" in data and b"ceo@ruf.example" in data
        assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")  # RFC 5321 2.3.8: no bare LF
        # fo=d: only a failing DKIM signature is reported; this message has none.
        zone = _zone(tmp_path, fo="d")
        code, stdout, _ = run("reports", "failure", str(tmp_path / "m.eml"), "--ip", "203.0.113.9",
                              "--from", "dmarc@rx.example", "--relay", f"127.0.0.1:{sink.port}",
                              "--zone", str(zone), "--offline", "--data-dir", str(tmp_path / "data"))
        assert code == 0 and "its fo= option does not ask for this failure" in stdout
        assert len(sink.messages) == 1
    finally:
        sink.close()


def test_failure_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "m.eml").write_bytes(MESSAGE)
    code, _, err = run("reports", "failure", str(tmp_path / "m.eml"), "--ip", "not-an-ip", "--from", "d@rx.example")
    assert code == 2 and err.startswith("zegel: --ip")
    code, _, err = run("reports", "failure", str(tmp_path / "m.eml"), "--ip", "192.0.2.1")
    assert code == 2 and "--from" in err and err.count("\n") == 1
