"""``zegel explain``: is a received message genuine, and if not, why, from its headers alone."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from zegel.cli.common import print_json, read_input, usage_error
from zegel.explain.headers import NotAMessage
from zegel.explain.report import explain_message, not_message_line

# Exit status by verdict: 0 genuine or cannot tell, 1 not authenticated or look-alike.
_EXIT = {"genuine": 0, "unknown": 0, "suspicious": 1, "phishing": 1}


@click.command(name="explain")
@click.argument("file", metavar="FILE")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language of all output (labels included).")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: verdict, headline, reasons, from_domain, authenticated, deciding_server, "
                   "provider, received_from_internet, next_step, hops, lookalike.")
@click.option("--trust", "trusted_ids", multiple=True, metavar="ID",
              help="authserv-id of your own mail server (repeatable); wins over the default, which "
                   "reads the Received chain to find the server that took the message from the internet.")
@click.option("--seen", "seen", multiple=True, metavar="DOMAIN",
              help="A domain you correspond with, checked for look-alikes too (repeatable).")
@click.option("--seen-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="File with previously seen domains, one per line.")
def command(file: str, lang: str, as_json: bool, trusted_ids: tuple[str, ...], seen: tuple[str, ...],
            seen_file: str | None) -> None:
    """Explain a received message (FILE, or - for stdin) from its headers alone.

    The first line is the answer: Genuine, Not authenticated, Phishing likely (a look-alike
    domain), or Cannot tell, followed by why. Accepts a whole message or only its headers,
    pasted from a mail program or a webmail "show original" view (CRLF or LF, indented or not).
    Only Authentication-Results written by your own receiving server count: which server that
    is, is read from the Received chain (Gmail, Microsoft 365, Yahoo/AOL, iCloud, Fastmail,
    Proton, KPN, XS4ALL, Ziggo, Mimecast and Proofpoint are recognised); others are shown as
    "could be forged". When nothing is recorded, it prints the `zegel verify` command to check
    the message yourself. Exit status: 0 genuine or cannot tell, 1 not authenticated or
    look-alike, 2 not an email message or a usage error.

    \b
    Examples:
      zegel explain suspicious.eml --lang nl
      pbpaste | zegel explain - --json
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
    try:
        report = explain_message(message, trusted_ids=trusted_ids, seen=known,
                                 source="MESSAGE.eml" if file == "-" else file)
    except NotAMessage as exc:
        usage_error(not_message_line(exc.code, lang))
    if as_json:
        print_json(report.to_dict(lang))
    else:
        click.echo(report.render(lang))
    sys.exit(_EXIT[report.verdict])
