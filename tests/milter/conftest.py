"""Fixtures for the milter tests: keys, the test domains' DNS records, configuration files."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from zegel.dns.testserver import TestDnsServer

CLIENT_IP = "192.0.2.10"  # the "internet" client the inbound tests connect from
AUTHSERV_ID = "mx.zegel.test"


@dataclass(frozen=True)
class Keys:
    inbound_rsa: rsa.RSAPrivateKey  # the remote sender pass.example signs with (dkimpy)
    sign_rsa: rsa.RSAPrivateKey  # our outbound keys for corp.example
    sign_ed25519: ed25519.Ed25519PrivateKey

    @staticmethod
    def pem(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())


def key_record(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> str:
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode()
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.fixture(scope="session")
def keys() -> Keys:
    return Keys(rsa.generate_private_key(public_exponent=65537, key_size=2048),
                rsa.generate_private_key(public_exponent=65537, key_size=2048),
                ed25519.Ed25519PrivateKey.generate())


def records(keys: Keys, client_ip: str = CLIENT_IP) -> dict[str, list[tuple[str, Any]]]:
    """pass.example authenticates; spoof.example (p=reject), quar.example (p=quarantine) and
    ruf.example (p=none, failure reports wanted) do not list the client; corp.example is our own signing domain; slow.example answers slowly."""
    return {
        "pass.example": [("TXT", f"v=spf1 ip4:{client_ip} -all")],
        "_dmarc.pass.example": [("TXT", "v=DMARC1; p=reject")],
        "sel._domainkey.pass.example": [("TXT", key_record(keys.inbound_rsa))],
        "spoof.example": [("TXT", "v=spf1 ip4:198.51.100.1 -all")],
        "_dmarc.spoof.example": [("TXT", "v=DMARC1; p=reject")],
        "quar.example": [("TXT", "v=spf1 ip4:198.51.100.1 -all")],
        "_dmarc.quar.example": [("TXT", "v=DMARC1; p=quarantine")],
        "corp.example": [("TXT", "v=spf1 ip4:10.0.0.0/8 -all")],
        "_dmarc.corp.example": [("TXT", "v=DMARC1; p=reject")],
        "rsa1._domainkey.corp.example": [("TXT", key_record(keys.sign_rsa))],
        "ed1._domainkey.corp.example": [("TXT", key_record(keys.sign_ed25519))],
        "arc1._domainkey.corp.example": [("TXT", key_record(keys.sign_rsa))],
        "v6.example": [("TXT", "v=spf1 ip6:2001:db8::/32 -all")],
        "_dmarc.v6.example": [("TXT", "v=DMARC1; p=reject")],
        # ruf.example asks for failure reports (fo=1) at an address in its own domain.
        "ruf.example": [("TXT", "v=spf1 ip4:198.51.100.1 -all")],
        "_dmarc.ruf.example": [("TXT", "v=DMARC1; p=none; ruf=mailto:ruf@ruf.example; fo=1")],
        "slow.example": [("TXT", "v=spf1 -all")],
        "_dmarc.slow.example": [("TXT", "v=DMARC1; p=none")],
    }


@pytest.fixture
def test_dns(dns_server: Callable[..., TestDnsServer], keys: Keys) -> TestDnsServer:
    return dns_server(records(keys), delays={"slow.example": 3.0})


@pytest.fixture
def write_config(tmp_path: Path, keys: Keys, test_dns: TestDnsServer) -> Callable[..., Path]:
    """``write_config(extra_toml="", socket=..., policy=...)`` -> path of a complete config."""
    (tmp_path / "rsa1.pem").write_bytes(Keys.pem(keys.sign_rsa))
    (tmp_path / "ed1.pem").write_bytes(Keys.pem(keys.sign_ed25519))

    def write(extra: str = "", *, socket: str = "inet:127.0.0.1:0", policy: str | None = None,
              top: str = "", name: str = "milter.toml") -> Path:
        policy_line = ""
        if policy is not None:
            (tmp_path / "policy.toml").write_text(policy, encoding="utf-8")
            policy_line = 'policy = "policy.toml"\n'
        text = f"""authserv_id = "{AUTHSERV_ID}"
socket = "{socket}"
{policy_line}{top}
[dns]
nameservers = ["{test_dns.address}"]
timeout = 1.0
lifetime = 2.0

[outbound]
trusted_networks = ["10.0.0.0/8"]

[[outbound.sign]]
domain = "corp.example"
selector = "rsa1"
key = "rsa1.pem"

[[outbound.sign]]
domain = "corp.example"
selector = "ed1"
key = "ed1.pem"
{extra}
"""
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
