"""The STARTTLS probe and DANE against real Postfix instances on loopback (one with STARTTLS and
a certificate from a test CA, one without), reached through Endpoints overrides."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from tests.conftest import require_tool
from tests.milter.postfix_harness import PostfixInstance

from zegel.audit import CheckOptions, audit_domain
from zegel.audit.dane import tlsa_record
from zegel.audit.net import Endpoints
from zegel.audit.starttls import SmtpProber
from zegel.dns import Resolver, nodes_from_zone_text

from .tls_helpers import make_certificates

HOST = "mx.pf.example"


class _TlsPostfix(PostfixInstance):
    """The milter tests' Postfix, plus the tlsmgr service STARTTLS needs."""

    def configure(self) -> None:
        super().configure()
        with open(self.config_dir / "master.cf", "a", encoding="ascii") as handle:
            handle.write("tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n")


@pytest.fixture(scope="module")
def postfixes() -> Iterator[tuple[PostfixInstance, PostfixInstance, str, bytes]]:
    require_tool("postfix")
    with_tls = _TlsPostfix(milter=None, domains=("pf.example",), process_limit=10)
    ca, cert, key = make_certificates(with_tls.root, [HOST])
    os.chmod(key, 0o644)  # read by smtpd as the postfix user; a throw-away test key
    with_tls.settings.update({"smtpd_tls_security_level": "may", "smtpd_tls_cert_file": str(cert),
                              "smtpd_tls_key_file": str(key), "smtpd_tls_protocols": ">=TLSv1.2",
                              "smtpd_tls_mandatory_protocols": ">=TLSv1.2"})
    plain = PostfixInstance(milter=None, domains=("pf.example",), process_limit=10,
                            settings={"smtpd_tls_security_level": "none"})
    der = x509.load_pem_x509_certificate(cert.read_bytes()).public_bytes(Encoding.DER)
    with_tls.start()
    try:
        plain.start()
        try:
            yield with_tls, plain, str(ca), der
        finally:
            plain.stop()
    finally:
        with_tls.stop()


def _audit(port: int, tlsa: str, cafile: str | None) -> set[str]:
    zone = (f'pf.example. 300 IN TXT "v=spf1 -all"\npf.example. 300 IN MX 10 {HOST}.\n{HOST}. 300 IN A 127.0.0.1\n'
            + (f"_25._tcp.{HOST}. 300 IN TLSA {tlsa}\n" if tlsa else ""))
    resolver = Resolver(zone_nodes=nodes_from_zone_text(zone), offline=True)
    prober = SmtpProber(Endpoints(None, {(HOST, 25): ("127.0.0.1", port)}), cafile=cafile, timeout=15)
    report = asyncio.run(audit_domain("pf.example", resolver, CheckOptions(prober=prober)))
    assert report.to_json()["smtp"][0]["host"] == HOST
    return {f.code for f in report.findings}


def test_starttls_with_a_trusted_certificate_and_matching_tlsa(postfixes) -> None:
    with_tls, _, ca, der = postfixes
    codes = _audit(with_tls.smtp_port, tlsa_record(der), ca)
    assert {"starttls.ok", "dane.match"} <= codes
    assert not any(c.startswith("starttls.") and c != "starttls.ok" for c in codes)


def test_tlsa_that_does_not_match(postfixes) -> None:
    with_tls, _, ca, _ = postfixes
    codes = _audit(with_tls.smtp_port, "3 1 1 " + "00" * 32, ca)
    assert "dane.mismatch" in codes


def test_untrusted_certificate_without_dane(postfixes) -> None:
    with_tls, _, _, _ = postfixes
    assert "starttls.cert-invalid" in _audit(with_tls.smtp_port, "", None)


def test_no_starttls_and_no_server(postfixes) -> None:
    _, plain, ca, _ = postfixes
    assert "starttls.not-offered" in _audit(plain.smtp_port, "", ca)
    assert "starttls.failed" in _audit(1, "", ca)


def test_cli_smtp_with_connect_to(postfixes, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from click.testing import CliRunner

    from zegel.cli import cli

    with_tls, _, ca, der = postfixes
    zone = tmp_path / "draft.zone"
    zone.write_text(f'pf.example. 300 IN TXT "v=spf1 -all"\npf.example. 300 IN MX 10 {HOST}.\n'
                    f"{HOST}. 300 IN A 127.0.0.1\n_25._tcp.{HOST}. 300 IN TLSA {tlsa_record(der)}\n")
    result = CliRunner().invoke(cli, ["check", "pf.example", "--zone", str(zone), "--offline", "--json", "--smtp",
                                      "--connect-to", f"{HOST}:25:127.0.0.1:{with_tls.smtp_port}", "--cafile", ca])
    data = json.loads(result.stdout)
    assert data["smtp"][0]["starttls"] is True and data["smtp"][0]["version"] in ("TLSv1.2", "TLSv1.3")
    assert {"starttls.ok", "dane.match"} <= {f["code"] for f in data["findings"]}
