"""The owner's console: a route group for ``zegel web`` (docs/console.md).

Reports dashboard per domain, monitoring pages, login, and the JSON API
(``GET /api/reports/summary``, ``/api/monitor``) plus the MCP endpoint at ``/assistant/mcp``.
Handlers only read the request and call zegel.monitor (queries, watch list), zegel.accounts
(who may see what) and zegel.assistant (the tools the API and MCP share).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import Receive, Scope, Send

from zegel.monitor import Mailer
from zegel.web.app import Extension, NavItem, WebContext
from zegel.web.console import routes
from zegel.web.console.auth import ConsoleAuth
from zegel.web.console.texts import MESSAGES
from zegel.web.settings import Settings

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ConsoleConfig:
    """How the console authenticates and alerts. ``proxy_header`` (e.g. ``X-Remote-User``)
    is believed only from ``trusted_proxies``; ``secure_cookies`` None means: when the request
    came over https."""

    proxy_header: str | None = None
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    secure_cookies: bool | None = None
    mailer: Mailer | None = None
    clock: Callable[[], float] = time.time
    hasher: PasswordHasher | None = None
    base_url: str = "http://127.0.0.1:8080"
    # Webhooks to loopback, private or link-local addresses would let a customer make the server
    # call internal services; only an operator who runs hooks there turns this on.
    allow_private_webhooks: bool = False


def console_extension(config: ConsoleConfig | None = None) -> Extension:
    """The console as an :class:`zegel.web.Extension` for ``create_app(..., extensions=[...])``."""
    config = config or ConsoleConfig()
    shared: dict[str, Any] = {"config": config}

    async def startup(ctx: WebContext) -> None:
        from zegel.accounts import open_accounts
        from zegel.assistant import Services
        from zegel.assistant.server import asgi_app, build_server
        from zegel.monitor import open_monitor
        from zegel.monitor.dashboard import prepare
        from zegel.reports.store import open_store

        settings = ctx.settings
        accounts = open_accounts(settings.db_url, settings.data_dir, clock=config.clock, hasher=config.hasher)
        reports = prepare(open_store(settings.db_url, settings.data_dir))
        monitor = open_monitor(settings.db_url, settings.data_dir)
        services = Services(ctx.resolver, reports, monitor, clock=config.clock, detector=ctx.detector)
        assistant = build_server(services, accounts, base_url=config.base_url)
        stack = contextlib.AsyncExitStack()
        shared.update(accounts=accounts, reports=reports, monitor=monitor, services=services,
                      mcp_app=asgi_app(assistant, allowed_hosts=[]), stack=stack)
        await stack.enter_async_context(assistant.session_manager.run())
        ctx.state["console"] = shared

    async def shutdown(ctx: WebContext) -> None:
        stack = shared.get("stack")
        if isinstance(stack, contextlib.AsyncExitStack):
            await stack.aclose()
        for name in ("accounts", "reports", "monitor"):
            item = shared.pop(name, None)
            if item is not None:
                item.close()

    async def assistant_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        await shared["mcp_app"](scope, receive, send)

    return Extension(
        name="console",
        routes=[*routes.routes(), Mount("/assistant", app=assistant_endpoint, name="assistant")],
        templates=HERE / "templates",
        nav=[NavItem("/console", "nav.console", "console")],
        messages=MESSAGES,
        middleware=[Middleware(ConsoleAuth, state=shared, proxy_header=config.proxy_header,
                               trusted_proxies=config.trusted_proxies)],
        openapi_paths=routes.OPENAPI,
        startup=startup,
        shutdown=shutdown,
        context=routes.page_values,
    )


def extension(settings: Settings) -> Extension:
    """The console for ``zegel web`` (listed in zegel.web.extensions.EXTENSION_MODULES)."""
    import os
    from dataclasses import replace

    from zegel.cli.console import console_config

    config = console_config()
    if config.proxy_header is None and os.environ.get("ZEGEL_WEB_USER_HEADER"):
        config = replace(config, proxy_header=os.environ["ZEGEL_WEB_USER_HEADER"])
    if os.environ.get("ZEGEL_WEB_PRIVATE_WEBHOOKS") == "1":
        config = replace(config, allow_private_webhooks=True)
    return console_extension(config)


__all__ = ["ConsoleConfig", "console_extension", "extension"]
