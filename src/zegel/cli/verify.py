"""``zegel verify``: authenticate a message as a receiving mail server would."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import sys
from pathlib import Path

import click

from zegel.cli.common import dns_options, make_resolver, print_json, read_input, usage_error
from zegel.explain.texts import text
from zegel.explain.verdict import action_reason, explain_verdict, render
from zegel.policy import Policy, PolicyError
from zegel.verify import Verdict, Verifier

# Exit status by action: delivered (0), refused or sent to spam (1), try again later (4).
_EXIT = {"accept": 0, "add_header": 0, "tag_subject": 0, "quarantine": 1, "reject": 1, "tempfail": 4}


@click.command(name="verify")
@click.argument("file", metavar="FILE")
@click.option("--ip", required=True, help="The SMTP client's IP address (the connecting server).")
@click.option("--helo", required=True, metavar="NAME", help="The name the client gave in HELO/EHLO.")
@click.option("--mail-from", required=True, metavar="ADDR",
              help='The envelope sender (MAIL FROM); "" or "<>" for a bounce (null sender).')
@click.option("--authserv-id", metavar="ID",
              help="This server's name in Authentication-Results (default: this host's name).")
@click.option("--policy", "policy_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Local policy (TOML, see docs/policy.md); default: honour the sender's DMARC policy.")
@dns_options
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: spf, dkim, arc, dmarc, authentication_results, action.")
@click.option("--explain", is_flag=True, help="Say in plain language what each result means and why DMARC failed.")
@click.option("--lang", type=click.Choice(["en", "nl"]), default="en", show_default=True,
              help="Language of --explain.")
@click.option("--record", is_flag=True,
              help="Record the outcome for DMARC aggregate reports (see `zegel reports`).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="ZEGEL_DATA_DIR",
              help="With --record: directory of the SQLite database and spool [default: $ZEGEL_DATA_DIR "
                   "or ~/.local/share/zegel].")
@click.option("--db", "db_url", metavar="URL", envvar="ZEGEL_DB_URL",
              help="With --record: database URL instead of SQLite [$ZEGEL_DB_URL].")
def command(
    file: str,
    ip: str,
    helo: str,
    mail_from: str,
    authserv_id: str | None,
    policy_file: str | None,
    zones: tuple[str, ...],
    nameservers: tuple[str, ...],
    offline: bool,
    timeout: float,
    as_json: bool,
    explain: bool,
    lang: str,
    record: bool,
    data_dir: Path | None,
    db_url: str | None,
) -> None:
    """Verify FILE (a raw message, or - for stdin) as received from --ip.

    Runs SPF, DKIM and ARC concurrently, then DMARC, builds the Authentication-Results header
    and applies the local policy. Prints the header and the action; --explain adds what it
    means in plain words (English or Dutch). Exit status: 0 delivered, 1 quarantined or
    rejected, 4 temporary failure, 2 usage error.

    \b
    Examples:
      zegel verify msg.eml --ip 192.0.2.10 --helo mail.example.nl --mail-from info@example.nl
      zegel verify msg.eml --ip 192.0.2.10 --helo mx.example --mail-from a@example.nl \\
          --zone draft.zone --offline --explain --lang nl
    """
    try:
        client = str(ipaddress.ip_address(ip.strip()))
    except ValueError:
        usage_error(f"--ip: {ip!r} is not an IP address")
    mail_from = "" if mail_from.strip() in ("", "<>") else mail_from.strip().strip("<>")
    server_id = (authserv_id or socket.getfqdn() or "localhost").strip()
    if not server_id or any(c.isspace() or c == ";" for c in server_id):
        usage_error(f"--authserv-id: {server_id!r} is not a valid authserv-id")
    try:
        policy = Policy.load(policy_file) if policy_file else Policy.default()
    except PolicyError as exc:
        usage_error(str(exc))
    message = read_input(file)
    resolver = make_resolver(zones, nameservers, offline, timeout)
    recorder = None
    if record:
        from zegel.reports.recorder import Recorder

        recorder = Recorder(url=db_url, data_dir=data_dir)
    verifier = Verifier(resolver, authserv_id=server_id, policy=policy, recorder=recorder)
    try:
        verdict = asyncio.run(verifier.verify(message, ip=client, helo=helo.strip(), mail_from=mail_from))
    finally:
        if recorder is not None:
            recorder.close()  # writes the outcome (or spools it while the database is down)
    if as_json:
        data = verdict.to_dict()
        if explain:
            data["explanation"] = [s.to_dict() for s in explain_verdict(verdict, ip=client, lang=lang, message=message)]
        print_json(data)
    else:
        _print_plain(verdict, lang if explain else "en")
        if explain:
            click.echo()
            click.echo(render(explain_verdict(verdict, ip=client, lang=lang, message=message)))
    sys.exit(_EXIT.get(verdict.action.kind, 0))


def _print_plain(verdict: Verdict, lang: str = "en") -> None:
    """The header and the action; with --explain --lang nl the labels and reason in Dutch."""
    click.echo(f"Authentication-Results: {verdict.authentication_results}")
    action = verdict.action
    parts: list[str] = [action.kind]
    if action.smtp_code:
        parts.append(f"{action.smtp_code} {action.smtp_reply or ''}".rstrip())
    if action.subject_tag:
        parts.append(f"subject tag {action.subject_tag}")
    if action.header:
        parts.append(f"header {action.header[0]}: {action.header[1]}")
    if action.override:
        parts.append(f"override={action.override}")
    click.echo(f"{text(lang, 'label.action')}: {' | '.join(parts)}")
    if action.reason:
        click.echo(f"{text(lang, 'label.reason')}: {action_reason(action, verdict, lang)}")
    for note in verdict.notes:
        click.echo(f"{text(lang, 'label.note')}: {note}")
