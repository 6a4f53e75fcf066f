"""Rule 1 of docs/security.md: verdicts only get worse.

One spoof of a ``p=reject`` domain, and a battery of padded and malformed variants of it (the
reproducers of issue 10 and more). Under the default policy every variant is rejected with a
5.7.x code: through :func:`zegel.verify.verify_message`, and through ``zegel milter`` behind a
real Postfix on loopback.
"""

from __future__ import annotations

import asyncio
import base64
import os
import smtplib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import dkim as dkimpy
from tests.conftest import require, require_tool
from tests.milter.postfix_harness import MilterProcess, PostfixInstance, free_port
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer
from zegel.policy import Policy
from zegel.verify import verify_message

AUTHSERV_ID = "mx.receiver.test"
SPOOF_IP = "203.0.113.9"
MAILBOX = "user@example.test"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024)


def _key_record() -> str:
    der = KEY.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def records(client_ip: str) -> dict[str, list[tuple[str, str]]]:
    """bank.example (p=reject) does not list the spoofer; attacker.example lists it and signs."""
    return {
        "bank.example": [("TXT", "v=spf1 ip4:192.0.2.1 -all")],
        "_dmarc.bank.example": [("TXT", "v=DMARC1; p=reject")],
        "sel._domainkey.bank.example": [("TXT", _key_record())],
        "attacker.example": [("TXT", f"v=spf1 ip4:{client_ip} -all")],
        "_dmarc.attacker.example": [("TXT", "v=DMARC1; p=none")],
        "sel._domainkey.attacker.example": [("TXT", _key_record())],
    }


HEAD = b"To: user@example.test\r\nSubject: Urgent wire transfer\r\nDate: Fri, 4 Dec 2026 12:00:00 +0000\r\n"
BODY = b"Please pay invoice 4711 today.\r\n"


def spoof(from_value: bytes | None = b"ceo@bank.example", *, before: bytes = b"", after: bytes = b"",
          body: bytes = BODY, tag: str = "") -> bytes:
    """The spoof: ``From: <from_value>`` (None: no From field) with extra fields around it."""
    message_id = f"Message-ID: <{tag or 'spoof'}.{time.monotonic_ns()}@attacker.example>\r\n".encode()
    from_line = b"" if from_value is None else b"From: " + from_value + b"\r\n"
    return before + from_line + HEAD + message_id + after + b"\r\n" + body


def _pem() -> bytes:
    return KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def signed_with_length(domain: str) -> bytes:
    """Signed by ``domain`` with l= covering the original body, then a phishing body appended."""
    raw = spoof(b"ceo@bank.example", tag="l-tag")
    signature = dkimpy.sign(raw, b"sel", domain.encode(), _pem(), length=True,
                            include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return bytes(signature) + raw + b"\r\nClick https://phish.example/login to confirm.\r\n"


def signed_by_attacker() -> bytes:
    raw = spoof(b"ceo@bank.example", tag="attacker-sig")
    return bytes(dkimpy.sign(raw, b"sel", b"attacker.example", _pem(),
                             include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])) + raw


PAD = b"X-Pad: y\r\n"
VARIANTS: dict[str, Callable[[], bytes]] = {
    # -- the rows of issue 10 ------------------------------------------------------------
    "plain": lambda: spoof(),
    "10001-padding-fields": lambda: spoof(before=PAD * 10_001),
    "17000-char-display-name": lambda: spoof(b'"' + b"a" * 17_000 + b'" <ceo@bank.example>'),
    "1000-open-parens": lambda: spoof(b"ceo@bank.example " + b"(" * 1000),
    "1000-group-colons": lambda: spoof(b"ceo@bank.example " + b"x:" * 1000),
    "nul-in-address": lambda: spoof(b"ceo@bank\x00.example"),
    "encoded-word-address": lambda: spoof(b"=?utf-8?q?ceo=40bank.example?="),
    "no-from": lambda: spoof(None),
    "empty-from": lambda: spoof(b""),
    "dkim-l-tag-appended-body": lambda: signed_with_length("bank.example"),
    # -- more of the same kind -------------------------------------------------------------
    "padding-after-from": lambda: spoof(after=PAD * 10_001),
    "10001-padding-fields-bare-lf": lambda: spoof(before=PAD * 10_001).replace(b"\r\n", b"\n"),
    "deeply-nested-comment": lambda: spoof(b"(" * 5000 + b"x" + b")" * 5000 + b" ceo@bank.example"),
    "comment-in-address": lambda: spoof(b"ceo(a(b)c)@bank.example (Chief Executive)"),
    "unterminated-angle": lambda: spoof(b"Bank <ceo@bank.example"),
    "unterminated-quote": lambda: spoof(b'"Bank <ceo@bank.example>'),
    "two-from-fields": lambda: spoof(b"ceo@bank.example", after=b"From: friend@attacker.example\r\n"),
    "two-mailboxes": lambda: spoof(b"ceo@bank.example, friend@attacker.example"),
    "words-around-address": lambda: spoof(b"ceo@bank.example attacker.example"),
    "group-syntax": lambda: spoof(b"Board: ceo@bank.example;"),
    "obs-route": lambda: spoof(b"<@attacker.example:ceo@bank.example>"),
    "upper-case-trailing-dot": lambda: spoof(b"CEO@BANK.EXAMPLE."),
    "wsp-before-colon": lambda: spoof(None, after=b"From : ceo@bank.example\r\n"),
    "folded-from": lambda: spoof(b"\"Bank\r\n\t Treasury\"\r\n <ceo@bank.example>"),
    "control-character": lambda: spoof(b"ceo@bank.example\x01"),
    "attacker-dkim-signature": signed_by_attacker,
    "long-body-line": lambda: spoof(body=b"a" * 500_000 + b"\r\n"),
    "2000-received-fields": lambda: spoof(before=b"Received: from a by b; Fri, 4 Dec 2026 12:00:00 +0000\r\n" * 2000),
}


def test_every_variant_is_rejected_by_verify_message(dns_server: Callable[..., TestDnsServer]) -> None:
    server = dns_server(records(SPOOF_IP))

    async def run() -> dict[str, tuple[str, int | None, str, tuple[str, ...]]]:
        resolver = Resolver([server.address], timeout=2.0)
        outcome = {}
        for name, build in VARIANTS.items():
            verdict = await verify_message(build(), ip=SPOOF_IP, helo="mail.attacker.example",
                                           mail_from="bounce@attacker.example", resolver=resolver,
                                           authserv_id=AUTHSERV_ID)
            action = verdict.action
            outcome[name] = (action.kind, action.smtp_code, action.smtp_reply or "", action.outcomes)
        return outcome

    outcome = asyncio.run(run())
    for name, (kind, code, reply, matched) in outcome.items():
        assert (kind, code) == ("reject", 550), (name, kind, matched)
        assert reply.startswith("5.7."), (name, reply)


def test_the_l_tag_signature_is_dkim_policy_and_the_old_behaviour_is_an_option(
    dns_server: Callable[..., TestDnsServer],
) -> None:
    server = dns_server(records(SPOOF_IP))
    message = signed_with_length("bank.example")

    async def run(policy: Policy) -> tuple[str, str, str]:
        verdict = await verify_message(message, ip=SPOOF_IP, helo="h", mail_from="b@attacker.example",
                                       resolver=Resolver([server.address], timeout=2.0),
                                       authserv_id=AUTHSERV_ID, policy=policy)
        return verdict.dkim[0].result, verdict.dmarc.result, verdict.action.kind

    result, dmarc, action = asyncio.run(run(Policy.default()))
    assert (result, dmarc, action) == ("policy", "fail", "reject")  # RFC 8601 2.7.1
    old = Policy.from_toml('[dkim]\npartial_body = "pass"\n')
    assert asyncio.run(run(old)) == ("pass", "pass", "accept")


def test_fault_outcomes_are_operator_mappable(dns_server: Callable[..., TestDnsServer]) -> None:
    server = dns_server(records(SPOOF_IP))
    policy = Policy.from_toml('[on]\nauthor_unknown = "quarantine"\nheader_limits = { action = "add_header" }\n')

    async def run(message: bytes) -> tuple[str, tuple[str, ...]]:
        verdict = await verify_message(message, ip=SPOOF_IP, helo="h", mail_from="b@attacker.example",
                                       resolver=Resolver([server.address], timeout=2.0),
                                       authserv_id=AUTHSERV_ID, policy=policy)
        return verdict.action.kind, verdict.action.outcomes

    # An author-less message from the attacker's own, SPF-passing domain: only the fault applies.
    kind, matched = asyncio.run(run(spoof(None)))
    assert kind == "quarantine" and matched[0] == "author_unknown"
    kind, matched = asyncio.run(run(spoof(b"friend@attacker.example", before=PAD * 10_001)))
    assert kind == "add_header" and matched[0] == "header_limits"
    # The sender's p=reject still decides for the spoof: mapping a fault never softens it.
    kind, _ = asyncio.run(run(spoof(b"ceo@bank.example", before=PAD * 10_001)))
    assert kind == "reject"


def test_a_second_author_never_lends_its_pass(dns_server: Callable[..., TestDnsServer]) -> None:
    """With the author_unknown fault mapped to a mild action, a From naming an author without
    DMARC (the impersonated one) beside the attacker's passing domain still gets no
    dmarc=pass in the Authentication-Results field: the unauthenticated author decides."""
    server = dns_server(records(SPOOF_IP))
    policy = Policy.from_toml('[on]\nauthor_unknown = "add_header"\n')

    async def run(message: bytes) -> tuple[str, str | None, str, str]:
        verdict = await verify_message(message, ip=SPOOF_IP, helo="h", mail_from="b@attacker.example",
                                       resolver=Resolver([server.address], timeout=2.0),
                                       authserv_id=AUTHSERV_ID, policy=policy)
        return verdict.dmarc.result, verdict.dmarc.from_domain, verdict.action.kind, verdict.authentication_results

    for from_value in (b"ceo@no-dmarc.example, friend@attacker.example",
                       b"friend@attacker.example, ceo@no-dmarc.example"):
        result, domain, kind, header = asyncio.run(run(spoof(from_value)))
        assert (result, domain, kind) == ("none", "no-dmarc.example", "add_header"), from_value
        assert "dmarc=pass" not in header and "dmarc=none" in header
    # Beside an unreadable rest of the From, the attacker's passing domain is no pass either.
    for from_value in (b"ceo@bank.example <friend@attacker.example>",
                       b"<ceo@bank.example>\x00<friend@attacker.example>",
                       b"friend@attacker.example, ceo@[192.0.2.1]"):
        result, domain, kind, header = asyncio.run(run(spoof(from_value)))
        assert result != "pass" and kind == "add_header", (from_value, result)
        assert "dmarc=pass" not in header
    # The attacker's domain alone does pass: the difference is the second author.
    result, _, _, _ = asyncio.run(run(spoof(b"friend@attacker.example")))
    assert result == "pass"


# -- through Postfix and the milter --------------------------------------------------------


@dataclass
class Stack:
    postfix: PostfixInstance
    milter: MilterProcess
    dns: TestDnsServer


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_tool("postfix")
    require(os.geteuid() == 0, "starting a Postfix instance needs root (its daemons run as user postfix)")
    work = tmp_path_factory.mktemp("spoof-battery")
    dns = TestDnsServer(records("127.0.0.1")).start_in_thread()
    port = free_port()
    config = work / "milter.toml"
    config.write_text(f"""authserv_id = "{AUTHSERV_ID}"
socket = "inet:127.0.0.1:{port}"

[dns]
nameservers = ["{dns.address}"]
timeout = 2.0
lifetime = 8.0
""", encoding="utf-8")
    milter = MilterProcess(config, port)
    postfix = PostfixInstance(milter=f"inet:127.0.0.1:{port}", default_action="tempfail")
    try:
        milter.start()
        postfix.start()
        yield Stack(postfix, milter, dns)
    finally:
        postfix.stop()
        milter.terminate()
        dns.stop_thread()


@pytest.mark.slow
def test_every_variant_is_refused_through_postfix_and_the_milter(stack: Stack) -> None:
    refused: dict[str, int] = {}
    for name, build in VARIANTS.items():
        if name == "no-from":
            continue  # Postfix adds From: <envelope sender> itself: see the test below
        try:
            stack.postfix.send(build(), mail_from="bounce@attacker.example", rcpt_to=[MAILBOX],
                               helo="mail.attacker.example")
        except smtplib.SMTPResponseException as exc:
            refused[name] = exc.smtp_code
        else:
            refused[name] = 250
    delivered = [p.read_bytes()[:2000] for p in stack.postfix.delivered()]
    assert not delivered, ({k: v for k, v in refused.items() if v != 550}, delivered[0])
    # 550 from the milter; Postfix refuses 2000 Received fields itself (554 5.4.0, hop count).
    expected = {name: 554 if name == "2000-received-fields" else 550 for name in refused}
    assert refused == expected, stack.postfix.log_tail()


@pytest.mark.slow
def test_without_from_postfix_supplies_the_envelope_sender(stack: Stack) -> None:
    """Postfix's cleanup adds ``From: <MAIL FROM>`` to a message without one, before the milter
    sees it: a From-less spoof sent with the bank's address as MAIL FROM is then a plain spoof
    (rejected), and one sent with the attacker's address says so to the reader."""
    with pytest.raises(smtplib.SMTPDataError) as info:
        stack.postfix.send(spoof(None), mail_from="ceo@bank.example", rcpt_to=[MAILBOX])
    assert info.value.smtp_code == 550
    raw = spoof(None, tag="own-domain")
    stack.postfix.send(raw, mail_from="bounce@attacker.example", rcpt_to=[MAILBOX])
    copies = stack.postfix.wait_delivered(1)
    assert b"From: bounce@attacker.example" in copies[0].read_bytes()
