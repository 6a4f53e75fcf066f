"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeVar

import click

from zegel.dns import Resolver, ZoneError

F = TypeVar("F", bound=Callable[..., Any])


def dns_options(func: F) -> F:
    """--zone FILE (repeatable), --dns HOST[:PORT] (repeatable), --offline, --timeout."""
    options = [
        click.option("--zone", "zones", multiple=True, type=click.Path(dir_okay=False),
                     help="RFC 1035 zone file answered before live DNS (repeatable): test a draft record."),
        click.option("--dns", "nameservers", multiple=True, metavar="HOST[:PORT]",
                     help="Nameserver to ask instead of /etc/resolv.conf (repeatable)."),
        click.option("--offline", is_flag=True, help="Answer only from --zone files (NXDOMAIN otherwise)."),
        click.option("--timeout", type=click.FloatRange(min=0.05), default=3.0, show_default=True,
                     help="Seconds per DNS query attempt."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def make_resolver(zones: Sequence[str], nameservers: Sequence[str], offline: bool, timeout: float) -> Resolver:
    """Build the resolver from CLI options; bad values exit 2 with one line."""
    try:
        return Resolver(
            list(nameservers) or None,
            timeout=timeout,
            lifetime=max(timeout * 2, timeout + 1),
            zones=zones,
            offline=offline,
        )
    except ZoneError as exc:
        usage_error(str(exc))
    except ValueError as exc:
        usage_error(str(exc))


def usage_error(message: str) -> NoReturn:
    """Exit 2 with ``zegel: message`` on one line."""
    click.echo(f"zegel: {message}", err=True)
    sys.exit(2)


def read_input(path: str) -> bytes:
    """Read FILE or '-' (stdin) as raw bytes; a missing file exits 2 with one line."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        usage_error(f"cannot read {path}: {exc.strerror or exc}")


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))
