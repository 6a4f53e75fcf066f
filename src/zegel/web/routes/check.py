"""Domain check pages: one domain (live or with draft records), shared results, bulk checks."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from zegel.audit import CheckOptions, check_domains
from zegel.dns import ZoneError
from zegel.web.app import WebContext, web_context
from zegel.web.i18n import choose_lang
from zegel.web.security import check_csrf, limit_body
from zegel.web.service import (
    BoundedResolver,
    CheckRequest,
    Draft,
    check_view,
    parse_check_request,
    run_check,
)
from zegel.web.store import new_id
from zegel.web.svg import limit_bar, tree_picture

MAX_BULK_KEPT = 32  # finished bulk checks kept in memory (oldest dropped first)
BULK_TTL = 3600.0


def _when(stamp: float) -> str:
    return datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def result_context(view: dict[str, Any]) -> dict[str, Any]:
    """Template values for one result: the stored view plus the SVG geometry."""
    tree = view.get("spf_tree")
    picture = tree_picture(tree) if tree else None
    bar = limit_bar(int(tree["lookups"]), int(view.get("lookup_limit", 10))) if tree else None
    findings = view["json"].get("findings", [])
    return {"view": view, "report": view["json"], "findings": findings, "tree": picture, "bar": bar}


def _lang(request: Request) -> str:
    return choose_lang(request)[0]


async def _check(ctx: WebContext, check: CheckRequest, lang: str) -> dict[str, Any]:
    report = await run_check(check, ctx.resolver, lang=lang, domain_timeout=ctx.settings.limits.check_timeout,
                             draft_resolver=ctx.draft_resolver)
    view = check_view(report)
    view["selector"] = check.selector or ""
    view["draft"] = check.draft.as_dict() if check.draft else None
    view["checked_at"] = time.time()
    return view


async def _check_and_store(ctx: WebContext, check: CheckRequest, lang: str) -> str:
    """Check, and keep the result under a new link (only on a POST: a crawler following GET
    links never fills the database), in both languages so the link reads in either one."""
    if check.draft:
        # One resolver with the draft overlay for both runs: the second is answered from its cache.
        resolver = ctx.draft_resolver(check.draft.nodes(check.domain, check.selector))
        plain = CheckRequest(check.domain, check.selector)
    else:
        resolver, plain = ctx.resolver, check
    views = {}
    for view_lang in (lang, "nl" if lang == "en" else "en"):
        report = await run_check(plain, resolver, lang=view_lang, domain_timeout=ctx.settings.limits.check_timeout)
        view = check_view(report)
        view["selector"] = check.selector or ""
        view["draft"] = check.draft.as_dict() if check.draft else None
        views[view_lang] = view
    return await ctx.store.put("check", {"views": views}, ctx.settings.limits.shared_ttl)


def _lang_query(request: Request) -> str:
    return f"?lang={request.query_params['lang']}" if "lang" in request.query_params else ""


async def check_page(request: Request) -> Response:
    """GET /check: the form; with ?domain= the result of a live check (a bookmarkable URL)."""
    ctx = web_context(request)
    lang = _lang(request)
    domain = request.query_params.get("domain", "").strip()
    selector = request.query_params.get("selector", "").strip()
    values: dict[str, Any] = {"nav": "check", "domain": domain, "selector": selector, "draft": Draft(),
                              "error": None, "max_bulk": ctx.settings.limits.bulk_domains}
    if not domain:
        return ctx.render(request, "check.html", values)
    try:
        check = parse_check_request(domain, selector)
    except ValueError as exc:
        values["error"] = _input_error(ctx, lang, domain, selector, exc)
        return ctx.render(request, "check.html", values, status=400)
    ctx.limit(request, "check", ctx.settings.limits.checks_per_minute)
    view = await _check(ctx, check, lang)
    values.update(result_context(view))
    return ctx.render(request, "check.html", values)


async def check_save(request: Request) -> Response:
    """POST /check/save: keep the result of a (published-records) check under a link."""
    ctx = web_context(request)
    lang = _lang(request)
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(request, form)
    try:
        check = parse_check_request(str(form.get("domain") or ""), str(form.get("selector") or ""))
    except ValueError:
        raise HTTPException(400, ctx.text(lang, "check.error.domain")) from None
    ctx.limit(request, "check", ctx.settings.limits.checks_per_minute)
    key = await _check_and_store(ctx, check, lang)
    return RedirectResponse(f"/check/r/{key}{_lang_query(request)}", status_code=303)


def _domain_ok(domain: str) -> bool:
    try:
        parse_check_request(domain, None)
    except ValueError:
        return False
    return True


def _input_error(ctx: WebContext, lang: str, domain: str, selector: str, exc: ValueError) -> str:
    """What is wrong with the form's domain or selector, with the reason zegel.audit gives."""
    if selector and _domain_ok(domain):
        return ctx.text(lang, "check.error.selector")
    return f"{ctx.text(lang, 'check.error.domain')} ({exc})"


async def check_draft(request: Request) -> Response:
    """POST /check: a check with draft records (CSRF-protected form), then the stored result."""
    ctx = web_context(request)
    lang = _lang(request)
    form = await request.form(max_files=0, max_fields=20, max_part_size=ctx.settings.limits.draft_bytes)
    check_csrf(request, form)
    domain = str(form.get("domain") or "").strip()
    selector = str(form.get("selector") or "").strip()
    draft = Draft.from_form(form)
    values: dict[str, Any] = {"nav": "check", "domain": domain, "selector": selector, "draft": draft,
                              "error": None, "max_bulk": ctx.settings.limits.bulk_domains}
    try:
        check = parse_check_request(domain, selector, draft)
        if draft.size() > ctx.settings.limits.draft_bytes:
            raise ZoneError("too long")
        if draft:
            draft.nodes(check.domain, check.selector)  # reject unreadable drafts with the reason
    except ZoneError as exc:
        values["error"] = ctx.text(lang, "check.error.draft", reason=str(exc))
        return ctx.render(request, "check.html", values, status=400)
    except ValueError as exc:
        values["error"] = _input_error(ctx, lang, domain, selector, exc)
        return ctx.render(request, "check.html", values, status=400)
    ctx.limit(request, "check", ctx.settings.limits.checks_per_minute)
    key = await _check_and_store(ctx, check, lang)
    return RedirectResponse(f"/check/r/{key}{_lang_query(request)}", status_code=303)


async def shared_result(request: Request) -> Response:
    """GET /check/r/{id}: a stored result (shareable link)."""
    ctx = web_context(request)
    item = await ctx.store.get("check", request.path_params["id"])
    if item is None:
        raise HTTPException(404)
    views = item.data.get("views") or {}
    view = views.get(_lang(request)) or next(iter(views.values()), None)
    if view is None:
        raise HTTPException(404)
    draft = Draft(**view["draft"]) if view.get("draft") else Draft()
    values: dict[str, Any] = {"nav": "check", "domain": view["json"].get("domain", ""),
                              "selector": view.get("selector", ""), "draft": draft, "error": None,
                              "share_id": item.id, "max_bulk": ctx.settings.limits.bulk_domains,
                              "checked_at": _when(item.created), "stored": True}
    values.update(result_context(view))
    return ctx.render(request, "check.html", values)


# -- bulk ---------------------------------------------------------------------------------

@dataclass
class BulkJob:
    id: str
    total: int
    truncated: bool
    lang: str
    created: float = field(default_factory=time.time)
    results: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    task: asyncio.Task[None] | None = None

    def progress(self) -> dict[str, Any]:
        return {"id": self.id, "total": self.total, "done": len(self.results), "finished": self.done,
                "truncated": self.truncated}


def _bulk_jobs(ctx: WebContext) -> dict[str, BulkJob]:
    jobs: dict[str, BulkJob] = ctx.state.setdefault("bulk", {})
    now = time.time()
    for key in [k for k, job in jobs.items() if job.done and now - job.created > BULK_TTL]:
        del jobs[key]
    finished = [k for k, job in jobs.items() if job.done]
    for key in finished[: max(0, len(finished) - MAX_BULK_KEPT)]:
        del jobs[key]
    return jobs


def read_domain_list(data: bytes, limit: int) -> tuple[list[str], bool]:
    """Domains from an uploaded list, as ``zegel check --from-file`` reads them: one per line,
    # comments and blank lines skipped, the first field of a CSV line. Bounded by ``limit``."""
    out: list[str] = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw[:1024].split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.replace(",", " ").replace(";", " ").split()
        if not fields:
            continue
        if len(out) >= limit:
            return out, True
        out.append(fields[0])
    return out, False


async def _run_bulk(ctx: WebContext, job: BulkJob, domains: list[str]) -> None:
    limits = ctx.settings.limits
    options = CheckOptions(lang="nl" if job.lang == "nl" else "en", domain_timeout=limits.check_timeout)
    try:
        # One budget per domain: every domain gets its own bounded view of the shared cache.
        async def one_by_one() -> Any:
            for domain in domains:
                yield domain

        async for report in check_domains(one_by_one(), BoundedResolver(ctx.resolver, 150 * len(domains)),
                                          options, concurrency=limits.bulk_concurrency):
            job.results.append(report.to_json())
    finally:
        job.done = True


async def bulk_start(request: Request) -> Response:
    ctx = web_context(request)
    lang = _lang(request)
    limits = ctx.settings.limits
    form = await request.form(max_files=1, max_fields=5, max_part_size=limits.bulk_body)
    check_csrf(request, form)
    upload = form.get("list")
    data = b""
    if upload is not None and not isinstance(upload, str):
        data = await upload.read(limits.bulk_body + 1)
    elif isinstance(upload, str):
        data = upload.encode()
    domains, truncated = read_domain_list(data[: limits.bulk_body], limits.bulk_domains)
    values: dict[str, Any] = {"nav": "check", "domain": "", "selector": "", "draft": Draft(), "error": None,
                              "max_bulk": limits.bulk_domains}
    if not domains:
        values["bulk_error"] = ctx.text(lang, "check.bulk.empty")
        return ctx.render(request, "check.html", values, status=400)
    jobs = _bulk_jobs(ctx)
    if sum(1 for job in jobs.values() if not job.done) >= limits.bulk_jobs:
        values["bulk_error"] = ctx.text(lang, "check.bulk.busy")
        return ctx.render(request, "check.html", values, status=503, headers={"retry-after": "60"})
    # A bulk check costs one request per domain from the client's check allowance (at least one).
    ctx.limit(request, "bulk", max(1, limits.checks_per_minute // 10))
    job = BulkJob(new_id(), len(domains), truncated, lang)
    jobs[job.id] = job
    job.task = asyncio.create_task(_run_bulk(ctx, job, domains))
    query = f"?lang={request.query_params['lang']}" if "lang" in request.query_params else ""
    return RedirectResponse(f"/check/bulk/{job.id}{query}", status_code=303)


def _job(request: Request) -> tuple[WebContext, BulkJob]:
    ctx = web_context(request)
    job = _bulk_jobs(ctx).get(request.path_params["id"])
    if job is None:
        raise HTTPException(404)
    return ctx, job


async def bulk_page(request: Request) -> Response:
    ctx, job = _job(request)
    refresh = None if job.done else "2"
    return ctx.render(request, "bulk.html", {"nav": "check", "job": job, "progress": job.progress(),
                                             "refresh": refresh, "chart": grade_chart(job.results)})


def grade_chart(results: list[dict[str, Any]], width: float = 300) -> list[dict[str, Any]]:
    """Bars for the SVG chart of grades in a bulk check: grade, count, bar width, y."""
    counts = {grade: 0 for grade in "ABCDF"}
    for result in results:
        grade = str(result.get("grade", "F"))
        counts[grade if grade in counts else "F"] += 1
    most = max(counts.values()) or 1
    return [{"grade": grade, "count": count, "width": round(width * count / most, 1), "y": 4 + index * 26}
            for index, (grade, count) in enumerate(counts.items())]


async def bulk_api(request: Request) -> Response:
    from starlette.responses import JSONResponse

    _, job = _job(request)
    data = job.progress()
    data["results"] = job.results
    return JSONResponse(data)


async def bulk_download(request: Request) -> Response:
    _, job = _job(request)
    lines = [json.dumps(item, ensure_ascii=False) + "\n" for item in job.results]

    async def body() -> Any:
        for line in lines:
            yield line.encode()

    return StreamingResponse(body(), media_type="application/x-ndjson",
                             headers={"content-disposition": f'attachment; filename="zegel-check-{job.id}.jsonl"'})


async def stop_bulk(ctx: WebContext) -> None:
    for job in list(ctx.state.get("bulk", {}).values()):
        if job.task is not None and not job.task.done():
            job.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job.task


def routes(ctx: WebContext) -> list[BaseRoute]:
    limits = ctx.settings.limits
    return [
        Route("/check", check_page, methods=["GET"], name="check"),
        Route("/check", limit_body(check_draft, limits.draft_bytes * 4 + 4096), methods=["POST"], name="check_draft"),
        Route("/check/save", check_save, methods=["POST"], name="check_save"),
        Route("/check/r/{id}", shared_result, methods=["GET"], name="check_shared"),
        Route("/check/bulk", limit_body(bulk_start, limits.bulk_body + 4096), methods=["POST"], name="bulk_start"),
        Route("/check/bulk/{id}.jsonl", bulk_download, methods=["GET"], name="bulk_download"),
        Route("/check/bulk/{id}", bulk_page, methods=["GET"], name="bulk"),
        Route("/api/bulk/{id}", bulk_api, methods=["GET"], name="api_bulk"),
    ]
