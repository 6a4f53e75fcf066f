"""A real zegel web server (uvicorn in a thread, on a pre-bound random loopback port) with the
mail tester's SMTP receiver, answering DNS from the shipped demo zones, offline."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import uvicorn

from zegel.web import Limits, Settings, WebContext, create_app

REPO = Path(__file__).resolve().parents[2]
DEMO_ZONES = (str(REPO / "demo" / "zones" / "check.zone"), str(REPO / "demo" / "zones" / "sample.zone"))
DEMO_MESSAGES = REPO / "demo" / "messages"
MAIL_DOMAIN = "zegel.test"


@dataclass
class WebServer:
    url: str
    smtp: tuple[str, int]
    ctx: WebContext
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def demo_settings(data_dir: Path, **changes: object) -> Settings:
    settings = Settings(zones=DEMO_ZONES, offline=True, data_dir=data_dir, smtp_listen=("127.0.0.1", 0),
                        mail_domain=MAIL_DOMAIN, authserv_id="mx.zegel.test", demo_messages=DEMO_MESSAGES,
                        secret="test-secret",
                        limits=Limits(checks_per_minute=10_000, explains_per_minute=10_000,
                                      tools_per_minute=10_000, testers_per_minute=10_000))
    return replace(settings, **changes)  # type: ignore[arg-type]


def start_server(settings: Settings) -> WebServer:
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # asyncio sets TCP_NODELAY
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    thread = threading.Thread(target=run, name="zegel-web-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("zegel web test server did not start")
        time.sleep(0.02)
    ctx: WebContext = app.state.zegel
    smtp = ctx.state.get("smtp_address", ("127.0.0.1", 0))
    return WebServer(f"http://127.0.0.1:{port}", smtp, ctx, server, thread)


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebServer]:
    server = start_server(demo_settings(tmp_path_factory.mktemp("web-data")))
    yield server
    server.stop()
