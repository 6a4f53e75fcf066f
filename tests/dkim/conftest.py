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
        return Resolver([server.address], timeout=0.5, lifetime=1.0), server

    return start
