"""A self-contained HTML report (no scripts, no external files) a domain owner can send to their
DNS provider: per domain the grade, the verdict, every finding with its fix, the records as
checked (drafts from --zone marked as drafts), the record to publish for each fix, the SPF lookup
tree, the DNSSEC chain, and an overview table when there is more than one domain."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from zegel.audit.findings import Lang, Texts
from zegel.audit.render_text import group_by_area
from zegel.audit.runner import DomainReport

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:60rem;
padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}
.meta{color:#59636e;font-size:.9rem;margin-bottom:2rem}
section.domain{border:1px solid #d1d9e0;border-radius:8px;padding:1rem 1.25rem;margin-bottom:2rem}
section.domain h2{margin:.1rem 0 .6rem;font-size:1.35rem;display:flex;gap:.8rem;align-items:center}
.grade{display:inline-block;min-width:2.2rem;text-align:center;border-radius:6px;padding:.1rem .5rem;color:#fff;font-weight:700}
.grade-A{background:#1a7f37}.grade-B{background:#4ac26b;color:#0d1117}.grade-C{background:#d4a72c;color:#0d1117}
.grade-D{background:#bc4c00}.grade-F{background:#cf222e}
.verdict{padding:.6rem .8rem;border-radius:6px;margin-bottom:.8rem}
.verdict.yes{background:#dafbe1}.verdict.no{background:#ffebe9}
.counts{color:#59636e;font-size:.9rem;font-weight:400}
h3{font-size:1.05rem;margin:1.1rem 0 .4rem;border-bottom:1px solid #d1d9e0;padding-bottom:.2rem}
.finding{border-left:4px solid #d1d9e0;padding:.3rem .8rem;margin:.5rem 0}
.finding.error{border-color:#cf222e}.finding.warning{border-color:#d4a72c}.finding.info{border-color:#0969da}
.sev{font-weight:700;text-transform:uppercase;font-size:.75rem;letter-spacing:.04em}
.error .sev{color:#cf222e}.warning .sev{color:#9a6700}.info .sev{color:#0969da}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88rem}
.code{color:#59636e;margin-left:.5rem}
.fix{margin-top:.2rem}.fix b{color:#1a7f37}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}td,th{border-bottom:1px solid #d1d9e0;padding:.3rem .5rem;text-align:left;vertical-align:top}
.badge{font-size:.75rem;border-radius:4px;padding:.05rem .4rem}.badge.draft{background:#fff8c5;color:#7d4e00}.badge.live{background:#dafbe1;color:#1a7f37}
tr.draft pre{border-left:4px solid #d4a72c}
pre{background:#f6f8fa;border-radius:6px;padding:.6rem .8rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
"""

_LABELS = {
    "en": {"records": "Records checked", "none": "(none)", "draft": "draft (from --zone, not published)",
           "live": "published", "overview": "Overview", "domain": "Domain", "grade": "Grade",
           "protected": "Protected", "errors": "Errors", "warnings": "Warnings", "record": "Record to publish",
           "chain": "DNSSEC chain", "policy": "MTA-STS policy as served"},
    "nl": {"records": "Gecontroleerde records", "none": "(geen)", "draft": "concept (uit --zone, niet gepubliceerd)",
           "live": "gepubliceerd", "overview": "Overzicht", "domain": "Domein", "grade": "Cijfer",
           "protected": "Beschermd", "errors": "Fouten", "warnings": "Waarschuwingen", "record": "Te publiceren record",
           "chain": "DNSSEC-keten", "policy": "MTA-STS-beleid zoals aangeboden"},
}


def _domain_section(report: DomainReport) -> str:
    texts = Texts(report.lang)
    counts = report.counts()
    summary = texts.phrase("heading.summary", errors=counts["error"], warnings=counts["warning"],
                           infos=counts["info"])
    out = [
        f'<section class="domain" id="d-{escape(report.domain)}">',
        f'<h2><span class="grade grade-{escape(report.grade)}">{escape(report.grade)}</span>'
        f'{escape(report.domain)} <span class="counts">{escape(summary)}</span></h2>',
        f'<div class="verdict {"yes" if report.protected else "no"}"><b>{escape(texts.phrase("heading.protected"))}</b> '
        f"{escape(report.verdict)}</div>",
    ]
    for area, findings in group_by_area(report.findings):
        out.append(f"<h3>{escape(texts.phrase('area.' + area))}</h3>")
        for finding in findings:
            out.append(
                f'<div class="finding {finding.severity}">'
                f'<span class="sev">{escape(texts.phrase("severity." + finding.severity))}</span>'
                f'<code class="code">{escape(finding.code)}</code>'
                f"<div>{escape(finding.message)}</div>"
                f'<div class="fix"><b>{escape(texts.phrase("heading.fix"))}:</b> {escape(finding.fix)}</div>'
                + (f'<div class="record"><b>{escape(texts.phrase("heading.record"))}:</b>'
                   f"<pre>{escape(finding.record)}</pre></div>" if finding.record else "")
                + "</div>"
            )
        if area == "spf" and report.spf_tree is not None and report.spf_tree.children:
            out.append(f"<p><b>{escape(texts.phrase('heading.spf-tree'))}</b></p>")
            out.append(f"<pre>{escape(chr(10).join(report.spf_tree.lines()))}</pre>")
    labels = _LABELS[report.lang]
    if report.ascii_domain:
        out.append(f"<h3>{escape(labels['records'])}</h3>")
        if report.records:
            out.append('<table class="records"><tbody>')
            for record in report.records:
                state = labels["draft"] if record.draft else labels["live"]
                css = "draft" if record.draft else "live"
                out.append(f'<tr class="{css}"><td><pre>{escape(chr(10).join(record.zone_lines()))}</pre></td>'
                           f'<td><span class="badge {css}">{escape(state)}</span></td></tr>')
            out.append("</tbody></table>")
        else:
            out.append(f"<p>{escape(labels['none'])}</p>")
    if report.dnssec is not None and report.dnssec.chain:
        out.append(f"<p><b>{escape(labels['chain'])}</b></p><pre>{escape(chr(10).join(report.dnssec.chain))}</pre>")
    if report.mta_sts_policy is not None:
        out.append(f"<p><b>{escape(labels['policy'])}</b></p><pre>{escape(report.mta_sts_policy[:4000])}</pre>")
    out.append("</section>")
    return "\n".join(out)


def _overview(reports: list[DomainReport], lang: Lang) -> str:
    labels = _LABELS[lang]
    texts = Texts(lang)
    rows = []
    for report in reports:
        counts = report.counts()
        rows.append(f'<tr><td><a href="#d-{escape(report.domain)}">{escape(report.domain)}</a></td>'
                    f'<td><span class="grade grade-{escape(report.grade)}">{escape(report.grade)}</span></td>'
                    f'<td>{escape(texts.phrase("yes" if report.protected else "no"))}</td>'
                    f'<td>{counts["error"]}</td><td>{counts["warning"]}</td></tr>')
    head = "".join(f"<th>{escape(labels[key])}</th>" for key in ("domain", "grade", "protected", "errors", "warnings"))
    return (f'<h2>{escape(labels["overview"])}</h2><table class="overview"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def render_html(reports: Iterable[DomainReport], *, lang: Lang = "en", generated: str = "") -> str:
    """The whole report as one HTML document (UTF-8, inline CSS); more than one domain gets an
    overview table first."""
    texts = Texts(lang)
    items = list(reports)
    sections = ([_overview(items, lang)] if len(items) > 1 else []) + [_domain_section(report) for report in items]
    title = texts.phrase("heading.report")
    meta = texts.phrase("heading.generated", when=generated) if generated else ""
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n<div class=\"meta\">{escape(meta)}</div>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


__all__ = ["render_html"]
