"""The ASGI application: ``create_app(settings, extensions=...)``.

Extension point (see docs/web.md): an :class:`Extension` brings its own routes, a template
directory searched before the built-in one (so it can extend ``base.html`` or override any
template), navigation entries, interface texts in both languages, middleware, OpenAPI paths
and start/stop hooks that receive the :class:`WebContext`. Handlers reach the shared services
with ``web_context(request)`` and render pages with ``ctx.render(request, name, context)``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Scope, Send

from zegel.audit.reasons import translate_reason
from zegel.dns import Resolver
from zegel.dns.records import NodeMap, merge, nodes_from_zone_file
from zegel.explain.lookalike import LookalikeDetector
from zegel.web.i18n import MESSAGES, Catalog, Lang, choose_lang
from zegel.web.security import (
    CSRF_FIELD,
    BodyLimitMiddleware,
    BodyTooLarge,
    RateLimited,
    RateLimiter,
    SecurityMiddleware,
    client_ip,
    csrf_token,
)
from zegel.web.settings import Settings
from zegel.web.store import WebStore

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
log = logging.getLogger("zegel.web")


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link in the main navigation: ``label`` is a catalogue key (add it with the extension's
    ``messages``) or a literal text."""

    path: str
    label: str
    name: str = ""  # marks the item current when a page passes ``nav=name``


@dataclass(frozen=True)
class Extension:
    """A group of pages added to the app (the owner's console, for example)."""

    name: str
    routes: Sequence[BaseRoute] = ()
    templates: Path | None = None
    nav: Sequence[NavItem] = ()
    messages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    middleware: Sequence[Middleware] = ()
    openapi_paths: Mapping[str, Any] = field(default_factory=dict)
    startup: Callable[[WebContext], Awaitable[None]] | None = None
    shutdown: Callable[[WebContext], Awaitable[None]] | None = None
    # Adds values to every page's template context (e.g. the signed-in user for the header).
    context: Callable[[Request], Mapping[str, Any]] | None = None


class WebContext:
    """Everything the handlers share: settings, the resolver, the store, templates, limits."""

    def __init__(self, settings: Settings, extensions: Sequence[Extension], store: WebStore | None) -> None:
        self.settings = settings
        self.extensions = tuple(extensions)
        self.secret = settings.effective_secret()
        self.base_nodes: NodeMap = {}
        for path in settings.zones:
            merge(self.base_nodes, nodes_from_zone_file(path))
        self.resolver = Resolver(list(settings.nameservers) or None, timeout=settings.dns_timeout,
                                 lifetime=max(settings.dns_timeout * 2, settings.dns_timeout + 1),
                                 zone_nodes=self.base_nodes, offline=settings.offline)
        self.store = store if store is not None else WebStore.open(settings.db_url, settings.data_dir)
        self.catalog = Catalog(MESSAGES)
        # Built once: it indexes the well-known domains and loads the Public Suffix List.
        self.detector = LookalikeDetector()
        loaders: list[jinja2.BaseLoader] = []
        for extension in self.extensions:
            self.catalog.add(extension.messages)
            if extension.templates is not None:
                loaders.append(jinja2.FileSystemLoader(str(extension.templates)))
        loaders.append(jinja2.FileSystemLoader(str(TEMPLATES)))
        self.env = jinja2.Environment(loader=jinja2.ChoiceLoader(loaders), autoescape=True,
                                      trim_blocks=True, lstrip_blocks=True)
        self.nav: list[NavItem] = [
            NavItem("/check", "nav.check", "check"), NavItem("/explain", "nav.explain", "explain"),
            NavItem("/tester", "nav.tester", "tester"), NavItem("/tools", "nav.tools", "tools"),
        ]
        for extension in self.extensions:
            self.nav.extend(extension.nav)
        self.demo_domains = demo_domains(self.base_nodes) if settings.offline else []
        self.limiter = RateLimiter()
        self.started = time.time()
        self.state: dict[str, Any] = {}  # services added by the app itself and by extensions
        self.static_version = str(int(max((p.stat().st_mtime for p in STATIC.iterdir()), default=0)))

    # -- helpers for handlers -------------------------------------------------------------

    def draft_resolver(self, nodes: NodeMap) -> Resolver:
        """The configured zones plus ``nodes`` in the overlay (``--zone`` semantics)."""
        merged: NodeMap = {}
        merge(merged, self.base_nodes)
        merge(merged, nodes)
        settings = self.settings
        return Resolver(list(settings.nameservers) or None, timeout=settings.dns_timeout,
                        lifetime=max(settings.dns_timeout * 2, settings.dns_timeout + 1),
                        zone_nodes=merged, offline=settings.offline, cache_size=2000)

    def limit(self, request: Request, bucket: str, per_minute: int) -> None:
        """Count one request of ``bucket`` for the client's IP; 429 when over its rate."""
        wait = self.limiter.allow(bucket, client_ip(request), per_minute)
        if wait:
            raise RateLimited(wait)

    def text(self, lang: str, key: str, **params: object) -> str:
        return self.catalog.text(lang, key, **params)

    def page_context(self, request: Request) -> dict[str, Any]:
        lang, explicit = choose_lang(request)

        def url(path: str, **params: object) -> str:
            query = {k: str(v) for k, v in params.items() if v is not None and v != ""}
            if explicit and "lang" not in query:
                query["lang"] = lang
            return path + ("?" + urlencode(query) if query else "")

        def switch(to: Lang) -> str:
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
            query.append(("lang", to))
            return request.url.path + "?" + urlencode(query)

        def t(key: str, **params: object) -> str:
            return self.catalog.text(lang, key, **params)

        return {
            "request": request, "lang": lang, "lang_explicit": explicit, "t": t, "url": url,
            "switch_lang": switch, "csrf_token": csrf_token(request), "csrf_field_name": CSRF_FIELD,
            "nav_items": self.nav, "site_name": self.settings.site_name,
            "static": lambda name: f"/static/{name}?v={self.static_version}",
            # A package's English reason (a probe error, say) in the page's language.
            "reason": lambda text: translate_reason(str(text), lang),
        }

    def render(self, request: Request, name: str, context: Mapping[str, Any] | None = None,
               status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
        values = self.page_context(request)
        for extension in self.extensions:
            if extension.context is not None:
                values.update(extension.context(request))
        if context:
            values.update(context)
        html = self.env.get_template(name).render(values)
        response = HTMLResponse(html, status_code=status, headers=dict(headers or {}))
        response.headers["vary"] = "Accept-Language"
        return response


def demo_domains(nodes: NodeMap, limit: int = 8) -> list[str]:
    """Domains in the configured zones that publish a DMARC record: offered as examples when
    the app runs offline on demo data."""
    names = {owner.to_text(omit_final_dot=True).lower() for owner in nodes}
    return sorted(name.removeprefix("_dmarc.") for name in names if name.startswith("_dmarc."))[:limit]


def web_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.zegel
    return context


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if _wants_json(request):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=headers)
    ctx = web_context(request)
    key = f"error.{exc.status_code}"
    lang, _ = choose_lang(request)
    message = ctx.text(lang, key) if key in ctx.catalog else str(exc.detail)
    return ctx.render(request, "error.html", {"status": exc.status_code, "message": message},
                      status=exc.status_code, headers=headers)


async def _refuse_body(scope: Scope, send: Send, exc: BodyTooLarge) -> None:
    response = await _http_error(Request(scope), exc)
    await response(scope, _nothing_to_receive, send)


async def _nothing_to_receive() -> Message:
    return {"type": "http.disconnect"}


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s: %s: %s", request.url.path, type(exc).__name__, exc)
    if _wants_json(request):
        return JSONResponse({"error": "internal error"}, status_code=500)
    return HTMLResponse("<!DOCTYPE html><html lang=en><title>Error</title><p>Internal error.</p></html>",
                        status_code=500)


def create_app(settings: Settings | None = None, *, extensions: Sequence[Extension] = (),
               store: WebStore | None = None) -> Starlette:
    """The zegel web app. ``extensions`` add route groups (docs/web.md, "Extending the app")."""
    from zegel.web import routes

    settings = settings or Settings()
    ctx = WebContext(settings, extensions, store)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        from zegel.web.smtp import start_receiver

        receiver = None
        if settings.smtp_listen is not None:
            receiver = await start_receiver(ctx, *settings.smtp_listen)
            ctx.state["smtp"] = receiver
        for extension in ctx.extensions:
            if extension.startup is not None:
                await extension.startup(ctx)
        try:
            yield
        finally:
            for extension in reversed(ctx.extensions):
                if extension.shutdown is not None:
                    await extension.shutdown(ctx)
            if receiver is not None:
                receiver.close()
                await receiver.wait_closed()
            await routes.stop_background(ctx)
            if store is None:  # ours to close; a store passed in belongs to the caller
                ctx.store.close()

    all_routes: list[BaseRoute] = [*routes.routes(ctx)]
    for extension in ctx.extensions:
        all_routes.extend(extension.routes)
    all_routes.append(Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"))
    # The body limit sits inside the security headers, so a 413 carries them like any page.
    middleware = [Middleware(SecurityMiddleware, secret=ctx.secret),
                  Middleware(BodyLimitMiddleware, limit=settings.limits.body, refuse=_refuse_body)]
    for extension in ctx.extensions:
        middleware.extend(extension.middleware)
    app = Starlette(routes=all_routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.state.zegel = ctx
    return app


__all__ = ["Extension", "NavItem", "WebContext", "create_app", "web_context"]
