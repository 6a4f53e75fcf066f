"""Running the service: one process, or ``workers = N | "auto"`` processes on one socket.

One Python process uses one core. With several workers, a small supervisor process forks
them and stays out of the mail path:

- ``inet:``: every worker binds the address itself with SO_REUSEPORT, so the kernel spreads
  new MTA connections evenly over the workers' own listening sockets;
- ``unix:``: the supervisor creates the socket file and every worker accepts on it.

The supervisor forwards SIGTERM/SIGINT (each worker finishes its open sessions, see
:mod:`zegel.milter.service`) and SIGHUP (after checking that the new configuration loads: a
bad one is refused with one log line and no worker sees it), and starts a worker again when
one dies. Each worker has its own outcome recorder and failure-report queue; the recorder's
spool and the reports database are safe with several writers (flock, SQLite WAL or
PostgreSQL), and failure-report rate limits are checked and counted under one lock file
(:mod:`zegel.milter.failure`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import stat
import time
from collections.abc import Callable
from pathlib import Path

from zegel.milter.config import ConfigError, MilterConfig, SocketSpec, load_config

log = logging.getLogger("zegel.milter")

_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD}
# A worker that keeps dying is a configuration or system problem, not bad luck: give up.
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0


def worker_count(config: MilterConfig) -> int:
    """``workers``, with ``"auto"`` (0) as the number of CPUs this process may run on."""
    if config.workers:
        return config.workers
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def run_service(config: MilterConfig, *, listen_socket: socket.socket | None = None,
                worker: int | None = None) -> None:
    """Serve in this process until SIGTERM/SIGINT (see :class:`MilterService`)."""
    from zegel.milter.service import MilterService

    async def main() -> None:
        service = MilterService(config, listen_socket=listen_socket, worker=worker)
        await service.run()

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (the default on Linux), else asyncio's.

    Why: through Postfix most of the milter's CPU per message is event-loop work — a wake-up
    for each SMTP stage's packets, a connection per SMTP session — not verification, and
    uvloop does that work in C (libuv). ``ZEGEL_MILTER_LOOP=asyncio`` chooses asyncio's own.
    """
    if os.environ.get("ZEGEL_MILTER_LOOP", "").lower() == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def serve(config: MilterConfig) -> int:
    """Run ``zegel milter --config``: one process, or a supervisor and its workers. Exit status."""
    count = worker_count(config)
    if count == 1:
        run_service(config)
        return 0
    return Supervisor(config, count).run()


class Supervisor:
    """Forks ``count`` workers on one socket and looks after them (see the module docstring)."""

    def __init__(self, config: MilterConfig, count: int) -> None:
        self.config = config
        self.count = count
        self.children: dict[int, int] = {}  # pid -> worker number
        self.listen_socket: socket.socket | None = None
        self._reservation: socket.socket | None = None
        self._socket_identity: tuple[int, int] | None = None
        self._restarts: list[float] = []
        self.stopping = False
        self.status = 0

    def _prepare_socket(self) -> None:
        spec = self.config.socket
        if spec.kind == "unix":
            path = Path(spec.path)
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISSOCK(path.lstat().st_mode):
                    path.unlink()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(spec.path)
            os.chmod(spec.path, 0o660)  # the MTA's group, nobody else (see MilterServer.start)
            sock.listen(1024)
            info = os.stat(spec.path)
            self._socket_identity = (info.st_dev, info.st_ino)
            self.listen_socket = sock
        elif spec.port == 0:
            # "Any free port": pick one here so every worker binds the same (held, not listened on).
            family = socket.AF_INET6 if ":" in spec.host else socket.AF_INET
            reservation = socket.socket(family, socket.SOCK_STREAM)
            reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            reservation.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            reservation.bind((spec.host, 0))
            self._reservation = reservation
            port = int(reservation.getsockname()[1])
            self.config = dataclasses.replace(self.config, socket=SocketSpec("inet", host=spec.host, port=port))

    def _spawn(self, number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
                run_service(self.config, listen_socket=self.listen_socket, worker=number)
                status = 0
            except OSError as exc:
                log.error("worker cannot listen", extra={"fields": {
                    "worker": str(number), "socket": str(self.config.socket), "error": exc.strerror or str(exc)}})
                status = 2
            except BaseException as exc:
                log.error("worker failed", extra={"fields": {
                    "worker": str(number), "error": f"{type(exc).__name__}: {exc}"}})
            finally:
                os._exit(status)
        self.children[pid] = number

    def _signal_children(self, signum: int) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            number = self.children.pop(pid, None)
            if number is None or self.stopping:
                continue
            now = time.monotonic()
            self._restarts = [t for t in self._restarts if now - t < RESTART_WINDOW] + [now]
            code = os.waitstatus_to_exitcode(status)
            if len(self._restarts) > MAX_RESTARTS:
                log.error("workers keep exiting; stopping", extra={"fields": {
                    "worker": str(number), "status": str(code), "restarts": str(len(self._restarts))}})
                self.status = 1
                self._begin_stop()
                return
            log.warning("worker exited; starting it again", extra={"fields": {
                "worker": str(number), "pid": str(pid), "status": str(code)}})
            self._spawn(number)

    def _begin_stop(self) -> None:
        self.stopping = True
        self._signal_children(signal.SIGTERM)

    def _reload(self) -> None:
        try:
            load_config(self.config.source)
        except ConfigError as exc:
            log.error("reload refused; the running configuration stays", extra={"fields": {
                "config": self.config.source, "error": str(exc)}})
            return
        self._signal_children(signal.SIGHUP)  # each worker loads the file and logs "reloaded"

    def run(self) -> int:
        self._prepare_socket()
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            for number in range(self.count):
                self._spawn(number)
            log.info("workers started", extra={"fields": {
                "workers": str(self.count), "socket": str(self.config.socket),
                "pids": ",".join(str(p) for p in self.children)}})
            deadline: float | None = None
            while self.children:
                info = signal.sigtimedwait(_SIGNALS, 1.0)
                if info is not None:
                    if info.si_signo in (signal.SIGTERM, signal.SIGINT):
                        if not self.stopping:
                            log.info("shutting down", extra={"fields": {"workers": str(len(self.children))}})
                        self._begin_stop()
                    elif info.si_signo == signal.SIGHUP and not self.stopping:
                        self._reload()
                self._reap()
                if self.stopping and deadline is None:
                    # Each worker has timeouts.shutdown for its sessions, plus time to flush.
                    deadline = time.monotonic() + self.config.shutdown_timeout + 15.0
                if deadline is not None and time.monotonic() > deadline and self.children:
                    log.error("workers did not stop in time; killing them", extra={"fields": {
                        "pids": ",".join(str(p) for p in self.children)}})
                    self._signal_children(signal.SIGKILL)
                    deadline = time.monotonic() + 3600
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
            self._cleanup()
        log.info("stopped", extra={"fields": {"workers": str(self.count)}})
        return self.status

    def _cleanup(self) -> None:
        if self.listen_socket is not None:
            self.listen_socket.close()
            with contextlib.suppress(OSError):
                info = os.stat(self.config.socket.path)
                if self._socket_identity == (info.st_dev, info.st_ino):
                    os.unlink(self.config.socket.path)
        if self._reservation is not None:
            self._reservation.close()
