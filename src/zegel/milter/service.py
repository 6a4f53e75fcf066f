"""The running service: configuration -> resolver, policy, handler, server, metrics, signals.

SIGTERM or SIGINT stops accepting new connections, lets the messages in flight finish (up to
``timeouts.shutdown`` seconds), then closes every session and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING

from zegel.dns import Resolver
from zegel.milter.config import MilterConfig
from zegel.milter.handler import MessageHandler
from zegel.milter.metrics import MetricsServer, MilterMetrics
from zegel.milter.protocol import DEFAULT_MAX_PACKET
from zegel.milter.server import MilterServer, SessionLimits
from zegel.policy import Policy

if TYPE_CHECKING:
    from zegel.milter.failure import FailureReportQueue
    from zegel.reports.recorder import Recorder

log = logging.getLogger("zegel.milter")


def build_resolver(config: MilterConfig) -> Resolver:
    return Resolver(list(config.nameservers) or None, timeout=config.dns_timeout,
                    lifetime=config.dns_lifetime, zones=config.zones)


def build_recorder(config: MilterConfig) -> Recorder | None:
    """The zegel.reports outcome recorder for ``[reports] database``, or None.

    The recorder only enqueues on the hot path; a background thread writes batches and
    spools to disk while the database is unreachable (so a database outage never stops mail).
    """
    if config.reports_database is None:
        return None
    from zegel.reports.recorder import Recorder

    data_dir = Path(config.reports_data_dir) if config.reports_data_dir else None
    return Recorder(url=config.reports_database, data_dir=data_dir)


def build_failure_reports(config: MilterConfig, resolver: Resolver) -> FailureReportQueue | None:
    """The failure report queue for ``[failure_reports]``, or None. Rate limits and the
    suppression list live in the reports store of ``[reports]`` (default: the data directory)."""
    if config.failure_reports is None:
        return None
    from zegel.milter.failure import FailureReportQueue

    return FailureReportQueue(config.failure_reports, resolver, database=config.reports_database,
                              data_dir=config.reports_data_dir)


class MilterService:
    """Everything ``zegel milter --config FILE`` runs, owned by one object (no global state)."""

    def __init__(self, config: MilterConfig, *, resolver: Resolver | None = None) -> None:
        self.config = config
        self.resolver = resolver or build_resolver(config)
        self.policy = Policy.load(config.policy_file) if config.policy_file else Policy.default()
        self.recorder = build_recorder(config)
        self.failure_reports = build_failure_reports(config, self.resolver)
        self.metrics = MilterMetrics(cache_stats=lambda: self.resolver.stats)
        self.handler = MessageHandler(config, resolver=self.resolver, policy=self.policy, recorder=self.recorder,
                                      failure_reports=self.failure_reports)
        limits = SessionLimits(
            max_packet=DEFAULT_MAX_PACKET, idle_timeout=config.session_timeout,
            max_message_size=config.max_message_size, memory_limit=config.memory_limit,
            spool_dir=config.spool_dir)
        self.server = MilterServer(config.socket, handler=self.handler, limits=limits, metrics=self.metrics)
        self.metrics_server = (MetricsServer(self.metrics, *config.metrics_listen)
                               if config.metrics_listen is not None else None)
        self._stop = asyncio.Event()

    async def start(self) -> None:
        await self.server.start()
        if self.metrics_server is not None:
            await self.metrics_server.start()
        log.info("listening", extra={"fields": {
            "socket": str(self.config.socket) if self.config.socket.kind == "unix"
            else f"inet:{self.config.socket.host}:{self.server.port}",
            "metrics": "" if self.metrics_server is None
            else f"http://{self.metrics_server.host}:{self.metrics_server.port}/metrics",
            "authserv_id": self.config.authserv_id, "signing_keys": str(len(self.config.signing))}})

    def request_stop(self, reason: str = "requested") -> None:
        if not self._stop.is_set():
            log.info("shutting down", extra={"fields": {"reason": reason,
                                                       "sessions": str(len(self.server.sessions))}})
            self.server.stop_accepting()
            self._stop.set()

    async def stop(self) -> None:
        left = await self.server.shutdown(self.config.shutdown_timeout)
        if left:
            log.warning("sessions closed at the end of the shutdown grace period",
                        extra={"fields": {"sessions": str(left)}})
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        if self.failure_reports is not None:
            await self.failure_reports.close(self.config.shutdown_timeout)
        if self.recorder is not None:
            # Recorder.close() joins its writer thread: keep the event loop free meanwhile.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.recorder.close)
        log.info("stopped")

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT (or :meth:`request_stop`), then shut down gracefully."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
                installed.append(sig)
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.stop()
            for sig in installed:
                loop.remove_signal_handler(sig)
