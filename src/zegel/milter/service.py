"""The running service: configuration -> resolver, policy, handler, server, metrics, signals.

SIGTERM or SIGINT stops accepting new connections and serves every open MTA connection until
the MTA ends it (QUIT) or ``timeouts.shutdown`` runs out, then exits; meanwhile the next
process can already listen on the same port (SO_REUSEPORT) or socket path. SIGHUP re-reads
the configuration file: keys, signing table, policy, trusted networks, authserv-id, failure
reports, timeouts and log level apply from the next message on; a file that does not load is
refused with one log line and the running configuration stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import socket as _socket
from pathlib import Path
from typing import TYPE_CHECKING

from zegel.dns import Resolver
from zegel.milter.config import ConfigError, MilterConfig, load_config
from zegel.milter.handler import MessageHandler
from zegel.milter.metrics import MetricsServer, MilterMetrics
from zegel.milter.protocol import DEFAULT_MAX_PACKET
from zegel.milter.server import MilterServer, SessionLimits
from zegel.policy import Policy, PolicyError

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


def session_limits(config: MilterConfig) -> SessionLimits:
    return SessionLimits(max_packet=DEFAULT_MAX_PACKET, idle_timeout=config.session_timeout,
                         max_message_size=config.max_message_size, memory_limit=config.memory_limit,
                         spool_dir=config.spool_dir)


def _keep_fixed(new: MilterConfig, running: MilterConfig) -> MilterConfig:
    """``new`` with the settings a reload cannot change taken from the running configuration."""
    return dataclasses.replace(
        new, socket=running.socket, workers=running.workers, metrics_listen=running.metrics_listen,
        nameservers=running.nameservers, dns_timeout=running.dns_timeout, dns_lifetime=running.dns_lifetime,
        zones=running.zones, reports_database=running.reports_database, reports_data_dir=running.reports_data_dir)


class MilterService:
    """Everything ``zegel milter --config FILE`` runs, owned by one object (no global state)."""

    def __init__(self, config: MilterConfig, *, resolver: Resolver | None = None,
                 listen_socket: _socket.socket | None = None, worker: int | None = None) -> None:
        self.config = config
        self.worker = worker  # the worker number when several processes share the socket
        self.resolver = resolver or build_resolver(config)
        self.policy = Policy.load(config.policy_file) if config.policy_file else Policy.default()
        self.recorder = build_recorder(config)
        self.failure_reports = build_failure_reports(config, self.resolver)
        recorder = self.recorder
        self.metrics = MilterMetrics(cache_stats=lambda: self.resolver.stats,
                                     recorder_stats=(lambda: recorder.stats) if recorder is not None else None)
        self.handler = MessageHandler(config, resolver=self.resolver, policy=self.policy, recorder=self.recorder,
                                      failure_reports=self.failure_reports)
        self.server = MilterServer(config.socket, handler=self.handler, limits=session_limits(config),
                                   metrics=self.metrics, listen_socket=listen_socket)
        metrics_listen = config.metrics_listen
        if metrics_listen is not None and worker and metrics_listen[1]:
            # One endpoint per worker (their counters are their own): port + worker number.
            metrics_listen = (metrics_listen[0], metrics_listen[1] + worker)
        self.metrics_server = (MetricsServer(self.metrics, *metrics_listen)
                               if metrics_listen is not None else None)
        self._retired: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()

    def reload(self) -> bool:
        """Re-read the configuration file (SIGHUP); True when the new one is in use.

        Every session stays open: a message already at end of message finishes with the
        configuration it started with, every later one gets the new one. A file, key or
        policy that does not load is refused with one log line; the running one stays.
        """
        try:
            config = load_config(self.config.source)
            policy = Policy.load(config.policy_file) if config.policy_file else Policy.default()
        except (ConfigError, PolicyError, OSError, ValueError) as exc:
            log.error("reload refused; the running configuration stays", extra={"fields": {
                "config": self.config.source, "error": str(exc)}})
            return False
        fixed = [name for name, old, new in (
            ("socket", self.config.socket, config.socket),
            ("workers", self.config.workers, config.workers),
            ("metrics.listen", self.config.metrics_listen, config.metrics_listen),
            ("dns", (self.config.nameservers, self.config.dns_timeout, self.config.dns_lifetime, self.config.zones),
             (config.nameservers, config.dns_timeout, config.dns_lifetime, config.zones)),
            ("reports", (self.config.reports_database, self.config.reports_data_dir),
             (config.reports_database, config.reports_data_dir)),
        ) if old != new]
        if fixed:
            log.warning("reload: these settings take effect at the next restart", extra={"fields": {
                "settings": ",".join(fixed)}})
            config = _keep_fixed(config, self.config)
        if config.failure_reports != self.config.failure_reports:
            old_queue = self.failure_reports
            self.failure_reports = build_failure_reports(config, self.resolver)
            if old_queue is not None:
                # Reports already queued are still sent, by the old queue, in the background.
                task = asyncio.get_running_loop().create_task(old_queue.close(config.shutdown_timeout))
                self._retired.add(task)
                task.add_done_callback(self._retired.discard)
        self.config = config
        self.policy = policy
        self.handler = MessageHandler(config, resolver=self.resolver, policy=policy, recorder=self.recorder,
                                      failure_reports=self.failure_reports)
        self.server.handler = self.handler
        self.server.limits = session_limits(config)
        logging.getLogger("zegel").setLevel(getattr(logging, config.log_level.upper(), logging.INFO))
        log.info("reloaded", extra={"fields": {
            "config": config.source, "authserv_id": config.authserv_id,
            "policy": str(config.policy_file) if config.policy_file else "default",
            "signing_keys": str(len(config.signing)),
            "trusted_networks": ",".join(str(n) for n in config.trusted_networks) or "none",
            "failure_reports": "on" if config.failure_reports is not None else "off",
            "sessions": str(len(self.server.sessions))}})
        return True

    async def start(self) -> None:
        await self.server.start()
        if self.metrics_server is not None:
            await self.metrics_server.start()
        log.info("listening", extra={"fields": {
            "socket": str(self.config.socket) if self.config.socket.kind == "unix"
            else f"inet:{self.config.socket.host}:{self.server.port}",
            "metrics": "" if self.metrics_server is None
            else f"http://{self.metrics_server.host}:{self.metrics_server.port}/metrics",
            "authserv_id": self.config.authserv_id, "signing_keys": str(len(self.config.signing)),
            **({"worker": str(self.worker)} if self.worker is not None else {})}})

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
        if self._retired:
            await asyncio.gather(*self._retired, return_exceptions=True)
        if self.recorder is not None:
            # Recorder.close() joins its writer thread: keep the event loop free meanwhile.
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.recorder.close)
        log.info("stopped")

    async def run(self) -> None:
        """Serve until SIGTERM/SIGINT (or :meth:`request_stop`), then shut down gracefully;
        SIGHUP reloads."""
        loop = asyncio.get_running_loop()
        installed: list[signal.Signals] = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_stop, sig.name)
                installed.append(sig)
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGHUP, self.reload)
            installed.append(signal.SIGHUP)
        try:
            await self.start()
            await self._stop.wait()
        finally:
            await self.stop()
            for sig in installed:
                loop.remove_signal_handler(sig)
