"""The findings model: what is wrong (or right) with a domain's mail records, and how to fix it.

A :class:`Finding` is one observation with a stable dotted ``code`` (``spf.too-many-lookups``),
a severity, a message and a fix, already in the reader's language. The texts live in
:mod:`zegel.audit.catalog`; :class:`Texts` turns a code and its parameters into a Finding.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, cast

from zegel.audit.catalog import CATALOG, PHRASES
from zegel.audit.reasons import translate_reason

Severity = Literal["error", "warning", "info"]
Lang = Literal["en", "nl"]
LANGUAGES: tuple[Lang, ...] = ("en", "nl")
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}
# Report order of the areas (the part of a code before the dot).
AREAS: tuple[str, ...] = ("domain", "nomail", "spf", "dmarc", "dkim", "mx", "dnssec", "dane", "starttls",
                          "mta-sts", "tlsrpt", "bimi")
_AREA_RANK = {area: rank for rank, area in enumerate(AREAS)}


@dataclass(frozen=True, slots=True)
class Finding:
    """One observation about a domain's records, with the fix in plain words."""

    severity: Severity
    code: str
    message: str
    fix: str
    # The corrected record, ready to paste into the zone ("" when the fix is not one record).
    record: str = ""

    @property
    def area(self) -> str:
        """The part before the first dot: spf, dmarc, dkim, mx, domain, nomail."""
        return self.code.partition(".")[0]

    def as_dict(self) -> dict[str, str]:
        out = {"severity": self.severity, "code": self.code, "message": self.message, "fix": self.fix}
        if self.record:
            out["record"] = self.record
        return out

    def with_record(self, record: str) -> Finding:
        return Finding(self.severity, self.code, self.message, self.fix, record)


def severity_rank(severity: Severity) -> int:
    return _SEVERITY_RANK[severity]


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Errors first, then warnings, then information; by area within a severity, and otherwise
    in the order found."""
    return tuple(sorted(findings, key=lambda f: (_SEVERITY_RANK[f.severity], _AREA_RANK.get(f.area, len(AREAS)))))


class _Params(dict[str, object]):
    """format_map mapping that leaves an unknown placeholder visible instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(template: str, params: Mapping[str, object]) -> str:
    return template.format_map(_Params(params))


def parse_lang(value: str) -> Lang:
    """``en`` or ``nl`` (case-insensitive, region suffix ignored: ``nl_NL`` -> ``nl``)."""
    base = value.strip().lower().replace("-", "_").partition("_")[0]
    for lang in LANGUAGES:
        if base == lang:
            return lang
    raise ValueError(f"unsupported language {value!r} (use en or nl)")


@dataclass(frozen=True, slots=True)
class Texts:
    """The message catalogue in one language."""

    lang: Lang = "en"

    def finding(self, code: str, *, record: object = "", **params: object) -> Finding:
        spec = CATALOG[code]
        if self.lang != "en" and "reason" in params:
            # The packages give their reasons in English: say them in the report's language.
            params["reason"] = translate_reason(str(params["reason"]), self.lang)
        return Finding(
            severity=cast(Severity, spec.severity),
            code=code,
            message=_format(spec.message[self.lang], params),
            fix=_format(spec.fix[self.lang], params),
            record=str(record) if record else "",
        )

    def phrase(self, key: str, **params: object) -> str:
        """A user-interface sentence (headings, verdicts) in this language."""
        return _format(PHRASES[key][self.lang], params)


__all__ = [
    "AREAS",
    "LANGUAGES",
    "SEVERITIES",
    "Finding",
    "Lang",
    "Severity",
    "Texts",
    "parse_lang",
    "severity_rank",
    "sort_findings",
]
