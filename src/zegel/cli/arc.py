"""``zegel arc``: validate and seal ARC chains (RFC 8617)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from zegel.arc import ArcResult, ArcSealError, seal, validate
from zegel.cli.common import dns_options, make_resolver, print_json, read_input, usage_error


@click.group(name="arc")
def command() -> None:
    """Validate and seal ARC chains (RFC 8617, Experimental).

    ARC lets an intermediary (a mailing list, a forwarder) vouch for the authentication
    results it saw before it changed the message.
    """


@command.command(name="validate")
@click.argument("file", default="-", metavar="[FILE|-]")
@dns_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON: cv, reason, hops, oldest_pass.")
def validate_command(
    file: str, zones: tuple[str, ...], nameservers: tuple[str, ...], offline: bool, timeout: float, as_json: bool
) -> None:
    """Validate the ARC chain of a message (FILE, or - for stdin).

    Prints the chain validation status (none, pass or fail) with the reason and what each
    hop's ARC-Authentication-Results said. Exit status: 0 for none or pass, 1 for fail.

    \b
    Example:
      zegel arc validate forwarded.eml --json
    """
    message = read_input(file)
    resolver = make_resolver(zones, nameservers, offline, timeout)
    result = asyncio.run(validate(message, resolver=resolver))
    if as_json:
        print_json(result.to_dict())
    else:
        _print_result(result)
    sys.exit(1 if result.cv == "fail" else 0)


def _print_result(result: ArcResult) -> None:
    click.echo(f"arc={result.cv} ({result.reason})")
    if result.oldest_pass is not None:
        click.echo(f"oldest passing ARC-Message-Signature: i={result.oldest_pass}")
    for hop in result.hops:
        marks = []
        if hop.ams_valid is not None:
            marks.append(f"AMS {'ok' if hop.ams_valid else 'bad'}")
        if hop.seal_valid is not None:
            marks.append(f"seal {'ok' if hop.seal_valid else 'bad'}")
        status = f" [{', '.join(marks)}]" if marks else ""
        click.echo(f"  i={hop.instance} {hop.domain or '?'} (s={hop.selector or '?'}) cv={hop.cv or '?'}{status}")
        if hop.results:
            click.echo(f"      {hop.results}")


@command.command(name="seal")
@click.argument("file", default="-", metavar="[FILE|-]")
@click.option("--domain", "-d", required=True, help="Signing domain (d=).")
@click.option("--selector", "-s", required=True, help="Key selector (s=): the key is at SELECTOR._domainkey.DOMAIN.")
@click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
              help="Private key file (PEM or DER, RSA or Ed25519).")
@click.option("--authserv-id", required=True, help="This server's authserv-id (RFC 8601), e.g. mx.example.org.")
@click.option("--auth-results", required=True,
              help='This hop\'s results, e.g. "spf=pass smtp.mailfrom=a.example; dkim=pass header.d=a.example".')
@click.option("--cv", type=click.Choice(["none", "pass", "fail"]),
              help="The status of the chain as received; default: an arc= result in --auth-results, "
                   "else validate the chain now (and add arc=<cv> to the results).")
@click.option("--headers", "signed", metavar="NAME:NAME...",
              help="Header fields the ARC-Message-Signature covers (default: zegel's list).")
@click.option("--timestamp", type=click.IntRange(min=0), help="t= (Unix time); default now.")
@dns_options
def seal_command(
    file: str,
    domain: str,
    selector: str,
    key_file: str,
    authserv_id: str,
    auth_results: str,
    cv: str | None,
    signed: str | None,
    timestamp: int | None,
    zones: tuple[str, ...],
    nameservers: tuple[str, ...],
    offline: bool,
    timeout: float,
) -> None:
    """Add the next ARC set to a message (FILE, or - for stdin) and print the sealed message.

    \b
    Example:
      zegel arc seal --domain lists.example.org --selector arc1 --key arc1.pem \\
        --authserv-id lists.example.org --auth-results "spf=pass smtp.mailfrom=a.example" in.eml
    """
    message = read_input(file)
    key = read_input(key_file)
    options: dict[str, Any] = {}
    if signed is not None:
        options["headers"] = [name for name in signed.split(":") if name.strip()]
    if cv is None and b"arc-seal" in message[: 1 << 20].lower() and "arc=" not in auth_results.lower():
        resolver = make_resolver(zones, nameservers, offline, timeout)
        cv = asyncio.run(validate(message, resolver=resolver)).cv
        # RFC 8617 section 4.1.1: the AAR carries this hop's results, the ARC one included.
        auth_results = f"{auth_results.strip().rstrip(';')}; arc={cv}" if auth_results.strip() else f"arc={cv}"
    try:
        fields = seal(message, domain=domain, selector=selector, private_key=key, authserv_id=authserv_id,
                      auth_results=auth_results, timestamp=timestamp, cv=cv, **options)
    except ArcSealError as exc:
        usage_error(str(exc))
    if not fields:
        click.echo("zegel: the chain ended (cv=fail) or holds 50 sets: no ARC set added", err=True)
    added = b"".join(fields)
    if b"\r\n" not in message[:4096] and b"\n" in message:
        added = added.replace(b"\r\n", b"\n")  # keep the file's own line endings
    sys.stdout.buffer.write(added + message)
    sys.stdout.buffer.flush()
