"""``zegel web``: serve the web app (and the mail tester's SMTP receiver) with uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path

import click

from zegel.cli.common import usage_error
from zegel.dns import ZoneError
from zegel.dns.resolver import parse_nameserver


def parse_listen(value: str, option: str) -> tuple[str, int]:
    """``HOST:PORT`` or ``[V6]:PORT`` -> (host, port); usage error otherwise."""
    text = value.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        port_text = rest[1:] if sep and rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 <= int(port_text) < 65536:
        usage_error(f"{option}: expected HOST:PORT, such as 127.0.0.1:8080, not {value!r}")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            usage_error(f"{option}: {host!r} is not an IP address (or localhost)")
    return host, int(port_text)


@click.command(name="web")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, metavar="HOST:PORT",
              help="Address and port of the web server.")
@click.option("--smtp", "smtp_listen", metavar="HOST:PORT", default=None,
              help="Run the mail tester's SMTP receiver here (e.g. 127.0.0.1:2525); without it the tester is off.")
@click.option("--mail-domain", metavar="DOMAIN", default=None,
              help="Domain of the tester's addresses (test-...@DOMAIN) [default: this host's name].")
@click.option("--zone", "zones", multiple=True, type=click.Path(dir_okay=False),
              help="RFC 1035 zone file answered before live DNS (repeatable), as in the CLI.")
@click.option("--dns", "nameservers", multiple=True, metavar="HOST[:PORT]",
              help="Nameserver to ask instead of /etc/resolv.conf (repeatable).")
@click.option("--offline", is_flag=True, help="Answer only from --zone files (NXDOMAIN otherwise).")
@click.option("--timeout", type=click.FloatRange(min=0.05), default=3.0, show_default=True,
              help="Seconds per DNS query attempt.")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), envvar="ZEGEL_DATA_DIR",
              help="Directory of the SQLite database [default: $ZEGEL_DATA_DIR or ~/.local/share/zegel].")
@click.option("--db", "db_url", metavar="URL", envvar="ZEGEL_DB_URL",
              help="Database URL instead of SQLite, e.g. postgresql://user@host/zegel [$ZEGEL_DB_URL].")
@click.option("--demo-messages", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of sample .eml files offered on the header analyzer page.")
@click.option("--rate-limit", type=click.IntRange(min=0), default=30, show_default=True, metavar="N",
              help="Domain checks per minute per client IP; the header analyzer allows 2N, the tools "
                   "2N/3 and new tester addresses N/3. 0 turns rate limits off.")
@click.option("--proxy-headers", is_flag=True,
              help="Trust X-Forwarded-For/-Proto from a reverse proxy on 127.0.0.1 (for rate limits per client).")
def command(listen: str, smtp_listen: str | None, mail_domain: str | None, zones: tuple[str, ...],
            nameservers: tuple[str, ...], offline: bool, timeout: float, data_dir: Path | None,
            db_url: str | None, demo_messages: Path | None, rate_limit: int, proxy_headers: bool) -> None:
    """Serve the zegel web app: domain check, header analyzer, mail tester and tools, in
    English and Dutch, with a JSON API (/api, OpenAPI at /api/openapi.json).

    --zone, --dns and --offline mean what they mean in the CLI, so the app can be shown and
    tested offline. Results people share are kept in SQLite (--data-dir) or the --db database.

    \b
    Examples:
      zegel web --listen 127.0.0.1:8080
      zegel web --listen 0.0.0.0:8080 --smtp 0.0.0.0:25 --mail-domain tester.example.nl
      zegel web --zone demo/zones/check.zone --offline --data-dir /tmp/zegel-web
    """
    context = click.get_current_context()
    explicit = click.core.ParameterSource.COMMANDLINE
    if db_url and data_dir and context.get_parameter_source("db_url") == explicit == context.get_parameter_source("data_dir"):
        usage_error("give --data-dir or --db, not both")
    if mail_domain:
        from zegel.audit import mail_domain as valid_mail_domain

        try:
            mail_domain = valid_mail_domain(mail_domain.strip().rstrip(".").lower())
        except ValueError as exc:
            usage_error(f"--mail-domain: {exc}")
    if offline and not zones:
        usage_error("--offline answers only from --zone files: give at least one --zone")
    host, port = parse_listen(listen, "--listen")
    smtp = parse_listen(smtp_listen, "--smtp") if smtp_listen else None
    for server in nameservers:
        try:
            parse_nameserver(server)
        except ValueError as exc:
            usage_error(f"--dns: {exc}")
    for path in zones:
        if not Path(path).is_file():
            usage_error(f"--zone: cannot read {path}")

    import uvicorn

    from zegel.reports.store import StoreError
    from zegel.web import Limits, Settings, create_app

    limits = Limits(checks_per_minute=rate_limit, explains_per_minute=2 * rate_limit,
                    tools_per_minute=max(1, 2 * rate_limit // 3) if rate_limit else 0,
                    testers_per_minute=max(1, rate_limit // 3) if rate_limit else 0)
    settings = Settings(zones=tuple(zones), nameservers=tuple(nameservers), offline=offline, dns_timeout=timeout,
                        data_dir=data_dir, db_url=db_url, smtp_listen=smtp, mail_domain=mail_domain or "",
                        demo_messages=demo_messages, limits=limits)
    from zegel.web.extensions import load_extensions

    try:
        app = create_app(settings, extensions=load_extensions(settings))
    except ZoneError as exc:
        usage_error(str(exc))
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    logging.basicConfig(level=logging.INFO, format="zegel web: %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: no line per SMTP command
    # Bind both sockets before serving, so a busy port is one line, not a traceback at start-up.
    http_socket = _bind(host, port, "--listen")
    if smtp is not None:
        app.state.zegel.state["smtp_socket"] = _bind(smtp[0], smtp[1], "--smtp")
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"zegel web: http://{shown}:{port}/" + (f"  (mail tester SMTP on {smtp[0]}:{smtp[1]})" if smtp else ""),
               err=True)
    config = uvicorn.Config(app, log_level="warning", proxy_headers=proxy_headers,
                            forwarded_allow_ips="127.0.0.1" if proxy_headers else None, server_header=False,
                            timeout_keep_alive=5, limit_concurrency=500)
    uvicorn.Server(config).run(sockets=[http_socket])


def _bind(host: str, port: int, option: str) -> socket.socket:
    """A listening TCP socket. Made with IPPROTO_TCP explicitly: asyncio turns Nagle off
    (TCP_NODELAY) only on sockets whose proto says TCP, and with Nagle on, a response written
    as headers then body waits for the client's delayed ACK (40 ms on Linux)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        raise click.ClickException(f"{option}: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


# The owner's console (zegel.web.console, served through zegel.web.extensions): `zegel web
# adduser NAME` and `zegel web token NAME` manage its accounts; `zegel web` alone serves.
from zegel.cli.console import with_accounts  # noqa: E402 (wraps the command defined above)

command = with_accounts(command)
