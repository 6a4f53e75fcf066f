"""`zegel check` on demo/zones/check.zone, offline: a report per domain (one in Dutch), a draft
zone checked before publishing, bulk JSON lines, and the HTML report."""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path

from rich.console import Console

from zegel.audit import CheckOptions, DomainReport, check_domains
from zegel.audit.render_html import render_html
from zegel.audit.render_text import print_reports
from zegel.dns import Resolver, nodes_from_zone_text

ZONE = Path(__file__).resolve().parent.parent / "zones" / "check.zone"
CONSOLE = Console(width=100, highlight=False)

# What the web shop would publish after reading the report: fewer includes, DMARC at 100%.
DRAFT = """
webwinkel.example.        300 IN TXT "v=spf1 ip4:192.0.2.41 include:_spf.mailprovider.example include:spf.nieuwsbrief.example -all"
_dmarc.webwinkel.example. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@webwinkel.example"
"""


async def reports(domains: list[str], resolver: Resolver, options: CheckOptions) -> list[DomainReport]:
    found = {r.domain: r async for r in check_domains(domains, resolver, options, concurrency=10)}
    return [found[d] for d in domains]


def main() -> None:
    live = Resolver(zones=[ZONE], offline=True)

    print("\n--- zegel check webwinkel.example geparkeerd.example")
    before = asyncio.run(reports(["webwinkel.example", "geparkeerd.example"], live, CheckOptions()))
    print_reports(before, CONSOLE)

    print("\n--- zegel check bakkerij.example --lang nl --selector selector1")
    dutch = CheckOptions(lang="nl", selectors=("selector1",))
    print_reports(asyncio.run(reports(["bakkerij.example"], live, dutch)), CONSOLE)

    print("\n--- before publishing: zegel check webwinkel.example --zone draft.zone")
    draft = Resolver(zones=[ZONE], zone_nodes=nodes_from_zone_text(DRAFT), offline=True)
    [after] = asyncio.run(reports(["webwinkel.example"], draft, CheckOptions()))
    print(f"grade {after.grade} (live: {before[0].grade}), protected: {after.protected} (live: {before[0].protected})")
    for finding in after.findings:
        if finding.severity != "info":
            print(f"  {finding.severity}: {finding.code}")
    if after.spf_tree is not None:
        print("\n".join("  " + line for line in after.spf_tree.lines()))

    print("\n--- bulk: zegel check --from-file domains.txt   (JSON lines, one per domain)")
    batch = ["bakkerij.example", "webwinkel.example", "geparkeerd.example", "niet-bestaand.example", "geen domein"]
    everything = asyncio.run(reports(batch, live, CheckOptions()))
    for report in everything:
        line = json.dumps(report.to_json(), ensure_ascii=False)
        print(line if len(line) < 160 else line[:157] + "...")

    print("\n--- zegel check ... --html report.html")
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "report.html"
        target.write_text(render_html(everything, lang="en", generated="demo"), encoding="utf-8")
        print(f"wrote a self-contained HTML report of {len(everything)} domains ({target.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
