"""``zegel arc validate`` and ``zegel arc seal`` end to end, DNS from TestDnsServer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from zegel.cli import cli
from zegel.dkim.keys import public_key_record
from zegel.dns.testserver import TestDnsServer

Factory = Callable[..., TestDnsServer]

MESSAGE = (
    b"From: Alice <alice@sender.example>\n"
    b"To: list@lists.example\n"
    b"Subject: hello\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0100\n"
    b"Message-ID: <2@sender.example>\n"
    b"\n"
    b"Hi all.\n"
)


@pytest.fixture
def setup(tmp_path: Path, dns_server: Factory) -> tuple[Path, str, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    key_file = tmp_path / "arc.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = dns_server({"arc._domainkey.lists.example": [("TXT", public_key_record(key))]})
    message_file = tmp_path / "in.eml"
    message_file.write_bytes(MESSAGE)
    return key_file, server.address, message_file


def _seal(runner: CliRunner, key_file: Path, dns: str, source: Path, *extra: str) -> bytes:
    result = runner.invoke(cli, ["arc", "seal", "--domain", "lists.example", "--selector", "arc", "--key",
                                 str(key_file), "--authserv-id", "mx.lists.example", "--auth-results",
                                 "spf=pass smtp.mailfrom=sender.example", "--dns", dns, *extra, str(source)])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


def test_seal_then_validate_json(setup: tuple[Path, str, Path], tmp_path: Path) -> None:
    key_file, dns, message_file = setup
    runner = CliRunner()
    sealed = _seal(runner, key_file, dns, message_file, "--timestamp", "1790000000")
    assert sealed.startswith(b"ARC-Seal: ") and sealed.endswith(MESSAGE)
    assert b"\r\n" not in sealed  # the file's LF line endings are kept
    sealed_file = tmp_path / "sealed.eml"
    sealed_file.write_bytes(sealed)

    result = runner.invoke(cli, ["arc", "validate", "--dns", dns, "--json", str(sealed_file)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["cv"] == "pass" and data["reason"]
    assert [hop["instance"] for hop in data["hops"]] == [1]
    assert data["hops"][0]["domain"] == "lists.example"
    assert data["hops"][0]["authserv_id"] == "mx.lists.example"

    # A second seal: the existing chain is validated over DNS to find cv=.
    twice = tmp_path / "twice.eml"
    twice.write_bytes(_seal(runner, key_file, dns, sealed_file))
    result = runner.invoke(cli, ["arc", "validate", "--dns", dns, str(twice)])
    assert result.exit_code == 0
    assert result.output.startswith("arc=pass")
    assert "i=2 lists.example" in result.output
    assert "mx.lists.example; spf=pass smtp.mailfrom=sender.example; arc=pass" in result.output


def test_validate_plain_from_stdin(setup: tuple[Path, str, Path]) -> None:
    _, dns, _ = setup
    runner = CliRunner()
    result = runner.invoke(cli, ["arc", "validate", "--dns", dns, "-"], input=MESSAGE)
    assert result.exit_code == 0 and result.output.startswith("arc=none")
    broken = b"ARC-Seal: i=1; cv=pass\n" + MESSAGE
    result = runner.invoke(cli, ["arc", "validate", "--dns", dns, "--json"], input=broken)
    assert result.exit_code == 1
    assert json.loads(result.output)["cv"] == "fail"


def test_seal_usage_errors(setup: tuple[Path, str, Path], tmp_path: Path) -> None:
    key_file, _, message_file = setup
    runner = CliRunner()
    bad_key = tmp_path / "bad.pem"
    bad_key.write_text("nope")
    result = runner.invoke(cli, ["arc", "seal", "--domain", "lists.example", "--selector", "arc", "--key",
                                 str(bad_key), "--authserv-id", "mx", "--auth-results", "x=y", str(message_file)])
    assert result.exit_code == 2 and "private key" in result.output
    result = runner.invoke(cli, ["arc", "seal", "--domain", "lists.example", "--selector", "arc", "--key",
                                 str(key_file), "--authserv-id", "mx", "--auth-results", "x=y", "--headers",
                                 "from:arc-seal", str(message_file)])
    assert result.exit_code == 2 and "must not sign" in result.output
    result = runner.invoke(cli, ["arc", "validate", str(tmp_path / "missing.eml")])
    assert result.exit_code == 2 and "cannot read" in result.output
