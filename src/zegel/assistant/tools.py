"""The console's questions as plain async functions, each under the caller's access rules.

The MCP endpoint (:mod:`zegel.assistant.server`) and the console's JSON API call these, so an
assistant sees exactly what its user sees in the browser: a domain the identity may not see
gets the same "no access" answer whether or not it exists.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from zegel.accounts import AccessDenied, Identity
from zegel.dns import Resolver
from zegel.monitor.store import MonitorStore
from zegel.reports.store import ReportStore

MAX_MESSAGE = 256 * 1024  # headers are what explain reads; a bound keeps one call cheap
_SINCE = re.compile(r"(\d{1,5})([hdw])\Z")


class ToolError(ValueError):
    """A bad argument, said in one line."""


@dataclass
class Services:
    """What the tools work with (the web app builds one; tests build their own)."""

    resolver: Resolver
    reports: ReportStore | None = None
    monitor: MonitorStore | None = None
    clock: Callable[[], float] = time.time
    detector: Any = None  # a LookalikeDetector, built once
    extra: dict[str, Any] = field(default_factory=dict)


def parse_since(text: str, now: float) -> int:
    """``30d``, ``12h``, ``2w``, a date (``2026-11-01``) or epoch seconds -> epoch seconds,
    as ``zegel reports summary --since`` reads it."""
    value = text.strip().lower()
    if match := _SINCE.match(value):
        amount, unit = int(match.group(1)), match.group(2)
        return int(now - amount * {"h": 3600, "d": 86400, "w": 7 * 86400}[unit])
    if value.isdigit() and len(value) <= 12:
        return int(value)
    from zegel.reports.ingest import ReportError, parse_timestamp

    try:
        return parse_timestamp(text[:64])
    except ReportError:
        raise ToolError(f"since: expected e.g. 30d, 12h, 2w or a date like 2026-11-01, not {text[:64]!r}") from None


def visible_domains(services: Services, identity: Identity) -> list[str]:
    """The domains this identity may open: its grants, or for an admin every watched or
    reported domain."""
    if not identity.admin:
        return sorted(identity.domains)
    found: set[str] = set()
    if services.monitor is not None:
        found |= {w.domain for w in services.monitor.watched()}
    if services.reports is not None:
        from zegel.monitor.dashboard import domains_with_reports

        found |= set(domains_with_reports(services.reports))
    return sorted(found)


async def check(services: Services, identity: Identity, domain: str, selectors: tuple[str, ...] = (),
                lang: str = "en") -> dict[str, Any]:
    """``zegel check DOMAIN --json`` for one domain the identity may see."""
    from zegel.audit import CheckOptions, check_domain, parse_lang

    name = identity.require(domain)
    report = await check_domain(name, services.resolver, CheckOptions(selectors=selectors, lang=parse_lang(lang)))
    return report.to_json()


async def explain(services: Services, identity: Identity, message: str, lang: str = "en") -> dict[str, Any]:
    """``zegel explain --json`` of a pasted message or its headers (nothing is stored)."""
    from zegel.explain.received import explain_received

    raw = message.encode("utf-8", "surrogateescape")[:MAX_MESSAGE]
    report = explain_received(raw, detector=services.detector)
    return report.to_dict("nl" if lang == "nl" else "en")


SUMMARY_LIMIT = 200  # sources per page of the API's and the assistant's summary
SUMMARY_MAX_LIMIT = 1000


async def reports_summary(services: Services, identity: Identity, domain: str, since: str = "30d",
                          lang: str = "en", limit: int = SUMMARY_LIMIT, offset: int = 0) -> dict[str, Any]:
    """The object ``zegel reports summary --domain D --since S --json`` prints, with ``sources``
    paged: ``limit`` (1-1000) sources from ``offset`` on, by volume; ``sources_total`` and
    ``next_offset`` tell what else there is (PTR names of the sources shown come from the
    store's cache or the resolver, as in the CLI)."""
    from zegel.reports.summary import summarize

    name = identity.require(domain)
    if not 1 <= limit <= SUMMARY_MAX_LIMIT:
        raise ToolError(f"limit must be 1-{SUMMARY_MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise ToolError(f"offset must be 0 or more, not {offset}")
    if services.reports is None:
        raise ToolError("no reports database is configured")
    start = parse_since(since, services.clock())
    result = await summarize(services.reports, name, start, resolver=services.resolver,
                             lang="nl" if lang == "nl" else "en", top=limit, first=offset)
    return result.to_json(limit=limit, offset=offset)


async def monitoring_history(services: Services, identity: Identity, domain: str, limit: int = 20) -> dict[str, Any]:
    """A watched domain's runs (grade, what changed) and alerts, newest first."""
    name = identity.require(domain)
    if services.monitor is None:
        raise ToolError("monitoring is not configured")
    watched = services.monitor.get(name)
    runs = services.monitor.history(name, max(1, min(limit, 200)))
    return {
        "domain": name,
        "watched": watched.to_json() if watched else None,
        "runs": [dict(run.to_json(), diff=[c.to_json() for c in changes]) for run, changes in runs],
        "alerts": services.monitor.alerts(name, limit=max(1, min(limit, 200))),
    }


def monitoring_overview(services: Services, identity: Identity) -> list[dict[str, Any]]:
    """The watch list as this identity may see it, with each domain's last grade."""
    if services.monitor is None:
        return []
    allowed = None if identity.admin else sorted(identity.domains)
    out = []
    for item in services.monitor.watched(allowed):
        last = services.monitor.last_run(item.domain)
        out.append(dict(item.to_json(), grade=last.grade if last else None, checked=last.time if last else None))
    return out


__all__ = ["SUMMARY_LIMIT", "SUMMARY_MAX_LIMIT", "AccessDenied", "Services", "ToolError", "check", "explain",
           "monitoring_history", "monitoring_overview", "parse_since", "reports_summary", "visible_domains"]
