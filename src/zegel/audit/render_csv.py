"""CSV rows for ``zegel check --csv``: one row per finding, so a spreadsheet can filter by code
or severity across many domains."""

from __future__ import annotations

from zegel.audit.runner import DomainReport

CSV_HEADER = ("domain", "grade", "protected", "severity", "code", "message", "fix", "record")


def _cell(text: str) -> str:
    # A cell starting with = + - @ is a formula in spreadsheet programs: neutralise it.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def csv_rows(report: DomainReport) -> list[tuple[str, ...]]:
    protected = "yes" if report.protected else "no"
    return [tuple(_cell(v) for v in (report.domain, report.grade, protected, f.severity, f.code, f.message,
                                     f.fix, f.record)) for f in report.findings]


__all__ = ["CSV_HEADER", "csv_rows"]
