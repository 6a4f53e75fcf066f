"""Failure reports: fo= semantics, the RFC 6591 format (read back by our own ARF parser),
redaction of local parts, rate limiting."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from zegel.dns import Resolver
from zegel.reports.failure import (
    FailurePolicy,
    FailureReporter,
    build_failure_report,
    header_section,
    should_report,
)
from zegel.reports.generate import ReporterInfo
from zegel.reports.ingest import parse_failure_report
from zegel.reports.model import DkimOutcome, Outcome
from zegel.reports.send import Mailer, MailerConfig
from zegel.reports.store import ReportStore

REPORTER = ReporterInfo("Zegel Receiver", "dmarc@rx.example", "rx.example")
MESSAGE = (b"From: CEO <ceo@example.com>\r\nTo: staff@rx.example\r\nSubject: Urgent\r\n"
           b"Message-ID: <m1@spoofer.example>\r\n\r\nPay this invoice.\r\n")


def outcome(*, spf: str = "fail", spf_aligned: bool = False, dkim: str = "fail", dkim_aligned: bool = True,
            record: str = "v=DMARC1; p=reject; ruf=mailto:ruf@example.com; fo=1") -> Outcome:
    passing = (spf == "pass" and spf_aligned) or (dkim == "pass" and dkim_aligned)
    return Outcome(time=1_790_000_000, source_ip="198.51.100.9", header_from="example.com",
                   envelope_from="someone@spoofer.example", spf_domain="spoofer.example", spf_result=spf,
                   spf_aligned=spf_aligned, dkim=(DkimOutcome("example.com", "s1", dkim, dkim_aligned),),
                   dmarc_result="pass" if passing else "fail", policy_domain="example.com",
                   policy_record=record, policy="reject", disposition="reject")


@pytest.mark.parametrize("fo, spf, dkim, expected", [
    ("0", "fail", "fail", True),  # nothing aligned passed
    ("0", "pass", "fail", True),  # SPF passed but unaligned
    ("1", "fail", "pass", True),  # DKIM aligned pass, SPF did not: fo=1 reports
    ("0", "fail", "pass", False),  # fo=0 only when all fail
    ("d", "fail", "fail", True),
    ("d", "fail", "pass", False),
    ("s", "fail", "pass", True),
    ("s", "softfail", "fail", False),
    ("0:s", "softfail", "pass", False),
])
def test_fo_options(fo: str, spf: str, dkim: str, expected: bool) -> None:
    assert should_report(outcome(spf=spf, dkim=dkim), fo) is expected


def test_report_format_and_redaction() -> None:
    report = build_failure_report(MESSAGE, outcome(), REPORTER, from_address="dmarc@rx.example",
                                  to="ruf@example.com", authentication_results="rx.example; dmarc=fail",
                                  redact=True, secret="k")
    raw = report.as_bytes()
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "feedback-report"
    assert b"ceo@example.com" not in raw and b"someone@spoofer.example" not in raw
    assert b"@example.com" in raw  # domains stay, local parts go (RFC 6590)
    parsed = parse_failure_report(email.message_from_bytes(raw, policy=email.policy.compat32), raw)
    assert parsed.feedback_type == "auth-failure" and parsed.auth_failure == "dmarc"
    assert parsed.reported_domain == "example.com" and parsed.source_ip == "198.51.100.9"
    assert parsed.identity_alignment == "none" and parsed.dkim_domain == "example.com"
    assert parsed.original_mail_from.startswith("redacted-") and parsed.original_mail_from.endswith("@spoofer.example")
    assert parsed.subject == "Urgent" and parsed.message_id == "<m1@spoofer.example>"
    plain = build_failure_report(MESSAGE, outcome(), REPORTER, from_address="d@rx.example", to="r@example.com",
                                 redact=False)
    assert b"ceo@example.com" in plain.as_bytes()


def test_reporter_rate_limits(store: ReportStore, tmp_path: Path, dns_server: Callable[..., Any]) -> None:
    resolver = Resolver([dns_server({}).address])
    config = MailerConfig(envelope_sender="b@rx.example", from_address="dmarc@rx.example")
    reporter = FailureReporter(Mailer(store, config, dry_run_dir=tmp_path / "out"), REPORTER, resolver,
                               FailurePolicy(per_domain_per_hour=2))

    async def run() -> list[list[str]]:
        statuses = [[d.status for d in await reporter.report(
            MESSAGE, outcome(record="v=DMARC1; p=reject; ruf=mailto:x@elsewhere.example"))]]
        for _ in range(3):
            statuses.append([d.status for d in await reporter.report(MESSAGE, outcome())])
        statuses.append([d.status for d in await reporter.report(MESSAGE, outcome(dkim="pass"))])
        return statuses

    assert asyncio.run(run()) == [["unauthorized"], ["dry-run"], ["dry-run"], ["rate-limited"], []]
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_report_for_a_pipeline_verdict(store: ReportStore, tmp_path: Path) -> None:
    from zegel.verify import verify_message

    zone = tmp_path / "z.zone"
    zone.write_text("$ORIGIN example.com.\n$TTL 60\n@ IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n"
                    '_dmarc IN TXT "v=DMARC1; p=reject; ruf=mailto:ruf@example.com; fo=1"\n')
    resolver = Resolver(zones=[str(zone)], offline=True)
    config = MailerConfig(envelope_sender="b@rx.example", from_address="dmarc@rx.example")
    reporter = FailureReporter(Mailer(store, config, dry_run_dir=tmp_path / "out"), REPORTER, resolver)

    async def run() -> list[str]:
        verdict = await verify_message(MESSAGE, ip="198.51.100.9", helo="evil", mail_from="x@spoofer.example",
                                       resolver=resolver, authserv_id="rx.example")
        results = await reporter.report_verdict(MESSAGE, verdict, ip="198.51.100.9", helo="evil",
                                                mail_from="x@spoofer.example")
        return [d.status for d in results]

    assert asyncio.run(run()) == ["dry-run"]
    [written] = list((tmp_path / "out").iterdir())
    raw = written.read_bytes()
    parsed = parse_failure_report(email.message_from_bytes(raw, policy=email.policy.compat32), raw)
    assert parsed.source_ip == "198.51.100.9" and parsed.reported_domain == "example.com"
    assert b"Authentication-Results: rx.example;" in raw


@pytest.mark.parametrize(("message", "expected"), [
    (b"From: a@example.com\r\nTo: b@example.net\r\n\r\nbody\r\n", b"From: a@example.com\r\nTo: b@example.net\r\n\r\n"),
    (b"From: a@example.com\nTo: b@example.net\n\nbody\n", b"From: a@example.com\nTo: b@example.net\n\n"),
    # A bare-LF header whose body later has a CRLF CRLF: the body stays out of the report.
    (b"From: a@example.com\n\nprivate body line\r\n\r\nmore", b"From: a@example.com\n\n"),
    (b"From: a@example.com\r\n", b"From: a@example.com\r\n"),  # no body at all
    # A bare LF ends the header line and the CR LF after it is the empty line, as for DKIM.
    (b"From: a@example.com\n\r\nprivate body line\r\n\r\nmore", b"From: a@example.com\n\r\n"),
    (b"\r\nprivate body line\r\n\r\nmore", b"\r\n"),  # no header fields: nothing of the body
])
def test_header_section_ends_at_the_first_empty_line(message: bytes, expected: bytes) -> None:
    """RFC 9991 reports carry the header section only: it ends at the first empty line,
    whichever line ending the message uses."""
    assert header_section(message) == expected
