"""The extension point another route group (the owner's console) builds on."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.web.conftest import demo_settings
from zegel.web import Extension, NavItem, WebContext, create_app, web_context
from zegel.web.security import check_csrf

TEMPLATES = Path(__file__).resolve().parent / "ext_templates"


async def page(request: Request) -> Response:
    return web_context(request).render(request, "console/page.html", {"nav": "console"})


async def save(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    return PlainTextResponse("saved " + str(web_context(request).state["console-started"]))


class Gate:
    """A stand-in login gate: /console needs the header X-Test-User."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guarded = scope["type"] == "http" and scope["path"].startswith("/console")
        if guarded and not any(name == b"x-test-user" for name, _ in scope["headers"]):
            await PlainTextResponse("login first", status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def started(ctx: WebContext) -> None:
    ctx.state["console-started"] = True


def test_extension_adds_routes_templates_nav_texts_and_middleware(tmp_path: Path) -> None:
    console = Extension(
        name="console",
        routes=[Route("/console", page), Route("/console/save", save, methods=["POST"])],
        templates=TEMPLATES,
        nav=[NavItem("/console", "nav.console", "console")],
        messages={"nav.console": {"en": "Console", "nl": "Beheer"}, "console.title": {"en": "Owner's console", "nl": "Beheeromgeving"}},
        middleware=[Middleware(Gate)],
        openapi_paths={"/api/console/reports": {"get": {"summary": "reports"}}},
        startup=started,
        context=lambda request: {"user": request.headers.get("x-test-user", "")},
    )
    app = create_app(demo_settings(tmp_path, smtp_listen=None), extensions=[console])
    with TestClient(app) as client:
        assert client.get("/console").status_code == 401
        response = client.get("/console?lang=nl", headers={"x-test-user": "owner"})
        assert response.status_code == 200
        assert '<html lang="nl">' in response.text and "Beheeromgeving" in response.text
        assert 'href="/console?lang=nl" aria-current="page">Beheer</a>' in response.text
        assert '<span class="user" id="user">owner</span>' in response.text
        assert "script-src 'self'" in response.headers["content-security-policy"]
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', response.text).group(1)
        assert client.post("/console/save", data={}, headers={"x-test-user": "owner"}).status_code == 403
        saved = client.post("/console/save", data={"csrf_token": token}, headers={"x-test-user": "owner"})
        assert saved.text == "saved True"
        # The built-in pages list the extension's navigation too.
        assert 'href="/console">Console</a>' in client.get("/check").text
        assert "/api/console/reports" in client.get("/api/openapi.json").json()["paths"]


def test_zegel_web_loads_listed_extension_modules(tmp_path: Path) -> None:
    import importlib.machinery
    import sys
    import types

    from zegel.web.extensions import load_extensions

    module = types.ModuleType("zegel_test_console")
    module.__spec__ = importlib.machinery.ModuleSpec("zegel_test_console", None)
    module.extension = lambda settings: Extension(name="console", nav=[NavItem("/console", "Console")])  # type: ignore[attr-defined]
    sys.modules["zegel_test_console"] = module
    try:
        settings = demo_settings(tmp_path, smtp_listen=None)
        loaded = load_extensions(settings, ["zegel_test_console", "zegel.not_installed_anywhere"])
        assert [extension.name for extension in loaded] == ["console"]
    finally:
        del sys.modules["zegel_test_console"]


async def upload(request: Request) -> Response:
    return PlainTextResponse(f"got {len(await request.body())}")


def test_extension_routes_set_their_own_body_limits(tmp_path: Path) -> None:
    """docs/web.md: zegel.web.security.limit_body (the app's 413) and Starlette's
    Route(max_body_size=N) both set a route's limit, above or below the app's default."""
    from zegel.web.security import limit_body

    settings = demo_settings(tmp_path, smtp_listen=None)
    default = settings.limits.body
    big = 4 * default
    uploads = Extension(name="uploads", routes=[
        Route("/uploads/ours", limit_body(upload, big), methods=["POST"]),
        Route("/uploads/starlette", upload, methods=["POST"], max_body_size=big),
        Route("/uploads/small", limit_body(upload, 100), methods=["POST"]),
        Route("/uploads/default", upload, methods=["POST"]),
    ])
    with TestClient(create_app(settings, extensions=[uploads])) as client:
        for path in ("/uploads/ours", "/uploads/starlette"):
            assert client.post(path, content=b"x" * big).text == f"got {big}"
            assert client.post(path, content=b"x" * (big + 1)).status_code == 413
        assert client.post("/uploads/default", content=b"x" * default).text == f"got {default}"
        refused = client.post("/uploads/default", content=b"x" * (default + 1))
        assert refused.status_code == 413 and "text/html" in refused.headers["content-type"]
        assert "What you sent is too large." in refused.text
        assert client.post("/uploads/small", content=b"x" * 100).text == "got 100"
        assert client.post("/uploads/small", content=b"x" * 101).status_code == 413
