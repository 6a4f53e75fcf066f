"""Running the audit: one domain (all areas concurrently), or many (bounded concurrency, one
shared resolver and cache, and a per-domain deadline so one slow domain never stalls a batch).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

import idna

from zegel.audit.dkim_audit import audit_dkim
from zegel.audit.dmarc_audit import DmarcAudit, audit_dmarc
from zegel.audit.findings import Finding, Lang, Texts, sort_findings
from zegel.audit.grade import Protection, grade, protection, verdict
from zegel.audit.mx_audit import MxAudit, audit_mx
from zegel.audit.spf_audit import SpfAudit, SpfNode, audit_spf, mx_coverage
from zegel.dmarc import is_dmarc_record
from zegel.dns import Resolver, Status
from zegel.dns.names import InvalidName, normalize

DEFAULT_DOMAIN_TIMEOUT = 30.0
DEFAULT_CONCURRENCY = 50
# RFC 5321 4.1.2 / RFC 1123 2.1: a mail domain is letters, digits and hyphens (A-labels here).
_LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
# A shared DNS lookup cancelled by another domain's deadline is retried this many times.


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """How to audit: DKIM selectors (empty: probe common names), whether the domain's MX hosts
    also send its mail, the report language, and the deadline for one domain."""

    selectors: tuple[str, ...] = ()
    mx_sends: bool = False
    lang: Lang = "en"
    domain_timeout: float = DEFAULT_DOMAIN_TIMEOUT


@dataclass(frozen=True, slots=True)
class DomainReport:
    """Everything zegel check says about one domain."""

    domain: str  # as given (trimmed, lower-case, no trailing dot)
    grade: str
    protected: bool
    verdict: str
    findings: tuple[Finding, ...]
    ascii_domain: str = ""
    spf_record: str | None = None
    spf_tree: SpfNode | None = None
    dmarc_record: str | None = None
    lang: Lang = "en"
    dkim_selectors: tuple[str, ...] = field(default=())

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            out[finding.severity] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON object per domain: exactly domain, grade, protected, findings."""
        return {
            "domain": self.domain,
            "grade": self.grade,
            "protected": self.protected,
            "findings": [f.as_dict() for f in self.findings],
        }


def clean_input(domain: str) -> str:
    return domain.strip().rstrip(".").lower()


def mail_domain(text: str) -> str:
    """The A-label form of a mail domain, or ValueError with the reason in words.

    U-labels are converted with IDNA 2008 (UTS 46 mapping, as the resolver does); the result
    must be host-name syntax (RFC 5321 4.1.2): letter-digit-hyphen labels, at least two, the
    last not all digits, and xn-- labels that decode.
    """
    if not text:
        raise ValueError("empty name")
    if "@" in text:
        raise ValueError("this is an e-mail address; give only the part after '@'")
    if any(ch.isspace() for ch in text):
        raise ValueError("a domain name contains no spaces")
    try:
        ascii_name = normalize(text)
    except InvalidName as exc:
        raise ValueError(str(exc).split(": ", 1)[-1]) from None
    labels = ascii_name.split(".")
    for label in labels:
        if not _LDH_LABEL.match(label):
            raise ValueError(f"label {label!r} may hold only letters, digits and hyphens "
                             "and must not start or end with a hyphen")
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError) as exc:
                raise ValueError(f"label {label!r} is not a valid internationalised label ({exc})") from None
    if len(labels) < 2:
        raise ValueError("a mail domain has at least two labels, such as example.nl")
    if labels[-1].isdigit():
        raise ValueError("this looks like an IP address, not a domain name")
    return ascii_name


def _no_mail(domain: str, spf: SpfAudit, mx: MxAudit, dmarc: DmarcAudit,
             texts: Texts) -> tuple[list[Finding], set[str]]:
    """RFC 7505 + RFC 7208 + RFC 9989 for a domain that sends and receives no mail: null MX,
    "v=spf1 -all", p=reject. Returns findings to add and codes that no longer apply."""
    signals = []
    if mx.null_mx:
        signals.append("null MX")
    if spf.no_mail:
        signals.append("v=spf1 -all")
    if not signals:
        return [], set()
    signal = ", ".join(signals)
    added: list[Finding] = []
    # A domain that sends nothing needs no DKIM key, and no reports to tune a policy.
    dropped = {"dkim.none-found"} if spf.no_mail else set()
    reject = dmarc.status == "found" and dmarc.effective == "reject" and dmarc.pct >= 100
    if mx.null_mx and spf.no_mail and reject:
        added.append(texts.finding("nomail.ok", domain=domain))
        dropped |= {"dmarc.no-rua", "mx.null", "spf.lookups", "dmarc.alignment"}
        return added, dropped
    if mx.null_mx and not spf.no_mail and spf.status in ("found", "none"):
        added.append(texts.finding("nomail.spf", domain=domain, signal=signal))
    if not reject and dmarc.status in ("found", "none"):
        added.append(texts.finding("nomail.dmarc", domain=domain, signal=signal))
    if spf.no_mail and mx.status is Status.NODATA:
        added.append(texts.finding("nomail.null-mx", domain=domain))
        dropped.add("mx.none")
    return added, dropped


def _failed_report(domain: str, code: str, options: CheckOptions, **params: object) -> DomainReport:
    texts = Texts(options.lang)
    finding = texts.finding(code, domain=domain, **params)
    key = "verdict.invalid" if code == "domain.invalid" else "verdict.unknown"
    sentence = texts.phrase(key, domain=domain, why=finding.message.rstrip("."))
    return DomainReport(domain, "F", False, sentence, (finding,), lang=options.lang)


async def audit_domain(domain: str, resolver: Resolver, options: CheckOptions = CheckOptions()) -> DomainReport:
    """Audit one domain: SPF, DMARC, DKIM and MX concurrently, then grade it. No deadline here;
    :func:`check_domain` adds one."""
    given = clean_input(domain)
    texts = Texts(options.lang)
    try:
        name = mail_domain(given)
    except ValueError as exc:
        return _failed_report(given or domain, "domain.invalid", options, reason=str(exc))
    findings: list[Finding] = []
    if name != given:
        findings.append(texts.finding("domain.idna", ascii=name))

    spf, dmarc, mx, dkim = await asyncio.gather(
        audit_spf(name, resolver, texts),
        audit_dmarc(name, resolver, texts),
        audit_mx(name, resolver, texts),
        audit_dkim(name, resolver, texts, options.selectors),
    )

    if spf.status == "nxdomain" and mx.status is Status.NXDOMAIN:
        return _failed_report(given, "domain.not-found", options)
    if spf.status == "tempfail" and mx.status is Status.TEMPFAIL and dmarc.status == "tempfail":
        return _failed_report(given, "domain.dns-error", options, reason=spf.reason or "no answer")

    findings.extend(spf.findings)
    if options.mx_sends and spf.status == "found" and mx.addresses:
        findings.extend(await mx_coverage(name, resolver, texts, dict(mx.addresses)))
    findings.extend(dmarc.findings)
    if any(is_dmarc_record(text) for text in spf.txt):
        # A common slip: the DMARC record pasted at the domain instead of at _dmarc.DOMAIN.
        findings.append(texts.finding("dmarc.wrong-place", domain=name))
    findings.extend(dkim.findings)
    findings.extend(mx.findings)
    added, dropped = _no_mail(name, spf, mx, dmarc, texts)
    findings = [f for f in findings if f.code not in dropped] + added

    testing_from = dmarc.requested if dmarc.requested != dmarc.effective else None
    guard: Protection = protection(dmarc.status, dmarc.effective, dmarc.pct, testing_from)
    ordered = sort_findings(findings)
    spf_ok = spf.status == "found" and not any(f.severity == "error" and f.area == "spf" for f in ordered)
    letter = grade(ordered, guard, dmarc_found=dmarc.status == "found", spf_ok=spf_ok)
    return DomainReport(
        domain=given,
        grade=letter,
        protected=guard.protected,
        verdict=verdict(texts, given, guard),
        findings=ordered,
        ascii_domain=name,
        spf_record=spf.record,
        spf_tree=spf.tree,
        dmarc_record=dmarc.record,
        lang=options.lang,
        dkim_selectors=tuple(key.selector for key in dkim.keys),
    )


async def check_domain(domain: str, resolver: Resolver, options: CheckOptions = CheckOptions()) -> DomainReport:
    """:func:`audit_domain` within ``options.domain_timeout`` seconds; never raises for a bad
    domain: a timeout or an unexpected failure becomes a finding."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + options.domain_timeout
    given = clean_input(domain) or domain
    # A lookup shared with another domain whose deadline cancels it is asked again by the
    # resolver itself (zegel.dns.Resolver.query), so only our own deadline ends this check.
    try:
        async with asyncio.timeout_at(deadline):
            return await audit_domain(domain, resolver, options)
    except TimeoutError:
        return _failed_report(given, "domain.timeout", options, seconds=f"{options.domain_timeout:g}")
    except Exception as exc:  # one broken domain must not end the batch
        return _failed_report(given, "domain.check-failed", options,
                              reason=f"{type(exc).__name__}: {exc}"[:300])


async def _iterate(domains: Iterable[str] | AsyncIterable[str]) -> AsyncIterator[str]:
    if isinstance(domains, AsyncIterable):
        async for item in domains:
            yield item
    else:
        for item in domains:
            yield item


async def check_domains(
    domains: Iterable[str] | AsyncIterable[str],
    resolver: Resolver,
    options: CheckOptions = CheckOptions(),
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> AsyncGenerator[DomainReport, None]:
    """Audit many domains, at most ``concurrency`` at once, yielding reports as they finish.

    The input is read lazily and both queues are bounded, so memory stays proportional to
    ``concurrency`` however long the list is. All domains share ``resolver`` (and its cache).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    pending: asyncio.Queue[str | None] = asyncio.Queue(maxsize=concurrency)
    done: asyncio.Queue[DomainReport | None] = asyncio.Queue(maxsize=concurrency)

    async def feed() -> None:
        failure: Exception | None = None
        try:
            async for item in _iterate(domains):
                await pending.put(item)
        except Exception as exc:  # reading the input failed: stop the workers, then report it
            failure = exc
        # Not on cancellation (a BaseException): then nobody is left to take the sentinels.
        for _ in range(concurrency):
            await pending.put(None)
        if failure is not None:
            raise failure

    async def work() -> None:
        while (item := await pending.get()) is not None:
            await done.put(await check_domain(item, resolver, options))
        await done.put(None)

    tasks = [asyncio.create_task(feed()), *(asyncio.create_task(work()) for _ in range(concurrency))]
    try:
        finished = 0
        while finished < concurrency:
            report = await done.get()
            if report is None:
                finished += 1
            else:
                yield report
        await tasks[0]  # surfaces an exception raised while reading the input
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DOMAIN_TIMEOUT",
    "CheckOptions",
    "DomainReport",
    "audit_domain",
    "check_domain",
    "check_domains",
    "clean_input",
    "mail_domain",
]
