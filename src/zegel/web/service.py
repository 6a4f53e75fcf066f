"""The web app's calls into zegel's packages: one function per journey, shared by the pages and
the JSON API so both say the same thing. No email-authentication logic here: the audit, the
explanation and the receiver pipeline are zegel.audit's, zegel.explain's and zegel.verify's.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from zegel.audit import CheckOptions, DomainReport, check_domain, mail_domain
from zegel.audit.spf_audit import LOOKUP_LIMIT, SpfNode
from zegel.dns import Answer, Resolver, Status, ZoneError
from zegel.dns.names import InvalidName, normalize
from zegel.dns.records import NodeMap, merge, nodes_from_spec, nodes_from_zone_text
from zegel.explain.lookalike import LookalikeDetector
from zegel.explain.received import explain_received
from zegel.explain.verdict import action_reason, explain_verdict
from zegel.policy import Policy
from zegel.verify import Verdict, Verifier

if TYPE_CHECKING:
    from zegel.web.app import WebContext

# One domain check asks at most this many questions (the SPF walk alone stops at 60), so a
# request to this app never turns into a flood of queries at someone's name servers.
CHECK_QUERY_BUDGET = 150
_SELECTOR = re.compile(r"[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?){0,3}\Z")
_BIG_INPUT = 64 * 1024  # explaining more than this runs in a worker thread


class BoundedResolver(Resolver):
    """A view of a shared resolver (its cache, zone overlay and servers) that answers at most
    ``budget`` lookups; further ones are temporary failures, which the audit reports."""

    def __init__(self, inner: Resolver, budget: int = CHECK_QUERY_BUDGET) -> None:
        # Not Resolver.__init__: everything but the count is the shared resolver's.
        self.inner = inner
        self.budget = budget
        self.timeout = inner.timeout
        self.lifetime = inner.lifetime
        self.offline = inner.offline
        self.overlay = inner.overlay
        self.cache = inner.cache
        self.queries_sent = 0

    async def query(self, name: str, rdtype: str) -> Answer[Any]:
        if self.budget <= 0:
            return Answer(name, rdtype.upper(), Status.TEMPFAIL, reason="query budget of this check used up")
        self.budget -= 1
        return await self.inner.query(name, rdtype)


def valid_selector(text: str) -> str:
    """A DKIM selector (RFC 6376 3.1: dot-separated labels); ValueError otherwise."""
    selector = text.strip().lower()
    if not _SELECTOR.match(selector):
        raise ValueError("not a selector")
    return selector


@dataclass(frozen=True, slots=True)
class Draft:
    """Draft records for one check, answered before DNS like ``zegel check --zone``."""

    spf: str = ""
    dmarc: str = ""
    dkim: str = ""
    mta_sts: str = ""
    zone: str = ""

    @classmethod
    def from_form(cls, form: Mapping[str, Any]) -> Draft:
        def get(key: str) -> str:
            value = form.get(key)
            return value.strip() if isinstance(value, str) else ""
        return cls(spf=get("draft_spf"), dmarc=get("draft_dmarc"), dkim=get("draft_dkim"),
                   mta_sts=get("draft_mta_sts"), zone=get("draft_zone"))

    def __bool__(self) -> bool:
        return any((self.spf, self.dmarc, self.dkim, self.mta_sts, self.zone))

    def as_dict(self) -> dict[str, str]:
        return {"spf": self.spf, "dmarc": self.dmarc, "dkim": self.dkim, "mta_sts": self.mta_sts, "zone": self.zone}

    def size(self) -> int:
        return sum(len(v) for v in self.as_dict().values())

    def nodes(self, domain: str, selector: str | None) -> NodeMap:
        """The draft as zone data; every name must lie under ``domain`` (ZoneError otherwise)."""
        spec: dict[str, list[tuple[str, Any]]] = {}
        one_line = {"spf": self.spf, "dmarc": self.dmarc, "dkim": self.dkim, "mta_sts": self.mta_sts}
        for key, value in one_line.items():
            if "\n" in value or "\r" in value:
                one_line[key] = " ".join(value.split())
        if one_line["spf"]:
            spec.setdefault(domain, []).append(("TXT", one_line["spf"]))
        if one_line["dmarc"]:
            spec.setdefault(f"_dmarc.{domain}", []).append(("TXT", one_line["dmarc"]))
        if one_line["dkim"]:
            if not selector:
                raise ZoneError("a draft DKIM record needs the selector it is published under")
            spec.setdefault(f"{selector}._domainkey.{domain}", []).append(("TXT", one_line["dkim"]))
        if one_line["mta_sts"]:
            spec.setdefault(f"_mta-sts.{domain}", []).append(("TXT", one_line["mta_sts"]))
        nodes = nodes_from_spec(spec)
        if self.zone:
            # Relative names are taken under the domain ($ORIGIN), as in a zone file for it.
            for line in self.zone.splitlines():
                directive = line.lstrip().split(None, 1)[0].upper() if line.strip() else ""
                # $GENERATE expands one line into any number of records, $INCLUDE reads a
                # file on this server: neither belongs in a draft pasted into a web form.
                if directive.startswith("$") and directive not in ("$TTL", "$ORIGIN"):
                    raise ZoneError(f"{directive} is not allowed in a draft")
                if directive == "$ORIGIN":
                    raise ZoneError("$ORIGIN is not needed: names are relative to the domain")
            apex = normalize(domain)
            for owner in _absolute_owners(self.zone):
                name = owner.rstrip(".").lower()
                if name != apex and not name.endswith("." + apex):
                    raise ZoneError(f"{name} is not under {apex}: a draft may only hold the domain's own names")
            merge(nodes, nodes_from_zone_text(self.zone, origin=domain, filename="draft"))
        return nodes


def _absolute_owners(zone_text: str) -> list[str]:
    """Owner names written absolute (ending in a dot) in master-file text (RFC 1035 5.1: the
    owner starts in the first column); relative ones are under $ORIGIN, the domain."""
    owners = []
    for line in zone_text.splitlines():
        if not line or line[0] in " \t;$(":
            continue
        owner = line.split(None, 1)[0]
        if owner.endswith(".") and owner != "@":
            owners.append(owner)
    return owners


@dataclass
class CheckRequest:
    domain: str
    selector: str | None = None
    draft: Draft = field(default_factory=Draft)


def parse_check_request(domain: str, selector: str | None, draft: Draft | None = None) -> CheckRequest:
    """Validate the user's input (ValueError with the reason in words)."""
    name = mail_domain(domain.strip().rstrip(".").lower())
    chosen = valid_selector(selector) if selector and selector.strip() else None
    return CheckRequest(name, chosen, draft or Draft())


async def run_check(request: CheckRequest, resolver: Resolver, *, lang: str, domain_timeout: float,
                    draft_resolver: Callable[[NodeMap], Resolver] | None = None) -> DomainReport:
    """``zegel check`` for one domain, bounded in queries and time. With draft records,
    ``draft_resolver(nodes)`` gives the resolver with them in its zone overlay (ZoneError
    when the draft cannot be read)."""
    if request.draft:
        if draft_resolver is None:
            raise ZoneError("draft mode is not available here")
        resolver = draft_resolver(request.draft.nodes(request.domain, request.selector))
    options = CheckOptions(selectors=(request.selector,) if request.selector else (),
                           lang="nl" if lang == "nl" else "en", domain_timeout=domain_timeout)
    return await check_domain(request.domain, BoundedResolver(resolver), options)


def tree_dict(node: SpfNode) -> dict[str, Any]:
    return {"term": node.term, "domain": node.domain, "lookups": node.lookups, "void": node.void,
            "note": node.note, "children": [tree_dict(child) for child in node.children]}


def check_view(report: DomainReport) -> dict[str, Any]:
    """What a result page shows and a shared link keeps: the ``zegel check --json`` object
    (passed through untouched, so fields other issues add show up) plus the page's extras."""
    return {
        "json": report.to_json(),
        "verdict": report.verdict,
        "ascii_domain": report.ascii_domain,
        "spf_record": report.spf_record,
        "spf_records": list(report.spf_records),
        "dmarc_record": report.dmarc_record,
        "spf_tree": tree_dict(report.spf_tree) if report.spf_tree is not None else None,
        "dkim_selectors": list(report.dkim_selectors),
        "lang": report.lang,
        "lookup_limit": LOOKUP_LIMIT,
    }


def explain_message(message: bytes, *, lang: str, trusted_ids: tuple[str, ...] = (),
                    detector: LookalikeDetector | None = None) -> dict[str, Any]:
    """The ``zegel explain --json`` object for a message or its headers. Pass a detector
    built once (indexing the well-known domains takes tens of milliseconds)."""
    report = explain_received(message, trusted_ids=trusted_ids, detector=detector or LookalikeDetector())
    return report.to_dict(lang)


async def explain_message_async(message: bytes, *, lang: str, trusted_ids: tuple[str, ...] = (),
                                detector: LookalikeDetector | None = None) -> dict[str, Any]:
    if len(message) > _BIG_INPUT:
        return await asyncio.to_thread(explain_message, message, lang=lang, trusted_ids=trusted_ids,
                                       detector=detector)
    return explain_message(message, lang=lang, trusted_ids=trusted_ids, detector=detector)


def valid_domain(text: str) -> str | None:
    try:
        return mail_domain(text.strip().rstrip(".").lower())
    except (ValueError, InvalidName):
        return None


__all__ = [
    "CHECK_QUERY_BUDGET",
    "BoundedResolver",
    "CheckRequest",
    "Draft",
    "check_view",
    "explain_message",
    "explain_message_async",
    "parse_check_request",
    "run_check",
    "tester_api_result",
    "tester_result",
    "tree_dict",
    "valid_domain",
    "valid_selector",
]


def _verifier(ctx: WebContext) -> Verifier:
    verifier = ctx.state.get("verifier")
    if verifier is None:
        verifier = Verifier(ctx.resolver, authserv_id=ctx.settings.effective_authserv_id(), policy=Policy.default())
        ctx.state["verifier"] = verifier
    assert isinstance(verifier, Verifier)
    return verifier


async def _records_involved(resolver: Resolver, verdict: Verdict) -> list[dict[str, Any]]:
    """The TXT records the verdict rests on (already in the resolver's cache)."""
    names: list[tuple[str, str]] = []
    spf_domain = getattr(verdict.spf, "domain", "") if verdict.spf is not None else ""
    if spf_domain:
        names.append(("SPF", spf_domain))
    for signature in verdict.dkim:
        if signature.domain and signature.selector:
            names.append(("DKIM", f"{signature.selector}._domainkey.{signature.domain}"))
    policy_domain = getattr(verdict.dmarc, "policy_domain", "") if verdict.dmarc is not None else ""
    if policy_domain:
        names.append(("DMARC", f"_dmarc.{policy_domain}"))
    unique = list(dict.fromkeys(names))[:12]
    answers = await asyncio.gather(*(resolver.txt(name) for _, name in unique))
    out = []
    for (kind, name), answer in zip(unique, answers, strict=True):
        values = [str(v) for v in answer.records]
        if kind == "SPF":
            values = [v for v in values if v.lower().startswith("v=spf1")]
        elif kind == "DMARC":
            values = [v for v in values if v.lower().startswith("v=dmarc1")]
        out.append({"kind": kind, "name": name, "status": str(answer.status), "values": values})
    return out


async def tester_result(ctx: WebContext, message: bytes, *, ip: str, helo: str, mail_from: str,
                        rcpt_to: str) -> dict[str, Any]:
    """What the mail tester reports: the ``zegel verify --json`` object (as the CLI builds it),
    the explanation in both languages, how the message arrived, and the records involved."""
    verdict = await _verifier(ctx).verify(message, ip=ip, helo=helo, mail_from=mail_from)
    data = verdict.to_dict()
    data["explanations"] = {lang: [section.to_dict() for section in explain_verdict(verdict, ip=ip, lang=lang,
                                                                                     message=message)]
                            for lang in ("en", "nl")}
    data["notes"] = list(getattr(verdict, "notes", ()))
    data["action_reasons"] = {lang: action_reason(verdict.action, verdict, lang) for lang in ("en", "nl")}
    data["received"] = {"ip": ip, "helo": helo, "mail_from": mail_from, "rcpt_to": rcpt_to, "size": len(message)}
    data["records"] = await _records_involved(ctx.resolver, verdict)
    # What to fix: zegel check of the From domain in both languages (bounded like any check;
    # the second language's run is answered from the cache).
    from_domain = getattr(verdict, "from_domain", None)
    if from_domain:
        timeout = ctx.settings.limits.check_timeout
        # The selectors this message was signed with under the From domain are the ones to check.
        selectors = tuple(dict.fromkeys(str(d.selector) for d in verdict.dkim
                                        if d.selector and str(d.domain or "").lower() == str(from_domain).lower()))[:5]
        data["domain_checks"] = {
            lang: (await check_domain(from_domain, BoundedResolver(ctx.resolver),
                                      CheckOptions(selectors=selectors, lang=lang, domain_timeout=timeout))).to_json()
            for lang in ("en", "nl")
        }
    return data


def tester_api_result(stored: dict[str, Any], lang: str) -> dict[str, Any]:
    """The API's ``result``: the verify object plus ``explanation`` in the asked language."""
    result = dict(stored)

    def in_lang(stored_key: str) -> Any:
        """One language's entry of what the tester stored per language (English when it lacks it)."""
        per_lang = result.pop(stored_key, None) or {}
        return per_lang.get(lang) or per_lang.get("en")

    result["explanation"] = in_lang("explanations") or []
    result["domain_check"] = in_lang("domain_checks")
    # Results stored before action_reasons was added: the policy's English reason.
    result["action_reason"] = in_lang("action_reasons") or (result.get("action") or {}).get("reason", "")
    return result
