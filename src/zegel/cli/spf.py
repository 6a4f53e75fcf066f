"""``zegel spf``: evaluate SPF (RFC 7208) for a client IP and sender, with a trace."""

from __future__ import annotations

import asyncio

import click

from zegel.cli.common import dns_options, make_resolver, print_json, usage_error
from zegel.spf import SpfChecker, SpfResult, parse_ip


class _OneLineUsageErrors(click.Command):
    """Usage errors (missing option, bad value) as one line and exit 2, not click's usage block."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            usage_error(f"spf: {exc.format_message()} (see 'zegel spf --help')")


@click.command("spf", cls=_OneLineUsageErrors)
@click.option("--ip", "ip", required=True, metavar="IP", help="The SMTP client's IP address (IPv4 or IPv6).")
@click.option("--mail-from", "mail_from", required=True, metavar="ADDR",
              help="The MAIL FROM address; '' or '<>' (bounces) checks postmaster@HELO instead.")
@click.option("--helo", "helo", default=None, metavar="NAME", help="The HELO/EHLO name the client gave.")
@dns_options
@click.option("--void-lookup-limit", type=click.IntRange(min=0), default=2, show_default=True,
              help="Lookups that may find nothing before the result is permerror (RFC 7208 4.6.4).")
@click.option("--receiver", default="unknown", show_default=True, metavar="NAME",
              help="This host's name, for %{r} in explanations.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: result, explanation, mechanism, lookups, void_lookups, trace.")
def command(ip: str, mail_from: str, helo: str | None, zones: tuple[str, ...], nameservers: tuple[str, ...],
            offline: bool, timeout: float, void_lookup_limit: int, receiver: str, as_json: bool) -> None:
    """Evaluate SPF for a client IP and sender, as a receiving server would.

    Checks the MAIL FROM identity (or postmaster@HELO for an empty MAIL FROM) and prints the
    result with a trace of every step. Exit status is 0 whatever the SPF result; 2 for bad
    arguments.

    \b
    Examples:
      zegel spf --ip 192.0.2.10 --mail-from alice@example.com --helo mail.example.com
      zegel spf --ip 2001:db8::25 --mail-from '' --helo mail.example.com --json
      zegel spf --ip 192.0.2.10 --mail-from a@example.com --zone draft.zone   # test a draft record
    """
    try:
        address = parse_ip(ip)
    except ValueError as exc:
        usage_error(f"--ip: {exc}")
    cleaned = mail_from.strip()
    if cleaned in ("", "<>") and not (helo or "").strip():
        usage_error("an empty --mail-from needs --helo (the HELO name is then the identity checked)")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in cleaned + (helo or "")):
        usage_error("--mail-from and --helo must not contain control characters")
    resolver = make_resolver(zones, nameservers, offline, timeout)
    checker = SpfChecker(resolver, void_lookup_limit=void_lookup_limit, receiver=receiver)
    result = asyncio.run(checker.check(address, cleaned, helo))
    if as_json:
        print_json(result.to_dict())
    else:
        _print_plain(result)


def _print_plain(result: SpfResult) -> None:
    who = result.sender or "(none)"
    click.echo(f"SPF {result.result} for {who} from {result.ip} "
               f"(identity {result.identity}, domain {result.domain or '-'})")
    click.echo(f"  reason:       {result.reason}")
    if result.mechanism:
        click.echo(f"  mechanism:    {result.mechanism}")
    if result.explanation:
        click.echo(f"  explanation:  {result.explanation}")
    click.echo(f"  lookups:      {result.lookups} DNS-querying term(s), {result.void_lookups} void lookup(s)")
    click.echo("trace:")
    for line in result.trace:
        click.echo(f"  {line}")
