"""Demo: DMARC reports from both sides, offline.

Domain owner: ingest the sample reports a small business received (demo/reports/: zipped,
gzipped, namespaced, mailed, plus a failure report, a TLS report and a damaged file) and
print what they say, with the next policy step in English and Dutch.

Receiver: verify the sample messages (demo/messages/) with outcomes recorded, then build
the day's aggregate report for the bakery as `zegel reports send --dry-run` would.
"""

from __future__ import annotations

import asyncio
import email
import gzip
import tempfile
import time
import tomllib
from pathlib import Path

from zegel.dns import Resolver
from zegel.reports.generate import ReporterInfo
from zegel.reports.ingest import Ingester, parse_aggregate
from zegel.reports.recorder import Recorder
from zegel.reports.send import AggregateSender, Mailer, MailerConfig
from zegel.reports.store import open_store
from zegel.reports.summary import summarize

DEMO = Path(__file__).resolve().parent.parent
REPORTS = DEMO / "reports"
DOMAIN = "kapsalon-de-vries.nl"


async def domain_owner(data: Path) -> None:
    print("--- ingest the reports kapsalon-de-vries.nl received (zegel reports ingest demo/reports)")
    store = open_store(None, data)
    samples = sorted(p for p in REPORTS.iterdir() if p.suffix in (".zip", ".gz", ".xml", ".eml", ".json"))
    with Ingester(store) as ingester:
        for result in ingester.ingest_paths(samples):
            print(f"  {Path(result.source).name}: {result.status} {result.kind}"
                  + (f" ({result.detail})" if result.detail else ""))
    stats = ingester.stats
    print(f"  {stats.files} files: {stats.stored} stored, {stats.duplicate} duplicates, {stats.rejected} rejected")

    resolver = Resolver(zones=[REPORTS / "reverse.zone"], offline=True)
    for lang in ("en", "nl"):
        summary = await summarize(store, DOMAIN, since=0, resolver=resolver, lang=lang)
        if lang == "en":
            print(f"\n--- zegel reports summary --domain {DOMAIN}")
            print(f"  {summary.reports} reports, {summary.messages} messages, DMARC pass {summary.pass_rate:.1%}, "
                  f"published p={summary.policy}")
            print(f"  {'source':16} {'PTR':28} {'reporter':14} {'msgs':>5} {'SPF ok/aligned':>15} "
                  f"{'DKIM ok/aligned':>16} {'DMARC':>6}  category")
            for s in summary.sources:
                print(f"  {s.source_ip:16} {s.ptr or '-':28} {s.reporter[:14]:14} {s.messages:5} "
                      f"{f'{s.spf_pass}/{s.spf_aligned}':>15} {f'{s.dkim_pass}/{s.dkim_aligned}':>16} "
                      f"{s.pass_rate:6.0%}  {s.category}")
        print(f"\n  [{lang}] " + summary.recommendation.replace("\n", "\n  "))
    store.close()


async def receiver(data: Path) -> None:
    print("\n--- receiver side: verify the sample messages with recording on")
    from zegel.verify import verify_message

    store = open_store(None, data / "receiver")
    resolver = Resolver(zones=[DEMO / "zones" / "sample.zone"], offline=True)
    index = tomllib.loads((DEMO / "messages" / "index.toml").read_text())
    with Recorder(store, spool_dir=data / "receiver" / "spool") as recorder:
        for entry in index["message"]:
            message = (DEMO / "messages" / entry["file"]).read_bytes()
            verdict = await verify_message(message, ip=entry["ip"], helo=entry["helo"], mail_from=entry["mail_from"],
                                           resolver=resolver, authserv_id="mx.ontvanger.example", recorder=recorder)
            dmarc = verdict.dmarc.result if verdict.dmarc else "none"
            print(f"  {entry['file']:28} DMARC {dmarc:5} -> {verdict.action.kind}")
        recorder.flush()
    print(f"  {store.count_outcomes()} outcomes recorded (in the background, batched)")

    today = int(time.time()) // 86400 * 86400
    reporter = ReporterInfo("Ontvanger BV", "dmarc-reports@ontvanger.example", "ontvanger.example")
    config = MailerConfig(envelope_sender="dmarc-bounces@ontvanger.example", from_address="dmarc-reports@ontvanger.example")
    out = data / "outbox"
    sender = AggregateSender(store, reporter, Mailer(store, config, dry_run_dir=out), resolver)
    summary = await sender.send([(today, today + 86400)])
    print(f"\n--- zegel reports send --dry-run: {summary.reports} report(s) for today's outcomes")
    for delivery in summary.deliveries:
        print(f"  {delivery.domain} -> {delivery.destination}: {delivery.status}"
              + (f" ({delivery.detail.split(': ', 1)[0]})" if delivery.status != "dry-run" else ""))
    for path in sorted(out.iterdir()) if out.exists() else []:
        mail = email.message_from_bytes(path.read_bytes())
        attachment = next(part for part in mail.walk() if part.get_filename())
        payload = attachment.get_payload(decode=True)
        assert isinstance(payload, bytes)
        report = parse_aggregate(gzip.decompress(payload))
        print(f"  To: {mail['To']}\n  Subject: {mail['Subject']}\n  Attachment: {attachment.get_filename()}")
        for rec in report.records:
            print(f"    {rec.source_ip:15} x{rec.count}  disposition={rec.disposition:10} "
                  f"dkim={rec.dkim_eval} spf={rec.spf_eval}"
                  + (f"  override={rec.reasons[0].type}" if rec.reasons else ""))
    store.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="zegel-demo-reports-") as tmp:
        asyncio.run(domain_owner(Path(tmp)))
        try:
            import zegel.verify  # noqa: F401
        except ImportError:
            print("\n(receiver side skipped: zegel.verify is not available)")
            return
        asyncio.run(receiver(Path(tmp)))


if __name__ == "__main__":
    main()
