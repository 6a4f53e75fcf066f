"""The JSON API: the same objects the CLI prints with --json, and its OpenAPI document."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from zegel import __version__
from zegel.web.app import WebContext, web_context
from zegel.web.i18n import choose_lang
from zegel.web.security import limit_body
from zegel.web.service import explain_message_async, parse_check_request, run_check, valid_domain


async def api_check(request: Request) -> Response:
    """GET /api/check?domain=D[&selector=S]: the object ``zegel check D --json`` prints."""
    ctx = web_context(request)
    domain = request.query_params.get("domain", "")
    selector = request.query_params.get("selector", "")
    if not domain.strip():
        raise HTTPException(400, "give ?domain=")
    if selector.strip() and valid_domain(domain) is not None:
        try:
            parse_check_request(domain, selector)
        except ValueError:
            raise HTTPException(400, "selector: not a DKIM selector (DNS labels such as s2026)") from None
    lang, _ = choose_lang(request)
    ctx.limit(request, "check", ctx.settings.limits.checks_per_minute)
    try:
        check = parse_check_request(domain, selector)
    except ValueError:
        # The audit reports an invalid domain itself (grade F, finding domain.invalid), as the CLI does.
        from zegel.audit import CheckOptions, check_domain

        report = await check_domain(domain, ctx.resolver, CheckOptions(lang="nl" if lang == "nl" else "en"))
        return JSONResponse(report.to_json())
    report = await run_check(check, ctx.resolver, lang=lang, domain_timeout=ctx.settings.limits.check_timeout)
    return JSONResponse(report.to_json())


async def api_explain(request: Request) -> Response:
    """POST /api/explain[?lang=nl]: the body is the raw message or its headers; returns the
    object ``zegel explain --json`` prints."""
    ctx = web_context(request)
    body = await request.body()
    if not body.strip():
        raise HTTPException(400, "send the raw message or its headers as the request body")
    lang, _ = choose_lang(request)
    ctx.limit(request, "explain", ctx.settings.limits.explains_per_minute)
    trusted = tuple(request.query_params.getlist("trust"))[:10]
    return JSONResponse(await explain_message_async(body, lang=lang, trusted_ids=trusted,
                                                     detector=ctx.detector))


def openapi_document(ctx: WebContext) -> dict[str, Any]:
    error = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    limited = {"description": "rate limit reached (per client IP); see Retry-After",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    lang = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["en", "nl"]},
            "description": "Language of the texts; without it, Accept-Language decides (default en)."}
    paths: dict[str, Any] = {
        "/api/check": {"get": {
            "summary": "Audit a domain (zegel check D --json)",
            "parameters": [
                {"name": "domain", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "selector", "in": "query", "required": False, "schema": {"type": "string"},
                 "description": "DKIM selector; without it, widely used selector names are probed."},
                lang,
            ],
            "responses": {"200": {"description": "the check result",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CheckReport"}}}},
                          "400": error, "429": limited},
        }},
        "/api/explain": {"post": {
            "summary": "Explain a received message's authentication headers (zegel explain --json)",
            "parameters": [lang, {"name": "trust", "in": "query", "required": False,
                                  "schema": {"type": "array", "items": {"type": "string"}},
                                  "description": "authserv-id(s) of your own mail servers"}],
            "requestBody": {"required": True, "description": f"the raw message or its header block (at most {ctx.settings.limits.explain_body} bytes)",
                            "content": {"message/rfc822": {"schema": {"type": "string"}},
                                        "text/plain": {"schema": {"type": "string"}}}},
            "responses": {"200": {"description": "the explanation",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Explanation"}}}},
                          "400": error, "413": error, "429": limited},
        }},
        "/api/tester": {"post": {
            "summary": "Create a mail-tester address",
            "responses": {"200": {"description": "the new test address",
                                  "content": {"application/json": {"schema": {
                                      "type": "object", "required": ["id", "address"],
                                      "properties": {"id": {"type": "string"}, "address": {"type": "string", "format": "email"}}}}}},
                          "429": limited, "503": error},
        }},
        "/api/tester/{id}": {"get": {
            "summary": "The mail tester's result: waiting, or the zegel verify --json object plus the explanation",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}, lang],
            "responses": {"200": {"description": "status and result",
                                  "content": {"application/json": {"schema": {
                                      "type": "object", "required": ["status", "result"],
                                      "properties": {"status": {"type": "string", "enum": ["waiting", "done"]},
                                                     "result": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/TesterResult"}]}}}}}},
                          "404": error},
        }},
        "/api/bulk/{id}": {"get": {
            "summary": "Progress and results of a bulk check started from the page",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "progress; results are CheckReport objects"}, "404": error},
        }},
    }
    for extension in ctx.extensions:
        paths.update(extension.openapi_paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "zegel web API", "version": __version__,
                 "description": "The same JSON as the zegel command line (docs/web.md)."},
        "paths": paths,
        "components": {"schemas": {
            "Error": {"type": "object", "properties": {"error": {"type": "string"}}},
            "Finding": {"type": "object", "required": ["severity", "code", "message", "fix"],
                        "properties": {"severity": {"type": "string", "enum": ["error", "warning", "info"]},
                                       "code": {"type": "string"}, "message": {"type": "string"},
                                       "fix": {"type": "string"}}, "additionalProperties": True},
            "CheckReport": {"type": "object", "required": ["domain", "grade", "protected", "findings"],
                            "properties": {"domain": {"type": "string"},
                                           "grade": {"type": "string", "enum": ["A", "B", "C", "D", "F"]},
                                           "protected": {"type": "boolean"},
                                           "findings": {"type": "array", "items": {"$ref": "#/components/schemas/Finding"}}},
                            "additionalProperties": True},
            "Explanation": {"type": "object", "required": ["from_domain", "authenticated", "hops", "lookalike"],
                            "properties": {"from_domain": {"type": ["string", "null"]},
                                           "authenticated": {"type": ["boolean", "null"]},
                                           "hops": {"type": "array", "items": {"type": "object"}},
                                           "lookalike": {"type": ["object", "null"]}},
                            "additionalProperties": True},
            "TesterResult": {"type": "object",
                             "description": "zegel verify --json (spf, dkim, arc, dmarc, authentication_results, action, ...) "
                                            "plus explanation (sections), received (ip, helo, mail_from, rcpt_to, size) "
                                            "and domain_check (the zegel check --json object of the From domain: what to fix)",
                             "additionalProperties": True},
        }},
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(web_context(request)))


async def api_page(request: Request) -> Response:
    ctx = web_context(request)
    return ctx.render(request, "api.html", {"nav": "api", "doc": openapi_document(ctx)})


def routes(ctx: WebContext) -> list[BaseRoute]:
    limit = ctx.settings.limits.explain_body
    return [
        Route("/api", api_page, methods=["GET"], name="api"),
        Route("/api/openapi.json", openapi, methods=["GET"], name="openapi"),
        Route("/api/check", api_check, methods=["GET"], name="api_check"),
        Route("/api/explain", limit_body(api_explain, limit), methods=["POST"], name="api_explain"),
    ]
