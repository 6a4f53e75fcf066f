"""Tools: DKIM key generator, SPF record builder, DMARC record builder. Records are built here
from the user's choices; checking them is zegel.spf's, zegel.dmarc's and zegel.audit's work."""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from zegel.audit import Texts
from zegel.audit.spf_audit import LOOKUP_LIMIT, audit_spf
from zegel.dkim.keys import (
    domain_name,
    generate_private_key,
    private_key_pem,
    public_key_record,
    zone_file_line,
)
from zegel.dmarc import DmarcRecordError, parse_record
from zegel.dns.names import InvalidName, normalize
from zegel.dns.records import nodes_from_spec
from zegel.web.app import WebContext, web_context
from zegel.web.i18n import choose_lang
from zegel.web.providers import BY_KEY, PROVIDERS
from zegel.web.security import check_csrf
from zegel.web.service import BoundedResolver, tree_dict, valid_domain, valid_selector
from zegel.web.svg import limit_bar, tree_picture

MAX_IPS = 20
MAX_INCLUDES = 10
KEY_TYPES = {"rsa": ("rsa", 2048), "rsa4096": ("rsa", 4096), "ed25519": ("ed25519", 0)}
POLICIES = ("none", "quarantine", "reject")


def include_target(text: str) -> str | None:
    """A domain an include: may name (RFC 7208 7.1 domain-spec: underscore labels such as
    _spf are common), without macros; None when it is not one."""
    try:
        name = normalize(text.strip().rstrip("."))
    except InvalidName:
        return None
    labels = name.split(".")
    if len(labels) < 2 or "%" in name or any(not label or len(label) > 63 for label in labels):
        return None
    if not all(c.isalnum() or c in "-_" for label in labels for c in label):
        return None
    return name


def _field(form: FormData, name: str, limit: int = 255) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _defaults(**extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"nav": "tools", "providers": PROVIDERS, "errors": {}, "dkim": None, "spf": None,
                              "dmarc": None, "form": {}}
    values.update(extra)
    return values


async def tools_page(request: Request) -> Response:
    return web_context(request).render(request, "tools.html", _defaults())


async def dkim_generate(request: Request) -> Response:
    ctx = web_context(request)
    lang, _ = choose_lang(request)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form)
    domain = valid_domain(_field(form, "domain"))
    try:
        selector = valid_selector(_field(form, "selector"))
        selector = domain_name(selector)
    except ValueError:
        selector = ""
    key_choice = _field(form, "type") or "rsa"
    values = _defaults(form={"dkim_domain": _field(form, "domain"), "dkim_selector": _field(form, "selector"),
                             "dkim_type": key_choice})
    if domain is None:
        values["errors"]["dkim_domain"] = ctx.text(lang, "tools.error.domain")
    if not selector:
        values["errors"]["dkim_selector"] = ctx.text(lang, "check.error.selector")
    if key_choice not in KEY_TYPES:
        key_choice = "rsa"
    if values["errors"] or domain is None:
        return ctx.render(request, "tools.html", values, status=400)
    ctx.limit(request, "tools", ctx.settings.limits.tools_per_minute)
    key_type, bits = KEY_TYPES[key_choice]
    # RSA generation takes tens to hundreds of milliseconds (4096 bits: up to seconds): never on
    # the event loop, and at most two at once so key requests cannot take every worker thread.
    gate = ctx.state.setdefault("keygen", asyncio.Semaphore(2))
    async with gate:
        key = await asyncio.to_thread(generate_private_key, key_type, bits or 2048)
    record = public_key_record(key)
    values["dkim"] = {"name": f"{selector}._domainkey.{domain}", "record": record,
                      "zone_line": zone_file_line(selector, domain, record),
                      "pem": private_key_pem(key).decode("ascii"), "filename": f"{selector}.{domain}.pem",
                      "type": key_choice}
    return ctx.render(request, "tools.html", values, headers={"cache-control": "no-store"})


async def dkim_download(request: Request) -> Response:
    """Hands the private key the user just generated back as a file: it is posted back from
    the result page (never stored on the server)."""
    form = await request.form(max_files=0, max_fields=5, max_part_size=16 * 1024)
    check_csrf(request, form)
    pem = _field(form, "pem", 16 * 1024)
    name = _field(form, "filename", 200)
    safe = "".join(c for c in name if c.isalnum() or c in "._-") or "dkim.pem"
    if not pem.startswith("-----BEGIN PRIVATE KEY-----"):
        return Response("not a private key\n", status_code=400, media_type="text/plain")
    return Response(pem + "\n", media_type="application/x-pem-file",
                    headers={"content-disposition": f'attachment; filename="{safe}"', "cache-control": "no-store"})


async def spf_build(request: Request) -> Response:
    ctx = web_context(request)
    lang, _ = choose_lang(request)
    form = await request.form(max_files=0, max_fields=40)
    check_csrf(request, form)
    domain_text = _field(form, "domain")
    domain = valid_domain(domain_text)
    chosen = [key for key in form.getlist("provider") if isinstance(key, str) and key in BY_KEY]
    ips_text = _field(form, "ips", 2000)
    includes_text = _field(form, "includes", 2000)
    qualifier = "-" if _field(form, "all") == "fail" else "~"
    use_mx = _field(form, "mx") == "yes"
    values = _defaults(form={"spf_domain": domain_text, "providers": chosen, "ips": ips_text,
                             "includes": includes_text, "all": "fail" if qualifier == "-" else "softfail", "mx": use_mx})
    errors: dict[str, str] = values["errors"]
    if domain is None:
        errors["spf_domain"] = ctx.text(lang, "tools.error.domain")
    terms: list[str] = []
    if use_mx:
        terms.append("mx")
    for item in ips_text.replace(",", " ").split()[:MAX_IPS]:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            errors["ips"] = ctx.text(lang, "tools.error.ip", value=item[:60])
            continue
        prefix = "ip4" if network.version == 4 else "ip6"
        full = network.prefixlen == network.max_prefixlen
        terms.append(f"{prefix}:{network.network_address}" + ("" if full else f"/{network.prefixlen}"))
    for key in chosen:
        terms.append(f"include:{BY_KEY[key].include}")
    for item in includes_text.replace(",", " ").split()[:MAX_INCLUDES]:
        name = include_target(item.removeprefix("include:"))
        if name is None:
            errors["includes"] = ctx.text(lang, "tools.error.include", value=item[:60])
            continue
        terms.append(f"include:{name}")
    if errors or domain is None:
        return ctx.render(request, "tools.html", values, status=400)
    ctx.limit(request, "tools", ctx.settings.limits.tools_per_minute)
    record = " ".join(["v=spf1", *dict.fromkeys(terms), f"{qualifier}all"])
    # Count the lookups as a receiver would: the draft record in the zone overlay, the
    # providers' records from DNS (or the configured zones), walked by zegel's SPF audit.
    resolver = BoundedResolver(ctx.draft_resolver(nodes_from_spec({domain: [("TXT", record)]})))
    audit = await audit_spf(domain, resolver, Texts("nl" if lang == "nl" else "en"))
    tree = tree_dict(audit.tree) if audit.tree is not None else None
    used = int(tree["lookups"]) if tree else 0
    values["spf"] = {"record": record, "findings": [f.as_dict() for f in audit.findings], "lookups": used,
                     "within": used <= LOOKUP_LIMIT, "tree": tree_picture(tree) if tree else None,
                     "bar": limit_bar(used, LOOKUP_LIMIT)}
    return ctx.render(request, "tools.html", values)


def _next_stage(policy: str) -> str:
    return {"none": "quarantine", "quarantine": "reject"}.get(policy, "")


async def dmarc_build(request: Request) -> Response:
    ctx = web_context(request)
    lang, _ = choose_lang(request)
    form = await request.form(max_files=0, max_fields=20)
    check_csrf(request, form)
    domain_text = _field(form, "domain")
    domain = valid_domain(domain_text)
    policy = _field(form, "p") if _field(form, "p") in POLICIES else "none"
    sub = _field(form, "sp") if _field(form, "sp") in POLICIES else ""
    rua = _field(form, "rua", 320)
    strict = _field(form, "strict") == "yes"
    testing = _field(form, "testing") == "yes"
    values = _defaults(form={"dmarc_domain": domain_text, "p": policy, "sp": sub, "rua": rua, "strict": strict,
                             "testing": testing})
    errors: dict[str, str] = values["errors"]
    if domain is None:
        errors["dmarc_domain"] = ctx.text(lang, "tools.error.domain")
    rua_domain = None
    if rua:
        local, at, rua_host = rua.removeprefix("mailto:").rpartition("@")
        rua_domain = valid_domain(rua_host) if at and local and all(c not in local for c in " ,;!<>") else None
        if rua_domain is None:
            errors["rua"] = ctx.text(lang, "tools.error.address")
    if errors or domain is None:
        return ctx.render(request, "tools.html", values, status=400)
    ctx.limit(request, "tools", ctx.settings.limits.tools_per_minute)
    tags = ["v=DMARC1", f"p={policy}"]
    if sub and sub != policy:
        tags.append(f"sp={sub}")
    if strict:
        tags += ["adkim=s", "aspf=s"]
    if testing:
        tags.append("t=y")
    if rua:
        tags.append(f"rua=mailto:{rua.removeprefix('mailto:')}")
    record = "; ".join(tags)
    notes: list[str] = []
    try:
        parsed = parse_record(record)
        notes = [str(issue) for issue in parsed.warnings]
    except DmarcRecordError as exc:
        notes = [exc.reason]
    external = rua_domain is not None and rua_domain != domain and not rua_domain.endswith("." + domain)
    values["dmarc"] = {"record": record, "name": f"_dmarc.{domain}", "notes": notes, "policy": policy,
                       "next": _next_stage(policy), "external": external, "rua_domain": rua_domain, "rua": rua,
                       "authorization": f"{domain}._report._dmarc.{rua_domain}" if external else ""}
    return ctx.render(request, "tools.html", values)


def routes(ctx: WebContext) -> list[BaseRoute]:
    return [
        Route("/tools", tools_page, methods=["GET"], name="tools"),
        Route("/tools/dkim", dkim_generate, methods=["POST"], name="tools_dkim"),
        Route("/tools/dkim/key", dkim_download, methods=["POST"], name="tools_dkim_key"),
        Route("/tools/spf", spf_build, methods=["POST"], name="tools_spf"),
        Route("/tools/dmarc", dmarc_build, methods=["POST"], name="tools_dmarc"),
    ]
