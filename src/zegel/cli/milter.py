"""``zegel milter``: run the milter service, or validate its configuration file."""

from __future__ import annotations

import click

from zegel.cli.common import print_json, usage_error


@click.command("milter")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="TOML configuration file: run the service with it.")
@click.option("--check-config", "check_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Validate FILE (keys, policy, sockets) and print a summary; exit 2 if it is not usable.")
@click.option("--import-opendkim", "opendkim_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="Read OpenDKIM's opendkim.conf (KeyTable, SigningTable, InternalHosts, ...) and print "
                   "the equivalent zegel TOML.")
@click.option("--json", "as_json", is_flag=True, help="With --check-config: print the summary as JSON.")
def command(config_path: str | None, check_path: str | None, opendkim_path: str | None, as_json: bool) -> None:
    """Run zegel as a milter in front of Postfix or Sendmail.

    Inbound mail is verified (SPF, DKIM, ARC, DMARC), gets an Authentication-Results header
    and the local policy's action; outbound mail from authenticated clients or trusted
    networks is DKIM-signed. See docs/milter.md.

    \b
      zegel milter --check-config /etc/zegel/milter.toml
      zegel milter --config /etc/zegel/milter.toml
      zegel milter --import-opendkim /etc/opendkim.conf > /etc/zegel/milter.toml

    SIGTERM finishes every open MTA session first; SIGHUP reloads the configuration.
    """
    from zegel.milter.config import ConfigError, describe, load_config

    if sum(p is not None for p in (config_path, check_path, opendkim_path)) != 1:
        usage_error("give exactly one of --config FILE, --check-config FILE or --import-opendkim FILE")
    if opendkim_path is not None:
        from zegel.milter.opendkim import OpenDkimImportError, import_opendkim, to_toml

        try:
            click.echo(to_toml(import_opendkim(opendkim_path), opendkim_path), nl=False)
        except OpenDkimImportError as exc:
            usage_error(str(exc))
        return
    path = check_path or config_path
    assert path is not None
    try:
        config = load_config(path)
    except ConfigError as exc:
        usage_error(str(exc))
    from zegel.milter.server import probe_listen

    problem = probe_listen(config.socket)
    if problem is not None:
        usage_error(f"{path}: socket: {problem}")
    if check_path is not None:
        summary = describe(config)
        if as_json:
            print_json({"ok": True, **summary})
        else:
            click.echo(f"{path}: OK")
            click.echo(f"  authserv-id   {config.authserv_id}")
            click.echo(f"  socket        {config.socket}")
            click.echo(f"  workers       {summary['workers']}")
            click.echo(f"  policy        {summary['policy']}")
            click.echo(f"  on error      {config.on_error}")
            click.echo(f"  quarantine    {config.quarantine}")
            networks = ", ".join(str(n) for n in config.trusted_networks) or "none"
            click.echo(f"  trusted nets  {networks}")
            for key in config.signing:
                click.echo(f"  sign          {key.domain} with {key.selector} ({key.algorithm}, {key.key_bits} bits)")
            if config.arc is not None:
                click.echo(f"  arc seal      {config.arc.domain} with {config.arc.selector}")
            if summary["metrics"]:
                click.echo(f"  metrics       {summary['metrics']}")
            if config.failure_reports is not None:
                failure = summary["failure_reports"]
                click.echo(f"  failure rpts  from {failure['from']} via {failure['relay']}, "
                           f"{'redacted' if failure['redact'] else 'not redacted'}, "
                           f"at most {failure['per_domain_per_hour']} per domain per hour")
        return
    _serve(config)


def _serve(config: object) -> None:
    from zegel.milter.config import MilterConfig
    from zegel.milter.logs import configure_logging
    from zegel.milter.workers import serve

    assert isinstance(config, MilterConfig)
    configure_logging(config.log_level, config.log_format)
    try:
        status = serve(config)
    except OSError as exc:  # the socket is taken or not writable: one line, exit 2
        usage_error(f"cannot listen on {config.socket}: {exc.strerror or exc}")
    if status:
        raise SystemExit(status)
