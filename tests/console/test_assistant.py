"""The MCP endpoint over real HTTP (uvicorn on loopback, the mcp SDK's own client): tools
answer for the bearer of a console token, under the same per-domain access as the API."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from argon2 import PasswordHasher
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.monitor.conftest import add_report, record
from zegel.accounts import Accounts, open_accounts
from zegel.assistant import Services, tools
from zegel.assistant.server import asgi_app, build_server
from zegel.dns import Resolver
from zegel.monitor import Monitor, Watch, open_monitor
from zegel.monitor.dashboard import prepare
from zegel.reports.store import open_store

NOW = 1_790_100_000
ZONE = {
    "shop.example": [("TXT", "v=spf1 ip4:192.0.2.10 -all")],
    "_dmarc.shop.example": [("TXT", "v=DMARC1; p=quarantine; rua=mailto:d@shop.example")],
    "bakery.example": [("TXT", "v=spf1 -all")],
}


class Server:
    def __init__(self, app: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.server.started

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def setup(tmp_path: Path, dns_server: Callable[..., Any]) -> Iterator[tuple[Services, Accounts, str]]:
    server = dns_server(ZONE, default_ttl=0)
    resolver = Resolver([server.address], timeout=1.0)
    reports = prepare(open_store(None, tmp_path))
    add_report(reports, "shop.example", "r1", NOW - 86400, [
        record("192.0.2.10", 90, dkim=("shop.example", "pass"), spf=("shop.example", "pass"),
               envelope_from="shop.example", dkim_eval="pass", spf_eval="pass"),
        record("198.51.100.7", 10, dkim=("esp.example", "pass"), envelope_from="esp.example")])
    add_report(reports, "bakery.example", "b1", NOW - 86400, [record("192.0.2.99", 5)])
    monitor_store = open_monitor(None, tmp_path)
    for domain in ("shop.example", "bakery.example"):
        monitor_store.add(Watch(domain, interval=3600))
    asyncio.run(Monitor(monitor_store, resolver, clock=lambda: NOW).run_due())
    accounts = open_accounts(None, tmp_path, hasher=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    accounts.add_user("alice", "correct horse battery", domains=["shop.example"])
    token = accounts.create_token("alice")
    services = Services(resolver, reports, monitor_store, clock=lambda: NOW)
    yield services, accounts, token
    for closable in (accounts, monitor_store, reports):
        closable.close()


async def _call(url: str, token: str | None, name: str, arguments: dict[str, Any]) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=20) as http, \
            streamable_http_client(url, http_client=http) as (read, write, *_), \
            ClientSession(read, write) as session:
        await session.initialize()
        listed = {tool.name for tool in (await session.list_tools()).tools}
        assert {"check", "explain", "reports_summary", "monitoring_history", "domains"} <= listed
        result = await session.call_tool(name, arguments)
        return json.loads(result.content[0].text)  # type: ignore[union-attr]


def test_mcp_tools_over_http_with_access_rules(setup: tuple[Services, Accounts, str]) -> None:
    services, accounts, token = setup
    mcp = build_server(services, accounts)
    http = Server(asgi_app(mcp, allowed_hosts=[]))
    url = f"http://127.0.0.1:{http.port}/mcp"
    try:
        checked = asyncio.run(_call(url, token, "check", {"domain": "shop.example"}))
        assert checked["domain"] == "shop.example" and checked["grade"] in "ABCDF"
        summary = asyncio.run(_call(url, token, "reports_summary", {"domain": "shop.example", "since": "7d"}))
        expected = asyncio.run(tools.reports_summary(services, accounts.identity("alice"), "shop.example", "7d"))  # type: ignore[arg-type]
        assert summary == json.loads(json.dumps(expected)) and summary["messages"] == 100
        history = asyncio.run(_call(url, token, "monitoring_history", {"domain": "shop.example"}))
        assert history["domain"] == "shop.example" and len(history["runs"]) == 1
        listed = asyncio.run(_call(url, token, "domains", {}))
        assert listed["domains"] == ["shop.example"] and [w["domain"] for w in listed["watched"]] == ["shop.example"]
        explained = asyncio.run(_call(url, token, "explain", {"message": "From: a@shop.example\r\nSubject: x\r\n\r\n"}))
        assert isinstance(explained, dict) and explained
        # Another customer's domain: the same answer as a domain that does not exist.
        for tool, args in (("check", {"domain": "bakery.example"}),
                           ("reports_summary", {"domain": "bakery.example"}),
                           ("monitoring_history", {"domain": "bakery.example"})):
            assert asyncio.run(_call(url, token, tool, args)) == {"error": "no access to bakery.example"}
        assert asyncio.run(_call(url, token, "check", {"domain": "nowhere.example"})) == {
            "error": "no access to nowhere.example"}
        # Without a valid token the endpoint refuses before any tool runs.
        for bad in (None, "zgl_not-a-real-token"):
            response = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                                   headers={"Authorization": f"Bearer {bad}"} if bad else {})
            assert response.status_code == 401
    finally:
        http.close()
