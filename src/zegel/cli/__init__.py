"""The ``zegel`` command. Subcommands live one per module and are imported only when used."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import click

from zegel import __version__

# name -> (module, help line). A module provides a click command or group named ``command``.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "spf": ("zegel.cli.spf", "Evaluate SPF (RFC 7208) for a client IP and sender, with a trace."),
    "dkim": ("zegel.cli.dkim", "Verify and sign DKIM (RFC 6376/8463); generate and check keys."),
    "arc": ("zegel.cli.arc", "Validate and seal ARC chains (RFC 8617)."),
    "dmarc": ("zegel.cli.dmarc", "Parse a DMARC record and discover a domain's policy (RFC 9989/7489)."),
    "verify": ("zegel.cli.verify", "Verify a message as a receiving server would: SPF, DKIM, ARC, DMARC."),
    "explain": ("zegel.cli.explain", "Explain a received message's Authentication-Results in plain words."),
    "check": ("zegel.cli.check", "Audit a domain's SPF, DKIM, DMARC and MX records, with fixes."),
    "milter": ("zegel.cli.milter", "Run the milter service in front of Postfix or Sendmail."),
    "reports": ("zegel.cli.reports", "Send, ingest and summarise DMARC reports."),
    "monitor": ("zegel.cli.monitor", "Watch domains on a schedule: history of changes, alerts by e-mail and webhook."),
    "web": ("zegel.cli.web", "Serve the web app: domain check, header analyzer, mail tester, tools."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _) in SUBCOMMANDS.items() if _available(module)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = SUBCOMMANDS.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = module.command
        if not command.short_help:
            command.short_help = entry[1]
        return command


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zegel")
def cli() -> None:
    """zegel — email authentication done to the letter of the RFCs.

    Run "zegel COMMAND --help" for each command's options.
    """


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: usage errors exit 2 with one line; no tracebacks unless ZEGEL_DEBUG=1."""
    try:
        result = cli.main(args=argv, prog_name="zegel", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:  # a group called without a subcommand
        click.echo(exc.format_message())
        sys.exit(0)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "zegel"
        click.echo(f"zegel: {exc.format_message()} (see '{command} --help')", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"zegel: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("zegel: aborted", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("zegel: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # last line of defence: one line, not a traceback
        if os.environ.get("ZEGEL_DEBUG"):
            raise
        click.echo(f"zegel: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(3)
    # standalone_mode=False returns ctx.exit()'s code, or the command's return value
    sys.exit(result if isinstance(result, int) else 0)
