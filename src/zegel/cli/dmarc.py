"""``zegel dmarc``: find a domain's DMARC policy record (RFC 9989 Tree Walk or RFC 7489), or check
a draft record before publishing it."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from zegel.cli.common import dns_options, make_resolver, print_json, usage_error
from zegel.dmarc import (
    DmarcRecord,
    DmarcRecordError,
    PolicyDiscovery,
    discover_policy,
    load_psl,
    normalize_domain,
    organizational_domain,
    parse_record,
)
from zegel.dns import Resolver

_MODE = click.option(
    "--mode", type=click.Choice(["rfc9989", "rfc7489"]), default="rfc9989", show_default=True,
    help="rfc9989: DNS Tree Walk (at most 8 queries, psd= honoured); rfc7489: Organizational "
         "Domain from the Public Suffix List.")


@click.group("dmarc", context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Parse a DMARC record and discover a domain's policy (RFC 9989, RFC 7489 mode).

    \b
    Examples:
      zegel dmarc record example.com
      zegel dmarc record mail.example.co.uk --mode rfc7489 --json
      zegel dmarc parse "v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com"
    """


@command.command("record")
@click.argument("domain")
@_MODE
@dns_options
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: domain, mode, status, policy_domain, org_domain, psd_domain, "
                   "record (parsed tags and warnings), policies, lookups, reason.")
def record_command(domain: str, mode: str, zones: tuple[str, ...], nameservers: tuple[str, ...],
                   offline: bool, timeout: float, as_json: bool) -> None:
    """Show the DMARC policy record that applies to DOMAIN (as an author domain).

    Prints where the record was found (the domain itself, its Organizational Domain or a public
    suffix domain), its tags with the effective values, the policy for the domain itself (p),
    existing subdomains (sp) and non-existent subdomains (np), and warnings. Exit status 0 when
    a record applies, 1 when none does or it is broken, 2 for bad arguments.
    """
    name = normalize_domain(domain)
    if name is None:
        usage_error(f"{domain!r} is not a domain name")
    resolver = make_resolver(zones, nameservers, offline, timeout)
    psl = load_psl() if mode == "rfc7489" else None
    discovery, org = asyncio.run(_discover(name, resolver, mode, psl))
    data = _discovery_dict(discovery, org)
    if as_json:
        print_json(data)
    else:
        _print_discovery(discovery, org)
    raise SystemExit(0 if discovery.status == "found" else 1)


async def _discover(name: str, resolver: Resolver, mode: str, psl: Any) -> tuple[PolicyDiscovery, str | None]:
    discovery, org = await asyncio.gather(
        discover_policy(name, resolver, mode=mode, psl=psl),  # type: ignore[arg-type]
        organizational_domain(name, resolver, mode=mode, psl=psl),  # type: ignore[arg-type]
    )
    return discovery, org.org_domain if org.status == "ok" else discovery.org_domain


def _policies(record: DmarcRecord, mode: str) -> dict[str, str]:
    return {kind: record.policy_for(kind, mode) for kind in ("p", "sp", "np")}


def _discovery_dict(discovery: PolicyDiscovery, org: str | None) -> dict[str, Any]:
    record = discovery.record
    return {
        "domain": discovery.domain,
        "mode": discovery.mode,
        "status": discovery.status,
        "policy_domain": discovery.policy_domain,
        "org_domain": org,
        "psd_domain": discovery.psd_domain,
        "record": record.to_dict() if record is not None else None,
        "usable": record.usable(discovery.mode) if record is not None else None,
        "policies": _policies(record, discovery.mode) if record is not None else None,
        "lookups": [{"name": lookup.query_name, "status": lookup.status, "records": list(lookup.texts),
                     "error": lookup.error or None} for lookup in discovery.lookups],
        "reason": discovery.reason,
    }


def _print_discovery(discovery: PolicyDiscovery, org: str | None) -> None:
    click.echo(f"DMARC for {discovery.domain} ({discovery.mode}): {discovery.status}")
    click.echo(f"  reason:         {discovery.reason}")
    if discovery.policy_domain:
        where = "the domain itself" if discovery.policy_domain == discovery.domain else (
            "public suffix domain" if discovery.psd_domain else "organizational domain")
        click.echo(f"  policy domain:  {discovery.policy_domain} ({where})")
    if org:
        click.echo(f"  org. domain:    {org}")
    click.echo("  lookups:")
    for lookup in discovery.lookups:
        detail = f" — {lookup.error}" if lookup.error else ""
        click.echo(f"    {lookup.query_name}: {lookup.status}{detail}")
    if discovery.record is not None:
        _print_record(discovery.record, discovery.mode, indent="  ")


def _print_record(record: DmarcRecord, mode: str, *, indent: str = "") -> None:
    click.echo(f"{indent}record:         {record.text}")
    click.echo(f"{indent}tags:")
    for name, value in record.tags:
        click.echo(f"{indent}  {name}={value}")
    policies = _policies(record, mode)
    click.echo(f"{indent}policy:         domain {policies['p']}, subdomains {policies['sp']}, "
               f"non-existent subdomains {policies['np']}"
               + (" (t=y: one level lower)" if record.t and mode == "rfc9989" else "")
               + (f" (pct={record.pct})" if record.pct is not None and mode == "rfc7489" else ""))
    click.echo(f"{indent}alignment:      DKIM {'strict' if record.adkim == 's' else 'relaxed'}, "
               f"SPF {'strict' if record.aspf == 's' else 'relaxed'}")
    if record.rua:
        click.echo(f"{indent}aggregate to:   {', '.join(uri.uri for uri in record.rua)}")
    if record.ruf:
        click.echo(f"{indent}failure to:     {', '.join(uri.uri for uri in record.ruf)}")
    if not record.usable(mode):
        click.echo(f"{indent}UNUSABLE:       receivers apply no DMARC with this record")
    for issue in record.warnings:
        click.echo(f"{indent}warning:        {issue.message}")


@command.command("parse")
@click.argument("text")
@_MODE
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object: valid, error, record (tags, effective values, warnings), policies.")
def parse_command(text: str, mode: str, as_json: bool) -> None:
    """Check a draft DMARC record TEXT without DNS.

    Exit status 0 when it is a usable DMARC record, 1 when receivers would ignore it, 2 for bad
    arguments.
    """
    try:
        record = parse_record(text)
    except DmarcRecordError as exc:
        if as_json:
            print_json({"valid": False, "error": exc.reason, "record": None, "policies": None})
        else:
            click.echo(f"zegel: not a usable DMARC record: {exc.reason}", err=True)
        raise SystemExit(1) from None
    usable = record.usable(mode)
    if as_json:
        print_json({"valid": usable, "error": None if usable else "invalid policy and no valid rua",
                    "record": record.to_dict(), "policies": _policies(record, mode)})
    else:
        _print_record(record, mode)
    raise SystemExit(0 if usable else 1)
