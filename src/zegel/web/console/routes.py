"""The console's pages and JSON API. Each handler reads the request, checks access through
the identity the login gate found, and calls zegel.monitor / zegel.assistant."""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import BaseRoute, Route

from zegel.accounts import SESSION_LIFETIME, AccessDenied, Identity
from zegel.assistant import tools
from zegel.assistant.tools import Services, ToolError
from zegel.monitor import Monitor, Watch, dashboard
from zegel.monitor.dashboard import Filters
from zegel.monitor.store import DEFAULT_INTERVAL, MIN_INTERVAL
from zegel.web.app import web_context
from zegel.web.console.auth import SESSION_COOKIE
from zegel.web.console.chart import day_label, timeline_chart
from zegel.web.i18n import choose_lang
from zegel.web.security import check_csrf, client_ip

STATIC_CSS = Path(__file__).resolve().parent / "static" / "console.css"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def _shared(request: Request) -> dict[str, Any]:
    shared = web_context(request).state.get("console")
    if not isinstance(shared, dict):
        raise HTTPException(503, "the console is starting")
    return shared


def _identity(request: Request) -> Identity:
    identity = getattr(request.state, "identity", None)
    if not isinstance(identity, Identity):
        raise HTTPException(401, "authentication required")
    return identity


def _services(request: Request) -> Services:
    services: Services = _shared(request)["services"]
    return services


def _domain(request: Request, identity: Identity, value: str) -> str:
    """The domain, when this identity may see it; 404 otherwise (the same for a domain that
    does not exist, so a URL tells nothing about other customers)."""
    try:
        return identity.require(value)
    except AccessDenied:
        raise HTTPException(404, "not found") from None


def _lang(request: Request) -> Literal["en", "nl"]:
    return choose_lang(request)[0]


def page_values(request: Request) -> Mapping[str, Any]:
    identity = getattr(request.state, "identity", None)
    return {"console_user": identity if isinstance(identity, Identity) else None}


def _since(request: Request, services: Services, default: str = "30d") -> tuple[int, str]:
    text = request.query_params.get("since", default)[:32] or default
    try:
        return tools.parse_since(text, services.clock()), text
    except ToolError as exc:
        raise HTTPException(400, str(exc)) from None


def _filters(request: Request, services: Services, domain: str) -> tuple[Filters, dict[str, str]]:
    since, since_text = _since(request, services)
    until_text = request.query_params.get("until", "")[:32]
    until = None
    if until_text:
        try:
            until = tools.parse_since(until_text, services.clock())
        except ToolError as exc:
            raise HTTPException(400, str(exc).replace("since", "until")) from None
    reporter = request.query_params.get("reporter", "")[:255] or None
    query = {"since": since_text, "until": until_text, "reporter": reporter or ""}
    return Filters(domain, since, until, reporter), {k: v for k, v in query.items() if v}


# --- login ----------------------------------------------------------------------------------


def _safe_next(value: str) -> str:
    # Only our own console pages: never another site (an open redirect after login).
    return value if value.startswith("/console") and "//" not in value and "\\" not in value else "/console"


async def login_page(request: Request) -> Response:
    ctx = web_context(request)
    if request.method == "GET":
        return ctx.render(request, "console/login.html", {"nav": "console", "next": _safe_next(
            request.query_params.get("next", "/console")), "failed": False})
    form = await request.form()
    check_csrf(request, form)
    ctx.limit(request, "console-login", 10)
    accounts = _shared(request)["accounts"]
    name, password = str(form.get("name", ""))[:255], str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/console")))
    identity = await run_in_threadpool(accounts.authenticate, name, password, client=client_ip(request))
    if identity is None:
        return ctx.render(request, "console/login.html", {"nav": "console", "next": target, "failed": True},
                          status=401)
    session = await run_in_threadpool(accounts.start_session, identity, client=client_ip(request))
    response = RedirectResponse(target, status_code=303)
    config = _shared(request)["config"]
    secure = config.secure_cookies if config.secure_cookies is not None else request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, session, max_age=SESSION_LIFETIME, path="/", httponly=True,
                        secure=secure, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    identity = _identity(request)
    session = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(_shared(request)["accounts"].end_session, session, actor=identity.name,
                            client=client_ip(request))
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def stylesheet(request: Request) -> Response:
    return FileResponse(STATIC_CSS, media_type="text/css", headers={"cache-control": "max-age=3600"})


# --- pages ----------------------------------------------------------------------------------


async def home(request: Request) -> Response:
    identity = _identity(request)
    services = _services(request)

    def gather() -> dict[str, Any]:
        domains = tools.visible_domains(services, identity)
        watched = tools.monitoring_overview(services, identity)
        allowed = None if identity.admin else sorted(identity.domains)
        alerts = services.monitor.alerts(domains=allowed, limit=20) if services.monitor else []
        return {"domains": domains, "watched": watched, "alerts": alerts}

    data = await run_in_threadpool(gather)
    return web_context(request).render(request, "console/home.html", {"nav": "console", **data, "when": _when})


def _when(seconds: int | None) -> str:
    if not seconds:
        return ""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(seconds))


async def domain_page(request: Request) -> Response:
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    services = _services(request)
    filters, query = _filters(request, services, domain)
    lang = _lang(request)

    def gather() -> dict[str, Any]:
        reports = services.reports
        assert reports is not None
        listed = dashboard.senders(reports, filters, lang=lang)
        points = dashboard.timeline(reports, filters)
        return {"senders": listed, "points": points, "chart": timeline_chart(points),
                "readiness": dashboard.readiness(reports, filters, listed, lang=lang),
                "reporters": dashboard.reporters(reports, domain, filters.since)}

    data = await run_in_threadpool(gather)
    if request.query_params.get("format") == "json":
        return JSONResponse({"domain": domain, "filters": query,
                             "timeline": [{"day": p.day, "messages": p.messages, "dmarc_pass": p.dmarc_pass}
                                          for p in data["points"]],
                             "senders": [s.to_json() for s in data["senders"]],
                             "readiness": data["readiness"].to_json()})
    return web_context(request).render(request, "console/domain.html", {
        "nav": "console", "domain": domain, "query": query, "filters": filters, "day_label": day_label,
        "quote": _quote, **data})


def _quote(value: str) -> str:
    return quote(value, safe="")


async def sender_page(request: Request) -> Response:
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    sender = request.path_params["sender"][:255]
    services = _services(request)
    filters, query = _filters(request, services, domain)
    lang = _lang(request)

    def gather() -> dict[str, Any]:
        reports = services.reports
        assert reports is not None
        found = dashboard.senders(reports, filters, lang=lang, name=sender)
        return {"sender": found[0] if found else None,
                "records": dashboard.sender_records(reports, filters, sender)}

    data = await run_in_threadpool(gather)
    if data["sender"] is None:
        raise HTTPException(404, "not found")
    return web_context(request).render(request, "console/sender.html", {
        "nav": "console", "domain": domain, "query": query, "day_label": day_label, **data})


async def failures_page(request: Request) -> Response:
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    services = _services(request)
    since, since_text = _since(request, services, "90d")
    assert services.reports is not None
    rows = await run_in_threadpool(dashboard.failure_reports_for, services.reports, domain, since)
    return web_context(request).render(request, "console/failures.html", {
        "nav": "console", "domain": domain, "rows": rows, "since": since_text, "when": _when})


async def failure_page(request: Request) -> Response:
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    services = _services(request)
    assert services.reports is not None
    row = await run_in_threadpool(dashboard.failure_report, services.reports, domain, request.path_params["id"])
    if row is None:
        raise HTTPException(404, "not found")
    return web_context(request).render(request, "console/failure.html", {
        "nav": "console", "domain": domain, "row": row, "when": _when})


async def tls_page(request: Request) -> Response:
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    services = _services(request)
    since, since_text = _since(request, services, "90d")
    assert services.reports is not None
    rows = await run_in_threadpool(dashboard.tls_reports_for, services.reports, domain, since)
    return web_context(request).render(request, "console/tls.html", {
        "nav": "console", "domain": domain, "rows": rows, "since": since_text, "day_label": day_label})


async def export(request: Request) -> Response:
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    services = _services(request)
    filters, _ = _filters(request, services, domain)
    fmt: Literal["csv", "json"] = "csv" if request.path_params["fmt"] == "csv" else "json"
    assert services.reports is not None
    body = dashboard.export_records(services.reports, filters, fmt)
    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/x-ndjson"
    filename = f"{domain}-records.{'csv' if fmt == 'csv' else 'jsonl'}"
    return StreamingResponse(iterate_in_threadpool(body), media_type=media,
                             headers={"content-disposition": f'attachment; filename="{filename}"'})


# --- monitoring -----------------------------------------------------------------------------


_EVERY = {"1h": 3600, "6h": 6 * 3600, "12h": 12 * 3600, "1d": 86400}


async def monitor_page(request: Request) -> Response:
    identity = _identity(request)
    services = _services(request)
    ctx = web_context(request)
    error = ""
    if request.method == "POST":
        form = await request.form()
        check_csrf(request, form)
        try:
            watch = _watch_from(identity, {k: str(v) for k, v in form.items()}, services,
                                allow_private=_shared(request)["config"].allow_private_webhooks)
        except ValueError as exc:
            error = str(exc)
        else:
            await run_in_threadpool(_save_watch, request, identity, watch)
            return RedirectResponse(f"/console/monitor/{watch.domain}", status_code=303)
    watched = await run_in_threadpool(tools.monitoring_overview, services, identity)
    return ctx.render(request, "console/monitor.html", {"nav": "console", "watched": watched, "error": error,
                                                        "when": _when, "everies": list(_EVERY)},
                      status=400 if error else 200)


def _internal_host(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if host in ("", "localhost") or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "." not in host  # a bare name resolves inside the server's network
    return not address.is_global


def _watch_from(identity: Identity, values: Mapping[str, Any], services: Services, *,
                allow_private: bool = False) -> Watch:
    from zegel.audit import mail_domain

    raw = str(values.get("domain", "")).strip().rstrip(".").lower()
    try:
        domain = mail_domain(raw)
    except ValueError as exc:
        raise ValueError(f"{raw or 'domain'}: {exc}") from None
    try:
        identity.require(domain)
    except AccessDenied:
        raise ValueError(f"no access to {domain}") from None
    emails = tuple(e.strip() for e in str(values.get("emails", "")).replace(",", " ").split() if e.strip())[:10]
    for address in emails:
        if "@" not in address or len(address) > 320:
            raise ValueError(f"{address[:80]} is not an e-mail address")
    webhook = str(values.get("webhook", "")).strip()[:2000]
    if webhook and not webhook.startswith(("http://", "https://")):
        raise ValueError("the webhook must be an http:// or https:// URL")
    if webhook and not allow_private and _internal_host(webhook):
        raise ValueError("the webhook must point to a public address, not this server's own network")
    every = values.get("every", "6h")
    interval = _EVERY.get(str(every)) if not isinstance(every, int) else max(MIN_INTERVAL, every)
    try:
        threshold = float(values.get("threshold", 90)) / 100
    except (TypeError, ValueError):
        raise ValueError("the threshold is a percentage") from None
    if not 0 <= threshold <= 1:
        raise ValueError("the threshold is a percentage")
    selectors = tuple(s for s in str(values.get("selectors", "")).replace(",", " ").split() if s)[:10]
    return Watch(domain, selectors, interval or DEFAULT_INTERVAL, 0, emails, webhook, threshold,
                 added_by=identity.name, added_at=int(services.clock()))


def _save_watch(request: Request, identity: Identity, watch: Watch) -> None:
    shared = _shared(request)
    shared["monitor"].add(watch)
    shared["accounts"].log(identity.name, "monitor.add", watch.domain, client_ip(request))


async def monitor_domain(request: Request) -> Response:
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    services = _services(request)
    data = await run_in_threadpool(lambda: _history(services, identity, domain))
    if data["watched"] is None and not data["runs"]:
        raise HTTPException(404, "not found")
    return web_context(request).render(request, "console/history.html", {
        "nav": "console", "domain": domain, **data, "when": _when})


def _history(services: Services, identity: Identity, domain: str) -> dict[str, Any]:
    assert services.monitor is not None
    return {"watched": services.monitor.get(domain), "runs": services.monitor.history(domain, 30),
            "alerts": services.monitor.alerts(domain, limit=50)}


async def monitor_action(request: Request) -> Response:
    """POST /console/monitor/{domain}/check (run now) or /remove."""
    form = await request.form()
    check_csrf(request, form)
    identity = _identity(request)
    domain = _domain(request, identity, request.path_params["domain"])
    action = request.path_params["action"]
    if action not in ("check", "remove"):
        raise HTTPException(404, "not found")
    shared = _shared(request)
    if action == "remove":
        await run_in_threadpool(shared["monitor"].remove, domain)
        await run_in_threadpool(shared["accounts"].log, identity.name, "monitor.remove", domain, client_ip(request))
        return RedirectResponse("/console/monitor", status_code=303)
    await _run_now(request, domain)
    await run_in_threadpool(shared["accounts"].log, identity.name, "monitor.check", domain, client_ip(request))
    return RedirectResponse(f"/console/monitor/{domain}", status_code=303)


async def _run_now(request: Request, domain: str) -> list[dict[str, Any]]:
    shared = _shared(request)
    services: Services = shared["services"]
    assert services.monitor is not None
    watch = await run_in_threadpool(services.monitor.get, domain)
    if watch is None:
        raise HTTPException(404, "not found")
    web_context(request).limit(request, "console-check", 30)
    config = shared["config"]
    monitor = Monitor(services.monitor, services.resolver, reports=services.reports, mailer=config.mailer,
                      clock=services.clock)
    return [a.to_json() for a in await monitor.check(watch)]


async def audit_page(request: Request) -> Response:
    identity = _identity(request)
    if not identity.admin:
        raise HTTPException(404, "not found")
    entries = await run_in_threadpool(_shared(request)["accounts"].audit_log, 300)
    return web_context(request).render(request, "console/audit.html", {"nav": "console", "entries": entries,
                                                                       "when": _when})


# --- JSON API ---------------------------------------------------------------------------------


def _api_error(exc: Exception, status: int) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=status)


def _query_int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ToolError(f"{name}: expected a whole number, not {text[:20]!r}")
    return int(text)


async def api_summary(request: Request) -> Response:
    """GET /api/reports/summary?domain=D&since=S&limit=N&offset=M: what ``zegel reports summary
    --json`` prints, its ``sources`` paged (``limit`` 1-1000, default 200)."""
    identity = _identity(request)
    services = _services(request)
    domain = request.query_params.get("domain", "")
    try:
        limit = _query_int(request, "limit", tools.SUMMARY_LIMIT)
        offset = _query_int(request, "offset", 0)
        data = await tools.reports_summary(services, identity, domain, request.query_params.get("since", "30d"),
                                           _lang(request), limit=limit, offset=offset)
    except AccessDenied as exc:
        return _api_error(exc, 404)
    except ToolError as exc:
        return _api_error(exc, 400)
    return JSONResponse(data)


async def api_monitor(request: Request) -> Response:
    """GET: the watch list; POST (JSON): add or change a watched domain."""
    identity = _identity(request)
    services = _services(request)
    if request.method == "GET":
        return JSONResponse(await run_in_threadpool(tools.monitoring_overview, services, identity))
    try:
        body = await request.json()
    except ValueError:
        return _api_error(ValueError("expected a JSON object"), 400)
    if not isinstance(body, dict):
        return _api_error(ValueError("expected a JSON object"), 400)
    values = dict(body)
    if isinstance(values.get("emails"), list):
        values["emails"] = " ".join(str(e) for e in values["emails"])
    if isinstance(values.get("selectors"), list):
        values["selectors"] = " ".join(str(s) for s in values["selectors"])
    if "threshold" in values and isinstance(values["threshold"], int | float) and values["threshold"] <= 1:
        values["threshold"] = values["threshold"] * 100
    try:
        watch = _watch_from(identity, values, services,
                            allow_private=_shared(request)["config"].allow_private_webhooks)
    except ValueError as exc:
        return _api_error(exc, 404 if str(exc).startswith("no access") else 400)
    await run_in_threadpool(_save_watch, request, identity, watch)
    return JSONResponse(watch.to_json(), status_code=201)


async def api_monitor_domain(request: Request) -> Response:
    """GET: history and alerts; DELETE: stop watching; POST .../check: run now."""
    identity = _identity(request)
    services = _services(request)
    try:
        domain = identity.require(request.path_params["domain"])
    except AccessDenied as exc:
        return _api_error(exc, 404)
    if request.method == "DELETE":
        removed = await run_in_threadpool(_shared(request)["monitor"].remove, domain)
        await run_in_threadpool(_shared(request)["accounts"].log, identity.name, "monitor.remove", domain,
                                client_ip(request))
        return JSONResponse({"removed": removed}, status_code=200 if removed else 404)
    if request.method == "POST":
        alerts = await _run_now(request, domain)
        return JSONResponse({"domain": domain, "alerts": alerts})
    try:
        limit = _query_int(request, "limit", 20)
    except ToolError:
        limit = 20  # as it always was: a limit that is not a whole number is ignored
    history = await tools.monitoring_history(services, identity, domain, limit)
    if history["watched"] is None and not history["runs"]:
        return _api_error(ValueError(f"{domain} is not watched"), 404)
    return JSONResponse(history)


def routes() -> list[BaseRoute]:
    return [
        Route("/console/login", login_page, methods=["GET", "POST"], name="console_login"),
        Route("/console/logout", logout, methods=["POST"], name="console_logout"),
        Route("/console/static/console.css", stylesheet, methods=["GET"], name="console_css"),
        Route("/console", home, methods=["GET"], name="console"),
        Route("/console/audit", audit_page, methods=["GET"], name="console_audit"),
        Route("/console/monitor", monitor_page, methods=["GET", "POST"], name="console_monitor"),
        Route("/console/monitor/{domain}", monitor_domain, methods=["GET"], name="console_monitor_domain"),
        Route("/console/monitor/{domain}/{action:str}", monitor_action, methods=["POST"]),
        Route("/console/domain/{domain}", domain_page, methods=["GET"], name="console_domain"),
        Route("/console/domain/{domain}/sender/{sender:path}", sender_page, methods=["GET"], name="console_sender"),
        Route("/console/domain/{domain}/failures", failures_page, methods=["GET"], name="console_failures"),
        Route("/console/domain/{domain}/failures/{id:int}", failure_page, methods=["GET"]),
        Route("/console/domain/{domain}/tls", tls_page, methods=["GET"], name="console_tls"),
        Route("/console/domain/{domain}/export.{fmt:str}", export, methods=["GET"], name="console_export"),
        Route("/api/reports/summary", api_summary, methods=["GET"], name="api_reports_summary"),
        Route("/api/monitor", api_monitor, methods=["GET", "POST"], name="api_monitor"),
        Route("/api/monitor/{domain}", api_monitor_domain, methods=["GET", "DELETE"]),
        Route("/api/monitor/{domain}/check", api_monitor_domain, methods=["POST"]),
    ]


_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]
OPENAPI: dict[str, Any] = {
    "/api/reports/summary": {"get": {
        "summary": "DMARC aggregate report summary for a domain (the object `zegel reports summary --json` prints)",
        "security": _BEARER,
        "parameters": [{"name": "domain", "in": "query", "required": True, "schema": {"type": "string"}},
                       {"name": "since", "in": "query", "schema": {"type": "string", "default": "30d"},
                        "description": "30d, 12h, 2w, a date (2026-11-01) or epoch seconds"},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 200, "minimum": 1,
                                                                    "maximum": 1000},
                        "description": "sources per page, by volume (sources_total and next_offset in the answer)"},
                       {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0, "minimum": 0},
                        "description": "sources to skip: next_offset of the previous page"}],
        "responses": {"200": {"description": "the summary"}, "400": {"description": "bad since, limit or offset"},
                      "401": {"description": "no or bad token"},
                      "404": {"description": "no access to that domain"}}}},
    "/api/monitor": {
        "get": {"summary": "The watch list with each domain's last grade", "security": _BEARER,
                "responses": {"200": {"description": "watched domains"}}},
        "post": {"summary": "Watch a domain: {domain, emails[], webhook, every (1h|6h|12h|1d), threshold (0-100), "
                            "selectors[]}", "security": _BEARER,
                 "responses": {"201": {"description": "the watch entry"}, "400": {"description": "bad value"}}}},
    "/api/monitor/{domain}": {
        "get": {"summary": "Monitoring history (runs with their diffs) and alerts", "security": _BEARER,
                "responses": {"200": {"description": "history"}, "404": {"description": "not watched / no access"}}},
        "delete": {"summary": "Stop watching", "security": _BEARER, "responses": {"200": {"description": "removed"}}}},
    "/api/monitor/{domain}/check": {"post": {"summary": "Check now; returns the alerts raised", "security": _BEARER,
                                             "responses": {"200": {"description": "alerts"}}}},
}
