"""``zegel reports watch``: ingest reports as they arrive in an IMAP mailbox, as a service.

One connection at a time, TLS only (:func:`zegel.reports.ingest.open_imap`). After each check of
the unseen messages it waits with IMAP IDLE (RFC 2177) when the server offers it, else sleeps
(polling), at most ``interval`` seconds. The blocking IMAP conversation runs in a worker thread;
:meth:`MailboxWatch.serve` awaits it, so the event loop stays free for signals.

- A lost connection (or database) is retried with a doubling delay, 5 s up to 5 minutes; what
  arrived meanwhile is unseen and is read at the next connection. Only the very first
  connection failing ends the watch (:class:`WatchError`): a wrong URL, password, certificate or
  a server without TLS is a configuration error, not an outage to wait out.
- Each report is committed before its message is marked seen, so a crash loses nothing.
- A stop request (SIGTERM) ends an IDLE at once and the ingest between two reports: a message
  whose reports are not all stored is left unseen for the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import select
import socket
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from zegel.reports.ingest import (
    Ingester,
    IngestResult,
    IngestStats,
    ReportError,
    open_imap,
    url_mailbox,
)
from zegel.reports.store import ReportStore, StoreError

# RFC 2177 3: re-issue IDLE at least every 29 minutes or risk being logged off; RFC 9051 5.4
# lets a server log off a client silent for 30 minutes, so a polling wait sends a NOOP as often.
KEEPALIVE = 25 * 60.0
FIRST_RETRY = 5.0
LONGEST_RETRY = 300.0


class WatchError(Exception):
    """The watch could not start: its first connection failed (the message says why, one line)."""


def _imap_errors() -> tuple[type[BaseException], ...]:
    from imap_tools.errors import ImapToolsError

    return (ImapToolsError, imaplib.IMAP4.error, OSError, ValueError)


class MailboxWatch:
    """Watch one IMAP mailbox (``imaps://user@host/MAILBOX``, or ``imap://`` with STARTTLS) and
    ingest its unseen messages into ``store`` as they arrive.

    ``oauth2_token`` is called at each connection (a fresh XOAUTH2 access token; raise
    :class:`ReportError` when there is none). ``on_result`` sees every ingest result and ``log``
    every event line; both are called from the worker thread. ``idle=False`` polls even when the
    server offers IDLE.
    """

    def __init__(self, store: ReportStore, url: str, *, password: str | None = None,
                 oauth2_token: Callable[[], str] | None = None, ca_file: str | None = None,
                 interval: float = 300.0, idle: bool = True,
                 on_result: Callable[[IngestResult], None] | None = None,
                 log: Callable[[str], None] | None = None,
                 first_retry: float = FIRST_RETRY, longest_retry: float = LONGEST_RETRY) -> None:
        self.store = store
        self.url = url
        self.label = url_mailbox(url)
        self.password = password
        self.oauth2_token = oauth2_token
        self.ca_file = ca_file
        self.interval = interval
        self.idle = idle
        self.on_result = on_result or (lambda result: None)
        self.log = log or (lambda line: None)
        self.first_retry = first_retry
        self.longest_retry = longest_retry
        self.stats = IngestStats()  # since the start
        self.connections = 0
        self._halt = threading.Event()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._woken: asyncio.Event | None = None

    # --- control ---

    def request_stop(self) -> None:
        """Stop soon (from any thread): an IDLE or a wait ends at once, an ingest after the
        report it is storing."""
        self._halt.set()
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")
        if self._loop is not None and self._woken is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                self._loop.call_soon_threadsafe(self._woken.set)

    def close(self) -> None:
        self._wake_reader.close()
        self._wake_writer.close()

    # --- running ---

    def check(self) -> IngestStats:
        """Connect, ingest the unseen messages, disconnect (``--once``). Raises ReportError or
        StoreError."""
        with self._connect() as mailbox:
            return self._ingest_unseen(mailbox)

    async def serve(self, stop: asyncio.Event | None = None) -> None:
        """Watch until ``stop`` is set or :meth:`request_stop` is called. Raises WatchError
        when the first connection fails; later failures are logged and retried."""
        self._loop = asyncio.get_running_loop()
        self._woken = asyncio.Event()
        stopper = asyncio.ensure_future(stop.wait()) if stop is not None else None
        if stopper is not None:
            stopper.add_done_callback(lambda _: self.request_stop())
        try:
            delay = self.first_retry
            while not self._halt.is_set():
                connections = self.connections
                try:
                    await asyncio.to_thread(self._session)
                except (ReportError, StoreError) as exc:
                    if self.connections == 0:
                        raise WatchError(str(exc)) from None
                    if self.connections > connections:  # it was connected: a new outage
                        delay = self.first_retry
                    if self._halt.is_set():
                        break
                    self.log(f"{exc}; reconnecting in {delay:g} s")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._woken.wait(), delay)
                    delay = min(delay * 2, self.longest_retry)
        finally:
            # Cancelled while the worker thread runs: it must not IDLE on unawaited.
            self.request_stop()
            if stopper is not None:
                stopper.cancel()
            self._loop = self._woken = None

    # --- the worker thread ---

    @contextlib.contextmanager
    def _connect(self) -> Any:
        token = self.oauth2_token() if self.oauth2_token is not None else None
        with open_imap(self.url, password=self.password, oauth2_token=token, ca_file=self.ca_file) as mailbox:
            yield mailbox

    def _session(self) -> None:
        """One connection: check, wait, check... until stopped or the connection fails."""
        with self._connect() as mailbox:
            self._keepalive(mailbox.client.sock)
            self.connections += 1
            can_idle = self.idle and self._offers_idle(mailbox)
            how = "IMAP IDLE" if can_idle else f"polling every {self.interval:g} s"
            host = mailbox.client.host
            self.log(f"{'watching' if self.connections == 1 else 'reconnected to'} {self.label} on {host} ({how})")
            while not self._halt.is_set():
                self._ingest_unseen(mailbox)
                if self._halt.is_set():
                    break
                self._wait(mailbox, can_idle)
                # Untagged EXISTS/RECENT replies pile up in imaplib over months: bounded memory.
                mailbox.client.untagged_responses.clear()

    @staticmethod
    def _keepalive(sock: socket.socket) -> None:
        # A peer gone without a word (a NAT forgetting the flow, a cable) would leave an IDLE
        # waiting for its whole span: TCP keepalive ends the connection within about 2 minutes.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
                if hasattr(socket, option):
                    sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)

    def _offers_idle(self, mailbox: Any) -> bool:
        # RFC 9051 7.2.2: the capabilities after login may differ from the greeting's.
        try:
            status, data = mailbox.client.capability()
        except _imap_errors() as exc:
            raise ReportError(f"IMAP CAPABILITY: {exc}") from None
        words = b" ".join(item for item in data if isinstance(item, bytes)).upper().split() if status == "OK" else []
        return b"IDLE" in words

    def _ingest_unseen(self, mailbox: Any) -> IngestStats:
        failure: ReportError | None = None
        # One report per transaction, committed before its message is marked seen.
        with Ingester(self.store, commit_every=1) as ingester:
            results = ingester.ingest_mailbox(mailbox, label=self.label)
            try:
                for result in results:
                    self.on_result(result)
                    if self._halt.is_set():
                        break  # this message stays unseen: read again at the next start
            except ReportError as exc:
                failure = exc  # after the session commits what was stored
            finally:
                if isinstance(results, Generator):
                    results.close()
        stats = ingester.stats
        self._add(stats)
        if stats.files:
            self.log(f"{stats.files} message(s): {stats.stored} stored, {stats.duplicate} duplicate(s), "
                     f"{stats.rejected} rejected")
        if failure is not None:
            raise failure
        return stats

    def _add(self, stats: IngestStats) -> None:
        for name in ("files", "stored", "duplicate", "rejected", "suppressed", "skipped", "recovered"):
            setattr(self.stats, name, getattr(self.stats, name) + getattr(stats, name))
        for kind, count in stats.by_kind.items():
            self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + count

    def _wait(self, mailbox: Any, can_idle: bool) -> None:
        """Until mail may have arrived, ``interval`` passed or a stop was requested."""
        deadline = time.monotonic() + self.interval
        while not self._halt.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            span = min(remaining, KEEPALIVE)
            if can_idle:
                if self._idle(mailbox, span):
                    return
            elif not self._sleep(span) and time.monotonic() < deadline:
                try:
                    mailbox.client.noop()
                except _imap_errors() as exc:
                    raise ReportError(f"IMAP NOOP: {exc}") from None

    def _idle(self, mailbox: Any, span: float) -> bool:
        """One IDLE of at most ``span`` seconds; True when the server said something."""
        client = mailbox.client
        try:
            mailbox.idle.start()
            pending = client.sock.pending() if hasattr(client.sock, "pending") else 0
            readable = [client.sock] if pending else select.select([client.sock, self._wake_reader], [], [], span)[0]
            self._drain_wake()
            # DONE, then the untagged replies up to the tagged OK; a closed connection fails here.
            mailbox.idle.stop()
        except _imap_errors() as exc:
            raise ReportError(f"IMAP IDLE: {exc or type(exc).__name__}") from None
        return client.sock in readable

    def _sleep(self, span: float) -> bool:
        """Sleep ``span`` seconds or until a stop request; True when stopped."""
        select.select([self._wake_reader], [], [], span)
        self._drain_wake()
        return self._halt.is_set()

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_reader.recv(64):
                pass
