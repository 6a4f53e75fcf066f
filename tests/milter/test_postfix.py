"""Real integration: Postfix on loopback with ``smtpd_milters`` pointing at ``zegel milter``.

Postfix (its own config and queue directories under a temp dir, ``postfix -c DIR``) accepts
SMTP on 127.0.0.1, asks the milter, and delivers into a Maildir we read. zegel's resolver asks
the loopback test DNS server for the test domains' SPF, DKIM and DMARC records. Inbound mail
comes from 127.0.0.1; "our users" send from 127.0.0.2, the milter's trusted network.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from tests.conftest import require, require_tool
from tests.milter.conftest import AUTHSERV_ID, Keys, records
from tests.milter.helpers import dkimpy_verify_all, header_values, message, sign_with_dkimpy
from tests.milter.postfix_harness import MilterProcess, PostfixInstance, free_port

from zegel.dkim import verify as zegel_dkim_verify
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

pytestmark = pytest.mark.slow

INBOUND_IP = "127.0.0.1"
TRUSTED_IP = "127.0.0.2"
MAILBOX = "user@example.test"


@dataclass
class Stack:
    postfix: PostfixInstance
    milter: MilterProcess
    dns: TestDnsServer
    keys: Keys

    def send(self, raw: bytes, mail_from: str, *, source: str = INBOUND_IP) -> None:
        self.postfix.send(raw, mail_from=mail_from, rcpt_to=[MAILBOX], source_address=source)

    def delivered_with(self, message_id: str, timeout: float = 30.0) -> list[bytes]:
        """Delivered copies of the message with this Message-ID (waits for the first)."""
        deadline = time.monotonic() + timeout
        while True:
            copies = [p.read_bytes() for p in self.postfix.delivered() if message_id.encode() in p.read_bytes()]
            if copies or time.monotonic() > deadline:
                return copies
            time.sleep(0.1)


def _message_id(raw: bytes) -> str:
    return header_values(raw, "Message-ID")[0]


def _milter_config(work: Path, keys: Keys, dns: TestDnsServer, port: int, *, quarantine: str) -> Path:
    (work / "rsa1.pem").write_bytes(Keys.pem(keys.sign_rsa))
    (work / "ed1.pem").write_bytes(Keys.pem(keys.sign_ed25519))
    config = work / f"milter-{quarantine}.toml"
    config.write_text(f"""authserv_id = "{AUTHSERV_ID}"
socket = "inet:127.0.0.1:{port}"

[dns]
nameservers = ["{dns.address}"]
timeout = 2.0
lifetime = 8.0

[inbound]
quarantine = "{quarantine}"
max_message_size = "200K"
memory_limit = "32K"

[outbound]
trusted_networks = ["{TRUSTED_IP}/32"]

[[outbound.sign]]
domain = "corp.example"
selector = "rsa1"
key = "rsa1.pem"

[[outbound.sign]]
domain = "corp.example"
selector = "ed1"
key = "ed1.pem"

[log]
level = "debug"
""", encoding="utf-8")
    return config


@contextmanager
def _stack(work: Path, *, quarantine: str = "header", default_action: str = "tempfail") -> Iterator[Stack]:
    require_tool("postfix")
    require(os.geteuid() == 0, "starting a Postfix instance needs root (its daemons run as user postfix)")
    keys = Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                ed25519.Ed25519PrivateKey.generate())
    dns = TestDnsServer(records(keys, client_ip=INBOUND_IP), delays={"slow.example": 4.0}).start_in_thread()
    milter_port = free_port()
    milter = MilterProcess(_milter_config(work, keys, dns, milter_port, quarantine=quarantine), milter_port)
    postfix = PostfixInstance(milter=f"inet:127.0.0.1:{milter_port}", default_action=default_action)
    try:
        milter.start()
        postfix.start()
        yield Stack(postfix, milter, dns, keys)
    finally:
        postfix.stop()
        milter.terminate()
        dns.stop_thread()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with _stack(tmp_path_factory.mktemp("milter-postfix")) as running:
        yield running


def test_dmarc_pass_is_delivered_with_our_authentication_results(stack: Stack) -> None:
    forged = f"Authentication-Results: {AUTHSERV_ID}; dmarc=pass header.from=pass.example\r\n"
    raw = sign_with_dkimpy(message("alice@pass.example", to=MAILBOX, extra_headers=forged),
                           domain="pass.example", selector="sel", key=stack.keys.inbound_rsa)
    stack.send(raw, "alice@pass.example")
    copies = stack.delivered_with(_message_id(raw))
    assert len(copies) == 1, stack.postfix.log_tail()
    results = header_values(copies[0], "Authentication-Results")
    assert len(results) == 1, results  # the forged one claiming our authserv-id is gone
    ours = " ".join(results[0].split())
    assert ours.startswith(f"{AUTHSERV_ID};")
    assert "spf=pass" in ours and "dkim=pass" in ours and "dmarc=pass" in ours


def test_spoofed_mail_from_reject_domain_is_refused_with_550(stack: Stack) -> None:
    raw = message("ceo@spoof.example", to=MAILBOX, subject="Urgent wire transfer")
    with pytest.raises(smtplib.SMTPDataError) as info:
        stack.send(raw, "ceo@spoof.example")
    assert info.value.smtp_code == 550
    assert b"5.7." in info.value.smtp_error
    assert stack.delivered_with(_message_id(raw), timeout=1.0) == []


def test_quarantine_case_arrives_marked(stack: Stack) -> None:
    raw = message("news@quar.example", to=MAILBOX, subject="Newsletter")
    stack.send(raw, "news@quar.example")
    copies = stack.delivered_with(_message_id(raw))
    assert len(copies) == 1
    marks = header_values(copies[0], "X-Zegel-Quarantine")
    assert len(marks) == 1 and marks[0].startswith("yes")
    assert "dmarc=fail" in " ".join(header_values(copies[0], "Authentication-Results")[0].split())


def test_oversized_message_is_rejected_not_passed_unverified(stack: Stack) -> None:
    """Past max_message_size the milter drops the rest of the body unread and the
    message_too_large outcome applies: reject by default (docs/security.md), never an
    unverified accept."""
    body = "A long line of a large message body, repeated many times over.\r\n" * 6000  # ~390 KB
    raw = message("alice@pass.example", to=MAILBOX, subject="Large attachment", body=body)
    with pytest.raises(smtplib.SMTPDataError) as info:
        stack.send(raw, "alice@pass.example")
    assert info.value.smtp_code == 550
    assert b"5.7.1" in info.value.smtp_error
    assert stack.delivered_with(_message_id(raw), timeout=1.0) == []


def test_outbound_message_arrives_signed_and_verifies_with_zegel_and_dkimpy(stack: Stack) -> None:
    raw = message("boss@corp.example", to=MAILBOX, subject="Quarterly figures",
                  body="Figures attached.\r\n\r\n-- \r\nBoss\r\n")
    stack.send(raw, "boss@corp.example", source=TRUSTED_IP)
    copies = stack.delivered_with(_message_id(raw))
    assert len(copies) == 1
    delivered = copies[0].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")  # Maildir stores LF
    signatures = header_values(delivered, "DKIM-Signature")
    assert len(signatures) == 2
    results = asyncio.run(zegel_dkim_verify(delivered, resolver=Resolver([stack.dns.address], timeout=2.0)))
    assert sorted((r.result, r.selector) for r in results) == [("pass", "ed1"), ("pass", "rsa1")]
    rsa_index = next(i for i, s in enumerate(signatures) if "s=rsa1" in s)
    assert dkimpy_verify_all(delivered, stack.dns.address)[rsa_index] is True
    assert not header_values(delivered, "Authentication-Results")  # outbound: not verified


def _kill_milter_mid_message(stack: Stack, raw: bytes, mail_from: str) -> BaseException | None:
    """Send ``raw``; kill the milter while it verifies (waiting on slow DNS); the SMTP outcome."""
    outcome: dict[str, BaseException | None] = {}

    def send() -> None:
        try:
            stack.send(raw, mail_from)
            outcome["error"] = None
        except BaseException as exc:  # the SMTP reply is the result under test
            outcome["error"] = exc

    before = stack.dns.stats.by_name.get("slow.example", 0)
    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while stack.dns.stats.by_name.get("slow.example", 0) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stack.dns.stats.by_name.get("slow.example", 0) > before, "the milter never reached DNS"
    stack.milter.kill()
    sender.join(60)
    assert "error" in outcome, "the SMTP client did not finish"
    return outcome["error"]


def test_milter_killed_mid_message_follows_default_action_without_loss_or_duplicates(stack: Stack) -> None:
    raw = message("someone@slow.example", to=MAILBOX, subject="Slow DNS")
    error = _kill_milter_mid_message(stack, raw, "someone@slow.example")
    # milter_default_action = tempfail: the client is told to retry; nothing was queued.
    assert isinstance(error, smtplib.SMTPDataError) and 400 <= error.smtp_code < 500, error
    assert stack.delivered_with(_message_id(raw), timeout=2.0) == []
    assert stack.postfix.queued() == []
    # The client retries once the milter is back: exactly one copy arrives.
    stack.milter.start()
    stack.send(raw, "someone@slow.example")
    copies = stack.delivered_with(_message_id(raw))
    time.sleep(1.0)
    copies = stack.delivered_with(_message_id(raw))
    assert len(copies) == 1
    assert header_values(copies[0], "Authentication-Results")
    assert stack.postfix.queued() == []


def test_milter_killed_with_default_action_accept_delivers_once_unverified(tmp_path: Path) -> None:
    with _stack(tmp_path, default_action="accept") as running:
        raw = message("someone@slow.example", to=MAILBOX, subject="Slow DNS, accepted")
        assert _kill_milter_mid_message(running, raw, "someone@slow.example") is None  # 250 at SMTP
        copies = running.delivered_with(_message_id(raw))
        time.sleep(1.0)
        copies = running.delivered_with(_message_id(raw))
        assert len(copies) == 1
        assert header_values(copies[0], "Authentication-Results") == []  # the milter never answered
        assert running.postfix.queued() == []


def test_milter_quarantine_action_puts_the_message_on_hold(tmp_path: Path) -> None:
    """quarantine = "milter": SMFIR_QUARANTINE, which Postfix turns into its hold queue."""
    with _stack(tmp_path, quarantine="milter") as running:
        raw = message("news@quar.example", to=MAILBOX, subject="Held newsletter")
        running.send(raw, "news@quar.example")  # accepted at SMTP
        deadline = time.monotonic() + 30
        while not running.postfix.held() and time.monotonic() < deadline:
            time.sleep(0.1)
        held = running.postfix.held()
        assert len(held) == 1, running.postfix.log_tail()
        assert _message_id(raw).encode() in held[0].read_bytes()
        assert running.delivered_with(_message_id(raw), timeout=1.0) == []
        assert "milter triggers HOLD action" in running.postfix.log_tail(200)
