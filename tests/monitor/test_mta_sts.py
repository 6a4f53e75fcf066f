"""MTA-STS policy fetching against a real HTTPS server on loopback (its own CA, a certificate
for mta-sts.shop.example), through the monitor's resolver; and the expiry alert it feeds."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from zegel.dns import Resolver
from zegel.monitor import Monitor, Watch, open_monitor, policy_fetcher

POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mail.shop.example\r\nmax_age: 604800\r\n"


def _certificate(tmp_path: Path, not_after: datetime.datetime) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for mta-sts.shop.example valid until ``not_after``."""
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zegel test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mta-sts.shop.example")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(2)
            .not_valid_before(now).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("mta-sts.shop.example")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    ca_path, cert_path, key_path = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return ca_path, cert_path, key_path


async def _https_server(cert: Path, key: Path, status: bytes = b"200 OK") -> tuple[asyncio.Server, int]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        body = POLICY if b"GET /.well-known/mta-sts.txt " in request else b"not here"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    return server, server.sockets[0].getsockname()[1]


def test_policy_fetched_over_https_and_certificate_expiry_alerted(tmp_path: Path,
                                                                   dns_server: Callable[..., Any]) -> None:
    expires = datetime.datetime.now(datetime.UTC).replace(microsecond=0) + datetime.timedelta(days=6)
    ca, cert, key = _certificate(tmp_path, expires)
    dns = dns_server({
        "shop.example": [("TXT", "v=spf1 -all"), ("MX", (10, "mail.shop.example"))],
        "_dmarc.shop.example": [("TXT", "v=DMARC1; p=reject")],
        "_mta-sts.shop.example": [("TXT", "v=STSv1; id=20261204")],
        "mta-sts.shop.example": [("A", "127.0.0.1")],
    }, default_ttl=0)
    trust = ssl.create_default_context(cafile=str(ca))

    async def scenario() -> tuple[Any, list[Any], list[Any]]:
        server, port = await _https_server(cert, key)
        async with server:
            resolver = Resolver([dns.address], timeout=1.0)
            policy = await policy_fetcher(port=port, context=trust)(
                "shop.example", resolver)
            store = open_monitor(None, tmp_path)
            now = int(datetime.datetime.now(datetime.UTC).timestamp())
            clock = [now]
            monitor = Monitor(store, resolver, clock=lambda: clock[0], fetch_policy=policy_fetcher(port=port, context=trust))
            store.add(Watch("shop.example", interval=3600))
            first = await monitor.run_due()
            clock[0] += 3600
            second = await monitor.run_due()
            store.close()
            return policy, first, second

    policy, first, second = asyncio.run(scenario())
    assert policy.error == "" and (policy.mode, policy.max_age, policy.mx) == ("enforce", 604800, ("mail.shop.example",))
    assert policy.cert_not_after == int(expires.timestamp())
    assert [a.kind for a in first] == ["mta-sts-expiry"]  # six days left: said on the first run
    assert "(in 5 days)" in first[0].message or "(in 6 days)" in first[0].message
    assert second == []  # once per certificate


def test_policy_refused_when_not_200_or_certificate_untrusted(tmp_path: Path,
                                                                 dns_server: Callable[..., Any]) -> None:
    ca, cert, key = _certificate(tmp_path, datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=90))
    dns = dns_server({"mta-sts.shop.example": [("A", "127.0.0.1")]}, default_ttl=0)

    async def scenario() -> tuple[Any, Any, Any]:
        resolver = Resolver([dns.address], timeout=1.0)
        server, port = await _https_server(cert, key, status=b"301 Moved Permanently")
        async with server:
            moved = await policy_fetcher(port=port, context=ssl.create_default_context(cafile=str(ca)))(
                "shop.example", resolver)
            untrusted = await policy_fetcher(port=port)("shop.example", resolver)  # the system's CAs only
        missing = await policy_fetcher(port=port)("nowhere.example", resolver)
        return moved, untrusted, missing

    moved, untrusted, missing = asyncio.run(scenario())
    assert "301" in moved.error and moved.mode == ""  # RFC 8461 3.3: no redirects
    assert "certificate" in untrusted.error.lower()
    assert missing.error == "mta-sts.nowhere.example has no address"
