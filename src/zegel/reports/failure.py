"""Failure reports (ruf): RFC 9991, in the RFC 6591 authentication failure format (ARF,
RFC 5965), sent per failing message when the Domain Owner's fo= asks for it.

The receiver calls :meth:`FailureReporter.report` with the message, its recorded outcome and
the DMARC record; the reporter decides (fo=), checks each ruf destination (authorization,
suppression, rate limit) and sends. Local parts can be redacted (RFC 6590) for privacy.
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

from zegel import __version__
from zegel.dns import Resolver
from zegel.reports.generate import ReporterInfo
from zegel.reports.model import Outcome
from zegel.reports.send import Delivery, Mailer, authorized_destination
from zegel.rfc5322 import header_separator

# Header fields of the original message that may carry addresses (redacted when asked).
_ADDRESS_FIELDS = re.compile(rb"^(from|to|cc|bcc|sender|reply-to|return-path|delivered-to|resent-[a-z]+):",
                             re.IGNORECASE)
# The lookbehind lets a match start only where a run of local-part characters starts, so a long
# run without "@" is scanned once, not once per offset (that was quadratic: 44 s for a 50 KB
# header line, docs/security.md).
_ADDRESS = re.compile(rb"(?<![A-Za-z0-9.!#$%&'*+/=?^_`{|}~-])([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+)@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def failure_options(fo: tuple[str, ...] | str) -> set[str]:
    values = fo.split(":") if isinstance(fo, str) else list(fo)
    return {value.strip().lower() for value in values if value.strip()} or {"0"}


def should_report(outcome: Outcome, fo: tuple[str, ...] | str) -> bool:
    """RFC 9991 / RFC 9989 4.7 fo=: 0 = all underlying mechanisms failed to produce an aligned
    pass; 1 = any did; d = a DKIM signature failed to verify; s = SPF failed."""
    options = failure_options(fo)
    spf_ok, dkim_ok = outcome.spf_aligned_pass, outcome.dkim_aligned_pass
    if "0" in options and not spf_ok and not dkim_ok:
        return True
    if "1" in options and (not spf_ok or not dkim_ok):
        return True
    if "d" in options and any(sig.result == "fail" for sig in outcome.dkim):
        return True
    return "s" in options and outcome.spf_result == "fail"


def redact_address(address: str, secret: str = "") -> str:
    """RFC 6590: replace the local part with a stable token (keyed hash) so reports about the
    same mailbox stay correlatable without revealing it."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    token = hashlib.sha256((secret + local).encode()).hexdigest()[:12]
    return f"redacted-{token}@{domain}"


def _redact_headers(headers: bytes, secret: str) -> bytes:
    lines = headers.split(b"\n")
    out = []
    in_address_field = False
    for line in lines:
        if line[:1] not in (b" ", b"\t"):
            in_address_field = bool(_ADDRESS_FIELDS.match(line))
        if in_address_field:
            line = _ADDRESS.sub(lambda m: redact_address(m.group(0).decode(errors="replace"), secret).encode(), line)
        out.append(line)
    return b"\n".join(out)


def header_section(message: bytes) -> bytes:
    """The header section with the empty line after it, ended where DKIM ends it (a bare LF
    is a line end), so a body that follows a bare-LF header never reaches a headers-only report.
    A message without header fields gives the empty line alone."""
    separator = header_separator(message)
    return message if separator is None else message[: separator[1]]


def identity_alignment(outcome: Outcome) -> str:
    """RFC 9991 Identity-Alignment: which mechanisms produced an aligned pass ("none" if none)."""
    aligned = [name for name, ok in (("dkim", outcome.dkim_aligned_pass), ("spf", outcome.spf_aligned_pass)) if ok]
    return ",".join(aligned) or "none"


def build_failure_report(
    message: bytes, outcome: Outcome, reporter: ReporterInfo, *, from_address: str, to: str,
    authentication_results: str = "", redact: bool = True, secret: str = "", now: float | None = None,
) -> MIMEMultipart:
    """One RFC 6591 auth-failure report about ``message`` (headers only: RFC 9991 privacy)."""
    headers = header_section(message)
    mail_from = outcome.envelope_from
    if redact:
        headers = _redact_headers(headers, secret)
        mail_from = redact_address(mail_from, secret) if mail_from else mail_from
        # smtp.mailfrom= and header.from= properties carry addresses too.
        authentication_results = _ADDRESS.sub(
            lambda m: redact_address(m.group(0).decode(errors="replace"), secret).encode(),
            authentication_results.encode()).decode(errors="replace")
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = from_address
    report["To"] = to
    report["Date"] = email.utils.formatdate(now if now is not None else time.time(), usegmt=True)
    report["Message-ID"] = email.utils.make_msgid("dmarc-failure", domain=reporter.domain)
    report["Subject"] = f"DMARC failure report for {outcome.header_from} from {outcome.source_ip}"
    report["Auto-Submitted"] = "auto-generated"
    report.attach(MIMEText(
        f"A message claiming to be from {outcome.header_from} failed DMARC at {reporter.org_name}.\n"
        f"Source IP: {outcome.source_ip}; SPF {outcome.spf_result} ({outcome.spf_domain or '-'}); "
        f"DKIM {', '.join(f'{s.domain}={s.result}' for s in outcome.dkim) or 'none'}.\n", "plain", "utf-8"))
    fields = [
        ("Feedback-Type", "auth-failure"),
        ("User-Agent", f"zegel/{__version__}"),
        ("Version", "1"),
        ("Original-Mail-From", f"<{mail_from}>"),
        ("Arrival-Date", email.utils.formatdate(outcome.time, usegmt=True)),
        ("Source-IP", outcome.source_ip),
        ("Reported-Domain", outcome.header_from),
        ("Auth-Failure", "dmarc"),  # RFC 6591 3.1, value registered by DMARC
        ("Identity-Alignment", identity_alignment(outcome)),
        ("Delivery-Result", {"reject": "reject", "quarantine": "spam"}.get(outcome.disposition, "delivered")),
    ]
    if authentication_results:
        fields.append(("Authentication-Results", authentication_results))
    failed_dkim = next((s for s in outcome.dkim if s.result != "pass"), None)
    if failed_dkim is not None:
        fields += [("DKIM-Domain", failed_dkim.domain), ("DKIM-Selector", failed_dkim.selector)]
    feedback = MIMEBase("message", "feedback-report")
    feedback.set_payload("".join(f"{name}: {value}\r\n" for name, value in fields))
    report.attach(feedback)
    original = MIMEBase("text", "rfc822-headers")
    original.set_payload(headers.decode("utf-8", errors="replace"))
    report.attach(original)
    return report


@dataclass(frozen=True)
class FailurePolicy:
    redact: bool = True
    secret: str = ""
    per_domain_per_hour: int = 10  # failure reports about one domain per hour (RFC 9991 rate-limit advice)


class FailureReporter:
    """Decides, builds and sends failure reports (rate-limited, authorized, suppression-aware)."""

    def __init__(self, mailer: Mailer, reporter: ReporterInfo, resolver: Resolver,
                 policy: FailurePolicy | None = None, clock: Callable[[], float] = time.time) -> None:
        self.mailer = mailer
        self.reporter = reporter
        self.resolver = resolver
        self.policy = policy or FailurePolicy()
        self.clock = clock

    async def report_verdict(self, message: bytes, verdict: Any, *, ip: str, helo: str, mail_from: str) -> list[Delivery]:
        """Convenience for the milter and the pipeline: decide and send for a zegel.verify Verdict."""
        from zegel.reports.recorder import outcome_from_verdict

        outcome = outcome_from_verdict(verdict, ip=ip, helo=helo, mail_from=mail_from, now=self.clock())
        return await self.report(message, outcome,
                                 authentication_results=str(getattr(verdict, "authentication_results", "") or ""))

    async def report(self, message: bytes, outcome: Outcome, *, authentication_results: str = "") -> list[Delivery]:
        from zegel.dmarc import DmarcRecordError, parse_record

        if outcome.dmarc_result != "fail" or not outcome.policy_record:
            return []
        try:
            record = parse_record(outcome.policy_record)
        except DmarcRecordError:
            return []
        if not record.ruf or not should_report(outcome, record.fo):
            return []
        domain = outcome.policy_domain or outcome.header_from
        store = self.mailer.store
        # Rate limit per reported domain, counted over all its ruf destinations.
        key = f"ruf:{domain}"
        # The store and the relay are blocking I/O: they run in worker threads, so a caller on
        # an event loop (the milter) is never held up by a slow database or relay.
        recent = await asyncio.to_thread(store.deliveries_since, key, int(self.clock()) - 3600, "failure")
        if recent >= self.policy.per_domain_per_hour:
            return [Delivery(domain, key, "rate-limited", "failure report limit for this domain reached")]
        results: list[Delivery] = []
        for uri in record.ruf:
            if uri.scheme != "mailto" or not uri.address:
                continue
            address = uri.address
            grant = await authorized_destination(domain, address, self.resolver, kind="ruf")
            if not grant.ok:
                results.append(Delivery(domain, address, "unauthorized" if grant.ok is False else "deferred",
                                        grant.reason))
                continue
            blocked = await asyncio.to_thread(self.mailer.check, "failure", address)
            if blocked:
                results.append(Delivery(domain, address, *blocked))
                continue
            mail = build_failure_report(
                message, outcome, self.reporter, from_address=self.mailer.config.from_address, to=address,
                authentication_results=authentication_results, redact=self.policy.redact, secret=self.policy.secret)
            size = len(mail.as_bytes())
            if uri.size_limit is not None and size > uri.size_limit:
                results.append(Delivery(domain, address, "too-big", f"{size} bytes > {uri.size_limit}"))
                continue
            status, detail, path = await asyncio.to_thread(self.mailer.deliver, "failure", mail, address,
                                                           outcome.uid, f"failure-{outcome.uid}")
            results.append(Delivery(domain, address, status, detail, outcome.uid, path))
        if any(d.status in ("sent", "dry-run") for d in results):
            await asyncio.to_thread(store.log_delivery, "failure", key, outcome.uid, "sent")
        return results
