"""``zegel reports``: send aggregate reports, ingest received reports, summarise a domain."""

from __future__ import annotations

import asyncio
import csv
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from zegel.cli.common import dns_options, make_resolver, print_json, read_input, usage_error
from zegel.reports.store import ReportStore, StoreError, default_data_dir, open_store

F = TypeVar("F", bound=Callable[..., Any])


def store_options(func: F) -> F:
    options = [
        click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="ZEGEL_DATA_DIR",
                     help="Directory for the SQLite database and the recording spool "
                          "[default: $ZEGEL_DATA_DIR or ~/.local/share/zegel]."),
        click.option("--db", "db_url", metavar="URL", envvar="ZEGEL_DB_URL",
                     help="Database URL instead of SQLite, e.g. postgresql://user@host/zegel [$ZEGEL_DB_URL]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@contextmanager
def _store(data_dir: Path | None, db_url: str | None) -> Iterator[ReportStore]:
    """The report store for one command: a database error ends it with one line (exit 1)."""
    try:
        store = open_store(db_url, data_dir or default_data_dir())
    except StoreError as exc:
        click.echo(f"zegel: {exc}", err=True)
        sys.exit(1)
    try:
        yield store
    except StoreError as exc:
        click.echo(f"zegel: database: {exc}", err=True)
        sys.exit(1)
    finally:
        store.close()


@click.group("reports")
def command() -> None:
    """Send, ingest and summarise DMARC reports.

    \b
    Receiver side:      zegel reports send --period day --dry-run out/
    Domain-owner side:  zegel reports ingest --maildir ~/Maildir/.dmarc
                        zegel reports summary --domain example.com --since 30d
    """


# --- send ---------------------------------------------------------------------------------------


def _relay(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if not port:
        return value, 25
    if not port.isdigit() or not 0 < int(port) < 65536:
        usage_error(f"--relay: bad port in {value!r}")
    return host, int(port)


@command.command("send")
@click.option("--period", type=click.Choice(["day", "hour"]), default="day", show_default=True,
              help="Reporting period; days run 00:00-24:00 UTC (RFC 9990 2.1).")
@click.option("--back", type=click.IntRange(1, 60), default=3, show_default=True,
              help="How many complete periods to look back for unreported data.")
@click.option("--dry-run", "dry_run", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write the report messages into DIR instead of mailing them (nothing is marked sent).")
@click.option("--format", "fmt", type=click.Choice(["rfc9990", "rfc7489"]), default="rfc9990", show_default=True,
              help="Aggregate report format (rfc7489 = RFC 7489 Appendix C, for old receivers).")
@click.option("--org-name", envvar="ZEGEL_REPORT_ORG", metavar="NAME", help="Reporting organisation [$ZEGEL_REPORT_ORG].")
@click.option("--org-email", envvar="ZEGEL_REPORT_EMAIL", metavar="ADDR",
              help="Contact address in the reports [$ZEGEL_REPORT_EMAIL].")
@click.option("--reporter-domain", envvar="ZEGEL_REPORT_DOMAIN", metavar="DOMAIN",
              help="Our domain: Submitter in the subject [default: the --org-email domain].")
@click.option("--from", "from_address", envvar="ZEGEL_REPORT_FROM", metavar="ADDR",
              help="From: of report mail [default: --org-email].")
@click.option("--envelope-sender", envvar="ZEGEL_REPORT_ENVELOPE", metavar="ADDR",
              help="MAIL FROM of report mail; bounces go there (ingest them to suppress dead addresses) "
                   "[default: --from].")
@click.option("--relay", default="localhost:25", show_default=True, metavar="HOST[:PORT]", envvar="ZEGEL_RELAY",
              help="SMTP relay to hand report mail to.")
@click.option("--no-starttls", is_flag=True, help="Do not use STARTTLS even when the relay offers it.")
@click.option("--rate-limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Messages per destination address per hour.")
@dns_options
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the deliveries as JSON.")
def send_command(period: str, back: int, dry_run: Path | None, fmt: str, org_name: str | None, org_email: str | None,
                 reporter_domain: str | None, from_address: str | None, envelope_sender: str | None, relay: str,
                 no_starttls: bool, rate_limit: int, zones: tuple[str, ...], nameservers: tuple[str, ...],
                 offline: bool, timeout: float, data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """Send aggregate reports for complete periods not reported yet.

    Each policy domain with recorded outcomes gets one report per period, mailed to every
    mailto: address in its rua= tag (third-party addresses only when they authorise it via
    _report._dmarc). Safe to run from cron or a systemd timer: a period is reported once.
    Exit status 0 when nothing failed, 1 when a delivery failed (it is retried next run).

    \b
    Example:
      zegel reports send --org-name "Example ISP" --org-email dmarc@isp.example \\
          --envelope-sender dmarc-bounces@isp.example --relay smtp.isp.example:25
    """
    from zegel.reports.generate import ReporterInfo
    from zegel.reports.model import domain_of
    from zegel.reports.send import (
        AggregateSender,
        Mailer,
        MailerConfig,
        complete_periods,
        summary_json,
    )

    if not org_name or not org_email or "@" not in org_email:
        usage_error("send needs --org-name and --org-email (or $ZEGEL_REPORT_ORG / $ZEGEL_REPORT_EMAIL)")
    reporter = ReporterInfo(org_name, org_email, (reporter_domain or domain_of(org_email)).lower())
    host, port = _relay(relay)
    sender_from = from_address or org_email
    config = MailerConfig(envelope_sender=envelope_sender or sender_from, from_address=sender_from, relay_host=host,
                          relay_port=port, starttls=not no_starttls, rate_limit_per_hour=rate_limit,
                          username=os.environ.get("ZEGEL_RELAY_USER"), password=os.environ.get("ZEGEL_RELAY_PASSWORD"))
    resolver = make_resolver(zones, nameservers, offline, timeout)
    with _store(data_dir, db_url) as store:
        mailer = Mailer(store, config, dry_run_dir=dry_run)
        sender = AggregateSender(store, reporter, mailer, resolver, fmt=fmt)  # type: ignore[arg-type]
        summary = asyncio.run(sender.send(complete_periods(time.time(), period, back)))
    if as_json:
        print_json(summary_json(summary))
    else:
        for d in summary.deliveries:
            click.echo(f"{d.domain} -> {d.destination}: {d.status}" + (f" ({d.detail})" if d.detail else ""))
        click.echo(f"{summary.reports} report(s) built, {summary.already_reported} period(s) already reported, "
                   f"{sum(d.status in ('sent', 'dry-run') for d in summary.deliveries)} delivered")
    if any(d.status == "failed" for d in summary.deliveries):
        sys.exit(1)


@command.command("failure")
@click.argument("message_path", metavar="MESSAGE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--ip", required=True, metavar="ADDR", help="IP address of the client that sent the message.")
@click.option("--helo", default="", metavar="NAME", help="The client's HELO/EHLO name.")
@click.option("--mail-from", "mail_from", default="", metavar="ADDR", help="The SMTP MAIL FROM address (empty: <>).")
@click.option("--authserv-id", metavar="ID", help="Our name in Authentication-Results [default: this host's name].")
@click.option("--dry-run", "dry_run", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Write the failure reports into DIR instead of mailing them.")
@click.option("--org-name", envvar="ZEGEL_REPORT_ORG", metavar="NAME", help="Reporting organisation [$ZEGEL_REPORT_ORG].")
@click.option("--from", "from_address", envvar="ZEGEL_REPORT_FROM", metavar="ADDR",
              help="From: of the reports [$ZEGEL_REPORT_FROM].")
@click.option("--envelope-sender", envvar="ZEGEL_REPORT_ENVELOPE", metavar="ADDR",
              help="MAIL FROM of the reports; bounces go there [default: --from].")
@click.option("--relay", default="localhost:25", show_default=True, metavar="HOST[:PORT]", envvar="ZEGEL_RELAY",
              help="SMTP relay to hand the reports to.")
@click.option("--no-starttls", is_flag=True, help="Do not use STARTTLS even when the relay offers it.")
@click.option("--no-redact", is_flag=True, help="Keep the local parts of addresses (RFC 6590 redaction is the default).")
@click.option("--per-domain-limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="Failure reports about one domain per hour.")
@click.option("--rate-limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="Messages per destination address per hour.")
@dns_options
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the verdict and the deliveries as JSON.")
def failure_command(message_path: str, ip: str, helo: str, mail_from: str, authserv_id: str | None,
                    dry_run: Path | None, org_name: str | None, from_address: str | None, envelope_sender: str | None,
                    relay: str, no_starttls: bool, no_redact: bool, per_domain_limit: int, rate_limit: int,
                    zones: tuple[str, ...], nameservers: tuple[str, ...], offline: bool, timeout: float,
                    data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """Verify MESSAGE and send the failure reports its DMARC record asks for.

    A message that fails DMARC, from a domain whose record names ruf= addresses and whose
    fo= option covers the failure, gets an RFC 6591 authentication failure report (headers
    only, local parts redacted) to each ruf= address — with the same authorization,
    suppression and rate-limit checks as the milter. Exit status 0, or 1 when a delivery failed.

    \b
    Example:
      zegel reports failure suspicious.eml --ip 198.51.100.7 --helo mail.example \\
          --mail-from ceo@example.com --from dmarc-reports@mx.example.nl --dry-run out/
    """
    import ipaddress
    import socket

    from zegel.reports.failure import FailurePolicy, FailureReporter
    from zegel.reports.generate import ReporterInfo
    from zegel.reports.model import domain_of
    from zegel.reports.send import Mailer, MailerConfig
    from zegel.verify import verify_message

    try:
        ipaddress.ip_address(ip)
    except ValueError:
        usage_error(f"--ip: {ip!r} is not an IP address")
    if not from_address or "@" not in from_address:
        usage_error("failure needs --from ADDR (or $ZEGEL_REPORT_FROM): the From: of the reports")
    server_id = (authserv_id or socket.getfqdn() or "localhost").strip()
    if not server_id or any(c.isspace() or c in ";()\"" for c in server_id):
        usage_error(f"--authserv-id: {server_id!r} is not a valid authserv-id")
    message = read_input(message_path)
    host, port = _relay(relay)
    config = MailerConfig(envelope_sender=envelope_sender or from_address, from_address=from_address, relay_host=host,
                          relay_port=port, starttls=not no_starttls, rate_limit_per_hour=rate_limit,
                          username=os.environ.get("ZEGEL_RELAY_USER"), password=os.environ.get("ZEGEL_RELAY_PASSWORD"))
    resolver = make_resolver(zones, nameservers, offline, timeout)
    reporter_info = ReporterInfo(org_name or domain_of(from_address), from_address, domain_of(from_address))
    async def run(store: ReportStore) -> tuple[Any, list[Any]]:
        verdict = await verify_message(message, ip=ip, helo=helo, mail_from=mail_from, resolver=resolver,
                                       authserv_id=server_id)
        reporter = FailureReporter(Mailer(store, config, dry_run_dir=dry_run), reporter_info, resolver,
                                   FailurePolicy(redact=not no_redact, per_domain_per_hour=per_domain_limit))
        return verdict, await reporter.report_verdict(message, verdict, ip=ip, helo=helo, mail_from=mail_from)

    with _store(data_dir, db_url) as store:
        verdict, deliveries = asyncio.run(run(store))
    dmarc = verdict.dmarc
    record = getattr(dmarc, "record", None)
    if as_json:
        print_json({"dmarc": getattr(dmarc, "result", "none"), "policy_domain": getattr(dmarc, "policy_domain", None),
                    "fo": getattr(record, "fo", None), "deliveries": [
                        {"domain": d.domain, "destination": d.destination, "status": d.status, "detail": d.detail,
                         "path": d.path} for d in deliveries]})
    else:
        click.echo(f"DMARC {getattr(dmarc, 'result', 'none')} for {verdict.from_domain or '(no From domain)'}")
        for d in deliveries:
            click.echo(f"{d.domain} -> {d.destination}: {d.status}" + (f" ({d.detail})" if d.detail else ""))
        if not deliveries:
            why = ("DMARC did not fail" if getattr(dmarc, "result", None) != "fail"
                   else "the record names no ruf= address" if not getattr(record, "ruf", None)
                   else "its fo= option does not ask for this failure")
            click.echo(f"no failure report: {why}")
    if any(d.status == "failed" for d in deliveries):
        sys.exit(1)


@command.command("suppressions")
@click.option("--add", "add", metavar="ADDR", multiple=True, help="Suppress an address (repeatable).")
@click.option("--remove", "remove", metavar="ADDR", multiple=True, help="Lift a suppression (repeatable).")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the list as JSON.")
def suppressions_command(add: tuple[str, ...], remove: tuple[str, ...], data_dir: Path | None, db_url: str | None,
                         as_json: bool) -> None:
    """List, add or remove report destinations that are not mailed any more.

    Addresses are added automatically when they bounce (a 5xx refusal at SMTP time, or a
    delivery status notification ingested with `zegel reports ingest`).
    """
    for address in (*add, *remove):
        if "@" not in address or any(ch.isspace() for ch in address):
            usage_error(f"{address!r} is not a mail address")
    with _store(data_dir, db_url) as store:
        for address in add:
            store.suppress(address, "added by hand")
        for address in remove:
            if not store.unsuppress(address):
                click.echo(f"zegel: {address} was not suppressed", err=True)
        listed = store.suppressed()
    if as_json:
        print_json([{"address": a, "reason": r} for a, r in listed])
    else:
        for address, reason in listed:
            click.echo(f"{address}\t{reason}")


# --- ingest ---------------------------------------------------------------------------------------


def imap_options(func: F) -> F:
    options = [
        click.option("--imap", "imap_url", metavar="URL",
                     help="imaps://user@host/MAILBOX (or imap:// with STARTTLS, required): read unseen messages "
                          "and mark them seen (password from $ZEGEL_IMAP_PASSWORD)."),
        click.option("--imap-ca-file", metavar="FILE", envvar="ZEGEL_IMAP_CA_FILE",
                     help="Trust this CA bundle for the IMAP server's certificate [default: the system's]."),
        click.option("--oauth2-token-command", metavar="CMD", envvar="ZEGEL_IMAP_TOKEN_COMMAND",
                     help="Log in with XOAUTH2 (Microsoft 365, Gmail): CMD prints an access token "
                          "[$ZEGEL_IMAP_TOKEN_COMMAND]."),
        click.option("--oauth2-token-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
                     envvar="ZEGEL_IMAP_TOKEN_FILE",
                     help="Log in with XOAUTH2, the access token read from FILE (re-read at each connection) "
                          "[$ZEGEL_IMAP_TOKEN_FILE]."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _oauth2_token(command_line: str | None, token_file: Path | None) -> str | None:
    """An OAuth2 access token from a command's output or a file; None for password login. A
    failure ends the command with one line (exit 1)."""
    from zegel.reports.ingest import ReportError

    if command_line and token_file:
        usage_error("--oauth2-token-command and --oauth2-token-file exclude each other")
    if not command_line and token_file is None:
        return None
    try:
        return _fetch_token(command_line, token_file)
    except ReportError as exc:
        click.echo(f"zegel: {exc}", err=True)
        sys.exit(1)


def _fetch_token(command_line: str | None, token_file: Path | None) -> str:
    """Run the token command or read the token file; raises ReportError (one line)."""
    import shlex
    import subprocess

    from zegel.reports.ingest import ReportError

    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ReportError(f"--oauth2-token-file {token_file}: {exc}") from None
    else:
        try:
            done = subprocess.run(shlex.split(command_line or ""), capture_output=True, timeout=60, check=False)
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"--oauth2-token-command: {exc}") from None
        if done.returncode != 0:
            raise ReportError(f"--oauth2-token-command exited with status {done.returncode}")
        token = done.stdout.decode(errors="replace").strip()
    if not token or any(c.isspace() for c in token):
        raise ReportError("the OAuth2 access token is empty or not one word")
    return token


@command.command("ingest")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--maildir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Read every message of a maildir (cur/ and new/).")
@click.option("--mbox", type=click.Path(dir_okay=False, exists=True, path_type=Path), metavar="FILE",
              help="Read every message of an mbox file.")
@imap_options
@click.option("--graph", "graph_mailbox", metavar="MAILBOX",
              help="Read unread messages of this Microsoft 365 mailbox through Microsoft Graph and mark them read "
                   "(app credentials from $ZEGEL_GRAPH_TENANT, $ZEGEL_GRAPH_CLIENT_ID, $ZEGEL_GRAPH_CLIENT_SECRET).")
@click.option("--graph-folder", default="inbox", show_default=True, metavar="FOLDER",
              help="The mailbox folder (a well-known name or a folder id) for --graph.")
@store_options
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no per-report lines.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per report (JSON lines) and totals.")
def ingest_command(paths: tuple[Path, ...], maildir: Path | None, mbox: Path | None, imap_url: str | None,
                   imap_ca_file: str | None, oauth2_token_command: str | None, oauth2_token_file: Path | None,
                   graph_mailbox: str | None, graph_folder: str, data_dir: Path | None, db_url: str | None,
                   quiet: bool, as_json: bool) -> None:
    """Ingest received DMARC aggregate reports, failure reports and SMTP TLS reports.

    Files may be XML, .xml.gz, .zip, .json (TLS-RPT) or mail messages (.eml) carrying them;
    directories are read recursively. Duplicates (same reporter, report id, domain and period)
    are stored once. Each rejected file gets one line on stderr saying why; the run goes on.
    Exit status 0 when every file was usable, 1 when some were rejected.

    \b
    Examples:
      zegel reports ingest reports/*.xml.gz
      zegel reports ingest --maildir ~/Maildir/.DMARC
      ZEGEL_IMAP_PASSWORD=... zegel reports ingest --imap imaps://dmarc@mail.example.com/INBOX
      zegel reports ingest --imap imaps://dmarc@example.com@outlook.office365.com/INBOX \\
          --oauth2-token-command "my-token-helper --tenant example"
      zegel reports ingest --mbox dmarc.mbox
    """
    import json

    from zegel.reports.ingest import Ingester, IngestResult, ReportError

    sources = sum(bool(x) for x in (paths, maildir, mbox, imap_url, graph_mailbox))
    if sources != 1:
        usage_error("give PATH..., --maildir DIR, --mbox FILE, --imap URL or --graph MAILBOX (exactly one)")
    graph_credentials = tuple(os.environ.get(f"ZEGEL_GRAPH_{name}", "") for name in ("TENANT", "CLIENT_ID",
                                                                                      "CLIENT_SECRET"))
    if graph_mailbox and not all(graph_credentials):
        usage_error("--graph needs $ZEGEL_GRAPH_TENANT, $ZEGEL_GRAPH_CLIENT_ID and $ZEGEL_GRAPH_CLIENT_SECRET")
    token = _oauth2_token(oauth2_token_command, oauth2_token_file) if imap_url else None
    for path in paths:
        if not path.exists():
            usage_error(f"cannot read {path}: no such file or directory")
    if maildir is not None and not maildir.is_dir():
        usage_error(f"--maildir {maildir}: not a directory")
    total = _count_inputs(paths, maildir) if not quiet and not as_json and sys.stderr.isatty() else None

    def results(ingester: Ingester) -> Iterator[IngestResult]:
        if maildir is not None:
            return ingester.ingest_maildir(maildir)
        if mbox is not None:
            return ingester.ingest_mbox(mbox)
        if graph_mailbox:
            from zegel.reports.graph import GraphError, GraphMailbox, client_credentials_token

            try:
                graph_token = client_credentials_token(*graph_credentials)
            except GraphError as exc:
                raise ReportError(f"Microsoft Graph: {exc}") from None
            return ingester.ingest_graph(GraphMailbox(graph_mailbox, graph_token, graph_folder))
        if imap_url:
            return ingester.ingest_imap(imap_url, password=os.environ.get("ZEGEL_IMAP_PASSWORD"), oauth2_token=token,
                                        ca_file=imap_ca_file)
        return ingester.ingest_paths(paths)

    # A mailbox message is marked seen once read: each report committed before that, none lost.
    with _store(data_dir, db_url) as store, (Ingester(store, commit_every=1) if imap_url or graph_mailbox
                                             else Ingester(store)) as ingester:
        try:
            if total is not None:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeRemainingColumn,
                )

                columns = (TextColumn("ingesting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
                with Progress(*columns, transient=True, console=Console(stderr=True)) as progress:
                    task = progress.add_task("ingest", total=total)
                    seen = 0
                    for result in results(ingester):
                        line = _result_line(result)
                        if line:  # above the bar, not through it
                            progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
                        if ingester.stats.files != seen:
                            seen = ingester.stats.files
                            progress.update(task, completed=seen)
            else:
                for result in results(ingester):
                    if as_json:
                        click.echo(json.dumps(result.__dict__))
                    else:
                        _report_line(result, quiet=quiet, as_json=False)
        except ReportError as exc:
            click.echo(f"zegel: {exc}", err=True)
            sys.exit(1)
    stats = ingester.stats
    if as_json:
        click.echo(json.dumps({"files": stats.files, "stored": stats.stored, "duplicate": stats.duplicate,
                               "rejected": stats.rejected, "suppressed": stats.suppressed, "by_kind": stats.by_kind,
                               "skipped": stats.skipped, "recovered": stats.recovered}))
    else:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(stats.by_kind.items())) or "nothing new"
        click.echo(f"{stats.files} file(s): {stats.stored} stored ({kinds}), {stats.duplicate} duplicate(s), "
                   f"{stats.rejected} rejected" + (f", {stats.suppressed} address(es) suppressed" if stats.suppressed else "")
                   + (f", {stats.recovered} recovered from broken XML" if stats.recovered else "")
                   + (f", {stats.skipped} skipped (not reports)" if stats.skipped else ""))
    if stats.rejected:
        sys.exit(1)


def _result_line(result: Any) -> str:
    """The stderr line for a result the user should see: rejected, skipped or repaired."""
    if result.status == "rejected":
        return f"zegel: rejected {result.source}: {result.detail}"
    if result.status == "skipped":
        return f"zegel: skipped {result.source}: {result.detail}"
    if result.repairs and result.status == "stored":
        return f"zegel: recovered {result.source}: {result.repairs}"
    return ""


@command.command("watch")
@imap_options
@click.option("--interval", type=click.IntRange(10, 86400), default=300, show_default=True, metavar="SECONDS",
              help="Longest wait between checks (IMAP IDLE wakes up earlier when mail arrives).")
@click.option("--poll", is_flag=True, help="Check every --interval seconds even when the server offers IDLE.")
@click.option("--once", is_flag=True, help="Check once and exit (for a timer instead of a service).")
@store_options
def watch_command(imap_url: str | None, imap_ca_file: str | None, oauth2_token_command: str | None,
                  oauth2_token_file: Path | None, interval: int, poll: bool, once: bool, data_dir: Path | None,
                  db_url: str | None) -> None:
    """Keep ingesting reports as they arrive in an IMAP mailbox (runs as a service).

    Waits with IMAP IDLE (RFC 2177) when the server offers it, else polls every --interval
    seconds. Each rejected message gets one line on stderr and is marked seen, so it never
    blocks the mailbox. A lost connection is retried with a doubling delay (5 s up to 5 min) and
    what arrived meanwhile is read then; only a failing first connection ends the watch (exit
    1). SIGTERM or SIGINT stops it (exit 0): a message half read is left unseen for the next
    start. The OAuth2 token is fetched anew at each connection. See
    examples/zegel-reports-watch.service and docs/reports.md.

    \b
    Example:
      ZEGEL_IMAP_PASSWORD=... zegel reports watch --imap imaps://dmarc@mail.example.com/INBOX
    """
    import signal
    from urllib.parse import urlsplit

    from zegel.reports.ingest import ReportError
    from zegel.reports.watch import MailboxWatch, WatchError

    if not imap_url:
        usage_error("watch needs --imap URL")
    if urlsplit(imap_url).scheme not in ("imaps", "imap"):
        usage_error(f"--imap: not an IMAP URL: {imap_url!r} (imaps://user@host/INBOX)")
    if oauth2_token_command and oauth2_token_file:
        usage_error("--oauth2-token-command and --oauth2-token-file exclude each other")
    token_source = ((lambda: _fetch_token(oauth2_token_command, oauth2_token_file))
                    if oauth2_token_command or oauth2_token_file else None)
    with _store(data_dir, db_url) as store:
        watch = MailboxWatch(store, imap_url, password=os.environ.get("ZEGEL_IMAP_PASSWORD"),
                             oauth2_token=token_source, ca_file=imap_ca_file, interval=interval, idle=not poll,
                             on_result=lambda result: _report_line(result, quiet=False, as_json=False),
                             log=lambda line: click.echo(f"zegel: {line}", err=True))
        try:
            if once:
                try:
                    watch.check()
                except (ReportError, StoreError) as exc:
                    click.echo(f"zegel: {exc}", err=True)
                    sys.exit(1)
                return
            received: list[str] = []

            async def serve() -> None:
                def stop(name: str) -> None:
                    received.append(name)
                    watch.request_stop()

                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, stop, sig.name)
                await watch.serve()

            try:
                asyncio.run(serve())
            except WatchError as exc:
                click.echo(f"zegel: {exc}", err=True)
                sys.exit(1)
            totals = watch.stats
            click.echo(f"zegel: stopped ({received[0] if received else 'requested'}); since the start "
                       f"{totals.files} message(s): {totals.stored} stored, {totals.duplicate} duplicate(s), "
                       f"{totals.rejected} rejected", err=True)
        finally:
            watch.close()


def _report_line(result: Any, *, quiet: bool, as_json: bool) -> None:
    line = _result_line(result)
    if line and (result.status == "rejected" or not quiet):
        click.echo(line, err=True)
    elif not quiet and result.status == "suppressed":
        click.echo(f"suppressed {result.detail} (bounced)")


def _count_inputs(paths: tuple[Path, ...], maildir: Path | None) -> int | None:
    """Files to read, for the progress bar (cheap directory scans; None for IMAP)."""
    count = 0
    if maildir is not None:
        for sub in ("new", "cur"):
            if (maildir / sub).is_dir():
                with os.scandir(maildir / sub) as entries:
                    count += sum(1 for _ in entries)
        return count
    for path in paths:
        if path.is_dir():
            count += sum(len(files) for _, _, files in os.walk(path))
        else:
            count += 1
    return count if count > 20 else None


# --- summary ---------------------------------------------------------------------------------------

_SINCE = re.compile(r"^(\d+)([hdw])$")


def parse_since(text: str, now: float) -> int:
    """``30d``, ``12h``, ``2w`` or a date ``2026-11-01`` -> epoch seconds."""
    match = _SINCE.match(text.strip().lower())
    if match:
        amount, unit = int(match.group(1)), match.group(2)
        return int(now - amount * {"h": 3600, "d": 86400, "w": 7 * 86400}[unit])
    from zegel.reports.ingest import ReportError, parse_timestamp

    try:
        return parse_timestamp(text)
    except ReportError:
        usage_error(f"--since: expected e.g. 30d, 12h, 2w or a date like 2026-11-01, not {text!r}")


_TABLE = {
    "en": {"source": "source", "name": "name (PTR)", "sender": "sender", "messages": "messages",
           "spf": "SPF pass", "spf_al": "SPF aligned", "dkim": "DKIM pass", "dkim_al": "DKIM aligned",
           "dmarc": "DMARC pass", "category": "category", "reports": "report(s)", "msgs": "message(s)",
           "policy": "policy", "unknown": "policy unknown", "legit": "legitimate mail passing",
           "forwarded": "forwarded", "senders": "Senders", "misaligned": "failing mail: envelope-from {env}; DKIM d= {d}",
           "more": "... and {n} more sources (use --csv or --json for all)", "none": "none",
           "older": ("{n} older report(s), from {date} on, are left out by --since {since}; "
                     "use --since {date} to include them."),
           "percent": "Percentages are shares of each row's messages.",
           "ptr": "looking up names"},
    "nl": {"source": "bron", "name": "naam (PTR)", "sender": "verzender", "messages": "berichten",
           "spf": "SPF geslaagd", "spf_al": "SPF uitgelijnd", "dkim": "DKIM geslaagd", "dkim_al": "DKIM uitgelijnd",
           "dmarc": "DMARC geslaagd", "category": "categorie", "reports": "rapport(en)", "msgs": "bericht(en)",
           "policy": "beleid", "unknown": "beleid onbekend", "legit": "legitieme post geslaagd",
           "forwarded": "doorgestuurd", "senders": "Verzenders",
           "misaligned": "falende post: envelope-from {env}; DKIM d= {d}",
           "more": "... en nog {n} bronnen (gebruik --csv of --json voor alle)", "none": "geen",
           "older": ("{n} ouder(e) rapport(en), vanaf {date}, vallen buiten --since {since}; "
                     "gebruik --since {date} om ze mee te nemen."),
           "percent": "Percentages zijn aandelen van de berichten per rij.",
           "ptr": "namen opzoeken"},
}
_CATEGORY_NL = {"passing": "slaagt", "misaligned": "niet uitgelijnd", "partly-failing": "deels falend",
                "unauthenticated": "niets slaagt", "forwarded": "doorgestuurd"}


def _day(epoch: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(epoch))


@command.command("summary")
@click.option("--domain", required=True, metavar="DOMAIN", help="The domain whose received reports to summarise.")
@click.option("--since", default="30d", show_default=True, metavar="AGE|DATE",
              help="Reports whose period ended after this: 30d, 12h, 2w or 2026-11-01.")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language of the table and the recommendation.")
@click.option("--top", type=click.IntRange(1, 10000), default=50, show_default=True, metavar="N",
              help="Sources shown in the table (by volume); only these get PTR, country and AS lookups.")
@click.option("--no-ptr", is_flag=True, help="Do not look up the PTR names of sources.")
@dns_options
@store_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as one JSON object, with every source (tens of MB for 100,000 sources): "
                   "--limit/--offset print one page of them, as GET /api/reports/summary does.")
@click.option("--limit", type=click.IntRange(1), default=None, metavar="N",
              help="With --json: only N sources (by volume), from --offset on; sources_total and next_offset "
                   "say what is left. Default: all.")
@click.option("--offset", type=click.IntRange(0), default=0, show_default=True, metavar="N",
              help="With --json: skip the first N sources (the next_offset of the previous page).")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per source.")
def summary_command(domain: str, since: str, lang: str, top: int, no_ptr: bool, zones: tuple[str, ...],
                    nameservers: tuple[str, ...], offline: bool, timeout: float, data_dir: Path | None,
                    db_url: str | None, as_json: bool, limit: int | None, offset: int, as_csv: bool) -> None:
    """Per sending source (one row per IP): messages, SPF/DKIM pass and alignment, DMARC pass;
    senders by name with what to fix; forwarded mail apart; which sources p=quarantine or
    p=reject would hurt; and a recommendation for the next policy step.

    \b
    Examples:
      zegel reports summary --domain example.com --since 30d
      zegel reports summary --domain example.com --lang nl
      zegel reports summary --domain example.com --csv > sources.csv
      zegel reports summary --domain example.com --json --limit 200 --offset 200
    """
    from zegel.reports.summary import CSV_COLUMNS, EXPLANATIONS, csv_rows, summarize

    if as_json and as_csv:
        usage_error("--json and --csv exclude each other")
    if (limit is not None or offset) and not as_json:
        usage_error("--limit and --offset page the sources of --json (the table has --top)")
    if "." not in domain.strip(".") and domain.strip().lower() != "localhost":
        usage_error(f"--domain: {domain!r} is not a domain name")
    start = parse_since(since, time.time())
    resolver = None if no_ptr else make_resolver(zones, nameservers, offline, timeout)
    text = _TABLE[lang]
    with _store(data_dir, db_url) as store:
        if resolver is not None and not as_json and not as_csv and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            with Progress(TextColumn(text["ptr"]), BarColumn(), MofNCompleteColumn(), transient=True,
                          console=Console(stderr=True)) as bar:
                task = bar.add_task("ptr", total=None)
                result = asyncio.run(summarize(store, domain, start, resolver=resolver, lang=lang,  # type: ignore[arg-type]
                                               top=top, progress=lambda done, total: bar.update(task, completed=done,
                                                                                                  total=total)))
        elif as_json and limit is not None:  # one page: its sources get the PTR/country/AS lookups
            result = asyncio.run(summarize(store, domain, start, resolver=resolver, lang=lang,  # type: ignore[arg-type]
                                           top=limit, first=offset))
        else:
            result = asyncio.run(summarize(store, domain, start, resolver=resolver, lang=lang, top=top))  # type: ignore[arg-type]
    if as_json:
        print_json(result.to_json(limit=limit, offset=offset))
        return
    if as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(CSV_COLUMNS)
        writer.writerows(csv_rows(result))
        return
    policy = f"p={result.policy}" if result.policy else text["unknown"]
    click.echo(f"{result.domain}: {result.reports} {text['reports']}, {result.messages} {text['msgs']}, "
               f"{policy}")
    if result.messages:
        explain = EXPLANATIONS["nl" if lang == "nl" else "en"]
        click.echo(f"  {result.pass_rate:6.1%}  {explain['pass_rate']}")
        click.echo(f"  {result.legitimate_pass_rate:6.1%}  {explain['legitimate_pass_rate']}")
        if result.forwarded:
            click.echo(f"  {result.forwarded:>6}  {text['forwarded']}")
    if result.older_reports and result.older_earliest is not None:
        click.echo(text["older"].format(n=result.older_reports, date=_day(result.older_earliest), since=since))
    if result.sources:
        click.echo()
        shown = result.sources[:top]
        ip_w = max(len(text["source"]), *(len(s.source_ip) for s in shown))
        ptr_w = min(30, max(len(text["name"]), *(len(s.ptr or "-") for s in shown)))
        snd_w = min(40, max(len(text["sender"]), *(len(s.sender) for s in shown)))
        numbers = ("messages", "spf", "spf_al", "dkim", "dkim_al", "dmarc")
        widths = [max(7, len(text[n])) for n in numbers]
        click.echo(f"{text['source']:{ip_w}}  {text['name']:{ptr_w}}  {text['sender']:{snd_w}}  "
                   + "  ".join(f"{text[n]:>{w}}" for n, w in zip(numbers, widths, strict=True))
                   + f"  {text['category']}")
        for s in shown:
            cells = (str(s.messages), *(f"{v / s.messages:.0%}" if s.messages else "-" for v in (
                s.spf_pass, s.spf_aligned, s.dkim_pass, s.dkim_aligned, s.dmarc_pass)))
            category = _CATEGORY_NL.get(s.category, s.category) if lang == "nl" else s.category
            click.echo(f"{s.source_ip:{ip_w}}  {(s.ptr or '-')[:ptr_w]:{ptr_w}}  {s.sender[:snd_w]:{snd_w}}  "
                       + "  ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)) + f"  {category}")
            if s.category in ("misaligned", "partly-failing"):
                click.echo(" " * (ip_w + 2) + text["misaligned"].format(
                    env=", ".join(s.misaligned_envelope_from) or text["none"],
                    d=", ".join(s.misaligned_dkim_domains) or text["none"]))
        if len(result.sources) > top:
            click.echo(text["more"].format(n=len(result.sources) - top))
        click.echo(text["percent"])
    if result.senders:
        click.echo()
        click.echo(f"{text['senders']}:")
        for sender in result.senders:
            click.echo(f"  {sender.name}: {sender.messages} {text['msgs']}, DMARC {sender.pass_rate:.0%}"
                       + (f", {sender.forwarded} {text['forwarded']}" if sender.forwarded else "")
                       + f". {sender.advice}")
    click.echo()
    click.echo(result.recommendation)


@command.command("trends")
@click.option("--domain", required=True, metavar="DOMAIN", help="The domain whose received reports to chart.")
@click.option("--since", default="90d", show_default=True, metavar="AGE|DATE",
              help="Reports whose period ended after this: 90d, 12w or 2026-09-01.")
@click.option("--by", "period", type=click.Choice(["day", "week"]), default="day", show_default=True,
              help="One point per day or per week (weeks start on Monday, UTC).")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the series as JSON.")
def trends_command(domain: str, since: str, period: str, data_dir: Path | None, db_url: str | None,
                   as_json: bool) -> None:
    """Volume and DMARC pass rate per day or week: sparklines in the terminal, series in JSON.

    \b
    Example:
      zegel reports trends --domain example.com --by week --since 26w
    """
    from zegel.reports.summary import sparkline, trend

    start = parse_since(since, time.time())
    with _store(data_dir, db_url) as store:
        series = trend(store, domain, start, period)
    if as_json:
        print_json(series.to_json())
        return
    if not series.points:
        click.echo(f"{series.domain}: no reports since {_day(start)}")
        return
    first, last = series.points[0], series.points[-1]
    click.echo(f"{series.domain}, per {period}, {_day(first.start)} .. {_day(last.start)}:")
    click.echo(f"  messages    {sparkline([p.messages for p in series.points])}  "
               f"{min(p.messages for p in series.points)} .. {max(p.messages for p in series.points)}")
    click.echo(f"  DMARC pass  {sparkline([p.pass_rate for p in series.points])}  "
               f"{min(p.pass_rate for p in series.points):.0%} .. {max(p.pass_rate for p in series.points):.0%}")
    for point in series.points:
        click.echo(f"  {_day(point.start)}  {point.messages:>9}  {point.pass_rate:6.1%}")


@command.command("failures")
@click.argument("number", required=False, type=click.IntRange(min=1), metavar="[ID]")
@click.option("--domain", metavar="DOMAIN", help="Only reports about this domain.")
@click.option("--since", default=None, metavar="AGE|DATE", help="Only reports that arrived after this: 30d or 2026-11-01.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Show at most this many.")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def failures_command(number: int | None, domain: str | None, since: str | None, limit: int, data_dir: Path | None,
                     db_url: str | None, as_json: bool) -> None:
    """List stored failure reports (RFC 6591 / RFC 9991), newest first; with ID, show one.

    \b
    Examples:
      zegel reports failures --domain example.com --since 7d
      zegel reports failures 12
    """
    start = parse_since(since, time.time()) if since else None
    with _store(data_dir, db_url) as store:
        rows = store.failure_reports(domain, start, limit, report=number)
    if number is not None and not rows:
        click.echo(f"zegel: no failure report {number}", err=True)
        sys.exit(1)
    if as_json:
        print_json(rows[0] if number is not None else rows)
        return
    if number is not None:
        for key, value in rows[0].items():
            if key == "arrival_time" and value:
                value = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
            click.echo(f"{key.replace('_', '-')}: {value if value not in (None, '') else '-'}")
        return
    if not rows:
        click.echo("no failure reports stored" + (f" for {domain}" if domain else ""))
        return
    click.echo(f"{'id':>5}  {'arrived':16}  {'domain':24}  {'source':15}  {'type':12}  {'failure':8}  mail-from")
    for row in rows:
        arrived = time.strftime("%Y-%m-%d %H:%M", time.gmtime(row["arrival_time"] or row["ingested_at"]))
        click.echo(f"{row['id']:>5}  {arrived:16}  {row['reported_domain'][:24]:24}  {row['source_ip'][:15]:15}  "
                   f"{row['feedback_type'][:12]:12}  {row['auth_failure'][:8] or '-':8}  {row['original_mail_from']}")


@command.command("tls")
@click.option("--domain", metavar="DOMAIN", help="Only reports about this policy domain.")
@click.option("--since", default=None, metavar="AGE|DATE", help="Only reports whose period ended after this.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Show at most this many.")
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tls_command(domain: str | None, since: str | None, limit: int, data_dir: Path | None, db_url: str | None,
                as_json: bool) -> None:
    """List stored SMTP TLS reports (RFC 8460): sessions that succeeded and failed, and why.

    \b
    Example:
      zegel reports tls --domain example.com --since 30d
    """
    import json

    start = parse_since(since, time.time()) if since else None
    with _store(data_dir, db_url) as store:
        rows = store.tls_reports(domain, start, limit)
    for row in rows:
        try:
            row["failure_details"] = [list(d) for d in json.loads(row["failure_details"] or "[]")]
        except ValueError:
            row["failure_details"] = []
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("no SMTP TLS reports stored" + (f" for {domain}" if domain else ""))
        return
    click.echo(f"{'period':10}  {'reporter':20}  {'domain':24}  {'policy':7}  {'ok':>9}  {'failed':>7}  failures")
    for row in rows:
        details = ", ".join(f"{kind} {count}" for kind, count in row["failure_details"]) or "-"
        click.echo(f"{_day(row['period_begin']):10}  {row['organization'][:20]:20}  {row['policy_domain'][:24]:24}  "
                   f"{row['policy_type'][:7] or '-':7}  {row['successful']:>9}  {row['failed']:>7}  {details}")


EXPORT_COLUMNS = (
    "xml_schema", "org_name", "org_email", "report_id", "begin_date", "end_date", "errors", "domain", "adkim", "aspf",
    "p", "sp", "pct", "source_ip_address", "source_country", "source_reverse_dns", "source_base_domain", "count",
    "spf_aligned", "dkim_aligned", "dmarc_aligned", "disposition", "policy_override_reasons",
    "policy_override_comments", "envelope_from", "header_from", "envelope_to", "dkim_domains", "dkim_selectors",
    "dkim_results", "spf_domains", "spf_scopes", "spf_results", "reporter", "period_begin", "period_end",
    "repairs",
)


def _export_row(record: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    import json

    def rows(text: str) -> list[list[str]]:
        try:
            value = json.loads(text or "[]")
        except ValueError:
            return []
        return [[str(x) for x in item] for item in value if isinstance(item, list)]

    dkim, spf, reasons = rows(record["dkim_results"]), rows(record["spf_results"]), rows(record["reasons"])
    ip = record["source_ip"]
    ptr = names.get(ip, "")
    from zegel.reports.senders import as_info, base_domain

    return {
        "xml_schema": record["format"],
        "org_name": record["org_name"], "org_email": record["email"], "report_id": record["report_id"],
        "begin_date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record["period_begin"])),
        "end_date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(record["period_end"])),
        "errors": "", "domain": record["domain"], "adkim": record["adkim"] or "r", "aspf": record["aspf"] or "r",
        "p": record["p"], "sp": record["sp"] or "", "pct": record["pct"] if record["pct"] is not None else "",
        "source_ip_address": ip, "source_country": as_info(ip)[0], "source_reverse_dns": ptr,
        "source_base_domain": base_domain(ptr) if ptr else "", "count": record["count"],
        "spf_aligned": record["spf_eval"] == "pass", "dkim_aligned": record["dkim_eval"] == "pass",
        "dmarc_aligned": bool(record["dmarc_pass"]), "disposition": record["disposition"],
        "policy_override_reasons": ",".join(r[0] for r in reasons if r),
        "policy_override_comments": ",".join(r[1] for r in reasons if len(r) > 1 and r[1]),
        # As parsedmarc does: reports that leave envelope_from out get SPF's MAIL FROM domain.
        "envelope_from": record["envelope_from"] or next((r[0] for r in spf if len(r) > 1 and r[1] in ("mfrom", "")), ""),
        "header_from": record["header_from"],
        "envelope_to": record["envelope_to"],
        "dkim_domains": ",".join(r[0] for r in dkim), "dkim_selectors": ",".join(r[1] for r in dkim if len(r) > 1),
        "dkim_results": ",".join(r[2] for r in dkim if len(r) > 2),
        "spf_domains": ",".join(r[0] for r in spf), "spf_scopes": ",".join(r[1] for r in spf if len(r) > 1),
        "spf_results": ",".join(r[2] for r in spf if len(r) > 2),
        "reporter": record["org_name"], "period_begin": record["period_begin"], "period_end": record["period_end"],
        "repairs": record["repairs"] or "",
    }


@command.command("export")
@click.option("--domain", metavar="DOMAIN", help="Only records of this domain's reports.")
@click.option("--since", default=None, metavar="AGE|DATE", help="Only reports whose period ended after this.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="JSON lines (one object per record) or CSV (parsedmarc's aggregate columns and more).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=Path("-"),
              show_default=True, help="Write here instead of standard output.")
@store_options
def export_command(domain: str | None, since: str | None, fmt: str, output: Path, data_dir: Path | None,
                   db_url: str | None) -> None:
    """Export every stored aggregate record, one row each, with its report's metadata.

    The CSV carries parsedmarc's aggregate CSV columns (so tools built for it read it), plus
    reporter, period and what ingest repaired. PTR names come from the store's cache only.

    \b
    Examples:
      zegel reports export --domain example.com --format csv -o records.csv
      zegel reports export --since 30d | jq 'select(.dmarc_aligned == false)'
    """
    import json

    start = parse_since(since, time.time()) if since else None
    stream = sys.stdout if str(output) == "-" else output.open("w", newline="", encoding="utf-8")
    try:
        with _store(data_dir, db_url) as store:
            writer = csv.DictWriter(stream, fieldnames=EXPORT_COLUMNS) if fmt == "csv" else None
            if writer is not None:
                writer.writeheader()
            names: dict[str, str] = {}
            looked_up: set[str] = set()
            for record in store.aggregate_records(domain, start):
                ip = record["source_ip"]
                if ip not in looked_up and len(looked_up) < 100_000:
                    looked_up.add(ip)
                    names.update(store.cached_ptr([ip], 10**9))
                row = _export_row(record, names)
                if writer is not None:
                    writer.writerow(row)
                else:
                    stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if stream is not sys.stdout:
            stream.close()
