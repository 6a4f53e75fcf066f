"""The terminal report: grade, verdict, findings grouped by area with their fixes, and the SPF
lookup tree. Colour comes from rich, which enables it only on a terminal (and honours NO_COLOR).
Lines are wrapped here, with hanging indents, so piped output has no trailing padding.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from zegel.audit.findings import AREAS, Finding, Texts
from zegel.audit.runner import DomainReport

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
SEVERITY_MARK = {"error": "✖", "warning": "▲", "info": "•"}
GRADE_STYLE = {"A": "bold white on green", "B": "bold black on bright_green", "C": "bold black on yellow",
               "D": "bold white on dark_orange", "F": "bold white on red"}
MIN_WIDTH = 40


def group_by_area(findings: Iterable[Finding]) -> list[tuple[str, list[Finding]]]:
    groups: dict[str, list[Finding]] = {}
    for finding in findings:
        groups.setdefault(finding.area, []).append(finding)
    order = [a for a in AREAS if a in groups] + [a for a in groups if a not in AREAS]
    return [(area, groups[area]) for area in order]


def _wrapped(text: str, indent: int, width: int, style: str = "", first: str = "") -> list[Text]:
    """``first`` (bold) starts the paragraph; the rest wraps under it at ``indent`` spaces."""
    pad = " " * indent
    body = textwrap.wrap(first + text, width=max(MIN_WIDTH, width) - indent, break_on_hyphens=False,
                         break_long_words=False) or [""]
    lines = []
    for index, line in enumerate(body):
        if index == 0 and first:
            lines.append(Text.assemble(pad, (first, "bold"), (line[len(first):], style)))
        else:
            lines.append(Text(pad + line, style=style))
    return lines


def _finding_lines(finding: Finding, texts: Texts, width: int) -> list[Text]:
    style = SEVERITY_STYLE[finding.severity]
    lines = [Text.assemble(
        "  ", (f"{SEVERITY_MARK[finding.severity]} {texts.phrase('severity.' + finding.severity)}", style),
        "  ", (finding.code, "dim"),
    )]
    lines.extend(_wrapped(finding.message, 6, width))
    # An information note whose fix is "nothing to do" needs no fix line on a terminal.
    if finding.severity != "info" or not finding.fix.startswith(texts.phrase("nothing")):
        lines.extend(_wrapped(finding.fix, 6, width, first=f"→ {texts.phrase('heading.fix')}: "))
    if finding.record:
        # Not wrapped: the record is meant to be copied as it stands.
        lines.append(Text(f"      {texts.phrase('heading.record')}:", style="bold"))
        lines.extend(Text("        " + line, style="green") for line in finding.record.splitlines())
    return lines


def report_lines(report: DomainReport, width: int = 100) -> list[Text]:
    texts = Texts(report.lang)
    counts = report.counts()
    lines = [Text.assemble(
        (f" {report.domain} ", "bold reverse"), "  ",
        (f" {texts.phrase('heading.grade')} {report.grade} ", GRADE_STYLE.get(report.grade, "bold")), "  ",
        (texts.phrase("heading.summary", errors=counts["error"], warnings=counts["warning"],
                      infos=counts["info"]), "dim"),
    )]
    mark, mark_style = ("✔", "bold green") if report.protected else ("✖", "bold red")
    verdict = _wrapped(report.verdict, 2, width, first=f"{texts.phrase('heading.protected')} ")
    verdict[0] = Text.assemble((mark, mark_style), verdict[0][1:])
    lines.extend(verdict)
    for area, findings in group_by_area(report.findings):
        lines.append(Text(""))
        lines.append(Text(texts.phrase(f"area.{area}"), style="bold underline"))
        for finding in findings:
            lines.extend(_finding_lines(finding, texts, width))
        if area == "spf" and report.spf_tree is not None and report.spf_tree.children:
            lines.append(Text("  " + texts.phrase("heading.spf-tree"), style="bold"))
            lines.extend(Text("    " + line, style="green") for line in report.spf_tree.lines())
    return lines


def print_reports(reports: Iterable[DomainReport], console: Console) -> None:
    width = console.width
    for index, report in enumerate(reports):
        if index:
            console.print(Text("─" * min(width, 100), style="dim"), soft_wrap=True)
        for line in report_lines(report, width):
            console.print(line, soft_wrap=True, highlight=False)


def plain_text(report: DomainReport, *, width: int = 100) -> str:
    """The report as plain text (no colour), e.g. for tests and logs."""
    return "\n".join(line.plain for line in report_lines(report, width)) + "\n"


__all__ = ["AREAS", "group_by_area", "plain_text", "print_reports", "report_lines"]
