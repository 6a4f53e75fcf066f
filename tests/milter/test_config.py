"""Configuration validation, --check-config, and the bounded message buffer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from zegel.cli import cli
from zegel.milter.config import ConfigError, config_from_toml, load_config, parse_socket
from zegel.milter.message import MessageBuffer


def test_socket_forms() -> None:
    assert str(parse_socket("inet:127.0.0.1:8891")) == "inet:127.0.0.1:8891"
    assert parse_socket("inet6:[::1]:8891").host == "::1"
    assert parse_socket("unix:/run/zegel/milter.sock").path == "/run/zegel/milter.sock"
    assert parse_socket("local:/run/x.sock").kind == "unix"
    for bad in ("inet:8891", "unix:relative.sock", "inet:host:99999", "8891@localhost", "inet:8891@localhost",
                "127.0.0.1:8891"):
        with pytest.raises(ValueError):
            parse_socket(bad)


def test_complete_config_loads(write_config: Callable[..., Path]) -> None:
    config = load_config(write_config('[arc]\ndomain = "corp.example"\nselector = "ed1"\nkey = "ed1.pem"\n'
                                      'recipient_domains = ["lists.corp.example"]\n'
                                      '[metrics]\nlisten = "127.0.0.1:9419"\n[log]\nformat = "json"\n'))
    assert config.authserv_id == "mx.zegel.test"
    assert [(k.domain, k.selector, k.algorithm) for k in config.signing] == [
        ("corp.example", "rsa1", "rsa"), ("corp.example", "ed1", "ed25519")]
    assert config.signing_keys_for("CORP.example.") == config.signing
    assert config.is_trusted("10.2.3.4") and config.is_trusted("::ffff:10.2.3.4")
    assert not config.is_trusted("192.0.2.1") and not config.is_trusted("")
    assert config.arc is not None and config.arc.recipient_domains == frozenset({"lists.corp.example"})
    assert config.metrics_listen == ("127.0.0.1", 9419)


@pytest.mark.parametrize("text,message", [
    ('socket = "inet:127.0.0.1:1"', "authserv_id is required"),
    ('authserv_id = "mx"', "socket is required"),
    ('authserv_id = "mx example"\nsocket = "inet:127.0.0.1:1"', "single token"),
    ('authserv_id = "mx"\nsocket = "inet:127.0.0.1:1"\nsokcet = 1', "sokcet: unknown setting"),
    ('authserv_id = "mx"\nsocket = "8891"', "write inet:HOST:PORT"),
    ('authserv_id = "mx"\nsocket = "127.0.0.1:8891"', "the prefix is required"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\nworkers = 0', "workers must be"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\nworkers = "many"', "workers must be"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\non_error = "maybe"', "on_error must be one of"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\n[timeouts]\nverify = -1', "timeouts.verify must be a number"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\n[dns]\nnameservers = ["ns.example"]', "must be an IP address"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\n[outbound]\ntrusted_networks = ["10.0.0.0/33"]', "not an IP network"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\n[inbound]\nmax_message_size = "lots"', "max_message_size must be a size"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\n[inbound]\nquarantine = "trash"', "inbound.quarantine must be one of"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\n[[outbound.sign]]\ndomain = "a.example"\nselector = "s"\nkey = "missing.pem"',
     "cannot read"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\n[[outbound.sign]]\ndomain = "a.example"\nselector = "bad_sel"\nkey = "k"',
     "not a valid selector"),
    ('authserv_id = "mx"\nsocket = "inet:a:1"\npolicy = "nope.toml"', "policy:"),
    ("not toml = = =", "not valid TOML"),
])
def test_bad_configs_give_one_line(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        config_from_toml(text, source="milter.toml", base=tmp_path)
    assert "\n" not in str(info.value) and str(info.value).startswith("milter.toml: ")


def test_weak_and_garbage_keys_are_refused(tmp_path: Path) -> None:
    (tmp_path / "k.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    text = ('authserv_id = "mx"\nsocket = "inet:a:1"\n[[outbound.sign]]\ndomain = "a.example"\n'
            'selector = "s"\nkey = "k.pem"\n')
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        config_from_toml(text, base=tmp_path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "k.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret")))
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key"):
        config_from_toml(text, base=tmp_path)


def test_check_config_cli(write_config: Callable[..., Path], tmp_path: Path) -> None:
    runner = CliRunner()
    path = write_config()
    result = runner.invoke(cli, ["milter", "--check-config", str(path)])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "corp.example with ed1 (ed25519" in result.output
    result = runner.invoke(cli, ["milter", "--check-config", str(path), "--json"])
    data = json.loads(result.output)
    assert data["ok"] is True and data["socket"] == "inet:127.0.0.1:0"
    bad = tmp_path / "bad.toml"
    bad.write_text('authserv_id = "mx"\n')
    result = runner.invoke(cli, ["milter", "--check-config", str(bad)])
    assert result.exit_code == 2
    assert result.output.strip().startswith("zegel: ") and "socket is required" in result.output
    result = runner.invoke(cli, ["milter"])
    assert result.exit_code == 2 and "exactly one of" in result.output


def test_message_buffer_spools_and_caps(tmp_path: Path) -> None:
    buffer = MessageBuffer(memory_limit=4096, max_size=100_000, spool_dir=str(tmp_path), leading_space_kept=True)
    buffer.add_header(b"From", b" a@example.org")
    buffer.add_header(b"X-Folded", b" one\n\ttwo")
    for _ in range(10):
        buffer.add_body(b"z" * 1000)
    assert buffer.spooled and not buffer.oversized
    raw = buffer.message_bytes()
    assert raw.startswith(b"From: a@example.org\r\nX-Folded: one\r\n\ttwo\r\n\r\nzzz")
    assert len(raw) == len(b"From: a@example.org\r\nX-Folded: one\r\n\ttwo\r\n\r\n") + 10_000
    for _ in range(100):
        buffer.add_body(b"z" * 1000)
    assert buffer.oversized and buffer.body_bytes() == b""  # the spool is released at once
    buffer.close_body()


def test_example_config_is_valid(tmp_path: Path) -> None:
    """examples/milter.toml stays loadable, with keys made by `zegel dkim keygen` under the
    names the example uses (its key and policy paths pointed at real files)."""
    example = (Path(__file__).resolve().parents[2] / "examples" / "milter.toml").read_text(encoding="utf-8")
    keys = tmp_path / "keys"
    text = example.replace("/etc/zegel/keys/", f"{keys}/").replace("/etc/zegel/policy.toml", str(tmp_path / "policy.toml"))
    (tmp_path / "policy.toml").write_text("", encoding="utf-8")
    for domain, selector, kind in (("example.nl", "rsa2026", "rsa"), ("example.nl", "ed2026", "ed25519"),
                                   ("shop.example.nl", "rsa2026", "rsa"), ("example.nl", "arc2026", "rsa")):
        result = CliRunner().invoke(cli, ["dkim", "keygen", "--domain", domain, "--selector", selector,
                                          "--type", kind, "--bits", "1024", "--out", str(keys)])
        assert result.exit_code == 0, result.output
    config = config_from_toml(text, base=tmp_path)
    assert len(config.signing) == 3 and config.arc is None
    assert config.signing_keys_for("example.nl")[1].algorithm == "ed25519"
    assert config.trusted_networks == ()  # nothing is outbound by surprise
    assert config.workers == 0  # "auto"


def test_structured_log_lines() -> None:
    import logging

    from zegel.milter.logs import StructuredFormatter

    record = logging.LogRecord("zegel.milter", logging.INFO, __file__, 1, "message", None, None)
    record.fields = {"msg_id": "abc123", "reason": 'spf "fail" here', "queue_id": ""}
    text = StructuredFormatter("text").format(record)
    assert " msg=message msg_id=abc123 " in text and 'reason="spf \\"fail\\" here"' in text and 'queue_id=""' in text
    data = json.loads(StructuredFormatter("json").format(record))
    assert data["msg_id"] == "abc123" and data["level"] == "info" and data["msg"] == "message"


def test_header_flood_is_capped_but_auth_results_are_remembered() -> None:
    from zegel.milter import message as m

    buffer = MessageBuffer(memory_limit=4096, max_size=10**9)
    buffer.add_header(b"Authentication-Results", b" mx; none")
    for _ in range(m.MAX_HEADER_FIELDS + 5):
        buffer.add_header(b"X", b"")
    buffer.add_header(b"Authentication-Results", b" mx; spf=pass")
    assert buffer.oversized and "header section" in buffer.oversize_reason
    assert len(buffer.headers) == m.MAX_HEADER_FIELDS
    assert buffer.auth_results == [b" mx; none", b" mx; spf=pass"]


def test_results_folding_keeps_quoted_semicolons() -> None:
    from zegel.milter.handler import fold_results

    short = "mx.example; spf=pass"
    assert fold_results(short) == short
    value = ('mx.zegel.test; spf=pass smtp.mailfrom=a@example.org; dkim=fail reason="bad; really bad" '
             "(comment; with semicolon) header.d=example.org; dmarc=fail header.from=example.org")
    folded = fold_results(value)
    assert folded.split(";\n\t") == [
        "mx.zegel.test", "spf=pass smtp.mailfrom=a@example.org",
        'dkim=fail reason="bad; really bad" (comment; with semicolon) header.d=example.org',
        "dmarc=fail header.from=example.org"]


def test_busy_socket_exits_2_with_one_line(write_config: Callable[..., Path]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["milter", "--config", str(write_config(socket=f"inet:127.0.0.1:{port}"))])
        assert result.exit_code == 2
        assert f"cannot listen on inet:127.0.0.1:{port}: the port is already in use" in result.output
        # --check-config notices too (the unit's ExecStartPre), naming the file.
        config = write_config(socket=f"inet:127.0.0.1:{port}", name="check.toml")
        result = CliRunner().invoke(cli, ["milter", "--check-config", str(config)])
        assert result.exit_code == 2
        assert result.output.startswith(f"zegel: {config}: socket: cannot listen on inet:127.0.0.1:{port}")
        assert len(result.output.splitlines()) == 1
    # Free again: the same file is OK.
    result = CliRunner().invoke(cli, ["milter", "--check-config", str(config)])
    assert result.exit_code == 0, result.output


def test_check_config_reports_a_unix_socket_directory_that_is_missing(write_config: Callable[..., Path],
                                                                     tmp_path: Path) -> None:
    config = write_config(socket=f"unix:{tmp_path}/missing/milter.sock")
    result = CliRunner().invoke(cli, ["milter", "--check-config", str(config)])
    assert result.exit_code == 2
    assert "does not exist" in result.output and len(result.output.splitlines()) == 1

