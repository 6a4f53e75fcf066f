"""Sending aggregate reports (receiver side): ``zegel reports send``.

For each complete period and each policy domain with recorded outcomes, build the report,
gzip it and mail it to every ``mailto:`` rua URI of the domain's DMARC record:

* subject and attachment name as RFC 9990 section 4 (RFC 7489 7.2.1.1) prescribes;
* a URI's size limit (``!10m``, RFC 7489 6.2) is honoured: an oversized report is not sent there;
* a destination outside the policy domain's organizational domain gets reports only when it
  publishes ``<policy-domain>._report._dmarc.<destination>`` (RFC 9990 section 4 /
  RFC 9989 external destination verification);
* addresses that bounced are suppressed, and each destination has an hourly rate limit, so
  report mail cannot get the host blocklisted;
* a period is claimed in the database once sent: a re-run (cron, systemd timer, after a
  restart) never reports it twice, and the Report-ID is deterministic besides.
"""

from __future__ import annotations

import email.policy
import email.utils
import smtplib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any

from zegel import __version__
from zegel.dns import Resolver
from zegel.reports.generate import (
    ReporterInfo,
    build_report,
    gzip_bytes,
    report_filename,
    to_xml,
)
from zegel.reports.model import AggregateReport, ReportFormat, domain_of
from zegel.reports.store import ReportStore

PERIODS = {"day": 86400, "hour": 3600}
RETRY_STATUSES = frozenset({"failed", "deferred", "rate-limited"})


@dataclass(frozen=True)
class MailerConfig:
    """How report mail leaves this host."""

    envelope_sender: str  # RFC 5321.MailFrom: where bounces go (feed it back to `ingest`)
    from_address: str  # RFC 5322.From
    relay_host: str = "localhost"
    relay_port: int = 25
    starttls: bool = True  # opportunistic STARTTLS to the relay (RFC 9990 4: SHOULD use TLS)
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    rate_limit_per_hour: int = 20  # messages per destination address per hour


@dataclass(frozen=True)
class Delivery:
    """What happened to one report for one destination."""

    domain: str
    destination: str
    status: str  # sent | dry-run | suppressed | unauthorized | too-big | rate-limited | failed | bounced
    detail: str = ""
    report_id: str = ""
    path: str = ""


@dataclass
class SendSummary:
    periods: list[tuple[int, int]] = field(default_factory=list)
    reports: int = 0
    already_reported: int = 0
    deliveries: list[Delivery] = field(default_factory=list)


def complete_periods(now: float, period: str, back: int) -> list[tuple[int, int]]:
    """The last ``back`` complete periods before ``now``, oldest first, aligned to UTC
    boundaries (RFC 9990 2.1: days start at 00:00 UTC)."""
    length = PERIODS[period]
    current_start = int(now) // length * length
    return [(current_start - k * length, current_start - (k - 1) * length) for k in range(back, 0, -1)]


@dataclass(frozen=True)
class Authorization:
    """``ok``: True/False, or None when DNS failed (retry next run). ``replacements``: mailboxes
    the destination's authorizing record names instead (RFC 7489 7.1), same host only."""

    ok: bool | None
    reason: str
    replacements: tuple[tuple[str, int | None], ...] = ()


async def authorized_destination(policy_domain: str, address: str, resolver: Resolver, *,
                                 kind: str = "rua") -> Authorization:
    """May reports about ``policy_domain`` go to ``address``? Same organizational domain: yes;
    otherwise the destination must publish ``<policy-domain>._report._dmarc.<its domain>``
    starting with ``v=DMARC1`` (RFC 9990 section 4, RFC 9989, RFC 7489 7.1) — checked by
    :func:`zegel.dmarc.check_report_authorization`."""
    from zegel.dmarc import check_report_authorization

    host = domain_of(address)
    grant = await check_report_authorization(policy_domain, host, resolver)
    overrides = grant.rua_override if kind == "rua" else grant.ruf_override
    # A replacement must stay on the authorizing host: the record cannot redirect reports
    # to a third party that never agreed.
    replacements = tuple((uri.address, uri.size_limit) for uri in overrides
                         if uri.scheme == "mailto" and uri.address and (uri.domain or "") == host)
    return Authorization(grant.authorized, grant.reason, replacements)


def report_message(report: AggregateReport, reporter: ReporterInfo, mailer: MailerConfig, to: str,
                   *, now: float | None = None) -> EmailMessage:
    """The report mail (RFC 9990 section 4): a human-readable part and the gzip'd XML."""
    meta = report.metadata
    # CRLF line ends for SMTP, and no folding of the subject below 998 octets: some report
    # consumers match the RFC 9990 subject with a one-line pattern.
    message = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
    message["From"] = mailer.from_address
    message["To"] = to
    message["Date"] = email.utils.formatdate(now if now is not None else time.time(), usegmt=True)
    message["Message-ID"] = email.utils.make_msgid("dmarc", domain=reporter.domain)
    # RFC 9990 4 / RFC 7489 7.2.1.1: "Report Domain:" domain "Submitter:" domain "Report-ID:" msg-id
    message["Subject"] = f"Report Domain: {report.policy.domain} Submitter: {reporter.domain} Report-ID: <{meta.report_id}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message["X-Mailer"] = f"zegel {__version__}"
    begin = time.strftime("%Y-%m-%d %H:%M", time.gmtime(meta.begin))
    end = time.strftime("%Y-%m-%d %H:%M", time.gmtime(meta.end))
    message.set_content(
        f"This is a DMARC aggregate report from {reporter.org_name} for {report.policy.domain},\n"
        f"covering {begin} to {end} UTC ({report.message_count} messages, {len(report.records)} rows).\n"
        f"Report-ID: {meta.report_id}\n"
    )
    message.add_attachment(gzip_bytes(to_xml(report)), maintype="application", subtype="gzip",
                           filename=report_filename(reporter, report))
    return message


def _mailto_destinations(record_text: str | None) -> list[tuple[str, int | None]]:
    """(address, size limit) of each mailto: rua URI; other schemes are not deliverable by mail."""
    from zegel.dmarc import DmarcRecordError, parse_record

    if not record_text:
        return []
    try:
        record = parse_record(record_text)
    except DmarcRecordError:
        return []
    return [(uri.address, uri.size_limit) for uri in record.rua if uri.scheme == "mailto" and uri.address]


class Mailer:
    """Delivers report mail through the configured relay, or into a directory (dry run).
    Applies the suppression list and per-destination rate limits, and turns permanent
    recipient refusals into suppressions (bounce handling at SMTP time)."""

    def __init__(self, store: ReportStore, config: MailerConfig, *, dry_run_dir: Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.dry_run_dir = dry_run_dir
        self.clock = clock

    def check(self, kind: str, destination: str) -> tuple[str, str] | None:
        """A reason not to send to ``destination`` now, or None."""
        if self.store.is_suppressed(destination):
            return "suppressed", "address is on the suppression list (it bounced)"
        sent = self.store.deliveries_since(destination, int(self.clock()) - 3600)
        if sent >= self.config.rate_limit_per_hour:
            return "rate-limited", f"{sent} messages to this address in the last hour (limit {self.config.rate_limit_per_hour})"
        return None

    def deliver(self, kind: str, message: Message, destination: str, report_id: str, name: str) -> tuple[str, str, str]:
        """Send (or write) one message; returns (status, detail, path)."""
        # CRLF line ends: smtplib sends bytes as they are, and RFC 5321 2.3.8 forbids bare LF.
        data = message.as_bytes(policy=message.policy.clone(linesep="\r\n"))
        if self.dry_run_dir is not None:
            self.dry_run_dir.mkdir(parents=True, exist_ok=True)
            path = self.dry_run_dir / f"{name}.{destination.replace('/', '_')}.eml"
            path.write_bytes(data)
            return "dry-run", f"written to {path}", str(path)
        try:
            with smtplib.SMTP(self.config.relay_host, self.config.relay_port, timeout=self.config.timeout) as smtp:
                smtp.ehlo()
                if self.config.starttls and smtp.has_extn("starttls"):
                    smtp.starttls()
                    smtp.ehlo()
                if self.config.username:
                    smtp.login(self.config.username, self.config.password or "")
                smtp.sendmail(self.config.envelope_sender, [destination], data)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            text = f"{code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            if 500 <= code < 600:
                self.store.suppress(destination, f"refused at SMTP time: {text}")
                self.store.log_delivery(kind, destination, report_id, "bounced", text)
                return "bounced", text, ""
            self.store.log_delivery(kind, destination, report_id, "failed", text)
            return "failed", text, ""
        except (smtplib.SMTPException, OSError) as exc:
            self.store.log_delivery(kind, destination, report_id, "failed", str(exc)[:500])
            return "failed", f"relay {self.config.relay_host}:{self.config.relay_port}: {exc}", ""
        self.store.log_delivery(kind, destination, report_id, "sent", f"{len(data)} bytes")
        return "sent", f"{len(data)} bytes via {self.config.relay_host}", ""


class AggregateSender:
    """Builds and sends the aggregate reports for complete periods."""

    def __init__(self, store: ReportStore, reporter: ReporterInfo, mailer: Mailer, resolver: Resolver,
                 *, fmt: ReportFormat = "rfc9990") -> None:
        self.store = store
        self.reporter = reporter
        self.mailer = mailer
        self.resolver = resolver
        self.fmt = fmt

    async def send(self, periods: Sequence[tuple[int, int]]) -> SendSummary:
        summary = SendSummary(periods=list(periods))
        dry_run = self.mailer.dry_run_dir is not None
        for begin, end in periods:
            for domain in self.store.reportable_domains(begin, end):
                if self.store.is_reported(domain, begin, end):
                    summary.already_reported += 1
                    continue
                # Generators on several milter hosts may share one database: one at a time
                # builds and sends a period's report, the others skip it (exactly once).
                with self.store.claim_period(domain, begin, end) as claimed:
                    if not claimed or self.store.is_reported(domain, begin, end):
                        summary.already_reported += 1
                        continue
                    report = build_report(self.store, self.reporter, domain, begin, end, self.fmt)
                    if report is None:
                        continue
                    summary.reports += 1
                    deliveries = await self._deliver(report)
                    summary.deliveries.extend(deliveries)
                    # Mark the period once nothing is left to retry (a relay or DNS failure, a
                    # rate limit): the next run retries only the destinations not yet served.
                    # Dry runs mark nothing.
                    if not dry_run and not any(d.status in RETRY_STATUSES for d in deliveries):
                        self.store.mark_reported(domain, begin, end, report.metadata.report_id, report.message_count)
        return summary

    async def _deliver(self, report: AggregateReport) -> list[Delivery]:
        domain = report.policy.domain
        report_id = report.metadata.report_id
        destinations = _mailto_destinations(self.store.policy_record(domain, report.metadata.begin, report.metadata.end + 1))
        results: list[Delivery] = []
        queue = list(destinations)
        seen: set[str] = set()
        while queue:
            address, size_limit = queue.pop(0)
            if address.lower() in seen:
                continue
            seen.add(address.lower())

            def note(status: str, detail: str, path: str = "", address: str = address) -> None:
                results.append(Delivery(domain, address, status, detail, report_id, path))

            if self.store.delivered(report_id, address):
                continue  # served by an earlier run that had to retry another destination
            grant = await authorized_destination(domain, address, self.resolver)
            if not grant.ok:
                note("unauthorized" if grant.ok is False else "deferred", grant.reason)
                continue
            if grant.replacements and address.lower() not in {a.lower() for a, _ in grant.replacements}:
                queue.extend(grant.replacements)  # RFC 7489 7.1: use the addresses it names
                note("redirected", f"{grant.reason}; its record names {', '.join(a for a, _ in grant.replacements)}")
                continue
            blocked = self.mailer.check("aggregate", address)
            if blocked:
                note(*blocked)
                continue
            message = report_message(report, self.reporter, self.mailer.config, address)
            size = len(message.as_bytes())
            if size_limit is not None and size > size_limit:
                # RFC 7489 6.2: a report larger than the URI's limit is not sent there.
                note("too-big", f"report mail of {size} bytes exceeds the {size_limit}-byte limit of this URI")
                continue
            status, detail, path = self.mailer.deliver("aggregate", message, address, report_id,
                                                       report_filename(self.reporter, report, "xml"))
            note(status, detail, path)
        return results


def summary_json(summary: SendSummary) -> dict[str, Any]:
    return {
        "periods": [{"begin": b, "end": e} for b, e in summary.periods],
        "reports": summary.reports,
        "already_reported": summary.already_reported,
        "deliveries": [d.__dict__ for d in summary.deliveries],
    }
