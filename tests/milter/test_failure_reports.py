"""Failure reports from the milter (RFC 9991, RFC 6591 format): a DMARC failure whose record has
ruf= and fo=1 produces one report, off the hot path; redaction and rate limits apply; a relay
that is down loses no mail. Driven over the milter socket as Postfix drives it, with real DNS
(loopback test server) and a real SMTP conversation (the reports tests' sink)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.milter.conftest import Keys
from tests.milter.helpers import message
from tests.milter.test_service import client_for, pass_message, run
from tests.reports.conftest import SmtpSink

from zegel.cli import cli
from zegel.milter import protocol as p
from zegel.milter.config import ConfigError, config_from_toml
from zegel.milter.service import MilterService
from zegel.reports.ingest import parse_failure_report


def _section(tmp_path: Path, body: str) -> str:
    return (f'[reports]\ndatabase = "sqlite:///{tmp_path / "reports.db"}"\ndata_dir = "{tmp_path / "data"}"\n\n'
            f'[failure_reports]\nfrom = "dmarc-reports@mx.zegel.test"\norg_name = "Zegel Test MX"\n{body}\n')


def _parse(raw: bytes) -> tuple[email.message.Message, object]:
    parsed = email.message_from_bytes(raw, policy=email.policy.compat32)
    return parsed, parse_failure_report(parsed, raw)


def test_dmarc_failure_with_ruf_gives_one_redacted_report(write_config: Callable[..., Path], keys: Keys,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = write_config(_section(tmp_path, f'dry_run_dir = "{out}"'))

    async def scenario(service: MilterService) -> list[p.Response | None]:
        client = await client_for(service)
        finals = []
        # Fails DMARC at ruf.example (fo=1, p=none: delivered) -> one report.
        spoofed = message("ceo@ruf.example", subject="Invoice")
        finals.append((await client.message(spoofed, mail_from="billing@ruf.example")).final)
        # Passes DMARC -> none; fails at spoof.example, which has no ruf= -> none.
        finals.append((await client.message(pass_message(keys), mail_from="alice@pass.example", connect=False)).final)
        finals.append((await client.message(message("ceo@spoof.example"), mail_from="ceo@spoof.example",
                                            connect=False)).final)
        await client.close()
        assert service.failure_reports is not None
        await service.failure_reports.join()
        return finals

    finals = run(config, scenario)
    assert isinstance(finals[0], p.Continue) and isinstance(finals[1], p.Continue)
    assert isinstance(finals[2], p.ReplyCode) and finals[2].code == 550  # mail handling unchanged
    [report_file] = sorted(out.iterdir())
    raw = report_file.read_bytes()
    parsed, report = _parse(raw)
    assert parsed["To"] == "ruf@ruf.example" and parsed["From"] == "dmarc-reports@mx.zegel.test"
    assert report.feedback_type == "auth-failure" and report.auth_failure == "dmarc"  # type: ignore[attr-defined]
    assert report.reported_domain == "ruf.example" and report.source_ip == "192.0.2.10"  # type: ignore[attr-defined]
    assert report.subject == "Invoice"  # type: ignore[attr-defined]
    # RFC 6590 redaction (the default): no local part of the original addresses survives.
    assert b"ceo@" not in raw and b"billing@" not in raw and b"user@example.test" not in raw
    assert report.original_mail_from.startswith("redacted-")  # type: ignore[attr-defined]
    assert report.original_mail_from.endswith("@ruf.example")  # type: ignore[attr-defined]


def test_reports_go_to_the_relay_within_the_rate_limit(write_config: Callable[..., Path], tmp_path: Path) -> None:
    sink = SmtpSink()
    try:
        config = write_config(_section(tmp_path, f'relay = "127.0.0.1:{sink.port}"\nstarttls = false\n'
                                                 "per_domain_per_hour = 2\nredact = false"))

        async def scenario(service: MilterService) -> None:
            client = await client_for(service)
            for number in range(4):
                await client.message(message("ceo@ruf.example", subject=f"n{number}"),
                                     mail_from="ceo@ruf.example", connect=number == 0)
            await client.close()
            assert service.failure_reports is not None
            await service.failure_reports.join()

        run(config, scenario)
        assert len(sink.messages) == 2  # per_domain_per_hour
        for sender, recipients, data in sink.messages:
            assert sender == "dmarc-reports@mx.zegel.test" and recipients == ["ruf@ruf.example"]
            assert b"ceo@ruf.example" in data  # redact = false keeps the addresses
    finally:
        sink.close()


def test_relay_down_loses_no_mail(write_config: Callable[..., Path], tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = write_config(_section(tmp_path, f'relay = "127.0.0.1:{port}"'))

    async def scenario(service: MilterService) -> p.Response | None:
        client = await client_for(service)
        result = await client.message(message("ceo@ruf.example"), mail_from="ceo@ruf.example")
        await client.close()
        assert service.failure_reports is not None
        await service.failure_reports.join()
        assert service.failure_reports.sent == 0
        return result.final

    assert isinstance(run(config, scenario), p.Continue)


def test_full_queue_drops_reports_not_mail(write_config: Callable[..., Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config = write_config(_section(tmp_path, f'dry_run_dir = "{out}"\nmax_pending = 1'))

    async def scenario(service: MilterService) -> list[p.Response | None]:
        client = await client_for(service)
        finals = []
        for number in range(3):
            finals.append((await client.message(message("ceo@ruf.example"), mail_from="ceo@ruf.example",
                                                connect=number == 0)).final)
        await client.close()
        assert service.failure_reports is not None
        await service.failure_reports.join()
        return finals

    finals = run(config, scenario)
    assert all(isinstance(final, p.Continue) for final in finals)
    assert 1 <= len(list(out.iterdir())) <= 3


@pytest.mark.parametrize("body, error", [
    ("enabled = true", "failure_reports.from is required"),
    ('from = "not-an-address"', "is not a mail address"),
    ('from = "d@rx.example"\nrelay = "smtp.example"', "relay must be HOST:PORT"),
    ('from = "d@rx.example"\nper_domain_per_hour = 0', "per_domain_per_hour must be a whole number"),
    ('from = "d@rx.example"\ndry_run_dir = "missing"', "is not a directory"),
    ('from = "d@rx.example"\nredaction_secret_file = "missing"', "cannot read"),
    ('from = "d@rx.example"\nrate = 3', "failure_reports.rate: unknown setting"),
])
def test_config_errors_name_the_setting(tmp_path: Path, body: str, error: str) -> None:
    text = f'authserv_id = "mx.zegel.test"\nsocket = "inet:127.0.0.1:0"\n[failure_reports]\n{body}\n'
    with pytest.raises(ConfigError, match=error):
        config_from_toml(text, base=tmp_path)


def test_config_defaults_and_check_config(write_config: Callable[..., Path], tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("k3y\n")
    path = write_config(_section(tmp_path, 'redaction_secret_file = "secret"'))
    runner = CliRunner()
    result = runner.invoke(cli, ["milter", "--check-config", str(path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["failure_reports"]
    assert summary == {"from": "dmarc-reports@mx.zegel.test", "relay": "localhost:25", "redact": True,
                       "per_domain_per_hour": 10}
    result = runner.invoke(cli, ["milter", "--check-config", str(path)])
    assert "failure rpts  from dmarc-reports@mx.zegel.test via localhost:25, redacted" in result.output
    disabled = config_from_toml('authserv_id = "mx"\nsocket = "inet:127.0.0.1:0"\n'
                                '[failure_reports]\nenabled = false\nfrom = "d@rx.example"\n')
    assert disabled.failure_reports is None
    assert asyncio.iscoroutinefunction(MilterService.stop)
