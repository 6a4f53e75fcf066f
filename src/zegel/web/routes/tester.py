"""Mail tester: a unique address, zegel's own SMTP receiver, and the report when mail arrives."""

from __future__ import annotations

import datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from zegel.web.app import WebContext, web_context
from zegel.web.i18n import choose_lang
from zegel.web.security import check_csrf
from zegel.web.service import tester_api_result
from zegel.web.smtp import TESTER_PREFIX
from zegel.web.store import new_id


def _enabled(ctx: WebContext) -> bool:
    return ctx.settings.smtp_listen is not None


async def create_tester(ctx: WebContext, request: Request) -> tuple[str, str]:
    if not _enabled(ctx):
        raise HTTPException(503, "the mail tester is not enabled on this server (zegel web --smtp)")
    ctx.limit(request, "tester", ctx.settings.limits.testers_per_minute)
    key = new_id(8)
    address = f"{TESTER_PREFIX}{key}@{ctx.settings.effective_mail_domain()}"
    await ctx.store.put("tester", {"address": address, "result": None}, ctx.settings.limits.tester_ttl,
                        status="waiting", item_id=key)
    return key, address


async def tester_page(request: Request) -> Response:
    ctx = web_context(request)
    return ctx.render(request, "tester.html", {"nav": "tester", "enabled": _enabled(ctx)})


async def tester_start(request: Request) -> Response:
    ctx = web_context(request)
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(request, form)
    key, _ = await create_tester(ctx, request)
    query = f"?lang={request.query_params['lang']}" if "lang" in request.query_params else ""
    return RedirectResponse(f"/tester/{key}{query}", status_code=303)


def _when(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%H:%M UTC")


async def tester_result_page(request: Request) -> Response:
    ctx = web_context(request)
    lang, _ = choose_lang(request)
    item = await ctx.store.get("tester", request.path_params["id"])
    if item is None:
        raise HTTPException(404)
    values: dict[str, Any] = {"nav": "tester", "item": item, "address": item.data["address"],
                              "expires": _when(item.expires), "done": item.status == "done"}
    if item.status == "done":
        values["result"] = tester_api_result(item.data["result"], lang)
    else:
        values["refresh"] = "3"
    return ctx.render(request, "tester_result.html", values)


async def api_tester_create(request: Request) -> Response:
    key, address = await create_tester(web_context(request), request)
    return JSONResponse({"id": key, "address": address})


async def api_tester_get(request: Request) -> Response:
    ctx = web_context(request)
    lang, _ = choose_lang(request)
    item = await ctx.store.get("tester", request.path_params["id"])
    if item is None:
        raise HTTPException(404, "unknown or expired tester id")
    if item.status != "done":
        return JSONResponse({"status": "waiting", "result": None})
    return JSONResponse({"status": "done", "result": tester_api_result(item.data["result"], lang)})


def routes(ctx: WebContext) -> list[BaseRoute]:
    return [
        Route("/tester", tester_page, methods=["GET"], name="tester"),
        Route("/tester", tester_start, methods=["POST"], name="tester_start"),
        Route("/tester/{id}", tester_result_page, methods=["GET"], name="tester_result"),
        Route("/api/tester", api_tester_create, methods=["POST"], name="api_tester"),
        Route("/api/tester/{id}", api_tester_get, methods=["GET"], name="api_tester_get"),
    ]
