"""`zegel reports watch` as a service, against a real Dovecot (TLS on loopback, one per test):
reports arriving during IDLE or between polls, poison pills, a dropped connection and a
restarted server, SIGTERM, a stop in the middle of a message, and no cleartext password."""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from tests.conftest import require_tool
from tests.reports.dovecot import Dovecot
from tests.reports.test_imap import ImapServer

from zegel.cli import cli
from zegel.reports.corpus import as_email, as_gzip, make_report
from zegel.reports.ingest import IngestResult
from zegel.reports.store import open_store
from zegel.reports.watch import MailboxWatch

WAIT = 60.0  # the longest any expected event may take on a loaded machine (a bound, not a measure)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot(require_tool("dovecot", "dovecot-imapd"))
    yield server
    server.close()


def report(index: int, domain: str = "example.net") -> bytes:
    stem, xml = make_report("outlook", random.Random(index), index=index, records=2, domain=domain)
    return as_email(stem, as_gzip(xml), "xml.gz", report_id=stem)


def url(dovecot: Dovecot) -> str:
    return f"imaps://{dovecot.user}@127.0.0.1:{dovecot.imaps_port}/INBOX"


def wait_until(condition: object, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.1)


class WatchProcess:
    """`zegel reports watch` in its own process, its stderr read line by line."""

    def __init__(self, dovecot: Dovecot, data_dir: Path, *options: str) -> None:
        env = {**os.environ, "ZEGEL_IMAP_PASSWORD": dovecot.password}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "zegel", "reports", "watch", "--data-dir", str(data_dir), "--imap", url(dovecot),
             "--imap-ca-file", str(dovecot.cert), *options],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern: str) -> str:
        """The next stderr line matching ``pattern`` (lines before it are kept in ``lines``)."""
        deadline = time.monotonic() + WAIT
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; stderr so far:\n" + "\n".join(self.lines))

    def finish(self, sig: int = signal.SIGTERM) -> tuple[int, list[str]]:
        """Send ``sig``; the exit status and the stderr lines that came after it."""
        before = len(self.lines)
        self.process.send_signal(sig)
        status = self.process.wait(timeout=WAIT)
        while (line := self._queue.get(timeout=WAIT)) is not None:
            self.lines.append(line)
        return status, self.lines[before:]

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def watching(dovecot: Dovecot, tmp_path: Path) -> Iterator[tuple[Dovecot, Path, list[WatchProcess]]]:
    started: list[WatchProcess] = []
    yield dovecot, tmp_path, started
    for watch in started:
        watch.kill()


def start_watch(dovecot: Dovecot, data_dir: Path, started: list[WatchProcess], *options: str) -> WatchProcess:
    watch = WatchProcess(dovecot, data_dir, *options)
    started.append(watch)
    return watch


def idling(dovecot: Dovecot) -> bool:
    """Dovecot's own view: a session of our user is in IDLE."""
    return any("IDLE]" in title for title in dovecot.sessions())


def stored_reports(data_dir: Path, domain: str = "example.net") -> int:
    store = open_store(None, data_dir)
    try:
        return len(store.report_totals(domain))
    finally:
        store.close()


def test_a_report_arriving_during_idle_is_stored_and_marked_seen(watching: tuple[Dovecot, Path, list[WatchProcess]]) -> None:
    dovecot, data_dir, started = watching
    # An interval beyond IDLE's 29 minutes (RFC 2177): IDLE is re-issued, not refused.
    watch = start_watch(dovecot, data_dir, started, "--interval", "3600")
    watch.expect(r"^zegel: watching INBOX on 127\.0\.0\.1 \(IMAP IDLE\)$")
    wait_until(lambda: idling(dovecot), "the watch to IDLE")
    dovecot.append(report(1))
    watch.expect(r"^zegel: 1 message\(s\): 1 stored, 0 duplicate\(s\), 0 rejected$")
    assert stored_reports(data_dir) == 1
    assert [b"\\Seen" in line for line in dovecot.flags()] == [True]
    wait_until(lambda: idling(dovecot), "the watch to IDLE again")
    dovecot.append(report(2), report(3))
    watch.expect(r"stored")
    wait_until(lambda: stored_reports(data_dir) == 3, "the next two reports")
    wait_until(lambda: all(b"\\Seen" in line for line in dovecot.flags()), "all messages seen")
    status, _ = watch.finish()
    assert status == 0
    assert not any("Traceback" in line for line in watch.lines)


def test_polling_when_asked(watching: tuple[Dovecot, Path, list[WatchProcess]]) -> None:
    dovecot, data_dir, started = watching
    watch = start_watch(dovecot, data_dir, started, "--poll", "--interval", "10")
    watch.expect(r"^zegel: watching INBOX on 127\.0\.0\.1 \(polling every 10 s\)$")
    wait_until(lambda: bool(dovecot.sessions()), "the watch's session")
    dovecot.append(report(4))
    watch.expect(r"^zegel: 1 message\(s\): 1 stored")
    assert not idling(dovecot)
    assert stored_reports(data_dir) == 1
    assert watch.finish()[0] == 0


def test_polling_a_server_without_idle_in_process(tmp_path: Path) -> None:
    """Through the async API with an injected stop event: Dovecot advertising no IDLE."""
    dovecot = Dovecot(require_tool("dovecot", "dovecot-imapd"),
                      capabilities="IMAP4rev1 SASL-IR LITERAL+ UIDPLUS ENABLE NAMESPACE")
    store = open_store(None, tmp_path)
    events: list[str] = []
    results: list[IngestResult] = []

    async def run() -> None:
        stop, connected = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()

        def log(line: str) -> None:  # called from the watch's worker thread
            events.append(line)
            loop.call_soon_threadsafe(connected.set)
            if "stored" in line:  # the batch is done: its message is marked seen
                loop.call_soon_threadsafe(stop.set)

        watch = MailboxWatch(store, url(dovecot), password=dovecot.password, ca_file=str(dovecot.cert),
                             interval=0.5, on_result=results.append, log=log)
        try:
            serving = asyncio.create_task(watch.serve(stop))
            await asyncio.wait_for(connected.wait(), WAIT)
            await asyncio.to_thread(dovecot.append, report(5))
            await asyncio.wait_for(serving, WAIT)
        finally:
            watch.close()

    try:
        asyncio.run(run())
        assert events[0] == "watching INBOX on 127.0.0.1 (polling every 0.5 s)"
        assert [r.status for r in results] == ["stored"]
        assert store.counts()["agg_reports"] == 1
        assert [b"\\Seen" in line for line in dovecot.flags()] == [True]
    finally:
        store.close()
        dovecot.close()


def test_poison_pills_get_one_line_and_the_watch_goes_on(watching: tuple[Dovecot, Path, list[WatchProcess]]) -> None:
    dovecot, data_dir, started = watching
    watch = start_watch(dovecot, data_dir, started)
    watch.expect(r"watching")
    wait_until(lambda: idling(dovecot), "the watch to IDLE")
    broken_gzip = as_email("broken", b"\x1f\x8b\x08\x00 not really gzip", "xml.gz", report_id="broken")
    entity_bomb = as_email("bomb", b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa">]><feedback>&a;</feedback>',
                           "xml", report_id="bomb")
    dovecot.append(broken_gzip, entity_bomb)
    first = watch.expect(r"^zegel: rejected imap:INBOX/1 ")  # one batch or two: IDLE may wake between
    second = watch.expect(r"^zegel: rejected imap:INBOX/2 ")
    watch.expect(r"^zegel: \d message\(s\): 0 stored, 0 duplicate\(s\), \d rejected$")
    assert "corrupt gzip data" in first and "DTD" in second
    wait_until(lambda: idling(dovecot), "the watch to IDLE after the poison pills")
    dovecot.append(report(6))
    watch.expect(r"^zegel: 1 message\(s\): 1 stored")
    assert stored_reports(data_dir) == 1
    assert [b"\\Seen" in line for line in dovecot.flags()] == [True, True, True]  # none blocks the mailbox
    status, _ = watch.finish()
    assert status == 0
    assert not any("Traceback" in line for line in watch.lines)


def test_reconnects_after_a_killed_connection_and_a_restarted_server(
        watching: tuple[Dovecot, Path, list[WatchProcess]]) -> None:
    dovecot, data_dir, started = watching
    watch = start_watch(dovecot, data_dir, started)
    watch.expect(r"watching")
    wait_until(lambda: idling(dovecot), "the watch to IDLE")

    # The server side of the connection dies (an IMAP process killed): reconnect, then IDLE again.
    session = next(pid for pid, title in dovecot.session_pids() if "IDLE]" in title)
    os.kill(session, signal.SIGKILL)
    watch.expect(r"^zegel: IMAP IDLE: .*; reconnecting in 5 s$")
    watch.expect(r"^zegel: reconnected to INBOX on 127\.0\.0\.1 \(IMAP IDLE\)$")
    wait_until(lambda: idling(dovecot), "the watch to IDLE after reconnecting")

    # The whole server stops; a report is delivered meanwhile; the server comes back.
    dovecot.stop()
    watch.expect(r"reconnecting in 5 s$")
    dovecot.deliver(report(7))
    watch.expect(r"reconnecting in 10 s$")  # the delay grows while the server is down
    dovecot.start()
    watch.expect(r"^zegel: reconnected to INBOX")
    watch.expect(r"^zegel: 1 message\(s\): 1 stored")
    assert stored_reports(data_dir) == 1
    assert [b"\\Seen" in line for line in dovecot.flags()] == [True]
    status, _ = watch.finish()
    assert status == 0
    assert not any("Traceback" in line for line in watch.lines)
    # Every line is one event: the zegel: prefix, nothing else.
    assert all(line.startswith("zegel: ") for line in watch.lines), watch.lines


def test_sigterm_ends_the_watch_cleanly(watching: tuple[Dovecot, Path, list[WatchProcess]]) -> None:
    dovecot, data_dir, started = watching
    dovecot.append(report(8))
    watch = start_watch(dovecot, data_dir, started)
    watch.expect(r"^zegel: 1 message\(s\): 1 stored")
    wait_until(lambda: idling(dovecot), "the watch to IDLE")
    status, after = watch.finish(signal.SIGTERM)
    assert status == 0
    assert after == ["zegel: stopped (SIGTERM); since the start 1 message(s): 1 stored, 0 duplicate(s), 0 rejected"]
    wait_until(lambda: not dovecot.sessions(), "the session to log out")


def test_a_stop_while_a_message_is_read_leaves_it_unseen(dovecot: Dovecot, tmp_path: Path) -> None:
    """Three reports in one message, a stop requested at the first result: the message is not
    marked seen, so the next run reads it again (its reports, stored before, as duplicates)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "dmarc@reporter.example", "dmarc@example.com", "Reports"
    message.set_content("Three reports.\n")
    for index in (10, 11, 12):
        stem, xml = make_report("outlook", random.Random(index), index=index, records=2, domain="example.net")
        message.add_attachment(as_gzip(xml), maintype="application", subtype="gzip", filename=f"{stem}.xml.gz")
    dovecot.append(message.as_bytes())
    store = open_store(None, tmp_path)
    try:
        watch = MailboxWatch(store, url(dovecot), password=dovecot.password, ca_file=str(dovecot.cert),
                             on_result=lambda result: watch.request_stop())
        try:
            asyncio.run(asyncio.wait_for(watch.serve(), WAIT))
        finally:
            watch.close()
        assert [b"\\Seen" in line for line in dovecot.flags()] == [False]
        assert store.counts()["agg_reports"] == 3  # committed before the message would be marked seen

        again = MailboxWatch(store, url(dovecot), password=dovecot.password, ca_file=str(dovecot.cert))
        try:
            stats = again.check()
        finally:
            again.close()
        assert (stats.files, stats.stored, stats.duplicate) == (1, 0, 3)
        assert store.counts()["agg_reports"] == 3
        assert [b"\\Seen" in line for line in dovecot.flags()] == [True]
    finally:
        store.close()


def test_cancelling_serve_ends_the_idle(dovecot: Dovecot, tmp_path: Path) -> None:
    """A cancelled serve() leaves no worker thread in IDLE behind: asyncio.run returns (it waits
    for its threads) and the session logs out."""
    store = open_store(None, tmp_path)
    watch = MailboxWatch(store, url(dovecot), password=dovecot.password, ca_file=str(dovecot.cert), interval=3600)

    async def run() -> None:
        serving = asyncio.create_task(watch.serve())
        await asyncio.to_thread(wait_until, lambda: idling(dovecot), "the watch to IDLE")
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    try:
        asyncio.run(run())
        wait_until(lambda: not dovecot.sessions(), "the session to log out")
    finally:
        watch.close()
        store.close()


def test_watch_refuses_a_server_without_starttls(tmp_path: Path) -> None:
    """imap:// to a server that offers no STARTTLS: one line, exit 1, no retrying, no LOGIN."""
    server = ImapServer([report(13)])
    try:
        result = CliRunner(env={"ZEGEL_IMAP_PASSWORD": "secret"}).invoke(
            cli, ["reports", "watch", "--data-dir", str(tmp_path), "--imap", f"imap://dmarc@127.0.0.1:{server.port}/INBOX"],
            catch_exceptions=False)
    finally:
        server.close()
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "cleartext" in result.stderr, result.stderr
    assert "LOGIN" not in server.commands and "AUTHENTICATE" not in server.commands
    result = CliRunner().invoke(cli, ["reports", "watch", "--data-dir", str(tmp_path), "--imap", "pop3://x@y/"])
    assert result.exit_code == 2 and result.stderr.startswith("zegel: --imap: not an IMAP URL")


UNIT = Path(__file__).resolve().parents[2] / "examples" / "zegel-reports-watch.service"


def unit_command() -> list[str]:
    line = next(line for line in UNIT.read_text().splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_systemd_unit_runs_real_flags() -> None:
    """The unit's ExecStart is a `zegel reports watch` command line that parses (no unknown
    flag, values in range)."""
    binary, group, name, *args = unit_command()
    assert (Path(binary).name, group, name) == ("zegel", "reports", "watch")
    reports = cli.get_command(click.Context(cli), "reports")
    assert isinstance(reports, click.Group)
    watch = reports.get_command(click.Context(reports), "watch")
    assert watch is not None
    context = watch.make_context("watch", args)
    assert context.params["imap_url"].startswith("imaps://") and context.params["interval"] == 300


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    analyze = require_tool("systemd-analyze", "systemd")
    zegel = Path(sys.executable).parent / "zegel"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(unit_command()[0], str(zegel)))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "zegel-reports-watch" not in done.stderr, done.stderr
