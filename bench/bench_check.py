"""zegel check vs checkdmarc: domains audited per second, on the same synthetic domains served
by one TestDnsServer on loopback (in a thread) that adds 20 ms to every answer.

The server runs in a process of its own (as a real resolver would), for both tools.
zegel audits all 2,000 domains in bulk (one shared resolver and cache, bounded concurrency):
SPF with the whole include tree, DMARC with report authorization, MX with host addresses, and
DKIM (probing common selector names). checkdmarc is sequential and about 20 ms x its number of
queries per domain, so it runs on a sample of the same domains (every shape equally often) and
its per-domain rate is reported; it checks SPF (check_spf), DMARC (check_dmarc) and MX
(check_mx), the parts that match zegel check — it has no DKIM probe, so zegel does more work per
domain. Its global DNS cache is cleared first so both start cold.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from multiprocessing.connection import Connection
from typing import Any

from bench.common import Row
from zegel.audit import CheckOptions, check_domains
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

AREA = "check"
DOMAINS = 2000
PEER_SAMPLE = 50
DELAY = 0.020
CONCURRENCY = 100

_RSA_KEY = (
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAn8LSblcsErioy4UQRRgCJegm1O4zZxgj6QwMeSsCmfdK3rNU57z8OUwNVa5F"
    "B40zUHkfyYVbH43mjd9p/fDRzMClspvAdxjUJ5feCmMVemK0NyA9KRVIjW9uu3AyegJ0T0g3Qcc9FY6Tp5DGHCu7sqYK+yrgkH3VA7k"
    "BCPbVr+Y1KO9xukO/qgLkjXwlpnRC2ceGp7XBdar5zN5pXqiI4qQ+GcSIu9qoTFmnH008Lx03SecvUdMUFMcf0u7XsXsNpoDGZTfFsX/"
    "14nZzJsutvuFuVrQtr3JlVRGnkZ4b2nbeiSwbgA89cOZMwLOJutH//2XFzTbujC3PbcA1+lzygwIDAQAB"
)

# Shared providers: a large one with includes three deep, a CRM, a report service.
SHARED: dict[str, list[tuple[str, Any]]] = {
    "_spf.mailhost.example": [("TXT", "v=spf1 include:_nb1.mailhost.example include:_nb2.mailhost.example ~all")],
    "_nb1.mailhost.example": [("TXT", "v=spf1 " + " ".join(f"ip4:10.{i}.0.0/16" for i in range(10)) + " ~all")],
    "_nb2.mailhost.example": [("TXT", "v=spf1 include:_nb3.mailhost.example ip6:2001:db8:1::/48 ~all")],
    "_nb3.mailhost.example": [("TXT", "v=spf1 ip4:172.16.0.0/20 ~all")],
    "mx1.mailhost.example": [("A", "192.0.2.25")],
    "mx2.mailhost.example": [("A", "192.0.2.26"), ("AAAA", "2001:db8::26")],
    "spf.crm.example": [("TXT", "v=spf1 ip4:198.51.100.64/28 ~all")],
    "reports.dmarc-service.example": [("A", "192.0.2.99")],
}


def _domain_records(index: int) -> tuple[str, dict[str, list[tuple[str, Any]]]]:
    """One synthetic domain in one of five real-world shapes."""
    name = f"org{index}.example"
    shape = index % 5
    records: dict[str, list[tuple[str, Any]]] = {}
    if shape == 0:  # on a large provider, signing with DKIM, enforcing
        records[name] = [("TXT", "v=spf1 include:_spf.mailhost.example -all"),
                         ("MX", (10, "mx1.mailhost.example")), ("MX", (20, "mx2.mailhost.example"))]
        records[f"_dmarc.{name}"] = [("TXT", f"v=DMARC1; p=reject; rua=mailto:dmarc@{name}")]
        records[f"selector1._domainkey.{name}"] = [("TXT", f"v=DKIM1; k=rsa; p={_RSA_KEY}")]
    elif shape == 1:  # own server, monitoring, reports at a service that authorised them
        records[name] = [("TXT", "v=spf1 mx a ip4:192.0.2.0/24 -all"), ("MX", (10, f"mail.{name}")),
                         ("A", "192.0.2.10")]
        records[f"mail.{name}"] = [("A", "192.0.2.11")]
        records[f"_dmarc.{name}"] = [("TXT", "v=DMARC1; p=none; rua=mailto:agg@reports.dmarc-service.example")]
        records[f"{name}._report._dmarc.reports.dmarc-service.example"] = [("TXT", "v=DMARC1")]
        records[f"default._domainkey.{name}"] = [("TXT", f"v=DKIM1; p={_RSA_KEY}")]
    elif shape == 2:  # parked correctly
        records[name] = [("TXT", "v=spf1 -all"), ("MX", (0, "."))]
        records[f"_dmarc.{name}"] = [("TXT", "v=DMARC1; p=reject;")]
    elif shape == 3:  # two providers, quarantine, no DKIM
        records[name] = [("TXT", "v=spf1 include:_spf.mailhost.example include:spf.crm.example ~all"),
                         ("MX", (10, "mx1.mailhost.example"))]
        records[f"_dmarc.{name}"] = [("TXT", f"v=DMARC1; p=quarantine; pct=50; rua=mailto:d@{name}")]
    else:  # broken: include of a name that publishes nothing, dangling MX, no DMARC
        records[name] = [("TXT", "v=spf1 include:_spf.gone.example ?all"), ("MX", (10, f"mx.{name}"))]
    return name, records


def build(count: int) -> tuple[list[str], dict[str, list[tuple[str, Any]]]]:
    names: list[str] = []
    records: dict[str, list[tuple[str, Any]]] = dict(SHARED)
    for index in range(count):
        name, own = _domain_records(index)
        names.append(name)
        records.update(own)
    return names, records


async def _zegel(names: list[str], address: str) -> tuple[float, int]:
    resolver = Resolver([address], timeout=5.0, lifetime=10.0)
    started = time.perf_counter()
    errors = 0
    async for report in check_domains(names, resolver, CheckOptions(domain_timeout=60), concurrency=CONCURRENCY):
        errors += any(f.code in ("domain.timeout", "domain.dns-error", "domain.check-failed") for f in report.findings)
    return time.perf_counter() - started, errors


def _checkdmarc(names: list[str], port: int) -> float:
    import dns.nameserver
    from checkdmarc import utils as checkdmarc_utils
    from checkdmarc.bimi import check_bimi
    from checkdmarc.dmarc import check_dmarc
    from checkdmarc.dnssec import check_dnssec
    from checkdmarc.mta_sts import check_mta_sts
    from checkdmarc.smtp import check_mx
    from checkdmarc.smtp_tls_reporting import check_smtp_tls_reporting
    from checkdmarc.spf import check_spf

    checkdmarc_utils.DNS_CACHE.clear()
    nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", port)]
    started = time.perf_counter()
    for name in names:
        check_spf(name, nameservers=nameservers, timeout=5.0)
        check_dmarc(name, nameservers=nameservers, timeout=5.0)
        check_mx(name, nameservers=nameservers, timeout=5.0)
        # The DNS checks that match zegel check's transport checks (no HTTPS, no SMTP).
        for extra in (check_mta_sts, check_smtp_tls_reporting, check_bimi, check_dnssec):
            # A peer's failure on one domain must not stop the run.
            with contextlib.suppress(Exception):
                extra(name, nameservers=nameservers, timeout=5.0)  # type: ignore[operator]
    return time.perf_counter() - started


def _serve(records: dict[str, list[tuple[str, Any]]], pipe: Connection) -> None:
    """The test DNS server in its own process: a real resolver is not in the client's process,
    and a server thread would share the client's interpreter lock."""
    server = TestDnsServer(records, delay=DELAY).start_in_thread()
    pipe.send(server.port)
    pipe.recv()  # until asked for the count
    pipe.send(server.stats.queries)
    pipe.recv()  # until told to stop
    server.stop_thread()


PROBES = 20


def _self_signed(directory: str) -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.bench.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_path, key_path = f"{directory}/cert.pem", f"{directory}/key.pem"
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path


def _probe_row() -> Row:
    """The opt-in STARTTLS probe (--smtp), measured on its own: one MX, an aiosmtpd server with
    STARTTLS on loopback. checkdmarc's STARTTLS test connects only to port 25 of the real host,
    so it cannot be pointed at a test server; no peer figure."""
    import logging
    import socket
    import ssl
    import tempfile

    from aiosmtpd.controller import Controller

    # The probe's deliberately old handshakes fail on the server side; that is not news.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)

    from zegel.audit.net import Endpoints
    from zegel.audit.starttls import SmtpProber

    with tempfile.TemporaryDirectory() as directory:
        cert, key = _self_signed(directory)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        controller = Controller(object(), hostname="127.0.0.1", port=port, tls_context=context,
                                require_starttls=False)
        controller.start()
        try:
            prober = SmtpProber(Endpoints(None, {("mx.bench.example", 25): ("127.0.0.1", port)}), timeout=10)

            async def probes() -> float:
                started = time.perf_counter()
                for _ in range(PROBES):
                    result = await prober.probe("mx.bench.example")
                    if not result.starttls:
                        raise RuntimeError(f"probe failed: {result.error}")
                return time.perf_counter() - started

            seconds = asyncio.run(probes())
        finally:
            controller.stop()
    return Row(AREA, "STARTTLS probe (--smtp), one MX", "ms", seconds / PROBES * 1000, higher_is_better=False,
               note=f"{PROBES} probes on loopback (aiosmtpd with STARTTLS), 4 TLS connections each: "
                    "negotiated, verified, TLS 1.0/1.1, weak ciphers")


def run() -> list[Row]:
    names, records = build(DOMAINS)
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve, args=(records, theirs), daemon=True)
    process.start()
    try:
        port = int(ours.recv())
        zegel_seconds, failed = asyncio.run(_zegel(names, f"127.0.0.1:{port}"))
        ours.send("count")
        queries = int(ours.recv())
        # The sample: the first PEER_SAMPLE domains, so every shape is equally represented.
        peer_seconds = _checkdmarc(names[:PEER_SAMPLE], port)
        ours.send("stop")
    finally:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
    zegel_rate = len(names) / zegel_seconds
    peer_rate = PEER_SAMPLE / peer_seconds
    note = (f"{DOMAINS} domains, {DELAY * 1000:.0f} ms/answer, concurrency {CONCURRENCY}, "
            f"{queries / len(names):.1f} queries/domain incl. DKIM probe, MTA-STS, TLS-RPT, BIMI, DNSSEC, "
            f"DANE, MX CNAME/IPv6/reverse DNS; checkdmarc SPF+DMARC+MX+MTA-STS+TLS-RPT+BIMI+DNSSEC "
            f"on {PEER_SAMPLE} of them")
    if failed:
        note += f"; {failed} domains failed"
    return [Row(AREA, "full audit, bulk", "domains/s", zegel_rate, "checkdmarc", peer_rate, note=note), _probe_row()]


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
