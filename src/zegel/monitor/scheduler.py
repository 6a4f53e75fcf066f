"""The monitoring loop: check due domains, store the run, raise and deliver alerts.

Time comes from an injected ``clock`` and waiting from an injected ``sleep``, so tests drive
the schedule (``await monitor.run_due()`` after moving their clock) without sleeping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import httpx

from zegel.dns import Resolver
from zegel.monitor.changes import Alert, diff, snapshot_alerts
from zegel.monitor.dashboard import Filters, senders
from zegel.monitor.snapshot import PolicyFetcher, take_snapshot
from zegel.monitor.store import MonitorStore, Watch
from zegel.reports.store import ReportStore, StoreError

log = logging.getLogger("zegel.monitor")
REPORT_WINDOW = 7 * 86400  # pass rate and failing senders over the last week of reports
MAX_WAIT = 60.0  # the loop looks at the watch list at least this often (new domains)


@dataclass(frozen=True, slots=True)
class Mailer:
    """Where e-mail alerts go out: an SMTP relay (no authentication: a local MTA)."""

    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "zegel-monitor@localhost"
    timeout: float = 20.0


class Monitor:
    def __init__(self, store: MonitorStore, resolver: Resolver, *, reports: ReportStore | None = None,
                 mailer: Mailer | None = None, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 fetch_policy: PolicyFetcher | None = None, http: httpx.AsyncClient | None = None) -> None:
        self.store = store
        self.resolver = resolver
        self.reports = reports
        self.mailer = mailer
        self.clock = clock
        self.sleep = sleep
        self.fetch_policy = fetch_policy
        self._http = http

    def now(self) -> int:
        return int(self.clock())

    async def run_due(self) -> list[Alert]:
        """Check every domain that is due now; return the alerts raised."""
        raised: list[Alert] = []
        for item in self.store.due(self.now()):
            try:
                raised.extend(await self.check(item))
            except StoreError as exc:
                log.warning("%s: run not stored: %s", item.domain, exc)
            except Exception as exc:  # one domain's failure never stops the others' runs
                log.warning("%s: check failed: %s: %s", item.domain, type(exc).__name__, exc)
                self.store.reschedule(item.domain, self.now() + item.interval)
        return raised

    async def check(self, item: Watch) -> list[Alert]:
        """One run of one watched domain (also used by "check now" in the console)."""
        now = self.now()
        previous = self.store.last_run(item.domain)
        snapshot = await take_snapshot(item.domain, self.resolver, now=now, selectors=item.selectors,
                                       fetch_policy=self.fetch_policy)
        found = snapshot_alerts(previous.snapshot if previous else None, snapshot)
        pass_rate_low = None
        if self.reports is not None:
            report_alerts, pass_rate_low = self._report_alerts(item, now)
            found.extend(report_alerts)
        self.store.add_run(snapshot, diff(previous.snapshot if previous else None, snapshot))
        self.store.reschedule(item.domain, now + item.interval, pass_rate_low=pass_rate_low)
        for alert in found:
            delivery = await self.deliver(item, alert)
            self.store.add_alert(alert, delivery)
        return found

    def _report_alerts(self, item: Watch, now: int) -> tuple[list[Alert], bool | None]:
        assert self.reports is not None
        filters = Filters(item.domain, now - REPORT_WINDOW)
        listed = senders(self.reports, filters)
        out: list[Alert] = []
        failing = [s.name for s in listed if s.legitimate_looking and s.failing and s.pass_rate < 0.98]
        new, had_baseline = self.store.new_senders(item.domain, failing, now)
        if had_baseline:
            by_name = {s.name: s for s in listed}
            for name in new:
                s = by_name[name]
                out.append(Alert(item.domain, "new-failing-sender",
                                 f"{item.domain}: a new sender fails DMARC in reports: {name} "
                                 f"({s.failing} of {s.messages} messages). {s.fix}", now))
        total = sum(s.messages for s in listed)
        if not total:
            return out, None
        rate = sum(s.dmarc_pass for s in listed) / total
        low = rate < item.pass_threshold
        if low and not item.pass_rate_low:  # once when it falls, again only after it recovered
            out.append(Alert(item.domain, "pass-rate",
                             f"{item.domain}: DMARC pass rate {rate:.1%} over the last 7 days is below "
                             f"{item.pass_threshold:.0%} ({total} messages in reports)", now))
        return out, low

    async def deliver(self, item: Watch, alert: Alert) -> str:
        """Send one alert to the domain's e-mail addresses and webhook; says what happened."""
        outcomes = []
        if item.emails:
            if self.mailer is None:
                outcomes.append("mail: no SMTP relay configured")
            else:
                try:
                    await asyncio.to_thread(_send_mail, self.mailer, item.emails, alert)
                    outcomes.append("mail: sent")
                except (OSError, smtplib.SMTPException) as exc:
                    outcomes.append(f"mail: {exc}"[:300])
        if item.webhook:
            try:
                client = self._http or httpx.AsyncClient(timeout=10.0, follow_redirects=False)
                try:
                    response = await client.post(item.webhook, json=alert.to_json(),
                                                 headers={"User-Agent": "zegel-monitor"})
                finally:
                    if self._http is None:
                        await client.aclose()
                outcomes.append(f"webhook: HTTP {response.status_code}")
            except httpx.HTTPError as exc:
                outcomes.append(f"webhook: {type(exc).__name__}: {exc}"[:300])
        log.info("%s", alert.message)
        return "; ".join(outcomes) or "stored"

    async def serve(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set: check what is due, then wait for the next due time."""
        while not stop.is_set():
            await self.run_due()
            upcoming = self.store.next_due()
            wait = MAX_WAIT if upcoming is None else min(MAX_WAIT, max(1.0, upcoming - self.clock()))
            sleeper = asyncio.ensure_future(self.sleep(wait))
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
            for task in (sleeper, stopper):
                task.cancel()


def _send_mail(mailer: Mailer, recipients: tuple[str, ...], alert: Alert) -> None:
    message = EmailMessage()
    message["From"] = mailer.sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"[zegel] {alert.domain}: {alert.kind}"
    message["Date"] = formatdate(alert.time)
    message["Message-ID"] = make_msgid(domain="zegel.monitor")
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834 5: no auto-replies to alerts
    message.set_content(alert.message + "\n\n" + json.dumps(alert.to_json(), indent=2) + "\n")
    with smtplib.SMTP(mailer.host, mailer.port, timeout=mailer.timeout) as smtp:
        smtp.send_message(message)
