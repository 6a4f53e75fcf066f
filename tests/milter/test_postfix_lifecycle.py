"""Restart and reload under load, through a real Postfix.

- SIGTERM: a second ``zegel milter`` starts on the same port (SO_REUSEPORT) while the first
  one serves SMTP sessions that each carry several messages, some waiting on slow DNS when
  the signal arrives. The first process serves every open milter connection to its end:
  no message gets a 4xx, every one arrives once, verified.
- SIGHUP: two workers on one port; the configuration file changes under load (a new
  authserv-id), then is broken (a missing key). The good one is taken without a session
  dropped; the bad one is refused with one log line and mail keeps flowing with the old one.
"""

from __future__ import annotations

import os
import signal
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from tests.conftest import require, require_tool
from tests.milter.conftest import AUTHSERV_ID, Keys, records
from tests.milter.helpers import header_values, message, sign_with_dkimpy
from tests.milter.postfix_harness import MilterProcess, PostfixInstance, free_port, wait_for_port

from zegel.dns.testserver import TestDnsServer

pytestmark = pytest.mark.slow

MAILBOX = "user@example.test"
SESSIONS = 8  # concurrent SMTP sessions
PER_SESSION = 5  # messages per SMTP session (one milter connection carries them all)
SLOW_DNS = 0.8  # seconds slowish.example's SPF record takes: messages are in flight at the signal


@dataclass
class Load:
    """SMTP sessions sending several messages each, every reply recorded."""

    postfix: PostfixInstance
    pass_message: Callable[[int, int], bytes]
    sent: list[bytes] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def _session(self, number: int, rounds: int, pause: float) -> None:
        for round_ in range(rounds):
            try:
                with self.postfix.smtp(timeout=90) as client:
                    client.ehlo("client.example")
                    for index in range(PER_SESSION):
                        # Every other message waits on slow DNS: some are always in flight.
                        if index % 2:
                            raw = message("news@slowish.example", to=MAILBOX,
                                          subject=f"slow {number}-{round_}-{index}")
                            sender = "news@slowish.example"
                        else:
                            raw = self.pass_message(number, round_ * PER_SESSION + index)
                            sender = "alice@pass.example"
                        client.sendmail(sender, [MAILBOX], raw)
                        with self.lock:
                            self.sent.append(raw)
                        time.sleep(pause)
            except (smtplib.SMTPException, OSError) as exc:
                with self.lock:
                    self.failures.append(f"session {number}.{round_}: {type(exc).__name__}: {exc}")

    def start(self, *, rounds: int, pause: float = 0.1) -> Load:
        for number in range(SESSIONS):
            thread = threading.Thread(target=self._session, args=(number, rounds, pause), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def join(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "SMTP sessions did not finish"

    def delivered_once_each(self) -> list[bytes]:
        """Every accepted message delivered exactly once (by Message-ID); the copies."""
        self.postfix.wait_delivered(len(self.sent), timeout=60)
        copies = [p.read_bytes() for p in self.postfix.delivered()]
        ids = [header_values(c, "Message-ID")[0] for c in copies]
        wanted = [header_values(raw, "Message-ID")[0] for raw in self.sent]
        assert sorted(ids) == sorted(wanted), self.postfix.log_tail(60)
        return copies


def _config(path: Path, keys: Keys, dns: TestDnsServer, port: int, *, authserv_id: str = AUTHSERV_ID,
            workers: int = 1, key: str = "rsa1.pem") -> Path:
    path.write_text(f"""authserv_id = "{authserv_id}"
socket = "inet:127.0.0.1:{port}"
workers = {workers}

[timeouts]
shutdown = 30

[dns]
nameservers = ["{dns.address}"]
timeout = 2.0
lifetime = 8.0

[outbound]
trusted_networks = ["127.0.0.2/32"]

[[outbound.sign]]
domain = "corp.example"
selector = "rsa1"
key = "{key}"
""", encoding="utf-8")
    return path


@contextmanager
def _environment(work: Path) -> Iterator[tuple[Keys, TestDnsServer, int, PostfixInstance]]:
    require_tool("postfix")
    require(os.geteuid() == 0, "starting a Postfix instance needs root (its daemons run as user postfix)")
    keys = Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                ed25519.Ed25519PrivateKey.generate())
    (work / "rsa1.pem").write_bytes(Keys.pem(keys.sign_rsa))
    zone = records(keys, client_ip="127.0.0.1")
    zone["slowish.example"] = [("TXT", "v=spf1 ip4:127.0.0.1 -all")]
    zone["_dmarc.slowish.example"] = [("TXT", "v=DMARC1; p=none")]
    # TTL 0: nothing is cached, every slowish message waits on DNS again.
    dns = TestDnsServer(zone, delays={"slowish.example": SLOW_DNS}, default_ttl=0).start_in_thread()
    port = free_port()
    postfix = PostfixInstance(milter=f"inet:127.0.0.1:{port}", default_action="tempfail")
    try:
        yield keys, dns, port, postfix
    finally:
        postfix.stop()
        dns.stop_thread()


def _signed(keys: Keys) -> Callable[[int, int], bytes]:
    def make(session: int, index: int) -> bytes:
        raw = message("alice@pass.example", to=MAILBOX, subject=f"pass {session}-{index}")
        return sign_with_dkimpy(raw, domain="pass.example", selector="sel", key=keys.inbound_rsa)
    return make


def _log_lines(process: MilterProcess, text: str) -> list[str]:
    return [line for line in process.log_file.read_text(errors="replace").splitlines() if text in line]


def test_sigterm_under_load_loses_nothing_while_the_next_process_takes_over(tmp_path: Path) -> None:
    with _environment(tmp_path) as (keys, dns, port, postfix):
        old = MilterProcess(_config(tmp_path / "old.toml", keys, dns, port), port)
        new = MilterProcess(_config(tmp_path / "new.toml", keys, dns, port), port)
        old.start()
        postfix.start()
        try:
            load = Load(postfix, _signed(keys)).start(rounds=2)
            time.sleep(2.0)  # every session has a milter connection, slowish messages in flight
            new.start()  # same port, both listening (SO_REUSEPORT) once it says so:
            deadline = time.monotonic() + 30
            while not _log_lines(new, "msg=listening") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert old.process is not None
            old.process.send_signal(signal.SIGTERM)
            load.join()
            assert old.process.wait(60) == 0
            assert load.failures == [], load.failures[:3]
            copies = load.delivered_once_each()
            assert len(copies) == SESSIONS * 2 * PER_SESSION
            # Verified by one of the two processes, none passed by milter_default_action.
            assert all(header_values(c, "Authentication-Results") for c in copies)
            assert postfix.queued() == []
            assert _log_lines(old, "msg=\"shutting down\"") and _log_lines(old, "msg=stopped")
            assert not _log_lines(old, "sessions closed at the end of the shutdown grace period")
            postfix_log = postfix.log_tail(5000)
            assert "warning: milter" not in postfix_log and " 4.7.1 " not in postfix_log
        finally:
            old.terminate()
            new.terminate()


def test_sighup_under_load_reloads_and_refuses_a_bad_config(tmp_path: Path) -> None:
    with _environment(tmp_path) as (keys, dns, port, postfix):
        config = _config(tmp_path / "milter.toml", keys, dns, port, workers=2)
        milter = MilterProcess(config, port)
        milter.start()
        postfix.start()
        assert milter.process is not None
        try:
            load = Load(postfix, _signed(keys)).start(rounds=3, pause=0.2)
            time.sleep(2.0)
            _config(config, keys, dns, port, workers=2, authserv_id="mx2.zegel.test")
            milter.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while len(_log_lines(milter, "msg=reloaded")) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            assert len(_log_lines(milter, "msg=reloaded")) == 2  # one per worker
            reloaded_at = len(load.sent)
            time.sleep(1.5)
            _config(config, keys, dns, port, workers=2, authserv_id="mx3.zegel.test", key="missing.pem")
            milter.process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while not _log_lines(milter, "reload refused") and time.monotonic() < deadline:
                time.sleep(0.1)
            load.join()
            refused = _log_lines(milter, "reload refused")
            assert len(refused) == 1 and "missing.pem" in refused[0]
            assert load.failures == [], load.failures[:3]
            copies = load.delivered_once_each()
            ids = [header_values(c, "Authentication-Results")[0].split(";")[0].strip() for c in copies]
            assert set(ids) <= {AUTHSERV_ID, "mx2.zegel.test"}
            assert "mx2.zegel.test" in ids and "mx3.zegel.test" not in ids
            # Everything sent after the reload was visible got the new authserv-id ... except
            # what was already at end of message then; the last messages certainly did.
            assert ids.count("mx2.zegel.test") >= len(copies) - reloaded_at - SESSIONS
            assert postfix.queued() == []
            # Still serving with the good configuration after the refused one.
            wait_for_port(port)
            assert milter.process.poll() is None
        finally:
            assert milter.terminate() == 0
