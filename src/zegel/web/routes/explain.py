"""Header analyzer: paste headers or upload an .eml; ``zegel explain``'s verdict first, then the
hops and look-alikes. Nothing is stored unless the user asks for a link."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from zegel.web.app import WebContext, web_context
from zegel.web.i18n import choose_lang
from zegel.web.security import check_csrf, limit_body
from zegel.web.service import explain_message_async

MAX_TRUST = 255
MAX_SAMPLES = 50


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"


def samples(ctx: WebContext) -> list[str]:
    folder = ctx.settings.demo_messages
    if folder is None or not folder.is_dir():
        return []
    return sorted(p.name for p in folder.glob("*.eml"))[:MAX_SAMPLES]


def _sample_text(ctx: WebContext, name: str) -> str:
    folder = ctx.settings.demo_messages
    if folder is None or name not in samples(ctx):
        return ""
    path = Path(folder) / name
    return path.read_bytes()[: ctx.settings.limits.explain_body].decode("utf-8", "replace")


def _trusted(value: str) -> tuple[str, ...]:
    return tuple(part for part in value[:MAX_TRUST].replace(",", " ").split() if part)


def _values(ctx: WebContext, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"nav": "explain", "text": "", "trust": "", "error": None,
                              "samples": samples(ctx), "limit": _size(ctx.settings.limits.explain_body)}
    values.update(extra)
    return values


async def explain_page(request: Request) -> Response:
    ctx = web_context(request)
    sample = request.query_params.get("sample", "")
    return ctx.render(request, "explain.html", _values(ctx, text=_sample_text(ctx, sample) if sample else ""))


async def explain_post(request: Request) -> Response:
    ctx = web_context(request)
    lang, _ = choose_lang(request)
    limit = ctx.settings.limits.explain_body
    form = await request.form(max_files=1, max_fields=10, max_part_size=limit)
    check_csrf(request, form)
    text = form.get("message")
    upload = form.get("file")
    trust = str(form.get("trust") or "")
    message = b""
    if isinstance(upload, UploadFile) and upload.filename:
        message = await upload.read(limit + 1)
    if not message and isinstance(text, str):
        message = text.encode("utf-8", "surrogateescape")
    message = message[:limit]
    if not message.strip():
        return ctx.render(request, "explain.html",
                          _values(ctx, trust=trust, error=ctx.text(lang, "explain.error.empty")), status=400)
    ctx.limit(request, "explain", ctx.settings.limits.explains_per_minute)
    result = await explain_message_async(message, lang=lang, trusted_ids=_trusted(trust),
                                          detector=ctx.detector)
    if form.get("save") == "yes":
        other = "nl" if lang == "en" else "en"
        results = {lang: result, other: await explain_message_async(message, lang=other, trusted_ids=_trusted(trust),
                                                                    detector=ctx.detector)}
        key = await ctx.store.put("explain", {"results": results}, ctx.settings.limits.shared_ttl)
        query = f"?lang={request.query_params['lang']}" if "lang" in request.query_params else ""
        return RedirectResponse(f"/explain/r/{key}{query}", status_code=303)
    shown = text if isinstance(text, str) and not (isinstance(upload, UploadFile) and upload.filename) else ""
    return ctx.render(request, "explain.html", _values(ctx, text=shown, trust=trust, result=result))


async def explain_shared(request: Request) -> Response:
    ctx = web_context(request)
    item = await ctx.store.get("explain", request.path_params["id"])
    if item is None:
        raise HTTPException(404)
    when = datetime.datetime.fromtimestamp(item.created, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = item.data.get("results") or {}
    result = results.get(choose_lang(request)[0]) or next(iter(results.values()), None)
    if result is None:
        raise HTTPException(404)
    return ctx.render(request, "explain.html", _values(ctx, result=result, share_id=item.id, saved_at=when))


def routes(ctx: WebContext) -> list[BaseRoute]:
    limit = ctx.settings.limits.explain_body
    return [
        Route("/explain", explain_page, methods=["GET"], name="explain"),
        Route("/explain", limit_body(explain_post, limit + 64 * 1024), methods=["POST"], name="explain_post"),
        Route("/explain/r/{id}", explain_shared, methods=["GET"], name="explain_shared"),
    ]
