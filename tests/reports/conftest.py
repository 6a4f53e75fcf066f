"""Fixtures for the reports tests: a throw-away PostgreSQL cluster and a store on each backend."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import require_tool

from zegel.reports.store import ReportStore, open_store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgCluster:
    """initdb + pg_ctl in a temp dir, listening on 127.0.0.1:<free port> (run as the postgres
    user when we are root: PostgreSQL refuses to run as root)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="zegel-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "zegel", "--auth=trust", "-E", "UTF8", "--no-sync")
        self._counter = 0

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bindir / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -c fsync=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://zegel@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        import psycopg

        self._counter += 1
        name = f"t{os.getpid()}_{self._counter}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=zegel dbname=postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    pg_ctl = Path(require_tool("pg_ctl", "postgresql"))
    cluster = PgCluster(pg_ctl.parent)
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str | None, Path]:
    """(database URL or None for SQLite, data dir) on each backend."""
    if request.param == "sqlite":
        return None, tmp_path
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database(), tmp_path


@pytest.fixture
def store(backend: tuple[str | None, Path]) -> Iterator[ReportStore]:
    url, data_dir = backend
    opened = open_store(url, data_dir)
    yield opened
    opened.close()


class SmtpSink:
    """A small SMTP server on 127.0.0.1 that accepts mail into ``messages`` and refuses the
    recipients in ``refuse`` with 550 (a real SMTP conversation for smtplib to hold)."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        import socketserver
        import threading

        self.messages: list[tuple[str, list[str], bytes]] = []
        self.refuse = {r.lower() for r in refuse or set()}
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 sink.test ESMTP\r\n")
                sender, recipients = "", []
                while line := self.rfile.readline(10000):
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        self.wfile.write(b"250-sink.test\r\n250 8BITMIME\r\n")
                    elif verb == b"MAIL":
                        sender, recipients = line.decode().split(":", 1)[1].strip().strip("<>"), []
                        self.wfile.write(b"250 ok\r\n")
                    elif verb == b"RCPT":
                        address = line.decode().split(":", 1)[1].strip().strip("<>").lower()
                        if address in sink.refuse:
                            self.wfile.write(b"550 5.1.1 no such user\r\n")
                        else:
                            recipients.append(address)
                            self.wfile.write(b"250 ok\r\n")
                    elif verb == b"DATA":
                        self.wfile.write(b"354 go\r\n")
                        body = bytearray()
                        while (chunk := self.rfile.readline(1 << 20)) not in (b".\r\n", b""):
                            body += chunk[1:] if chunk.startswith(b"..") else chunk
                        sink.messages.append((sender, recipients, bytes(body)))
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink({"gone@sender.example"})
    yield sink
    sink.close()
