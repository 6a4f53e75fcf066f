"""DNSSEC judged through a real validating resolver: zones signed with ldns-signzone, served by
Knot on loopback, validated by unbound on loopback (trust anchors configured for the signed
zones). Covers secure, insecure and bogus, the chain shown, and DANE on a signed MX host."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import require_tool

from zegel.audit import CheckOptions, audit_domain
from zegel.dns import Resolver

TLSA = "3 1 1 " + "ab" * 32


def _free_port() -> int:
    """A port free for both TCP and UDP on loopback."""
    while True:
        with socket.socket() as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = int(tcp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port


def _zone(name: str, extra: str = "") -> str:
    return (f"$ORIGIN {name}.\n$TTL 300\n@ IN SOA ns.{name}. host.{name}. 1 3600 600 86400 300\n"
            f"@ IN NS ns.{name}.\nns IN A 127.0.0.1\n@ IN MX 10 mx.{name}.\nmx IN A 192.0.2.53\n"
            f'@ IN TXT "v=spf1 -all"\n_dmarc IN TXT "v=DMARC1; p=reject"\n{extra}')


def _keygen(directory: Path, name: str) -> str:
    """A fresh key-signing key; returns the base name of its files."""
    return subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", name], cwd=directory,
                          capture_output=True, text=True, check=True).stdout.strip()


def _sign(directory: Path, name: str, key: str) -> None:
    subprocess.run(["ldns-signzone", "-o", name, f"{name}.zone", key], cwd=directory, check=True,
                   capture_output=True)


def _dnskey(directory: Path, key: str) -> str:
    return (directory / f"{key}.key").read_text().strip()


def _wait(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    import dns.message
    import dns.query

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(Exception):
            dns.query.udp(dns.message.make_query("sec.example.", "SOA"), "127.0.0.1", port=port, timeout=0.5)
            return
        time.sleep(0.1)
    raise TimeoutError("DNS server did not answer")


@pytest.fixture(scope="module")
def validating_resolver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    knotd = require_tool("knotd", "knot")
    unbound = require_tool("unbound")
    require_tool("ldns-signzone", "ldnsutils")
    directory = tmp_path_factory.mktemp("dnssec")
    (directory / "sec.example.zone").write_text(_zone("sec.example", f"_25._tcp.mx IN TLSA {TLSA}\n"))
    (directory / "bogus.example.zone").write_text(_zone("bogus.example"))
    (directory / "insec.example.zone").write_text(_zone("insec.example"))
    sec_key = _keygen(directory, "sec.example")
    _sign(directory, "sec.example", sec_key)
    # bogus.example is signed with one key while the trust anchor names another
    signing_key, anchored_key = _keygen(directory, "bogus.example"), _keygen(directory, "bogus.example")
    _sign(directory, "bogus.example", signing_key)
    anchors = [_dnskey(directory, sec_key), _dnskey(directory, anchored_key)]
    knot_port, unbound_port = _free_port(), _free_port()
    (directory / "knot.conf").write_text(
        f"server:\n  listen: 127.0.0.1@{knot_port}\n  rundir: {directory}\n"
        f"database:\n  storage: {directory}\n"
        "zone:\n" + "".join(
            f"  - domain: {z}\n    file: {directory}/{z}.zone{'.signed' if z != 'insec.example' else ''}\n"
            for z in ("sec.example", "bogus.example", "insec.example")))
    knot_log = directory / "knot.log"
    knot = subprocess.Popen([knotd, "-c", str(directory / "knot.conf")], stdout=knot_log.open("wb"),
                            stderr=subprocess.STDOUT)
    stubs = "".join(f"stub-zone:\n  name: {z}\n  stub-addr: 127.0.0.1@{knot_port}\n"
                    for z in ("sec.example", "bogus.example", "insec.example"))
    (directory / "unbound.conf").write_text(
        f"server:\n  interface: 127.0.0.1\n  port: {unbound_port}\n  do-daemonize: no\n  username: \"\"\n"
        f"  chroot: \"\"\n  directory: \"{directory}\"\n  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n"
        "  do-not-query-localhost: no\n  qname-minimisation: no\n  module-config: \"validator iterator\"\n"
        "  access-control: 127.0.0.0/8 allow\n  do-ip6: no\n"
        + "".join(f'  trust-anchor: "{a}"\n' for a in anchors)
        + "  domain-insecure: insec.example\n" + stubs)
    unbound_log = directory / "unbound.log"
    resolver_proc = subprocess.Popen([unbound, "-d", "-c", str(directory / "unbound.conf")],
                                     stdout=unbound_log.open("wb"), stderr=subprocess.STDOUT)
    try:
        _wait(knot_port, knot, knot_log)
        _wait(unbound_port, resolver_proc, unbound_log)
        yield f"127.0.0.1:{unbound_port}"
    finally:
        for proc in (resolver_proc, knot):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


def _audit(domain: str, address: str):  # type: ignore[no-untyped-def]
    resolver = Resolver([address], timeout=3, lifetime=6)
    return asyncio.run(audit_domain(domain, resolver, CheckOptions(fetch=False)))


def test_secure_zone_with_chain_and_dane(validating_resolver: str) -> None:
    report = _audit("sec.example", validating_resolver)
    codes = {f.code for f in report.findings}
    assert {"dnssec.secure", "dnssec.mx-secure", "dane.ok"} <= codes
    chain = report.to_json()["dnssec"]["chain"]
    assert any(" DNSKEY 257 3 13 " in line for line in chain)
    assert any("RRSIG SOA alg 13" in line for line in chain)


def test_unsigned_zone_is_insecure(validating_resolver: str) -> None:
    codes = {f.code for f in _audit("insec.example", validating_resolver).findings}
    assert {"dnssec.insecure", "dnssec.mx-insecure", "dane.none-unsigned"} <= codes


def test_wrong_trust_anchor_is_bogus(validating_resolver: str) -> None:
    report = _audit("bogus.example", validating_resolver)
    codes = {f.code for f in report.findings}
    assert report.to_json()["dnssec"]["state"] == "bogus"
    assert "dnssec.bogus" in codes and report.grade in ("C", "D", "F")
