"""Failure reports from the milter: DMARC failures handed to :mod:`zegel.reports.failure`
off the hot path.

The milter's answer to the MTA never waits for a report: :meth:`FailureReportQueue.submit`
only checks that the sender's DMARC record names ruf= addresses and queues the message's
header section (RFC 9991 reports carry headers only). One worker task sends the queued reports
in order, with the database and the relay in worker threads; the reporter applies fo= (RFC
9989 4.7), the third-party authorization check, the suppression list and the rate limits.
Errors are logged, never raised; a full queue drops the new report (logged), never mail.

With several worker processes (``workers``), each has its own queue; the rate limits are
counted in the shared reports store, and each report is checked, sent and counted under an
exclusive lock on ``failure-reports.lock`` in the data directory, so two workers never both
pass a limit that leaves room for one report only.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zegel.dns import Resolver
from zegel.milter.config import FailureReports

if TYPE_CHECKING:
    from zegel.reports.failure import FailureReporter
    from zegel.reports.store import ReportStore

log = logging.getLogger("zegel.milter")

# A header section larger than this is not reported (it would only be a burden on the receiver).
MAX_REPORTED_HEADERS = 256 * 1024
LOCK_NAME = "failure-reports.lock"


@dataclass(frozen=True)
class _Job:
    headers: bytes
    verdict: Any
    ip: str
    helo: str
    mail_from: str
    msg_id: str


class FailureReportQueue:
    """Queues and sends failure reports; owned by the milter service."""

    def __init__(self, settings: FailureReports, resolver: Resolver, *, database: str | None,
                 data_dir: str | None) -> None:
        self.settings = settings
        self.resolver = resolver
        self.database = database
        self.data_dir = data_dir
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=settings.max_pending)
        self._worker: asyncio.Task[None] | None = None
        self._store: ReportStore | None = None
        self._reporter: FailureReporter | None = None
        self.sent = 0
        self.dropped = 0

    def submit(self, message: bytes, verdict: Any, *, ip: str, helo: str, mail_from: str, msg_id: str = "") -> bool:
        """Queue a failure report for ``message`` when its DMARC result asks for one; never
        blocks, never raises. True when queued."""
        try:
            dmarc = getattr(verdict, "dmarc", None)
            record = getattr(dmarc, "record", None)
            if getattr(dmarc, "result", None) != "fail" or not getattr(record, "ruf", None):
                return False
            from zegel.reports.failure import header_section

            headers = header_section(message)
            if len(headers) > MAX_REPORTED_HEADERS:
                log.info("failure report skipped: header section too large",
                         extra={"fields": {"msg_id": msg_id, "bytes": str(len(headers))}})
                return False
            self._queue.put_nowait(_Job(headers, verdict, ip, helo, mail_from, msg_id))
            if self._worker is None or self._worker.done():
                self._worker = asyncio.get_running_loop().create_task(self._run())
            return True
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("failure report dropped: queue full", extra={"fields": {
                "msg_id": msg_id, "max_pending": str(self.settings.max_pending)}})
        except Exception as exc:  # reporting must never disturb mail handling
            log.warning("failure report not queued", extra={"fields": {
                "msg_id": msg_id, "error": f"{type(exc).__name__}: {exc}"}})
        return False

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                await self._send(job)
            except Exception as exc:
                log.warning("failure report not sent", extra={"fields": {
                    "msg_id": job.msg_id, "error": f"{type(exc).__name__}: {exc}"}})
            finally:
                self._queue.task_done()

    async def _reporter_ready(self) -> FailureReporter:
        if self._reporter is None:
            from zegel.reports.failure import FailurePolicy, FailureReporter
            from zegel.reports.generate import ReporterInfo
            from zegel.reports.model import domain_of
            from zegel.reports.send import Mailer, MailerConfig
            from zegel.reports.store import default_data_dir, open_store

            data_dir = Path(self.data_dir) if self.data_dir else default_data_dir()
            # Opened on first use, in a thread (it may run migrations or wait for the network);
            # a database that is down now is tried again with the next report.
            self._store = await asyncio.to_thread(open_store, self.database, data_dir)
            s = self.settings
            mailer = Mailer(self._store, MailerConfig(
                envelope_sender=s.envelope_sender, from_address=s.from_address, relay_host=s.relay_host,
                relay_port=s.relay_port, starttls=s.starttls, rate_limit_per_hour=s.per_destination_per_hour,
                # Relay credentials as for `zegel reports send`: from the environment, not the file.
                username=os.environ.get("ZEGEL_RELAY_USER"), password=os.environ.get("ZEGEL_RELAY_PASSWORD")),
                dry_run_dir=s.dry_run_dir)
            reporter = ReporterInfo(s.org_name, s.from_address, domain_of(s.from_address))
            self._reporter = FailureReporter(mailer, reporter, self.resolver, FailurePolicy(
                redact=s.redact, secret=s.redaction_secret, per_domain_per_hour=s.per_domain_per_hour))
        return self._reporter

    def _lock_path(self) -> Path:
        from zegel.reports.store import default_data_dir

        return (Path(self.data_dir) if self.data_dir else default_data_dir()) / LOCK_NAME

    async def _send(self, job: _Job) -> None:
        reporter = await self._reporter_ready()
        path = self._lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            # Blocking flock in a thread: the event loop serves mail while another worker sends.
            await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
            deliveries = await reporter.report_verdict(job.headers, job.verdict, ip=job.ip, helo=job.helo,
                                                       mail_from=job.mail_from)
        finally:
            os.close(handle)  # releases the lock
        for delivery in deliveries:
            if delivery.status in ("sent", "dry-run"):
                self.sent += 1
            log.info("failure report", extra={"fields": {
                "msg_id": job.msg_id, "domain": delivery.domain, "destination": delivery.destination,
                "status": delivery.status, "detail": delivery.detail}})

    async def join(self) -> None:
        """Wait until every queued report has been handled (tests, shutdown)."""
        await self._queue.join()

    async def close(self, grace: float) -> None:
        """Send what is queued (up to ``grace`` seconds), then stop."""
        if self._worker is not None:
            try:
                await asyncio.wait_for(self._queue.join(), grace)
            except TimeoutError:
                log.warning("failure reports not sent at shutdown", extra={"fields": {
                    "pending": str(self._queue.qsize())}})
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        if self._store is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._store.close)
            self._store = None
            self._reporter = None
