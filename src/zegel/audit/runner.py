"""Running the audit: one domain (all areas concurrently), or many (bounded concurrency, one
shared resolver and cache, and a per-domain deadline so one slow domain never stalls a batch).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import idna

from zegel import aio
from zegel.audit.bimi import audit_bimi
from zegel.audit.dane import audit_dane
from zegel.audit.dkim_audit import audit_dkim
from zegel.audit.dmarc_audit import DmarcAudit, audit_dmarc
from zegel.audit.dnssec_audit import DnssecAudit, audit_dnssec
from zegel.audit.findings import Finding, Lang, Texts, sort_findings
from zegel.audit.fixes import (
    dmarc_next,
    flatten_spf,
    merge_spf,
    txt_line,
    with_records,
)
from zegel.audit.grade import Protection, grade, protection, verdict
from zegel.audit.inputs import reduce_input
from zegel.audit.mta_sts import audit_mta_sts, audit_tlsrpt
from zegel.audit.mx_audit import MxAudit, _cname, _is_ip_literal, audit_mx, audit_mx_hosts
from zegel.audit.net import Endpoints, HttpsFetcher
from zegel.audit.record_text import corrected_spf
from zegel.audit.spf_audit import (
    LOOKUP_LIMIT,
    SpfAudit,
    SpfNode,
    audit_spf,
    mx_coverage,
)
from zegel.audit.starttls import ProbeResult, SmtpProber, grade_probe
from zegel.dmarc import is_dmarc_record
from zegel.dns import Resolver, Status
from zegel.dns.names import InvalidName, normalize
from zegel.spf import check_host
from zegel.spf.parser import is_spf_record as is_spf_text

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
    # Selectors for one domain only (``--selector DOMAIN:SELECTOR``), by A-label or as given.
    domain_selectors: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # Transport security and the rest beyond SPF/DKIM/DMARC/MX: MTA-STS, TLS-RPT, BIMI, DNSSEC,
    # DANE, and per MX host CNAME, IPv6 and reverse DNS.
    transport: bool = True
    # Fetch the MTA-STS policy and the BIMI logo over HTTPS (``fetcher`` None: a default one
    # that connects where DNS says, trusting the system store).
    fetch: bool = True
    fetcher: HttpsFetcher | None = None
    # The STARTTLS probe of each MX on port 25: only when a prober is given (``--smtp``).
    prober: SmtpProber | None = None


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
    # Every SPF record published: one, or the several that spf.multiple-records names.
    spf_records: tuple[str, ...] = ()
    spf_tree: SpfNode | None = None
    dmarc_record: str | None = None
    lang: Lang = "en"
    dkim_selectors: tuple[str, ...] = field(default=())
    given: str = ""  # the input as typed, when it was a URL or an address
    records: tuple[CheckedRecord, ...] = ()
    dnssec: DnssecAudit | None = None
    mta_sts_policy: str | None = None
    probes: tuple[ProbeResult, ...] = ()

    @property
    def has_errors(self) -> bool:
        return any(f.severity == "error" for f in self.findings)

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            out[finding.severity] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON object per domain: domain, grade, protected, findings (as before), and the
        keys docs/check.md lists after them: input, verdict, records, dnssec, mta_sts_policy,
        smtp."""
        out: dict[str, Any] = {
            "domain": self.domain,
            "grade": self.grade,
            "protected": self.protected,
            "findings": [f.as_dict() for f in self.findings],
            "verdict": self.verdict,
            "records": [r.as_dict() for r in self.records],
        }
        if self.given:
            out["input"] = self.given
        if self.dnssec is not None:
            out["dnssec"] = {"state": self.dnssec.state, "chain": list(self.dnssec.chain),
                             "mx": {host: state for host, state in self.dnssec.hosts}}
        if self.mta_sts_policy is not None:
            out["mta_sts_policy"] = self.mta_sts_policy
        if self.probes:
            out["smtp"] = [{"host": p.host, "address": p.address, "starttls": p.starttls, "version": p.version,
                            "cipher": p.cipher, "error": p.error, "certificate_error": p.verify_error}
                           for p in self.probes]
        return out


@dataclass(frozen=True, slots=True)
class CheckedRecord:
    """One record set the check read: where, which type, the values, and whether it came from a
    ``--zone`` draft rather than live DNS."""

    name: str
    rdtype: str
    values: tuple[str, ...]
    draft: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.rdtype, "values": list(self.values), "draft": self.draft}

    def zone_lines(self) -> list[str]:
        if self.rdtype == "TXT":
            return [txt_line(self.name, value) for value in self.values]
        return [f"{self.name}. {self.rdtype} {value}" for value in self.values]


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
    dropped = {"dkim.none-found", "dkim.selector-missing"} if spf.no_mail else set()
    reject = dmarc.status == "found" and dmarc.effective == "reject" and dmarc.pct >= 100
    if mx.null_mx and spf.no_mail and reject:
        added.append(texts.finding("nomail.ok", domain=domain))
        dropped |= {"dmarc.no-rua", "mx.null", "spf.lookups", "dmarc.alignment", "mta-sts.none",
                    "tlsrpt.none", "bimi.none"}
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


def _selectors_for(name: str, given: str, options: CheckOptions) -> tuple[str, ...]:
    """The selectors named for all domains and for this one (``--selector DOMAIN:S``)."""
    chosen = list(options.selectors)
    for key in (name, given):
        chosen.extend(options.domain_selectors.get(key, ()))
    return tuple(dict.fromkeys(chosen))


def _drafted_selectors(name: str, resolver: Resolver) -> tuple[str, ...]:
    """Every selector a --zone draft holds for the domain: a draft key is checked without
    being named."""
    suffix = f"._domainkey.{name}"
    found = []
    for owner in resolver.overlay.names_under(f"_domainkey.{name}"):
        selector = owner[: -len(suffix)]
        if selector and "." not in selector and selector != "*" and selector != "_adsp":
            found.append(selector)
    return tuple(found)


def _sts_id(domain: str) -> str:
    """A stable id for a suggested _mta-sts record (RFC 8461 3.1: 1-32 letters and digits)."""
    return "zegel" + hashlib.sha256(domain.encode()).hexdigest()[:12]


async def _records_checked(name: str, resolver: Resolver, selectors: Iterable[str],
                           mx_hosts: Iterable[str], transport: bool) -> tuple[CheckedRecord, ...]:
    """Every record set the audit read (answers come from the resolver's cache)."""
    wanted: list[tuple[str, str]] = [(name, "TXT"), (f"_dmarc.{name}", "TXT"), (name, "MX")]
    wanted += [(f"{s}._domainkey.{name}", "TXT") for s in selectors]
    if transport:
        wanted += [(f"_mta-sts.{name}", "TXT"), (f"_smtp._tls.{name}", "TXT"), (f"default._bimi.{name}", "TXT")]
        wanted += [(f"_25._tcp.{host}", "TLSA") for host in mx_hosts]
    answers = await aio.gather(*(resolver.query(n, t) for n, t in wanted))
    out: list[CheckedRecord] = []
    for (owner, rdtype), answer in zip(wanted, answers, strict=True):
        if not answer.ok:
            continue
        if rdtype == "MX":
            values = tuple(f"{r.preference} {r.exchange or '.'}{'.' if r.exchange else ''}" for r in answer.records)
        else:
            values = tuple(str(v) for v in answer.records)
        if owner == name and rdtype == "TXT":
            values = tuple(v for v in values if v.lower().startswith("v=spf1"))
            if not values:
                continue
        draft = resolver.overlay.lookup(owner, rdtype, offline=False) is not None
        out.append(CheckedRecord(owner, rdtype, values, draft))
    return tuple(out)


async def _adsp(name: str, resolver: Resolver, texts: Texts) -> list[Finding]:
    """RFC 5617 (ADSP) is historic since 2013 (RFC 8553 notes its retirement): a leftover
    record does nothing useful and confuses readers."""
    # RFC 8020: NXDOMAIN for _domainkey.DOMAIN (already asked by the DKIM probe, so cached)
    # means nothing exists below it; no ADSP record to look for.
    base = await resolver.txt(f"_domainkey.{name}")
    if base.status is Status.NXDOMAIN:
        return []
    answer = await resolver.txt(f"_adsp._domainkey.{name}")
    if answer.ok and any(t.lower().replace(" ", "").startswith("dkim=") for t in answer.records):
        return [texts.finding("dkim.adsp", name=f"_adsp._domainkey.{name}")]
    return []


_NEXT_POLICY = {"none": "quarantine", "quarantine": "reject"}
# Client addresses no mail can come from, one in each half of IPv4 and one in IPv6: 240.0.0.0/4
# (reserved since RFC 1112), 0.0.0.0/8 ("this network", RFC 6890) and 100::/64 (discard-only,
# RFC 6666). An SPF record that passes one of them passes a forger's server too: '+all', or a
# range such as 0.0.0.0/1 or ::/0.
_NO_SENDERS = ("240.0.0.1", "0.0.0.1", "100::1")


async def _spf_passes_anyone(name: str, resolver: Resolver) -> bool:
    """Whether SPF (evaluated as receivers do, RFC 7208 4) passes a client no one sends from."""
    results = await aio.gather(*(check_host(ip, name, f"postmaster@{name}", resolver=resolver, time_limit=10.0)
                                 for ip in _NO_SENDERS))
    return any(result.result == "pass" for result in results)


async def _probe_all(hosts: Iterable[str], prober: SmtpProber) -> tuple[ProbeResult, ...]:
    return tuple(await asyncio.gather(*(prober.probe(host) for host in hosts)))


async def _fix_records(name: str, spf: SpfAudit, dmarc: DmarcAudit, mx: MxAudit, resolver: Resolver,
                       findings: list[Finding], texts: Texts) -> list[Finding]:
    """Attach the corrected record to each fixable finding."""
    codes = {f.code for f in findings}
    records: dict[str, str] = {}
    if "spf.none" in codes:
        records["spf.none"] = txt_line(name, "v=spf1 mx -all" if mx.hosts else "v=spf1 -all")
    if spf.record:
        # spf.pass-all and spf.repeated-term carry their record from the walk (the record
        # holding the problem, maybe an include); the rest fix the domain's own record alike.
        for code in ("spf.neutral-all", "spf.no-all"):
            if code in codes:
                records[code] = txt_line(name, corrected_spf(spf.record))
    if "spf.too-many-lookups" in codes and spf.record and spf.tree is not None:
        flat, count = await flatten_spf(name, spf.record, spf.tree, resolver)
        if count <= LOOKUP_LIMIT:
            findings.append(texts.finding("spf.flattened", count=count, record=txt_line(name, flat)))
    for code in ("nomail.spf",):
        records[code] = txt_line(name, "v=spf1 -all")
    records["nomail.dmarc"] = txt_line(f"_dmarc.{name}", "v=DMARC1; p=reject;")
    records["nomail.null-mx"] = f"{name}. MX 0 ."
    own = dmarc.record if dmarc.status == "found" else None
    current = dmarc.requested or "none"
    # A subdomain without a record of its own gets its parent's sp (RFC 9989 4.10.1): the next
    # step for it is a record of its own, one step up from that sp; the parent's record (its
    # reports, pct, t, sp, np) is fixed where it is published, its p kept.
    where = dmarc.policy_domain or name
    inherited = own is not None and where != name
    for code in ("dmarc.none", "dmarc.policy-none", "dmarc.policy-quarantine"):
        if code in codes:
            records[code] = (dmarc_next(name, own, policy=_NEXT_POLICY.get(current, "reject"), drop=("sp", "np"))
                             if inherited else dmarc_next(name, own))
    kept = dmarc.record_policy or current
    for code in ("dmarc.no-rua", "dmarc.pct", "dmarc.testing"):
        if code in codes:
            records[code] = dmarc_next(where, own, policy=kept)
    for code, tag in (("dmarc.sp-weaker", "sp"), ("dmarc.np-weaker", "np")):
        if code in codes and own:
            records[code] = dmarc_next(where, own, policy=kept, drop=(tag,))
    if "bimi.dmarc-not-enforced" in codes:
        records["bimi.dmarc-not-enforced"] = dmarc_next(
            name, own, policy="quarantine" if current == "none" else current)
    if "dmarc.wrong-place" in codes:
        misplaced = next((t for t in spf.txt if is_dmarc_record(t)), "")
        records["dmarc.wrong-place"] = txt_line(f"_dmarc.{name}", misplaced)
    if "spf.multiple-records" in codes:
        # Merged, then corrected as any record we suggest: never a '+all' or a repeated term.
        records["spf.multiple-records"] = txt_line(
            name, corrected_spf(merge_spf([t for t in spf.txt if is_spf_text(t)])))
    if "mx.cname" in codes or "mx.host-is-ip" in codes:
        lines: list[str] = []
        for record in mx.records:
            host = record.exchange
            if not host:
                continue
            if _is_ip_literal(host):
                lines.append(f"mail.{name}. {'AAAA' if ':' in host else 'A'} {host.strip('[]')}")
                host = f"mail.{name}"
            else:
                alias = await _cname(host, resolver)
                host = alias or host
            lines.append(f"{name}. MX {record.preference} {host}.")
        for code in ("mx.cname", "mx.host-is-ip"):
            records[code] = "\n".join(lines)
    return with_records(findings, records)


async def audit_domain(domain: str, resolver: Resolver, options: CheckOptions = CheckOptions()) -> DomainReport:
    """Audit one domain: every area concurrently where independent, then grade it. No deadline
    here; :func:`check_domain` adds one."""
    reduced = reduce_input(clean_input(domain))
    given = clean_input(reduced.domain)
    texts = Texts(options.lang)
    try:
        name = mail_domain(given)
    except ValueError as exc:
        return _failed_report(given or domain, "domain.invalid", options, reason=str(exc))
    findings: list[Finding] = []
    if reduced.kind:
        findings.append(texts.finding(f"domain.from-{reduced.kind}", given=domain.strip()[:200], domain=given))
    if name != given:
        findings.append(texts.finding("domain.idna", ascii=name))

    selectors = _selectors_for(name, given, options)
    drafted = _drafted_selectors(name, resolver)
    spf, dmarc, mx, dkim, adsp, tlsrpt = await asyncio.gather(
        audit_spf(name, resolver, texts),
        audit_dmarc(name, resolver, texts),
        audit_mx(name, resolver, texts),
        audit_dkim(name, resolver, texts, (*selectors, *drafted) if selectors else (), drafted=drafted),
        _adsp(name, resolver, texts),
        audit_tlsrpt(name, resolver, texts, rua=f"tls-reports@{name}") if options.transport else _none(),
    )

    if spf.status == "nxdomain" and mx.status is Status.NXDOMAIN:
        return _failed_report(given, "domain.not-found", options)
    if spf.status == "tempfail" and mx.status is Status.TEMPFAIL and dmarc.status == "tempfail":
        failed = _failed_report(given, "domain.dns-error", options, reason=spf.reason or "no answer")
        if not options.transport:
            return failed
        # A validating resolver answers SERVFAIL for every name of a bogus zone: say why.
        broken = await audit_dnssec(name, (), resolver, texts)
        if broken.state != "bogus":
            return failed
        return DomainReport(given, "F", False, failed.verdict, sort_findings([*failed.findings, *broken.findings]),
                            ascii_domain=name, lang=options.lang, dnssec=broken)

    findings.extend(spf.findings)
    if options.mx_sends and spf.status == "found" and mx.addresses:
        findings.extend(await mx_coverage(name, resolver, texts, dict(mx.addresses)))
    findings.extend(dmarc.findings)
    if any(is_dmarc_record(text) for text in spf.txt):
        # A common slip: the DMARC record pasted at the domain instead of at _dmarc.DOMAIN.
        findings.append(texts.finding("dmarc.wrong-place", domain=name))
    findings.extend(dkim.findings)
    findings.extend(adsp)
    findings.extend(mx.findings)

    dnssec: DnssecAudit | None = None
    policy_text: str | None = None
    probes: tuple[ProbeResult, ...] = ()
    hosts = [h for h in mx.hosts if h in mx.addresses]
    if options.transport and not mx.null_mx:
        fetcher = options.fetcher
        if fetcher is None and options.fetch and not resolver.offline:
            fetcher = HttpsFetcher(Endpoints(resolver))
        enforced = dmarc.status == "found" and dmarc.effective in ("quarantine", "reject") and dmarc.pct >= 100
        sts, dnssec, host_findings, bimi, _ = await asyncio.gather(
            audit_mta_sts(name, resolver, texts, mx.hosts, fetcher if options.fetch else None, sts_id=_sts_id(name)),
            audit_dnssec(name, hosts, resolver, texts),
            audit_mx_hosts(mx, resolver, texts),
            audit_bimi(name, resolver, texts, fetcher if options.fetch else None, dmarc_enforced=enforced),
            aio.gather(*(resolver.query(f"_25._tcp.{h}", "TLSA") for h in hosts)),
        )
        dane = await audit_dane(hosts, [dnssec.host_state(h) for h in hosts], resolver, texts)
        policy_text = sts.policy_text
        findings.extend(tlsrpt)
        findings.extend(sts.findings)
        findings.extend(dnssec.findings)
        findings.extend(host_findings)
        findings.extend(dane.findings)
        findings.extend(bimi.findings)
        if options.prober is not None and hosts:
            probes = await _probe_all(hosts, options.prober)
            for probe in probes:
                findings.extend(grade_probe(probe, texts, dane.for_host(probe.host)))
    elif options.transport:
        dnssec = await audit_dnssec(name, (), resolver, texts)
        findings.extend(dnssec.findings)

    added, dropped = _no_mail(name, spf, mx, dmarc, texts)
    findings = [f for f in findings if f.code not in dropped] + added
    findings = await _fix_records(name, spf, dmarc, mx, resolver, findings, texts)

    testing_from = dmarc.requested if dmarc.requested != dmarc.effective else None
    guard: Protection = protection(dmarc.status, dmarc.effective, dmarc.pct, testing_from)
    if guard.protected and spf.status == "found" and await _spf_passes_anyone(name, resolver):
        # Only an enforcing policy needs the probe: nothing else would call the domain protected.
        guard = protection(dmarc.status, dmarc.effective, dmarc.pct, testing_from, spf_passes_anyone=True)
    ordered = sort_findings(findings)
    spf_ok = spf.status == "found" and not any(f.severity == "error" and f.area == "spf" for f in ordered)
    letter = grade(ordered, guard, dmarc_found=dmarc.status == "found", spf_ok=spf_ok)
    # The selectors asked for are read too, so a key record that does not parse is shown beside
    # its finding (a probed name without a key is not: most of those do not exist).
    read = dict.fromkeys([*(k.selector for k in dkim.keys), *selectors, *drafted])
    checked = await _records_checked(name, resolver, read, hosts, options.transport)
    return DomainReport(
        domain=given,
        grade=letter,
        protected=guard.protected,
        verdict=verdict(texts, given, guard),
        findings=ordered,
        ascii_domain=name,
        spf_record=spf.record,
        spf_records=tuple(t for t in spf.txt if is_spf_text(t)),
        spf_tree=spf.tree,
        dmarc_record=dmarc.record,
        lang=options.lang,
        dkim_selectors=tuple(key.selector for key in dkim.keys),
        given=domain.strip() if reduced.kind else "",
        records=checked,
        dnssec=dnssec,
        mta_sts_policy=policy_text,
        probes=probes,
    )


async def _none() -> tuple[Finding, ...]:
    return ()


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
