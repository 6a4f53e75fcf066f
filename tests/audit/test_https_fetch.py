"""MTA-STS policies and BIMI logos fetched from a real HTTPS server on loopback, with a test CA
made here; the client reaches it through Endpoints overrides (--connect-to)."""

from __future__ import annotations

import asyncio
import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from zegel.audit import CheckOptions, audit_domain
from zegel.audit.net import Endpoints, HttpsFetcher
from zegel.dns import Resolver, nodes_from_zone_text

from .tls_helpers import make_certificates

HOSTS = ["mta-sts.enf.example", "mta-sts.tst.example", "mta-sts.typ.example", "mta-sts.bad.example",
         "mta-sts.none.example", "mta-sts.big.example", "logo.example"]
SVG_OK = (b'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 1 1">'
          b"<title>Logo</title></svg>")
PAGES: dict[tuple[str, str], tuple[int, str, bytes]] = {
    ("mta-sts.enf.example", "/.well-known/mta-sts.txt"):
        (200, "text/plain", b"version: STSv1\r\nmode: enforce\r\nmx: mx.enf.example\r\nmax_age: 1209600\r\n"),
    ("mta-sts.tst.example", "/.well-known/mta-sts.txt"):
        (200, "text/plain; charset=utf-8", b"version: STSv1\nmode: testing\nmx: other.example\nmax_age: 3600\n"),
    ("mta-sts.typ.example", "/.well-known/mta-sts.txt"):
        (200, "text/html", b"version: STSv1\nmode: testing\nmx: *.typ.example\nmax_age: 1209600\n"),
    ("mta-sts.bad.example", "/.well-known/mta-sts.txt"): (200, "text/plain", b"version: STSv2\nmode: on\n"),
    ("mta-sts.none.example", "/.well-known/mta-sts.txt"):
        (200, "text/plain", b"version: STSv1\nmode: none\nmax_age: 86400\n"),
    ("mta-sts.big.example", "/.well-known/mta-sts.txt"): (200, "text/plain", b"x" * 70_000),
    ("logo.example", "/ok.svg"): (200, "image/svg+xml", SVG_OK),
    ("logo.example", "/bad.svg"): (200, "image/svg+xml", b"<svg><script>x</script></svg>"),
}


def _zone() -> str:
    lines = []
    for name in ("enf", "tst", "typ", "bad", "none", "big", "gone"):
        lines += [f'{name}.example. 300 IN TXT "v=spf1 -all"', f"{name}.example. 300 IN MX 10 mx.{name}.example.",
                  f"mx.{name}.example. 300 IN A 192.0.2.1", f'_mta-sts.{name}.example. 300 IN TXT "v=STSv1; id=1"']
    lines += ['_dmarc.logo.example. 300 IN TXT "v=DMARC1; p=reject"', 'logo.example. 300 IN TXT "v=spf1 -all"',
              "logo.example. 300 IN MX 10 mx.enf.example.",
              'default._bimi.logo.example. 300 IN TXT "v=BIMI1; l=https://logo.example/ok.svg; a=https://logo.example/a.pem"',
              'bad-logo.example. 300 IN TXT "v=spf1 -all"', "bad-logo.example. 300 IN MX 10 mx.enf.example.",
              'default._bimi.bad-logo.example. 300 IN TXT "v=BIMI1; l=https://logo.example/bad.svg"',
              'lost-logo.example. 300 IN TXT "v=spf1 -all"', "lost-logo.example. 300 IN MX 10 mx.enf.example.",
              'default._bimi.lost-logo.example. 300 IN TXT "v=BIMI1; l=https://logo.example/missing.svg"']
    return "\n".join(lines) + "\n"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        host = (self.headers.get("Host") or "").split(":")[0]
        status, content_type, body = PAGES.get((host, self.path), (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def https_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    ca, cert, key = make_certificates(tmp_path_factory.mktemp("https"), HOSTS)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1]), ca
    server.shutdown()
    server.server_close()


def _audit(domain: str, port: int, cafile: str | None) -> set[str]:
    overrides = {(h, 443): ("127.0.0.1", port) for h in HOSTS}
    # mta-sts.gone.example: a port where nothing listens
    overrides[("mta-sts.gone.example", 443)] = ("127.0.0.1", 1)
    fetcher = HttpsFetcher(Endpoints(None, overrides), cafile=cafile, timeout=5)
    resolver = Resolver(zone_nodes=nodes_from_zone_text(_zone()), offline=True)
    report = asyncio.run(audit_domain(domain, resolver, CheckOptions(fetcher=fetcher)))
    return {f.code for f in report.findings}


def test_enforced_policy_covers_mx(https_server) -> None:
    port, ca = https_server
    assert "mta-sts.enforce" in _audit("enf.example", port, str(ca))


def test_testing_policy_short_max_age_uncovered_mx(https_server) -> None:
    port, ca = https_server
    codes = _audit("tst.example", port, str(ca))
    assert {"mta-sts.testing", "mta-sts.max-age-short", "mta-sts.mx-not-covered"} <= codes


def test_wrong_content_type_bad_syntax_none_and_too_large(https_server) -> None:
    port, ca = https_server
    assert "mta-sts.content-type" in _audit("typ.example", port, str(ca))
    assert "mta-sts.policy-syntax" in _audit("bad.example", port, str(ca))
    assert "mta-sts.mode-none" in _audit("none.example", port, str(ca))
    assert "mta-sts.policy-too-large" in _audit("big.example", port, str(ca))


def test_untrusted_certificate_and_unreachable_server(https_server) -> None:
    port, _ = https_server
    assert "mta-sts.fetch-failed" in _audit("enf.example", port, None)  # test CA not trusted
    assert "mta-sts.fetch-failed" in _audit("gone.example", port, None)


def test_ssl_cert_file_is_honoured(https_server, monkeypatch: pytest.MonkeyPatch) -> None:
    port, ca = https_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    assert "mta-sts.enforce" in _audit("enf.example", port, None)


def test_bimi_logo(https_server) -> None:
    port, ca = https_server
    assert "bimi.svg-ok" in _audit("logo.example", port, str(ca))
    bad = _audit("bad-logo.example", port, str(ca))
    assert {"bimi.svg-invalid", "bimi.dmarc-not-enforced"} <= bad
    assert "bimi.logo-fetch-failed" in _audit("lost-logo.example", port, str(ca))
