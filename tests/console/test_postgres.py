"""The console on a throw-away PostgreSQL cluster with several users at once: each signs in,
opens their dashboard (the first pages race to build the rollup), uses the API with their
token, and is refused the other customers' domains."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.console.conftest import PASSWORDS, start_console
from tests.monitor.conftest import MailReceiver, WebhookReceiver
from tests.reports.conftest import PgCluster
from zegel.accounts import open_accounts


def _sign_in(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=20, follow_redirects=True)
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    response = client.post("/console/login", data={"name": name, "password": PASSWORDS[name],
                                                   "csrf_token": token.group(1), "next": "/console"})
    assert response.status_code == 200 and str(response.url).endswith("/console")
    return client


def test_console_multi_user_on_postgresql(tmp_path: Path, pg_cluster: PgCluster, dns_server: Callable[..., Any],
                                          mail_receiver: MailReceiver, webhook: WebhookReceiver) -> None:
    from tests.console.conftest import ZONE

    url = pg_cluster.new_database()
    console = start_console(tmp_path, url, dns_server(ZONE, default_ttl=0), mail_receiver, webhook)
    own = {"alice": "shop.example", "bob": "bakery.example"}
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def user(name: str) -> None:
        try:
            client = _sign_in(console.url, name)
            with contextlib.closing(client):
                mine, other = own[name], own["bob" if name == "alice" else "alice"]
                dashboard = client.get(f"/console/domain/{mine}?format=json&since=30d")
                assert dashboard.status_code == 200
                assert client.get(f"/console/domain/{other}").status_code == 404
                api = httpx.get(f"{console.url}/api/reports/summary?domain={mine}&since=30d",
                                headers={"Authorization": f"Bearer {console.tokens[name]}"})
                refused = httpx.get(f"{console.url}/api/reports/summary?domain={other}&since=30d",
                                    headers={"Authorization": f"Bearer {console.tokens[name]}"})
                assert refused.status_code == 404
                results[name] = (dashboard.json(), api.json())
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    try:
        threads = [threading.Thread(target=user, args=(name,)) for name in ("alice", "bob") for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        alice_dashboard, alice_summary = results["alice"]
        assert sum(p["messages"] for p in alice_dashboard["timeline"]) == 1035 + 900  # each report counted once
        assert {s["name"] for s in alice_dashboard["senders"]} == {"shop.example", "bounce.mcsv.example",
                                                                   "203.0.113.66"}
        assert alice_summary["messages"] == 1935 and alice_summary["domain"] == "shop.example"
        bob_dashboard, bob_summary = results["bob"]
        assert [s["name"] for s in bob_dashboard["senders"]] == ["secret-esp.example"]
        assert bob_summary["messages"] == 40
        # The root administrator sees both; the audit log has every sign-in.
        root = _sign_in(console.url, "root")
        with contextlib.closing(root):
            assert root.get("/console/domain/shop.example").status_code == 200
            assert root.get("/console/domain/bakery.example").status_code == 200
            assert "login.ok" in root.get("/console/audit").text
        accounts = open_accounts(url, tmp_path)
        logins = [e.actor for e in accounts.audit_log(1000) if e.action == "login.ok"]
        accounts.close()
        assert sorted(logins) == ["alice"] * 3 + ["bob"] * 3 + ["root"]
    finally:
        console.stop()
