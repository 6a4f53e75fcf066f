"""What changed between two runs, and which changes deserve an alert."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from zegel.audit.grade import GRADES
from zegel.monitor.snapshot import AREAS, Snapshot, format_time

DAY = 86400
EXPIRY_WARNING_DAYS = 14


@dataclass(frozen=True, slots=True)
class Change:
    """One difference: a record added or removed in an area, a finding that appeared or went
    away, or the grade."""

    area: str  # spf | dmarc | dkim | mx | mta_sts | bimi | mta_sts_policy | finding | grade
    kind: str  # added | removed | changed
    before: str
    after: str

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Alert:
    domain: str
    kind: str  # grade-drop | record-gone | record-broken | new-failing-sender | pass-rate | mta-sts-expiry
    message: str
    time: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def diff(old: Snapshot | None, new: Snapshot) -> list[Change]:
    """The changes from ``old`` to ``new`` (everything is 'added' on a domain's first run)."""
    changes: list[Change] = []
    if old is None or old.grade != new.grade:
        changes.append(Change("grade", "changed", old.grade if old else "", new.grade))
    for area in AREAS:
        before = set(old.records.get(area, ())) if old else set()
        after = set(new.records.get(area, ()))
        changes.extend(Change(area, "removed", text, "") for text in sorted(before - after))
        changes.extend(Change(area, "added", "", text) for text in sorted(after - before))
    old_findings = {f["code"]: f for f in old.findings} if old else {}
    new_findings = {f["code"]: f for f in new.findings}
    for code in sorted(old_findings.keys() - new_findings.keys()):
        changes.append(Change("finding", "removed", _finding_text(old_findings[code]), ""))
    for code in sorted(new_findings.keys() - old_findings.keys()):
        changes.append(Change("finding", "added", "", _finding_text(new_findings[code])))
    return changes


def _finding_text(finding: dict[str, str]) -> str:
    return f"{finding.get('severity', '')} {finding.get('code', '')}: {finding.get('message', '')}"


def _grade_rank(grade: str) -> int:
    return GRADES.index(grade) if grade in GRADES else len(GRADES)


_AREA_NAMES = {"spf": "SPF", "dmarc": "DMARC", "dkim": "DKIM", "mx": "MX", "mta_sts": "MTA-STS", "bimi": "BIMI",
               "mta_sts_policy": "MTA-STS policy"}


def snapshot_alerts(old: Snapshot | None, new: Snapshot, *, expiry_days: int = EXPIRY_WARNING_DAYS) -> list[Alert]:
    """Alerts a run raises by itself: a lower grade, a record set gone, a new error finding,
    and an MTA-STS policy host that fails or whose certificate is about to expire."""
    alerts: list[Alert] = []
    domain, now = new.domain, new.time
    if old is not None:
        if _grade_rank(new.grade) > _grade_rank(old.grade):
            alerts.append(Alert(domain, "grade-drop", f"{domain}: grade dropped from {old.grade} to {new.grade}", now))
        for area in AREAS:
            if old.records.get(area) and not new.records.get(area):
                alerts.append(Alert(domain, "record-gone", f"{domain}: the {_AREA_NAMES[area]} record disappeared "
                                    f"(was: {'; '.join(old.records[area])[:300]})", now))
        before = {f["code"] for f in old.findings if f.get("severity") == "error"}
        for finding in new.findings:
            if finding.get("severity") == "error" and finding["code"] not in before:
                alerts.append(Alert(domain, "record-broken", f"{domain}: {finding['code']}: {finding['message']}", now))
    policy = new.mta_sts
    if policy is not None:
        was_failing = old is not None and old.mta_sts is not None and bool(old.mta_sts.error)
        if policy.error and not was_failing:
            alerts.append(Alert(domain, "record-broken",
                                f"{domain}: the MTA-STS policy cannot be fetched ({policy.error}); senders' cached "
                                "copies expire after their max_age", now))
        if policy.cert_not_after is not None and policy.cert_not_after - now < expiry_days * DAY:
            old_expiry = old.mta_sts.cert_not_after if old is not None and old.mta_sts is not None else None
            already = old_expiry == policy.cert_not_after and old is not None and \
                old_expiry is not None and old_expiry - old.time < expiry_days * DAY
            if not already:  # once per certificate, not on every run
                left = max(0, (policy.cert_not_after - now) // DAY)
                alerts.append(Alert(domain, "mta-sts-expiry",
                                    f"{domain}: the certificate of mta-sts.{domain} expires "
                                    f"{format_time(policy.cert_not_after)} (in {left} days)", now))
    return alerts
