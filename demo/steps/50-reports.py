"""Demo: DMARC reports from both sides, offline.

Domain owner: ingest the sample reports a small business received (demo/reports/: zipped,
gzipped, namespaced, mailed, plus a failure report, a TLS report and a damaged file) and
print what they say, with the next policy step in English and Dutch. Every command printed
is run as printed: pasted from the repository root, it prints the same.

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
from zegel.reports.ingest import parse_aggregate
from zegel.reports.recorder import Recorder
from zegel.reports.send import AggregateSender, Mailer, MailerConfig
from zegel.reports.store import open_store

DEMO = Path(__file__).resolve().parent.parent
REPORTS = DEMO / "reports"
DOMAIN = "kapsalon-de-vries.nl"


# The domain owner's commands, exactly as a user pastes them from the repository root (with
# ZEGEL_DATA_DIR set to a fresh directory); the demo runs them and prints what they print.
SINCE = "2026-10-01"  # the sample reports cover early November 2026
OWNER_COMMANDS = (
    "zegel reports ingest demo/reports",
    f"zegel reports summary --domain {DOMAIN} --since {SINCE} --zone demo/reports/reverse.zone --offline",
    f"zegel reports summary --domain {DOMAIN} --since {SINCE} --zone demo/reports/reverse.zone --offline --lang nl",
    f"zegel reports trends --domain {DOMAIN} --since {SINCE}",
    "zegel reports failures",
    "zegel reports tls",
)


def run_command(line: str, data: Path) -> str:
    """Run one printed command as the CLI would (stdout and stderr as a terminal shows them)."""
    import os
    import shlex

    from click.testing import CliRunner

    from zegel.cli import cli

    here = os.getcwd()
    os.chdir(DEMO.parent)
    try:
        result = CliRunner(env={"ZEGEL_DATA_DIR": str(data)}).invoke(cli, shlex.split(line)[1:])
    finally:
        os.chdir(here)
    return result.output


def domain_owner(data: Path) -> None:
    print("--- the domain owner's side: reports kapsalon-de-vries.nl received (demo/reports/)")
    print("$ export ZEGEL_DATA_DIR=$(mktemp -d)")
    for line in OWNER_COMMANDS:
        print(f"\n$ {line}")
        print(run_command(line, data / "owner").rstrip("\n"))


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
        domain_owner(Path(tmp))
        try:
            import zegel.verify  # noqa: F401
        except ImportError:
            print("\n(receiver side skipped: zegel.verify is not available)")
            return
        asyncio.run(receiver(Path(tmp)))


if __name__ == "__main__":
    main()
