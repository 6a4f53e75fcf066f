"""Aggregate report generation (receiver side): recorded outcomes -> RFC 9990 XML (or the
RFC 7489 Appendix C format for receivers of the old one), gzip-compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from zegel import __version__
from zegel.reports.model import (
    OVERRIDE_TYPES_7489,
    OVERRIDE_TYPES_9990,
    RFC9990_NAMESPACE,
    AggregateReport,
    AuthDkim,
    AuthSpf,
    OverrideReason,
    PolicyPublished,
    ReportFormat,
    ReportMetadata,
    ReportRecord,
)
from zegel.reports.store import AggregateRow, ReportStore

# lxml ships no type information (and lxml-stubs is not a dependency): use it as Any.
etree: Any = importlib.import_module("lxml.etree")

DISPOSITIONS = ("none", "quarantine", "reject")


@dataclass(frozen=True)
class ReporterInfo:
    """Who we are in the reports we send (RFC 9990 report_metadata)."""

    org_name: str
    email: str
    domain: str  # the receiver's domain: Submitter in the subject, first part of the file name
    extra_contact_info: str = ""


def report_id_for(reporter: ReporterInfo, domain: str, begin: int, end: int) -> str:
    """Deterministic, unique Report-ID: a re-run for the same period yields the same id, so a
    domain owner can recognise a duplicate (RFC 9990 2.1)."""
    digest = hashlib.sha256(f"{reporter.domain}|{domain}|{begin}|{end}".encode()).hexdigest()[:20]
    return f"{begin}.{digest}@{reporter.domain}"


def policy_from_record(domain: str, record_text: str | None, fmt: ReportFormat) -> PolicyPublished:
    """The published policy section from the DMARC record text, as zegel.dmarc parses it
    (effective values, defaults applied: RFC 9989 4.7)."""
    from zegel.dmarc import DmarcRecordError, parse_record

    try:
        record = parse_record(record_text or "")
    except DmarcRecordError:
        record = None
    p = (record.p if record else None) or "none"
    adkim = record.adkim if record else "r"
    aspf = record.aspf if record else "r"
    fo = ":".join(record.fo) if record and record.fo else "0"
    if fmt == "rfc7489":
        pct = record.pct_effective if record else 100
        return PolicyPublished(domain=domain, p=p, sp=(record.sp if record else None) or p, adkim=adkim, aspf=aspf,
                               fo=fo, pct=pct)
    return PolicyPublished(
        domain=domain, p=p, sp=record.sp if record else None, np=record.np if record else None, adkim=adkim,
        aspf=aspf, fo=fo, testing="y" if record and record.t else "n",
        discovery_method="treewalk",  # RFC 9989 4.10: zegel discovers policies by the tree walk
    )


def _record_from_row(row: AggregateRow, policy: PolicyPublished, fmt: ReportFormat) -> ReportRecord:
    dmarc_pass = row.dkim_aligned_pass or row.spf_aligned_pass
    disposition = row.disposition if row.disposition in DISPOSITIONS else "none"
    if fmt == "rfc9990" and dmarc_pass and disposition == "none" and (row.policy or policy.p) in ("quarantine", "reject"):
        # RFC 9990 ActionDispositionType: "pass" = no action, DMARC passed under an enforcing policy.
        disposition = "pass"
    reasons: tuple[OverrideReason, ...] = ()
    if row.override:
        allowed = OVERRIDE_TYPES_9990 if fmt == "rfc9990" else OVERRIDE_TYPES_7489
        kind = row.override if row.override in allowed else "other"
        reasons = (OverrideReason(kind, row.override_comment),)
    dkim = tuple(
        AuthDkim(domain=d, selector=s, result=r, human_result=h)
        for d, s, r, _aligned, h in json.loads(row.dkim or "[]")
    )
    spf = (AuthSpf(domain=row.spf_domain, result=row.spf_result, scope=row.spf_scope),)
    return ReportRecord(
        source_ip=row.source_ip, count=row.count, disposition=disposition,
        dkim_eval="pass" if row.dkim_aligned_pass else "fail",
        spf_eval="pass" if row.spf_aligned_pass else "fail",
        header_from=row.header_from, envelope_from=row.envelope_from, envelope_to=row.envelope_to,
        reasons=reasons, dkim=dkim, spf=spf,
    )


def build_report(
    store: ReportStore, reporter: ReporterInfo, domain: str, begin: int, end: int,
    fmt: ReportFormat = "rfc9990",
) -> AggregateReport | None:
    """The aggregate report for ``domain`` over [begin, end), or None without data.
    The report's date range is inclusive (RFC 9990: begin and end are both in the period)."""
    rows = store.aggregate_rows(domain, begin, end)
    if not rows:
        return None
    policy = policy_from_record(domain, store.policy_record(domain, begin, end), fmt)
    meta = ReportMetadata(
        org_name=reporter.org_name, email=reporter.email, report_id=report_id_for(reporter, domain, begin, end),
        begin=begin, end=end - 1, extra_contact_info=reporter.extra_contact_info,
        generator=f"zegel {__version__}",
    )
    return AggregateReport(meta, policy, tuple(_record_from_row(row, policy, fmt) for row in rows), format=fmt)


# --- serialisation --------------------------------------------------------------------------


def to_xml(report: AggregateReport) -> bytes:
    """The report as XML in its format (RFC 9990 section 3 / RFC 7489 Appendix C)."""
    rfc9990 = report.format == "rfc9990"
    ns = RFC9990_NAMESPACE if rfc9990 else None
    nsmap = {None: ns} if ns else None
    qualified = (lambda tag: f"{{{ns}}}{tag}") if ns else (lambda tag: tag)

    def sub(parent: Any, tag: str, text: str | int | None = None) -> Any:
        element = etree.SubElement(parent, qualified(tag))
        if text is not None:
            element.text = str(text)
        return element

    root = etree.Element(qualified("feedback"), nsmap=nsmap)
    sub(root, "version", report.version if rfc9990 else "1.0")
    meta = report.metadata
    m = sub(root, "report_metadata")
    sub(m, "org_name", meta.org_name)
    sub(m, "email", meta.email)
    if meta.extra_contact_info:
        sub(m, "extra_contact_info", meta.extra_contact_info)
    sub(m, "report_id", meta.report_id)
    dates = sub(m, "date_range")
    sub(dates, "begin", meta.begin)
    sub(dates, "end", meta.end)
    # RFC 9990 allows one <error>; RFC 7489 any number.
    for error in meta.errors[:1] if rfc9990 else meta.errors:
        sub(m, "error", error)
    if rfc9990 and meta.generator:
        sub(m, "generator", meta.generator)

    policy = report.policy
    pp = sub(root, "policy_published")
    sub(pp, "domain", policy.domain)
    if rfc9990:
        fields: tuple[tuple[str, str | int | None], ...] = (
            ("p", policy.p), ("sp", policy.sp), ("np", policy.np), ("adkim", policy.adkim),
            ("aspf", policy.aspf), ("discovery_method", policy.discovery_method), ("fo", policy.fo),
            ("testing", policy.testing))
    else:
        fields = (("adkim", policy.adkim), ("aspf", policy.aspf), ("p", policy.p), ("sp", policy.sp),
                  ("pct", policy.pct if policy.pct is not None else 100), ("fo", policy.fo))
    for tag, value in fields:
        if value is not None:
            sub(pp, tag, value)

    for record in report.records:
        rec = sub(root, "record")
        row = sub(rec, "row")
        sub(row, "source_ip", record.source_ip if rfc9990 else _ip_7489(record.source_ip))
        sub(row, "count", record.count)
        pe = sub(row, "policy_evaluated")
        sub(pe, "disposition", record.disposition if rfc9990 or record.disposition != "pass" else "none")
        sub(pe, "dkim", record.dkim_eval)
        sub(pe, "spf", record.spf_eval)
        for reason in record.reasons:
            r = sub(pe, "reason")
            sub(r, "type", reason.type)
            if reason.comment:
                sub(r, "comment", reason.comment)
        ids = sub(rec, "identifiers")
        if rfc9990:
            sub(ids, "header_from", record.header_from)
            if record.envelope_from:
                sub(ids, "envelope_from", record.envelope_from)
            if record.envelope_to:
                sub(ids, "envelope_to", record.envelope_to)
        else:
            if record.envelope_to:
                sub(ids, "envelope_to", record.envelope_to)
            sub(ids, "envelope_from", record.envelope_from)
            sub(ids, "header_from", record.header_from)
        auth = sub(rec, "auth_results")
        for dkim in record.dkim:
            d = sub(auth, "dkim")
            sub(d, "domain", dkim.domain)
            if dkim.selector or rfc9990:
                sub(d, "selector", dkim.selector)
            sub(d, "result", dkim.result)
            if dkim.human_result:
                sub(d, "human_result", dkim.human_result)
        for spf in record.spf[:1] if rfc9990 else record.spf:
            s = sub(auth, "spf")
            sub(s, "domain", spf.domain)
            if rfc9990:
                if spf.scope == "mfrom":  # RFC 9990 knows only the mfrom scope
                    sub(s, "scope", "mfrom")
            else:
                sub(s, "scope", spf.scope if spf.scope in ("helo", "mfrom") else "mfrom")
            sub(s, "result", spf.result if rfc9990 or spf.result != "policy" else "permerror")
            if rfc9990 and spf.human_result:
                sub(s, "human_result", spf.human_result)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def _ip_7489(ip: str) -> str:
    # The RFC 7489 schema's IPAddress pattern accepts only uncompressed IPv6.
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    return address.exploded if address.version == 6 else str(address)


def gzip_bytes(data: bytes) -> bytes:
    """gzip with a fixed timestamp, so the same report always compresses to the same bytes."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def report_filename(reporter: ReporterInfo, report: AggregateReport, extension: str = "xml.gz") -> str:
    """RFC 9990 section 4 (and RFC 7489 7.2.1.1): receiver!policy-domain!begin!end[!unique-id].ext"""
    meta = report.metadata
    unique = hashlib.sha256(meta.report_id.encode()).hexdigest()[:12]
    return f"{reporter.domain}!{report.policy.domain}!{meta.begin}!{meta.end}!{unique}.{extension}"
