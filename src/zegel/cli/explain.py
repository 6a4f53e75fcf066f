"""``zegel explain``: what a received message's authentication headers say, in plain words."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zegel.cli.common import print_json, read_input, usage_error
from zegel.explain.lookalike import LookalikeDetector
from zegel.explain.received import explain_received


@click.command(name="explain")
@click.argument("file", metavar="FILE")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True, help="Language.")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: from_domain, authenticated, hops, lookalike.")
@click.option("--trust", "trusted_ids", multiple=True, metavar="ID",
              help="authserv-id of your own mail server (repeatable); default: the topmost "
                   "Authentication-Results field.")
@click.option("--seen", "seen", multiple=True, metavar="DOMAIN",
              help="A domain you correspond with, checked for look-alikes too (repeatable).")
@click.option("--seen-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="File with previously seen domains, one per line.")
def command(file: str, lang: str, as_json: bool, trusted_ids: tuple[str, ...], seen: tuple[str, ...],
            seen_file: str | None) -> None:
    """Explain a received message (FILE, or - for stdin) without re-verifying it.

    Reads its Authentication-Results and ARC-Authentication-Results headers, shows per hop
    what each server concluded, says whether the visible From domain was authenticated by a
    trusted server, and flags a From domain that imitates a well-known or previously seen one
    (look-alike characters, a swapped letter, added words, another top-level domain).
    Exit status: 0, or 1 when the sender is not authenticated or imitates another domain.

    \b
    Examples:
      zegel explain suspicious.eml --lang nl
      zegel explain msg.eml --trust mx.example.nl --seen mijnleverancier.nl --json
    """
    known = list(seen)
    if seen_file:
        try:
            known.extend(line.strip() for line in Path(seen_file).read_text(encoding="utf-8").splitlines()
                         if line.strip() and not line.startswith("#"))
        except (OSError, UnicodeDecodeError) as exc:
            usage_error(f"--seen-file: cannot read {seen_file}: {getattr(exc, 'strerror', None) or exc}")
    message = read_input(file)
    report = explain_received(message, trusted_ids=trusted_ids, detector=LookalikeDetector(known))
    if as_json:
        print_json(report.to_dict(lang))
    else:
        click.echo(report.render(lang))
    sys.exit(1 if report.authenticated is False or report.lookalike is not None else 0)
