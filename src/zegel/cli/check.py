"""``zegel check``: audit domains' SPF, DKIM, DMARC and MX records, with the fix for each finding."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import json
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zegel.audit import CheckOptions, DomainReport, check_domain, check_domains, parse_lang
from zegel.audit.inputs import split_selectors
from zegel.audit.net import Endpoints, HttpsFetcher
from zegel.audit.render_csv import CSV_HEADER, csv_rows
from zegel.audit.render_html import render_html
from zegel.audit.render_text import print_reports
from zegel.audit.starttls import SmtpProber
from zegel.cli.common import dns_options, make_resolver, usage_error
from zegel.dns import Resolver, ZoneError
from zegel.dns.records import nodes_from_zone_file

MAX_LINE = 1024  # a longer line in --from-file is not a domain; it is reported, not stored


class _OneLineErrors(click.Command):
    """Usage errors (unknown option, bad value) as one line ``zegel: ...``, exit status 2."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            usage_error(exc.format_message().replace("\n", " "))


def _check_zone_files(zones: Sequence[str]) -> None:
    """Load each --zone file once before the resolver does, to say what a typical mistake means."""
    for path in zones:
        try:
            nodes_from_zone_file(path)
        except ZoneError as exc:
            message = str(exc)
            if "string too long" in message:
                message += (" — a TXT string holds at most 255 characters: split the record into"
                            ' several quoted strings, "first part" "second part" (joined without a space)')
            usage_error(message)


def _domains_from_file(handle: TextIO) -> Iterator[str]:
    """One domain per line; blank lines and # comments skipped; the first field of a CSV line."""
    for raw in handle:
        line = raw[:MAX_LINE].split("#", 1)[0].strip()
        if not line:
            continue
        field = line.replace(",", " ").replace(";", " ").split()[0]
        yield field


def _count_lines(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return sum(1 for _ in _domains_from_file(handle))
    except OSError:
        return None


def _open_list(path: str) -> TextIO:
    if path == "-":
        # Undecodable bytes become U+FFFD: such a line is reported as an invalid domain.
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    try:
        return open(path, encoding="utf-8", errors="replace")
    except OSError as exc:
        usage_error(f"cannot read {path}: {exc.strerror or exc}")


async def _as_async(items: Iterator[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


def _json_line(report: DomainReport) -> str:
    return json.dumps(report.to_json(), ensure_ascii=False)


def _emit(report: DomainReport, output: str) -> None:
    if output == "csv":
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(csv_rows(report))
        click.echo(buffer.getvalue(), nl=False)
    else:
        click.echo(_json_line(report))


def _csv_header() -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(CSV_HEADER)
    click.echo(buffer.getvalue(), nl=False)


async def _run_bulk(sources: Iterator[str], resolver: Resolver, options: CheckOptions, concurrency: int,
                    total: int | None, keep: bool, output: str = "json") -> tuple[bool, list[DomainReport]]:
    """Print one JSON line per domain as it finishes; a progress bar on stderr on a terminal."""
    any_error = False
    kept: list[DomainReport] = []
    show_progress = sys.stderr.isatty()
    progress = Progress(TextColumn("zegel check"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        TextColumn("{task.fields[last]}"), console=Console(stderr=True), transient=True,
                        disable=not show_progress)
    with progress:
        task = progress.add_task("check", total=total, last="")
        async for report in check_domains(_as_async(sources), resolver, options, concurrency=concurrency):
            _emit(report, output)
            any_error = any_error or report.has_errors
            if keep:
                kept.append(report)
            progress.update(task, advance=1, last=report.domain)
    return any_error, kept


async def _run_some(domains: Sequence[str], resolver: Resolver, options: CheckOptions,
                    concurrency: int) -> list[DomainReport]:
    """The domains given on the command line, concurrently, reported in the order given."""
    limit = asyncio.Semaphore(concurrency)

    async def one(domain: str) -> DomainReport:
        async with limit:
            return await check_domain(domain, resolver, options)

    return list(await asyncio.gather(*(one(domain) for domain in domains)))


def _write_html(path: str, reports: list[DomainReport], options: CheckOptions) -> None:
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        Path(path).write_text(render_html(reports, lang=options.lang, generated=when), encoding="utf-8")
    except OSError as exc:
        usage_error(f"cannot write {path}: {exc.strerror or exc}")
    click.echo(f"zegel: HTML report written to {path}", err=True)


@click.command("check", cls=_OneLineErrors)
@click.argument("domains", nargs=-1, metavar="DOMAIN...")
@click.option("--selector", "selectors", multiple=True, metavar="[DOMAIN:]S",
              help="DKIM selector to check (repeatable); DOMAIN:S for one domain only. Without it, widely used "
                   "names are probed. Selectors in --zone drafts are always checked.")
@dns_options
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per domain and line: domain, grade, protected, findings, then the keys "
                   "docs/check.md lists (verdict, records, dnssec, ...).")
@click.option("--html", "html_path", metavar="FILE", default=None,
              help="Also write a self-contained HTML report to FILE (to send to your DNS provider).")
@click.option("--lang", "lang_text", default="en", show_default=True, metavar="en|nl",
              help="Language of the messages and fixes: en or nl.")
@click.option("--from-file", "from_file", metavar="FILE", default=None,
              help="Bulk mode: read domains from FILE ('-' for stdin), one per line; prints JSON lines.")
@click.option("--concurrency", type=click.IntRange(1, 2000), default=50, show_default=True,
              help="Domains checked at the same time.")
@click.option("--domain-timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              help="Seconds one domain may take in all; a slower domain is reported and the rest go on.")
@click.option("--mx-sends", is_flag=True,
              help="The domain's MX hosts also send its mail: check that SPF lets them.")
@click.option("--csv", "as_csv", is_flag=True,
              help="CSV on stdout: a header, then one row per finding (domain, grade, protected, severity, code, "
                   "message, fix, record); also in bulk mode instead of JSON lines.")
@click.option("--smtp", is_flag=True,
              help="Also connect to each MX on port 25: STARTTLS, TLS versions, cipher, certificate, DANE match.")
@click.option("--no-fetch", is_flag=True,
              help="Do not fetch the MTA-STS policy or the BIMI logo over HTTPS (DNS checks only).")
@click.option("--dns-only", is_flag=True,
              help="Only SPF, DKIM, DMARC and MX (no MTA-STS, TLS-RPT, BIMI, DNSSEC, DANE or MX host checks).")
@click.option("--connect-to", "connect_to", multiple=True, metavar="HOST:PORT:ADDR:PORT",
              help="Send connections for HOST:PORT (HTTPS fetches, --smtp) to ADDR:PORT instead, keeping HOST "
                   "as the TLS name (repeatable; as curl's --connect-to). For private or test servers.")
@click.option("--cafile", metavar="FILE", default=None,
              help="Also trust the CA certificates in FILE (the system store and SSL_CERT_FILE are always used).")
def command(domains: tuple[str, ...], selectors: tuple[str, ...], zones: tuple[str, ...],
            nameservers: tuple[str, ...], offline: bool, timeout: float, as_json: bool, html_path: str | None,
            lang_text: str, from_file: str | None, concurrency: int, domain_timeout: float,
            mx_sends: bool, as_csv: bool, smtp: bool, no_fetch: bool, dns_only: bool,
            connect_to: tuple[str, ...], cafile: str | None) -> None:
    """Audit the mail records of DOMAIN(s): SPF, DKIM, DMARC, MX, MTA-STS, TLS-RPT, DNSSEC, DANE
    and BIMI (and with --smtp each MX's STARTTLS): what is wrong, how to fix it, and the record to
    publish. A URL or an e-mail address is reduced to its domain.

    Each domain gets a grade (A-F), a one-sentence answer to "is it protected against
    spoofing?" (whether receivers refuse mail that fakes it in the From address), and findings
    with a stable code, a message and the fix. Exit status: 0 when no domain has an error
    finding, 1 otherwise, 2 for bad arguments.

    Before publishing, put the draft records in a zone file: --zone draft.zone answers from it
    before live DNS. Test a sending IP against a draft SPF record with
    `zegel spf --zone draft.zone --ip IP --mail-from user@DOMAIN`.

    \b
    Examples:
      zegel check example.nl
      zegel check example.nl --selector selector1 --selector selector2 --lang nl
      zegel check example.nl --zone draft.zone --html report.html
      zegel check --from-file domains.txt --concurrency 100 > results.jsonl
      zegel check bakkerij.example webwinkel.example --selector bakkerij.example:s1 --csv
      zegel check example.nl --smtp
    """
    try:
        lang = parse_lang(lang_text)
    except ValueError as exc:
        usage_error(f"--lang: {exc}")
    if not domains and from_file is None:
        usage_error("give at least one DOMAIN, or --from-file FILE (see zegel check --help)")
    _check_zone_files(zones)
    if as_json and as_csv:
        usage_error("--json and --csv exclude each other")
    try:
        everywhere, scoped = split_selectors(selectors)
    except ValueError as exc:
        usage_error(str(exc))
    if cafile is not None and not Path(cafile).is_file():
        usage_error(f"--cafile: cannot read {cafile}")
    resolver = make_resolver(zones, nameservers, offline, timeout)
    try:
        endpoints = Endpoints.from_specs(connect_to, resolver)
    except ValueError as exc:
        usage_error(str(exc))
    options = CheckOptions(selectors=everywhere, domain_selectors=scoped, mx_sends=mx_sends, lang=lang,
                           domain_timeout=domain_timeout, transport=not dns_only, fetch=not (no_fetch or offline),
                           fetcher=HttpsFetcher(endpoints, cafile=cafile),
                           prober=SmtpProber(endpoints, cafile=cafile) if smtp else None)
    output = "csv" if as_csv else "json"

    if from_file is not None:
        handle = _open_list(from_file)
        total = _count_lines(from_file) if from_file != "-" else None
        if total is not None:
            total += len(domains)
        try:
            sources = _chain(domains, _domains_from_file(handle))
            if as_csv:
                _csv_header()
            any_error, kept = asyncio.run(_run_bulk(sources, resolver, options, concurrency, total,
                                                    keep=html_path is not None, output=output))
        finally:
            if from_file != "-":
                handle.close()
        if html_path is not None:
            _write_html(html_path, kept, options)
        sys.exit(1 if any_error else 0)

    reports = asyncio.run(_run_some(domains, resolver, options, concurrency))
    if as_json or as_csv:
        if as_csv:
            _csv_header()
        for report in reports:
            _emit(report, output)
    else:
        print_reports(reports, Console(highlight=False))
    if html_path is not None:
        _write_html(html_path, reports, options)
    sys.exit(1 if any(r.has_errors for r in reports) else 0)


def _chain(first: Sequence[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest
