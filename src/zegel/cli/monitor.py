"""``zegel monitor``: check watched domains on a schedule and send alerts; manage the watch list."""

from __future__ import annotations

import asyncio
import datetime
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click

from zegel.cli.common import dns_options, make_resolver, print_json, usage_error


def _db_options(func: Any) -> Any:
    func = click.option("--db", "db_url", metavar="URL", envvar="ZEGEL_DB_URL",
                        help="Database URL instead of SQLite, e.g. postgresql://user@host/zegel [$ZEGEL_DB_URL].")(func)
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="ZEGEL_DATA_DIR",
                        help="Directory of the SQLite database [default: $ZEGEL_DATA_DIR or ~/.local/share/zegel].")(func)


def _open(data_dir: Path | None, db_url: str | None) -> Any:
    from zegel.monitor import open_monitor
    from zegel.reports.store import StoreError

    try:
        return open_monitor(db_url, data_dir)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


def _duration(text: str) -> int:
    units = {"m": 60, "h": 3600, "d": 86400}
    value = text.strip().lower()
    if value[-1:] in units and value[:-1].isdigit():
        return int(value[:-1]) * units[value[-1]]
    if value.isdigit():
        return int(value)
    usage_error(f"--every: expected a duration such as 30m, 6h or 1d, not {text!r}")


def _domain(text: str) -> str:
    from zegel.audit import mail_domain

    try:
        return mail_domain(text.strip().rstrip(".").lower())
    except ValueError as exc:
        usage_error(f"{text}: {exc}")


def _when(seconds: int) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).strftime("%Y-%m-%d %H:%M")


@click.group(name="monitor", invoke_without_command=True)
@_db_options
@dns_options
@click.option("--smtp", "smtp", metavar="HOST:PORT", default="127.0.0.1:25", show_default=True,
              help="SMTP relay for e-mail alerts.")
@click.option("--mail-from", default="zegel-monitor@localhost", show_default=True, help="Sender of alert mail.")
@click.option("--once", is_flag=True, help="Check what is due now, then exit (for cron or a systemd timer).")
@click.option("--no-reports", is_flag=True, help="Do not read DMARC reports (no sender or pass-rate alerts).")
@click.pass_context
def command(ctx: click.Context, data_dir: Path | None, db_url: str | None, zones: tuple[str, ...],
            nameservers: tuple[str, ...], offline: bool, timeout: float, smtp: str, mail_from: str, once: bool,
            no_reports: bool) -> None:
    """Check watched domains on a schedule, store every run, and alert by e-mail and webhook
    when the grade drops, a record disappears or breaks, a new sender fails in reports, the
    DMARC pass rate falls below the domain's threshold, or an MTA-STS certificate expires.

    Without a subcommand it runs as a service (examples/zegel-monitor.service).

    \b
    Examples:
      zegel monitor add example.nl --email postmaster@example.nl --every 6h
      zegel monitor                      # the service
      zegel monitor history example.nl
    """
    ctx.ensure_object(dict)
    ctx.obj.update(data_dir=data_dir, db_url=db_url)
    if ctx.invoked_subcommand is not None:
        return
    from zegel.monitor import Mailer, Monitor, policy_fetcher
    from zegel.reports.store import StoreError, open_store

    host, _, port = smtp.rpartition(":")
    if not host or not port.isdigit():
        usage_error(f"--smtp: expected HOST:PORT, not {smtp!r}")
    resolver = make_resolver(zones, nameservers, offline, timeout)
    store = _open(data_dir, db_url)
    try:
        reports = None if no_reports else open_store(db_url, data_dir)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    monitor = Monitor(store, resolver, reports=reports, mailer=Mailer(host, int(port), mail_from),
                      fetch_policy=policy_fetcher())

    import logging

    logging.basicConfig(level=logging.INFO, format="zegel monitor: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def main() -> None:
        if once:
            alerts = await monitor.run_due()
            click.echo(f"zegel monitor: {len(alerts)} alert(s)", err=True)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"zegel monitor: watching {len(store.watched())} domain(s)", err=True)
        await monitor.serve(stop)

    try:
        asyncio.run(main())
    finally:
        store.close()
        if reports is not None:
            reports.close()


@command.command(name="add")
@click.argument("domain")
@click.option("--email", "emails", multiple=True, metavar="ADDRESS", help="Send alerts here (repeatable).")
@click.option("--webhook", default="", metavar="URL", help="POST alerts as JSON to this http(s) URL.")
@click.option("--selector", "selectors", multiple=True, help="DKIM selector to watch (repeatable; default: probe).")
@click.option("--every", default="6h", show_default=True, help="How often to check: 30m, 6h, 1d...")
@click.option("--threshold", type=click.FloatRange(0, 100), default=90.0, show_default=True,
              help="Alert when the DMARC pass rate in reports falls below this percentage.")
@_db_options
@click.pass_obj
def add(obj: dict[str, Any], data_dir: Path | None, db_url: str | None, domain: str, emails: tuple[str, ...], webhook: str, selectors: tuple[str, ...],
        every: str, threshold: float) -> None:
    """Watch DOMAIN (or change how it is watched); its first check is due at once."""
    from zegel.monitor import Watch

    name = _domain(domain)
    if webhook and not webhook.startswith(("http://", "https://")):
        usage_error("--webhook: expected an http:// or https:// URL")
    for address in emails:
        if "@" not in address or any(ch.isspace() for ch in address):
            usage_error(f"--email: {address!r} is not an e-mail address")
    store = _open(data_dir or obj["data_dir"], db_url or obj["db_url"])
    try:
        store.add(Watch(name, tuple(selectors), _duration(every), 0, tuple(emails), webhook, threshold / 100,
                        added_by="cli", added_at=int(time.time())))
    finally:
        store.close()
    click.echo(f"watching {name}")


@command.command(name="remove")
@click.argument("domain")
@_db_options
@click.pass_obj
def remove(obj: dict[str, Any], data_dir: Path | None, db_url: str | None, domain: str) -> None:
    """Stop watching DOMAIN (its history is kept)."""
    store = _open(data_dir or obj["data_dir"], db_url or obj["db_url"])
    try:
        if not store.remove(domain.strip().rstrip(".").lower()):
            click.echo(f"zegel: {domain} is not watched", err=True)
            sys.exit(1)
    finally:
        store.close()


@command.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_db_options
@click.pass_obj
def list_watched(obj: dict[str, Any], data_dir: Path | None, db_url: str | None, as_json: bool) -> None:
    """The watch list, with each domain's last grade."""
    store = _open(data_dir or obj["data_dir"], db_url or obj["db_url"])
    try:
        items = store.watched()
        last = {item.domain: store.last_run(item.domain) for item in items}
    finally:
        store.close()
    if as_json:
        print_json([dict(item.to_json(), grade=last[item.domain].grade if last[item.domain] else None)
                    for item in items])
        return
    if not items:
        click.echo("zegel: no domain is watched yet; add one with: zegel monitor add DOMAIN --email ADDRESS",
                   err=True)
        return
    now = int(time.time())
    for item in items:
        run = last[item.domain]
        grade = f"grade {run.grade} at {_when(run.time)}" if run else "not checked yet"
        # A new watch is due at once (next_due 0): the service's next pass checks it.
        due = "due now" if item.next_due <= now else f"next {_when(item.next_due)}"
        click.echo(f"{item.domain}  every {item.interval // 60} min  {grade}  {due}")


@command.command(name="history")
@click.argument("domain")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@_db_options
@click.pass_obj
def history(obj: dict[str, Any], data_dir: Path | None, db_url: str | None, domain: str, limit: int,
            as_json: bool) -> None:
    """What changed when: each run's grade and its differences from the run before."""
    store = _open(data_dir or obj["data_dir"], db_url or obj["db_url"])
    try:
        name = domain.strip().rstrip(".").lower()
        runs = store.history(name, limit)
        alerts = store.alerts(name, limit=limit)
    finally:
        store.close()
    if as_json:
        print_json({"domain": name, "runs": [dict(run.to_json(), diff=[c.to_json() for c in changes])
                                             for run, changes in runs], "alerts": alerts})
        return
    if not runs:
        click.echo(f"no runs for {name} yet")
    for run, changes in runs:
        click.echo(f"{_when(run.time)}  grade {run.grade}  {len(changes)} change(s)")
        for change in changes:
            sign = {"added": "+", "removed": "-", "changed": "~"}[change.kind]
            text = change.after or change.before if change.area != "grade" else f"{change.before} -> {change.after}"
            click.echo(f"  {sign} {change.area}: {text}")
    for alert in alerts:
        click.echo(f"alert {_when(alert['time'])} {alert['kind']}: {alert['message']}")
