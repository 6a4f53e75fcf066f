"""What the received aggregate reports say about a domain: per sending source, message
counts, SPF/DKIM pass and alignment, DMARC pass rate; which sources a stricter policy would
hurt; and a plain-language recommendation for the next policy step (English and Dutch).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any, Literal

from zegel.dns import Resolver, Status
from zegel.reports.store import ReportStore, SourceStats

Lang = Literal["en", "nl"]
# Share of a source's messages that must pass DMARC before we call it healthy, and share of
# all legitimate-looking mail that must pass before recommending the next step.
HEALTHY_SOURCE = 0.98
READY_DOMAIN = 0.98


@dataclass(frozen=True)
class SourceSummary:
    source_ip: str
    ptr: str
    reporter: str
    messages: int
    spf_pass: int
    spf_aligned: int
    dkim_pass: int
    dkim_aligned: int
    dmarc_pass: int
    quarantined: int
    rejected: int
    category: str  # passing | misaligned | partly-failing | unauthenticated

    @property
    def dmarc_fail(self) -> int:
        return self.messages - self.dmarc_pass

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0

    @property
    def legitimate_looking(self) -> bool:
        # Some of its mail authenticates (SPF or DKIM passes, aligned or not): a real sender of
        # the domain's mail (an ESP, a forwarder, a forgotten server), not a spoofer.
        return self.category in ("misaligned", "partly-failing")


@dataclass(frozen=True)
class DomainSummary:
    domain: str
    since: int
    reports: int
    messages: int
    dmarc_pass: int
    policy: str | None
    sources: tuple[SourceSummary, ...]
    hurt: tuple[SourceSummary, ...]  # legitimate-looking sources with failing mail
    spoofing: tuple[SourceSummary, ...]  # sources where nothing authenticates
    next_step: str  # publish-rua | fix-sources | quarantine | reject | stay
    recommendation: str
    lang: str

    @property
    def pass_rate(self) -> float:
        return self.dmarc_pass / self.messages if self.messages else 0.0

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k not in ("sources", "hurt", "spoofing")}
        data["pass_rate"] = round(self.pass_rate, 4)
        data["sources"] = [dict(asdict(s), pass_rate=round(s.pass_rate, 4)) for s in self.sources]
        data["would_be_hurt"] = [{"source_ip": s.source_ip, "ptr": s.ptr, "failing": s.dmarc_fail} for s in self.hurt]
        return data


def _category(stats: SourceStats) -> str:
    if stats.messages and stats.dmarc_pass / stats.messages >= HEALTHY_SOURCE:
        return "passing"
    if stats.dmarc_pass:
        return "partly-failing"
    if stats.spf_pass or stats.dkim_pass:
        return "misaligned"
    return "unauthenticated"


async def _ptr_names(ips: list[str], resolver: Resolver | None, concurrency: int = 20) -> dict[str, str]:
    if resolver is None:
        return {}
    gate = asyncio.Semaphore(concurrency)

    async def one(ip: str) -> tuple[str, str]:
        async with gate:
            answer = await resolver.ptr(ip)
        return ip, (str(answer.records[0]) if answer.status == Status.ANSWER and answer.records else "")

    return dict(await asyncio.gather(*(one(ip) for ip in ips)))


async def summarize(store: ReportStore, domain: str, since: int, *, resolver: Resolver | None = None,
                    lang: Lang = "en") -> DomainSummary:
    """Summarise received aggregate reports for ``domain`` whose period ends at/after ``since``."""
    domain = domain.lower().rstrip(".")
    stats = store.source_stats(domain, since)
    names = await _ptr_names(sorted({s.source_ip for s in stats}), resolver)
    sources = tuple(
        SourceSummary(s.source_ip, names.get(s.source_ip, ""), s.reporter, s.messages, s.spf_pass, s.spf_aligned,
                      s.dkim_pass, s.dkim_aligned, s.dmarc_pass, s.quarantined, s.rejected, _category(s))
        for s in stats
    )
    published = store.published_policy(domain, since)
    policy = str(published["p"]) if published else None
    reports = len(store.report_totals(domain, since))
    hurt = tuple(sorted((s for s in sources if s.legitimate_looking and s.dmarc_fail),
                        key=lambda s: -s.dmarc_fail))
    spoofing = tuple(s for s in sources if s.category == "unauthenticated")
    messages = sum(s.messages for s in sources)
    passing = sum(s.dmarc_pass for s in sources)
    legit_total = sum(s.messages for s in sources if s.category != "unauthenticated")
    legit_pass_rate = passing / legit_total if legit_total else 0.0
    step = _next_step(policy, messages, legit_pass_rate, hurt)
    text = _recommend(lang, domain, step, policy, messages, legit_pass_rate, hurt, spoofing)
    return DomainSummary(domain, since, reports, messages, passing, policy, sources, hurt, spoofing, step, text, lang)


def _next_step(policy: str | None, messages: int, legit_pass_rate: float, hurt: tuple[SourceSummary, ...]) -> str:
    if not messages:
        return "publish-rua"
    if policy == "reject":
        return "stay"
    if hurt or legit_pass_rate < READY_DOMAIN:
        return "fix-sources"
    return "reject" if policy == "quarantine" else "quarantine"


def _source_lines(hurt: tuple[SourceSummary, ...], lang: Lang) -> list[str]:
    """One line per source IP (its reporters merged), the most failing mail first."""
    merged: dict[str, list[SourceSummary]] = {}
    for s in hurt:
        merged.setdefault(s.source_ip, []).append(s)
    ordered = sorted(merged.values(), key=lambda group: -sum(s.dmarc_fail for s in group))
    lines = []
    for group in ordered[:10]:
        first = group[0]
        name = f"{first.source_ip} ({first.ptr})" if first.ptr else first.source_ip
        failing, total = sum(s.dmarc_fail for s in group), sum(s.messages for s in group)
        reporters = ", ".join(sorted({s.reporter for s in group}))
        misaligned = all(s.category == "misaligned" for s in group)
        if lang == "nl":
            why = ("SPF of DKIM slaagt, maar niet voor uw eigen domein (niet uitgelijnd)" if misaligned
                   else "een deel van de berichten faalt")
            lines.append(f"  - {name}: {failing} van {total} berichten falen DMARC (gemeld door {reporters}); {why}.")
        else:
            why = ("SPF or DKIM passes, but not for your own domain (not aligned)" if misaligned
                   else "some of its messages fail")
            lines.append(f"  - {name}: {failing} of {total} messages fail DMARC (reported by {reporters}); {why}.")
    return lines


def _recommend(lang: Lang, domain: str, step: str, policy: str | None, messages: int, rate: float,
               hurt: tuple[SourceSummary, ...], spoofing: tuple[SourceSummary, ...]) -> str:
    pct = f"{rate * 100:.1f}%"
    spoof = sum(s.messages for s in spoofing)
    texts = _RECOMMENDATION_TEXTS[lang]
    lines: list[str] = []
    if step in ("publish-rua", "stay"):
        lines.append(texts[step].format(domain=domain, pct=pct))
    elif step == "fix-sources":
        target = "p=reject" if policy == "quarantine" else "p=quarantine"
        lines.append(texts["fix-sources"].format(target=target, pct=pct))
        lines += _source_lines(hurt, lang)
        lines.append(texts["fix-sources-then"])
    else:
        lines.append(texts["next"].format(pct=pct, domain=domain, step=step))
    if spoof:
        lines.append(texts["spoofing"].format(spoof=spoof))
    return "\n".join(lines)


# One decision flow (_recommend), its sentences per language.
_RECOMMENDATION_TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "publish-rua": ("No reports for {domain} in this period yet. Check that your DMARC record has an "
                        "rua=mailto: address and that those reports are ingested here; give it a few days."),
        "stay": ("{domain} is at p=reject, the strongest step. {pct} of legitimate mail passes DMARC; "
                 "keep reading the reports and watch for new sources."),
        "fix-sources": ("Do not move to {target} yet: {pct} of legitimate-looking mail passes DMARC. "
                        "These sources would be hurt:"),
        "fix-sources-then": ("Have these services DKIM-sign with your own domain (or use a bounce address in your "
                             "domain that your SPF record authorises), then move on."),
        "next": ("{pct} of legitimate mail for {domain} passes DMARC and no known sender would be hurt. "
                 "Next step: p={step} (optionally with t=y first to test)."),
        "spoofing": ("{spoof} messages came from sources where nothing authenticates (likely spoofing); "
                     "a stricter policy stops them."),
    },
    "nl": {
        "publish-rua": ("Er zijn nog geen rapporten voor {domain} in deze periode. Controleer of uw DMARC-record "
                        "een rua=mailto:-adres heeft en of die rapporten hier worden ingelezen; wacht enkele dagen."),
        "stay": ("{domain} staat al op p=reject, de strengste stap. {pct} van de legitieme post slaagt voor DMARC; "
                 "blijf de rapporten volgen en let op nieuwe bronnen."),
        "fix-sources": ("Nog niet overstappen naar {target}: {pct} van de legitiem ogende post slaagt voor DMARC. "
                        "Deze bronnen zouden geraakt worden:"),
        "fix-sources-then": ("Laat deze diensten met DKIM ondertekenen voor uw eigen domein (of een bounce-adres in uw "
                             "domein gebruiken dat uw SPF-record toestaat); stap daarna over."),
        "next": ("{pct} van de legitieme post voor {domain} slaagt voor DMARC en geen bekende verzender zou "
                 "geraakt worden. Volgende stap: p={step} (eventueel eerst met t=y om te testen)."),
        "spoofing": ("{spoof} berichten kwamen van bronnen waar niets slaagt (waarschijnlijk vervalsing); "
                     "een strenger beleid houdt die tegen."),
    },
}


CSV_COLUMNS = ("source_ip", "ptr", "reporter", "messages", "spf_pass", "spf_aligned", "dkim_pass", "dkim_aligned",
               "dmarc_pass", "pass_rate", "quarantined", "rejected", "category", "would_be_hurt")


def csv_rows(summary: DomainSummary) -> list[list[str]]:
    hurt = {(s.source_ip, s.reporter) for s in summary.hurt}
    return [
        [s.source_ip, s.ptr, s.reporter, str(s.messages), str(s.spf_pass), str(s.spf_aligned), str(s.dkim_pass),
         str(s.dkim_aligned), str(s.dmarc_pass), f"{s.pass_rate:.4f}", str(s.quarantined), str(s.rejected),
         s.category, "yes" if (s.source_ip, s.reporter) in hurt else "no"]
        for s in summary.sources
    ]
