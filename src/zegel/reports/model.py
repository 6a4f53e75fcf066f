"""Data model for DMARC reporting: recorded verification outcomes and aggregate reports.

Pure values (frozen dataclasses), no I/O. The aggregate report model covers both the
RFC 9990 format (namespace ``urn:ietf:params:xml:ns:dmarc-2.0``) and the RFC 7489 Appendix C
format: fields only one of them has are optional here.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

ReportFormat = Literal["rfc9990", "rfc7489"]
RFC9990_NAMESPACE = "urn:ietf:params:xml:ns:dmarc-2.0"

# RFC 9990 PolicyOverrideType; RFC 7489 adds forwarded and sampled_out, drops policy_test_mode.
OVERRIDE_TYPES_9990 = frozenset({"local_policy", "mailing_list", "other", "policy_test_mode", "trusted_forwarder"})
OVERRIDE_TYPES_7489 = frozenset({"forwarded", "sampled_out", "trusted_forwarder", "mailing_list", "local_policy", "other"})


def domain_of(address: str) -> str:
    """The domain of ``local@domain`` (or of a bare domain), lower-case, without angle brackets
    or a trailing dot. Empty for the null reverse-path ``<>``."""
    text = address.strip().strip("<>").strip()
    _, at, domain = text.rpartition("@")
    return (domain if at else text).rstrip(".").lower()


@dataclass(frozen=True)
class DkimOutcome:
    """One DKIM signature's result as recorded (RFC 9990 DKIMAuthResultType plus alignment)."""

    domain: str
    selector: str
    result: str
    aligned: bool = False
    human_result: str = ""


@dataclass(frozen=True)
class Outcome:
    """One message's verification outcome, as recorded for aggregate and failure reporting.

    ``time`` is seconds since the epoch (UTC). ``envelope_from`` is the RFC 5321.MailFrom
    address (may be empty), ``header_from`` the RFC 5322.From domain. ``policy_domain`` and
    ``policy_record`` are where the DMARC record was found and its text as published (None
    when the From domain publishes none). ``policy`` is the policy that applied (p, sp or np),
    ``disposition`` what the receiver did (none|quarantine|reject), ``override`` a local
    override reason type (RFC 9990 PolicyOverrideType) with an optional comment.
    ``uid`` identifies the outcome so that a replayed spool never counts it twice.
    """

    time: int
    source_ip: str
    header_from: str
    envelope_from: str = ""
    helo: str = ""
    envelope_to: str = ""
    spf_domain: str = ""
    spf_scope: str = "mfrom"
    spf_result: str = "none"
    spf_aligned: bool = False
    dkim: tuple[DkimOutcome, ...] = ()
    dmarc_result: str = "none"
    policy_domain: str = ""
    policy_record: str | None = None
    policy: str | None = None
    disposition: str = "none"
    override: str | None = None
    override_comment: str = ""
    # 128 random bits, like uuid4 but without its object overhead (this runs per message).
    uid: str = field(default_factory=lambda: os.urandom(16).hex())

    @property
    def spf_aligned_pass(self) -> bool:
        """The DMARC-aligned SPF result (RFC 9989 4.4: SPF passed for an aligned identifier)."""
        return self.spf_result == "pass" and self.spf_aligned

    @property
    def dkim_aligned_pass(self) -> bool:
        return any(sig.result == "pass" and sig.aligned for sig in self.dkim)

    def to_json(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["dkim"] = [sig.__dict__ for sig in self.dkim]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Outcome:
        values = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        values["dkim"] = tuple(DkimOutcome(**sig) for sig in data.get("dkim", ()))
        return cls(**values)

    def dkim_json(self) -> str:
        """Canonical text of the DKIM results, so identical result sets group together."""
        return json.dumps(
            sorted([s.domain, s.selector, s.result, s.aligned, s.human_result] for s in self.dkim),
            separators=(",", ":"),
        )


def dkim_from_json(text: str) -> tuple[DkimOutcome, ...]:
    return tuple(DkimOutcome(d, s, r, bool(a), h) for d, s, r, a, h in json.loads(text or "[]"))


# --- aggregate reports ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportMetadata:
    org_name: str
    email: str
    report_id: str
    begin: int
    end: int
    extra_contact_info: str = ""
    errors: tuple[str, ...] = ()
    generator: str = ""


@dataclass(frozen=True)
class PolicyPublished:
    """The published policy as reported. ``pct`` exists only in RFC 7489 reports; ``np``,
    ``testing`` and ``discovery_method`` only in RFC 9990 ones."""

    domain: str
    p: str
    sp: str | None = None
    np: str | None = None
    adkim: str | None = None
    aspf: str | None = None
    fo: str | None = None
    testing: str | None = None
    discovery_method: str | None = None
    pct: int | None = None


@dataclass(frozen=True)
class AuthDkim:
    domain: str
    result: str
    selector: str = ""
    human_result: str = ""


@dataclass(frozen=True)
class AuthSpf:
    domain: str
    result: str
    scope: str = ""
    human_result: str = ""


@dataclass(frozen=True)
class OverrideReason:
    type: str
    comment: str = ""


@dataclass(frozen=True)
class ReportRecord:
    """One <record>: a source IP, a message count, the evaluated policy and the raw results."""

    source_ip: str
    count: int
    disposition: str
    dkim_eval: str
    spf_eval: str
    header_from: str
    envelope_from: str = ""
    envelope_to: str = ""
    reasons: tuple[OverrideReason, ...] = ()
    dkim: tuple[AuthDkim, ...] = ()
    spf: tuple[AuthSpf, ...] = ()

    @property
    def dmarc_pass(self) -> bool:
        # RFC 9989 4.2: DMARC passes when either aligned identifier passes.
        return self.dkim_eval == "pass" or self.spf_eval == "pass"

    @property
    def spf_pass(self) -> bool:
        return any(result.result == "pass" for result in self.spf)

    @property
    def dkim_pass(self) -> bool:
        return any(result.result == "pass" for result in self.dkim)


@dataclass(frozen=True)
class AggregateReport:
    metadata: ReportMetadata
    policy: PolicyPublished
    records: tuple[ReportRecord, ...]
    format: ReportFormat = "rfc9990"
    version: str = "1.0"

    @property
    def message_count(self) -> int:
        return sum(record.count for record in self.records)


# One record's fields as extracted: source_ip, count, disposition, dkim_eval, spf_eval,
# header_from, envelope_from, envelope_to, reasons ((type, comment), ...),
# dkim ((domain, selector, result, human_result), ...), spf ((domain, scope, result, human), ...).
RecordFields = tuple[str, int, str, str, str, str, str, str, tuple[tuple[str, str], ...],
                     tuple[tuple[str, str, str, str], ...], tuple[tuple[str, str, str, str], ...]]


@dataclass(frozen=True)
class ParsedAggregate:
    """An aggregate report as ingest stores it: metadata, policy and the records' fields."""

    metadata: ReportMetadata
    policy: PolicyPublished
    format: ReportFormat
    version: str
    records: tuple[RecordFields, ...]
    repairs: tuple[str, ...] = ()  # what ingest repaired to read a broken document (empty: nothing)

    @property
    def message_count(self) -> int:
        return sum(record[1] for record in self.records)

    def report(self) -> AggregateReport:
        return AggregateReport(self.metadata, self.policy, tuple(record_of(f) for f in self.records),
                               format=self.format, version=self.version)


def fields_of_record(record: ReportRecord) -> RecordFields:
    """The inverse of :func:`record_of`."""
    return (record.source_ip, record.count, record.disposition, record.dkim_eval, record.spf_eval,
            record.header_from, record.envelope_from, record.envelope_to,
            tuple((r.type, r.comment) for r in record.reasons),
            tuple((d.domain, d.selector, d.result, d.human_result) for d in record.dkim),
            tuple((s.domain, s.scope, s.result, s.human_result) for s in record.spf))


def record_of(fields: RecordFields) -> ReportRecord:
    ip, count, disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf = fields
    return ReportRecord(
        source_ip=ip, count=count, disposition=disposition, dkim_eval=dkim_eval, spf_eval=spf_eval,
        header_from=header_from, envelope_from=envelope_from, envelope_to=envelope_to,
        reasons=tuple(OverrideReason(t, c) for t, c in reasons),
        dkim=tuple(AuthDkim(d, r, s, h) for d, s, r, h in dkim),
        spf=tuple(AuthSpf(d, r, s, h) for d, s, r, h in spf))



# --- other received report kinds ---------------------------------------------------------


@dataclass(frozen=True)
class FailureReport:
    """An RFC 6591 authentication failure report (ARF) as received (RFC 9991)."""

    reporter: str
    feedback_type: str
    auth_failure: str
    reported_domain: str
    source_ip: str
    arrival_time: int | None
    original_mail_from: str
    original_rcpt_to: str
    identity_alignment: str
    dkim_domain: str
    message_id: str
    subject: str
    digest: str


@dataclass(frozen=True)
class TlsPolicySummary:
    policy_type: str
    policy_domain: str
    successful: int
    failed: int
    failure_details: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class TlsReport:
    """An RFC 8460 SMTP TLS report (JSON)."""

    organization: str
    report_id: str
    begin: int
    end: int
    contact: str
    policies: tuple[TlsPolicySummary, ...]

