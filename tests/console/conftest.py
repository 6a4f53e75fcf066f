"""A real zegel web server with the console (uvicorn in a thread on a free loopback port),
DNS from the loopback test server, reports and accounts in a throw-away database."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from argon2 import PasswordHasher

from tests.monitor.conftest import (  # noqa: F401 (fixtures)
    DAY,
    Clock,
    MailReceiver,
    WebhookReceiver,
    add_report,
    mail_receiver,
    record,
    webhook,
)
from tests.reports.conftest import PgCluster, pg_cluster  # noqa: F401 (fixture)
from zegel.accounts import open_accounts
from zegel.dns.testserver import TestDnsServer
from zegel.monitor import Mailer
from zegel.reports.store import open_store
from zegel.web import Settings, WebContext, create_app
from zegel.web.console import ConsoleConfig, console_extension

START = 1_790_035_200  # a UTC midnight
FAST = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
PASSWORDS = {"alice": "alice's long password", "bob": "bob's long password", "root": "root's long password"}
ZONE = {
    "shop.example": [("TXT", "v=spf1 ip4:192.0.2.10 -all"), ("MX", (10, "mail.shop.example"))],
    "mail.shop.example": [("A", "192.0.2.10")],
    "_dmarc.shop.example": [("TXT", "v=DMARC1; p=none; rua=mailto:dmarc@shop.example")],
    "bakery.example": [("TXT", "v=spf1 -all")],
    "_dmarc.bakery.example": [("TXT", "v=DMARC1; p=reject")],
}


@dataclass
class Console:
    url: str
    data_dir: Path
    db_url: str | None
    dns: TestDnsServer
    clock: Clock
    tokens: dict[str, str]
    mail: MailReceiver
    hook: WebhookReceiver
    ctx: WebContext
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def seed(db_url: str | None, data_dir: Path) -> dict[str, str]:
    """Reports for two customers' domains and three users; returns an API token per user."""
    reports = open_store(db_url, data_dir)
    own = record("192.0.2.10", 900, dkim=("shop.example", "pass"), spf=("shop.example", "pass"),
                 envelope_from="shop.example", dkim_eval="pass", spf_eval="pass")
    esp = record("198.51.100.7", 120, dkim=("mcsv.example", "pass"), spf=("bounce.mcsv.example", "pass"),
                 envelope_from="bounce.mcsv.example")
    add_report(reports, "shop.example", "a1", START, [own, esp, record("203.0.113.66", 15)], org="Reporter A")
    add_report(reports, "shop.example", "b1", START + DAY, [own], org="Reporter B")
    add_report(reports, "bakery.example", "k1", START, [record("192.0.2.99", 40, envelope_from="secret-esp.example",
                                                               spf=("secret-esp.example", "pass"))], org="Reporter A")
    reports.close()
    accounts = open_accounts(db_url, data_dir, hasher=FAST)
    accounts.add_user("alice", PASSWORDS["alice"], domains=["shop.example"])
    accounts.add_user("bob", PASSWORDS["bob"], domains=["bakery.example"])
    accounts.add_user("root", PASSWORDS["root"], admin=True)
    tokens = {name: accounts.create_token(name) for name in PASSWORDS}
    accounts.close()
    return tokens


def start_console(data_dir: Path, db_url: str | None, dns: TestDnsServer, mail: MailReceiver,
                  hook: WebhookReceiver, *, proxy_header: str | None = None) -> Console:
    tokens = seed(db_url, data_dir)
    clock = Clock(START + 2 * DAY)
    config = ConsoleConfig(mailer=Mailer("127.0.0.1", mail.port, "console@zegel.test"), clock=clock, hasher=FAST,
                           allow_private_webhooks=True,  # the test's webhook receiver is on loopback
                           proxy_header=proxy_header)
    settings = Settings(nameservers=(dns.address,), dns_timeout=1.0, data_dir=data_dir, db_url=db_url,
                        secret="console-test")
    app = create_app(settings, extensions=[console_extension(config)])
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("console test server did not start")
        time.sleep(0.02)
    return Console(f"http://127.0.0.1:{sock.getsockname()[1]}", data_dir, db_url, dns, clock, tokens, mail, hook,
                   app.state.zegel, server, thread)


@pytest.fixture
def console(tmp_path: Path, dns_server: Callable[..., Any], mail_receiver: MailReceiver,  # noqa: F811
            webhook: WebhookReceiver) -> Iterator[Console]:  # noqa: F811
    running = start_console(tmp_path, None, dns_server(ZONE, default_ttl=0), mail_receiver, webhook)
    yield running
    running.stop()
