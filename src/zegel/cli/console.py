"""The console's parts of ``zegel web``: ``zegel web adduser NAME`` and ``zegel web token NAME``
(both with ``--data-dir`` / ``--db`` as ``zegel web``), and the console's extension for the app.

:func:`with_accounts` turns the ``zegel web`` command into a group that still serves the app
when called without a subcommand.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from zegel.cli.common import usage_error

META_KEY = "zegel.console"


def console_config() -> Any:
    """The console's settings from ``zegel web``'s options (``--user-header``), when it runs
    under the command; defaults otherwise."""
    from zegel.web.console import ConsoleConfig

    context = click.get_current_context(silent=True)
    config = context.meta.get(META_KEY) if context is not None else None
    return config if isinstance(config, ConsoleConfig) else ConsoleConfig()


def _store_options(func: Any) -> Any:
    func = click.option("--db", "db_url", metavar="URL", envvar="ZEGEL_DB_URL",
                        help="Database URL instead of SQLite, as for zegel web [$ZEGEL_DB_URL].")(func)
    return click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="ZEGEL_DATA_DIR",
                        help="Directory of the SQLite database, as for zegel web [$ZEGEL_DATA_DIR].")(func)


def _accounts(data_dir: Path | None, db_url: str | None) -> Any:
    context = click.get_current_context()
    parent = context.parent.params if context.parent is not None else {}
    data_dir = data_dir or parent.get("data_dir")
    db_url = db_url or parent.get("db_url")
    if data_dir and db_url and context.get_parameter_source("db_url") == click.core.ParameterSource.COMMANDLINE \
            and context.get_parameter_source("data_dir") == click.core.ParameterSource.COMMANDLINE:
        usage_error("give --data-dir or --db, not both")
    from zegel.accounts import open_accounts
    from zegel.reports.store import StoreError

    try:
        return open_accounts(db_url, data_dir)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None


@click.command(name="adduser")
@click.argument("name")
@_store_options
@click.option("--domain", "domains", multiple=True, metavar="DOMAIN",
              help="Let the user see this domain (repeatable; grants add up over runs).")
@click.option("--admin", is_flag=True, help="An administrator: sees every domain, reads the audit log.")
@click.option("--no-password", is_flag=True, help="No password login: only through the trusted proxy header.")
def adduser(name: str, data_dir: Path | None, db_url: str | None, domains: tuple[str, ...], admin: bool,
            no_password: bool) -> None:
    """Create the console user NAME, or set their password; the password is read from stdin
    (the first line; asked twice, hidden, on a terminal).

    \b
    Examples:
      printf '%s\\n' "$PASSWORD" | zegel web adduser alice --domain shop.example --data-dir /var/lib/zegel
      zegel web adduser admin --admin
    """
    from zegel.accounts import AccountError

    password: str | None = None
    if not no_password:
        if sys.stdin.isatty():
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        else:
            password = sys.stdin.readline(4096).rstrip("\r\n")
        if not password:
            usage_error("no password on stdin (or use --no-password for proxy-header users)")
    accounts = _accounts(data_dir, db_url)
    try:
        accounts.add_user(name, password, admin=admin, domains=domains)
    except AccountError as exc:
        usage_error(str(exc))
    finally:
        accounts.close()
    grants = f" with access to {', '.join(domains)}" if domains else ""
    click.echo(f"user {name} saved{grants}", err=True)


@click.command(name="token")
@click.argument("name")
@_store_options
@click.option("--label", default="", help="What the token is for (shown in the audit log).")
@click.option("--revoke", is_flag=True, help="Revoke every token of NAME instead of making one.")
def token(name: str, data_dir: Path | None, db_url: str | None, label: str, revoke: bool) -> None:
    """Make an API token for the console user NAME and print it (it is shown only once).
    Send it as the header "Authorization: Bearer TOKEN" to /api/reports/summary, /api/monitor and the
    MCP endpoint /assistant/mcp."""
    from zegel.accounts import AccountError

    accounts = _accounts(data_dir, db_url)
    try:
        if revoke:
            click.echo(f"{accounts.revoke_tokens(name)} token(s) of {name} revoked", err=True)
            return
        click.echo(accounts.create_token(name, label))
    except AccountError as exc:
        usage_error(str(exc))
    finally:
        accounts.close()


def with_accounts(web: click.Command) -> click.Group:
    """``zegel web`` as a group: without a subcommand it serves the app (all its options
    unchanged, plus ``--user-header``); ``adduser`` and ``token`` manage the console's accounts."""
    from zegel.web.console import ConsoleConfig

    header = click.Option(["--user-header"], metavar="HEADER", default=None, envvar="ZEGEL_WEB_USER_HEADER",
                          help="Trust this request header (e.g. X-Remote-User) from a reverse proxy on 127.0.0.1 "
                               "to name the console user (an existing user; the proxy authenticates).")

    def serve(**options: Any) -> Any:
        context = click.get_current_context()
        if context.invoked_subcommand is not None:
            return None
        context.meta[META_KEY] = ConsoleConfig(proxy_header=options.pop("user_header", None))
        assert web.callback is not None
        return context.invoke(web.callback, **options)

    group = click.Group(name=web.name, callback=serve, params=[*web.params, header], help=web.help,
                        short_help=web.short_help, epilog=web.epilog, invoke_without_command=True,
                        context_settings=web.context_settings)
    group.add_command(adduser)
    group.add_command(token)
    return group
