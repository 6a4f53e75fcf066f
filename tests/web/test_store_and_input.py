"""The web store on SQLite and PostgreSQL, and hostile input on every entry point."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import require_tool
from tests.web.conftest import WebServer, demo_settings
from tests.web.test_http import csrf
from zegel.dns import Resolver, Status
from zegel.web import create_app
from zegel.web.security import RateLimiter
from zegel.web.service import CHECK_QUERY_BUDGET, BoundedResolver
from zegel.web.store import WebStore


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    from tests.reports.conftest import PgCluster

    pg_ctl = Path(require_tool("pg_ctl", "postgresql"))
    cluster = PgCluster(pg_ctl.parent)
    cluster.start()
    try:
        # A plain postgresql:// URL, as an operator gives it to --db.
        yield cluster.new_database().replace("postgresql+psycopg://", "postgresql://")
    finally:
        cluster.destroy()


def _exercise(store: WebStore, clock: list[float]) -> None:
    key = store.put_sync("check", {"domain": "example.nl", "nul": "a\x00b", "tekst": "één"}, ttl=60)
    item = store.get_sync("check", key)
    assert item is not None and item.data["tekst"] == "één" and item.data["nul"] == "a\x00b"
    assert store.get_sync("explain", key) is None  # kinds are separate
    assert store.get_sync("check", "x" * 100) is None
    tester = store.put_sync("tester", {"result": None}, ttl=60, status="waiting", item_id="abcdefgh")
    assert store.update_sync("tester", tester, {"result": 1}, status="done", only_if_status="waiting")
    assert not store.update_sync("tester", tester, {"result": 2}, status="done", only_if_status="waiting")
    assert store.get_sync("tester", tester).data == {"result": 1}  # type: ignore[union-attr]
    clock[0] += 61
    assert store.get_sync("check", key) is None  # expired


def test_store_sqlite(tmp_path: Path) -> None:
    clock = [1000.0]
    store = WebStore.open(None, tmp_path)
    store.clock = lambda: clock[0]
    _exercise(store, clock)
    store.close()


def test_store_postgresql_and_app(pg_url: str, tmp_path: Path) -> None:
    clock = [1000.0]
    store = WebStore.open(pg_url, None)
    store.clock = lambda: clock[0]
    _exercise(store, clock)
    store.close()
    app = create_app(demo_settings(tmp_path, smtp_listen=None, db_url=pg_url))
    with TestClient(app) as client:
        page = client.get("/check", params={"domain": "geparkeerd.example"})
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token is not None
        saved = client.post("/check/save", data={"csrf_token": token.group(1), "domain": "geparkeerd.example"},
                            follow_redirects=False)
        assert saved.status_code == 303
        assert 'data-grade="A"' in client.get(saved.headers["location"]).text


def test_bounded_resolver_stops_asking() -> None:
    resolver = BoundedResolver(Resolver(offline=True), budget=2)

    async def ask() -> list[Status]:
        return [(await resolver.txt(f"n{i}.example")).status for i in range(4)]

    assert asyncio.run(ask()) == [Status.NXDOMAIN, Status.NXDOMAIN, Status.TEMPFAIL, Status.TEMPFAIL]


def test_rate_limiter_refills_and_stays_bounded() -> None:
    now = [0.0]
    limiter = RateLimiter(max_clients=3, clock=lambda: now[0])
    assert [limiter.allow("check", "a", 2) for _ in range(3)][:2] == [0.0, 0.0]
    assert limiter.allow("check", "a", 2) > 0
    now[0] += 30  # one token back at 2 per minute
    assert limiter.allow("check", "a", 2) == 0.0
    for client in "bcdef":
        limiter.allow("check", client, 2)
    assert len(limiter._buckets) == 3


HOSTILE = [
    b"",
    b"\x00\xff\xfe" * 1000,
    b"Authentication-Results: " + b"a;" * 50_000 + b"\r\n\r\n",
    b"From: " + b"<" * 20_000 + b"\r\n\r\n",
    b"Authentication-Results: x; dmarc=pass header.from=\xff\xfe.example\r\nFrom: a@\xe9\xe9n.example\r\n\r\n",
    (b"From: info@xn--rabbank-2za.nl\r\nAuthentication-Results: mx; dmarc=fail\r\n\r\n"),
]


@pytest.mark.parametrize("body", HOSTILE)
def test_hostile_messages_get_a_defined_answer(web_server: WebServer, body: bytes) -> None:
    with httpx.Client(base_url=web_server.url, timeout=20) as client:
        api = client.post("/api/explain", content=body)
        assert api.status_code in (200, 400)
        if api.status_code == 200:
            assert set(api.json()) >= {"from_domain", "authenticated", "hops", "lookalike"}
        token = csrf(client, "/explain")
        page = client.post("/explain", data={"csrf_token": token}, files={"file": ("x.eml", body, "message/rfc822")})
        assert page.status_code in (200, 400)
        assert "<html" in page.text


@pytest.mark.parametrize("domain", ["", " ", "a" * 300, "exa mple.nl", "-x.example", "192.0.2.1", "x@y.nl",
                                    "\u0000.nl", "xn--zz.nl", "..", "ex\u00e4mple.example", "%41.nl"])
def test_hostile_domains(web_server: WebServer, domain: str) -> None:
    with httpx.Client(base_url=web_server.url, timeout=20) as client:
        page = client.get("/check", params={"domain": domain})
        assert page.status_code in (200, 400)
        api = client.get("/api/check", params={"domain": domain})
        assert api.status_code in (200, 400)
        if api.status_code == 200:
            assert set(api.json()) >= {"domain", "grade", "protected", "findings"}


@pytest.mark.parametrize("zone", ["$INCLUDE /etc/passwd", "$GENERATE 1-100000 a$ A 192.0.2.1", "@ IN TXT (",
                                  "x 300 IN BOGUS 1", "@ 300 IN TXT \"" + "a" * 400 + "\""])
def test_hostile_draft_zone(web_server: WebServer, zone: str) -> None:
    with httpx.Client(base_url=web_server.url, timeout=20) as client:
        token = csrf(client)
        response = client.post("/check", data={"csrf_token": token, "domain": "bakkerij.example", "draft_zone": zone})
        assert response.status_code in (303, 400)
        if response.status_code == 400:
            assert "could not be read" in response.text
        if zone.startswith("$"):
            assert response.status_code == 400 and "is not allowed in a draft" in response.text


def test_hostile_bulk_list(web_server: WebServer) -> None:
    with httpx.Client(base_url=web_server.url, timeout=20) as client:
        token = csrf(client)
        response = client.post("/check/bulk", data={"csrf_token": token},
                               files={"list": ("x.bin", b"\x00\xff" * 5000 + b"\n" * 10, "application/octet-stream")})
        assert response.status_code in (303, 400)


def test_smtp_receiver_refuses_too_many_connections(tmp_path: Path) -> None:
    import smtplib
    import socket

    from tests.web.conftest import start_server
    from zegel.web import Limits

    server = start_server(demo_settings(tmp_path, limits=Limits(smtp_connections=2)))
    try:
        first, second = (smtplib.SMTP(*server.smtp, timeout=10) for _ in range(2))
        with socket.create_connection(server.smtp, timeout=10) as third:
            assert third.recv(200).startswith(b"421 ")
        first.quit()
        second.quit()
        with smtplib.SMTP(*server.smtp, timeout=10) as again:
            assert again.noop()[0] == 250
    finally:
        server.stop()


def test_live_dns_through_dns_option(dns_server: object, tmp_path: Path) -> None:
    """--dns: the checks ask that server; a draft overlays it for one check only; the query
    count per check is bounded even when a record points at hundreds of names."""
    from zegel.web import Settings

    includes = " ".join(f"include:s{i}.loop.example" for i in range(9))
    records = {
        "dns.example": [("TXT", "v=spf1 ip4:192.0.2.1 -all")],
        "_dmarc.dns.example": [("TXT", "v=DMARC1; p=reject")],
        "loop.example": [("TXT", f"v=spf1 {includes} -all")],
        **{f"s{i}.loop.example": [("TXT", f"v=spf1 {includes} -all")] for i in range(9)},
    }
    server = dns_server(records)  # type: ignore[operator]
    settings = Settings(nameservers=(server.address,), data_dir=tmp_path, secret="t")
    with TestClient(create_app(settings)) as client:
        live = client.get("/api/check", params={"domain": "dns.example"}).json()
        assert live["grade"] in "AB" and live["protected"] is True
        before = server.stats.queries
        looping = client.get("/api/check", params={"domain": "loop.example"})
        assert looping.status_code == 200
        assert any(f["code"].startswith("spf.") for f in looping.json()["findings"])
        # 9 includes of 9 includes each, all the way down: the walk and the budget stop it.
        assert server.stats.queries - before <= CHECK_QUERY_BUDGET
