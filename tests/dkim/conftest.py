"""Fixtures for the DKIM tests: signing keys, and key records served by the test DNS server."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from zegel.dkim.keys import PrivateKey, public_key_record
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

DOMAIN = "example.com"


@dataclass(frozen=True)
class SigningKeys:
    rsa: rsa.RSAPrivateKey
    ed25519: ed25519.Ed25519PrivateKey

    def pem(self, kind: str) -> bytes:
        key: PrivateKey = self.rsa if kind == "rsa" else self.ed25519
        return key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@pytest.fixture(scope="session")
def signing_keys() -> SigningKeys:
    return SigningKeys(rsa.generate_private_key(65537, 2048), ed25519.Ed25519PrivateKey.generate())


@pytest.fixture
def key_dns(
    signing_keys: SigningKeys, dns_server: Callable[..., TestDnsServer]
) -> Callable[..., tuple[Resolver, TestDnsServer]]:
    """``key_dns(extra_records={})`` -> (resolver, server) serving rsa._domainkey.example.com and
    ed._domainkey.example.com (plus any extra TXT records given as {name: text})."""

    def start(extra: dict[str, str] | None = None, **options: object) -> tuple[Resolver, TestDnsServer]:
        records: dict[str, list[tuple[str, str]]] = {
            f"rsa._domainkey.{DOMAIN}": [("TXT", public_key_record(signing_keys.rsa))],
            f"ed._domainkey.{DOMAIN}": [("TXT", public_key_record(signing_keys.ed25519))],
        }
        for name, text in (extra or {}).items():
            records.setdefault(name, []).append(("TXT", text))
        server = dns_server(records, **options)
        return Resolver([server.address]), server

    return start


def traditional_rsa_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 "RSA PRIVATE KEY" PEM, the form dkimpy and OpenDKIM read."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def ed25519_seed_b64(key: ed25519.Ed25519PrivateKey) -> bytes:
    """The base64 32-octet seed, the form dkimpy reads for Ed25519 (RFC 8463 Appendix A style)."""
    import base64

    raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return base64.b64encode(raw)


# Messages exercising the canonicalization corners the issue lists (CRLF line endings).
VARIANTS: dict[str, bytes] = {
    "plain": (
        b"From: Joe SixPack <joe@example.com>\r\nTo: Suzie Q <suzie@example.net>\r\n"
        b"Subject: Is dinner ready?\r\nDate: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
        b"Message-ID: <20030712040037.46341.5F8J@example.com>\r\n\r\n"
        b"Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n"
    ),
    "folded": (
        b"From: Joe SixPack\r\n <joe@example.com>\r\nSubject: a rather long subject\r\n"
        b"\tthat is folded\r\n   twice over\r\nTo: a@example.net,\r\n b@example.net\r\n\r\nbody\r\n"
    ),
    "trailing-whitespace": (
        b"From: joe@example.com \t\r\nSubject: spaced    out  \r\nTo: x@example.net\r\n\r\n"
        b"line with trailing   \r\n\tindented\t  line\t \r\n  \r\nend \r\n"
    ),
    "odd-colon-spacing": b"From:joe@example.com\r\nSubject:   spaced\r\nTo:\tx@example.net\r\n\r\nbody\r\n",
    "blank-lines-at-end": b"From: joe@example.com\r\nSubject: blank\r\n\r\nbody\r\n\r\n\r\n\r\n \r\n\r\n",
    "empty-body": b"From: joe@example.com\r\nSubject: nothing\r\n\r\n",
    "no-final-crlf": b"From: joe@example.com\r\nSubject: cut\r\n\r\nfirst line\r\nlast line without CRLF",
    "8bit": (
        b"From: joe@example.com\r\nSubject: caf\xc3\xa9 cr\xc3\xa8me\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        b"Caf\xc3\xa9 cr\xc3\xa8me br\xc3\xbbl\xc3\xa9e \xe2\x82\xac 5\r\n\xff\xfe raw octets\r\n"
    ),
    "repeated-headers": (
        b"Received: from a by b\r\nFrom: joe@example.com\r\nTo: a@example.net\r\nCc: one@example.net\r\n"
        b"To: b@example.net\r\nCc: two@example.net\r\nSubject: repeated\r\n\r\nbody\r\n"
    ),
}
# Fields each variant signs explicitly (repeated fields listed as often as they occur).
VARIANT_HEADERS: dict[str, list[str]] = {
    "repeated-headers": ["from", "to", "to", "cc", "cc", "subject"],
}
CANONICALIZATIONS = [("simple", "simple"), ("simple", "relaxed"), ("relaxed", "simple"), ("relaxed", "relaxed")]


def dkimpy_dnsfunc(server: TestDnsServer) -> Callable[..., bytes]:
    """A dkimpy ``dnsfunc`` that asks the TestDnsServer over UDP/TCP with dnspython."""
    import dns.exception
    import dns.resolver

    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port

    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT", lifetime=timeout)
        except dns.exception.DNSException:
            return b""
        return b"".join(answer[0].strings)  # type: ignore[attr-defined]

    return dnsfunc
