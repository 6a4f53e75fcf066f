"""Console rules without a browser: webhook targets, post-login redirects, watch entries from
forms, and the trusted proxy header over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.conftest import ZONE, start_console
from tests.monitor.conftest import MailReceiver, WebhookReceiver
from zegel.accounts import Identity, open_accounts
from zegel.assistant import Services
from zegel.dns import Resolver
from zegel.web.console.routes import _internal_host, _safe_next, _watch_from


def test_webhooks_to_the_servers_own_network_are_refused() -> None:
    for url in ("http://127.0.0.1:8080/x", "http://localhost/x", "http://10.1.2.3/", "http://[::1]/",
                "http://169.254.169.254/latest/meta-data", "http://intranet/", "https://printer.local/"):
        assert _internal_host(url), url
    for url in ("https://hooks.example.com/zegel", "https://93.184.216.34/hook"):
        assert not _internal_host(url), url
    alice = Identity("alice", False, frozenset({"shop.example"}))
    services = Services(Resolver(offline=True), clock=lambda: 1_790_000_000)
    with pytest.raises(ValueError, match="public address"):
        _watch_from(alice, {"domain": "shop.example", "webhook": "http://127.0.0.1:9/"}, services)
    watch = _watch_from(alice, {"domain": "Shop.Example.", "webhook": "https://hooks.example.com/z",
                                "emails": "a@shop.example, b@shop.example", "every": "1h", "threshold": "80"},
                        services)
    assert (watch.domain, watch.interval, watch.emails, watch.pass_threshold) == (
        "shop.example", 3600, ("a@shop.example", "b@shop.example"), 0.8)
    with pytest.raises(ValueError, match="no access"):
        _watch_from(alice, {"domain": "bakery.example"}, services)
    with pytest.raises(ValueError):
        _watch_from(alice, {"domain": "shop.example", "emails": "not-an-address"}, services)


def test_after_login_only_console_pages() -> None:
    assert _safe_next("/console/domain/shop.example?since=7d") == "/console/domain/shop.example?since=7d"
    for bad in ("https://evil.example/", "//evil.example/console", "/console//evil", "/\\evil", "/elsewhere"):
        assert _safe_next(bad) == "/console"


def test_trusted_proxy_header(tmp_path: Path, dns_server: Callable[..., Any], mail_receiver: MailReceiver,
                              webhook: WebhookReceiver) -> None:
    console = start_console(tmp_path, None, dns_server(ZONE, default_ttl=0), mail_receiver, webhook,
                            proxy_header="X-Remote-User")
    try:
        accounts = open_accounts(None, tmp_path)
        accounts.add_user("sso-alice", None, domains=["shop.example"])
        accounts.close()
        page = httpx.get(console.url + "/console/domain/shop.example", headers={"X-Remote-User": "sso-alice"})
        assert page.status_code == 200 and "bounce.mcsv.example" in page.text
        assert httpx.get(console.url + "/console/domain/bakery.example",
                         headers={"X-Remote-User": "sso-alice"}).status_code == 404
        stranger = httpx.get(console.url + "/console", headers={"X-Remote-User": "stranger"})
        assert stranger.status_code == 303 and "/console/login" in stranger.headers["location"]
        assert httpx.get(console.url + "/console").status_code == 303
    finally:
        console.stop()
