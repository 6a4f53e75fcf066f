"""``zegel spf``: exit codes, JSON keys, the plain trace, one-line usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from zegel.cli import cli
from zegel.dns.testserver import TestDnsServer

ZONE = """\
example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 include:_spf.example.net -all"
_spf.example.net. 300 IN TXT "v=spf1 a:mail.example.net ~all"
mail.example.net. 300 IN A 198.51.100.7
broken.example. 300 IN TXT "v=spf1 ip4:192.0.2.1 frobnicate -all"
helo.example. 300 IN TXT "v=spf1 a -all"
helo.example. 300 IN A 192.0.2.25
"""
JSON_KEYS = {"result", "explanation", "mechanism", "lookups", "void_lookups", "trace"}


@pytest.fixture
def zone(tmp_path: Path) -> str:
    path = tmp_path / "spf.zone"
    path.write_text(ZONE)
    return str(path)


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["spf", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("ip", "mail_from", "expected"),
    [
        ("192.0.2.9", "a@example.com", "pass"),
        ("198.51.100.7", "a@example.com", "pass"),
        ("203.0.113.1", "a@example.com", "fail"),
        ("192.0.2.1", "a@broken.example", "permerror"),
        ("192.0.2.1", "a@nothing.example", "none"),
    ],
)
def test_json_output_and_exit_zero(zone: str, ip: str, mail_from: str, expected: str) -> None:
    code, out, _ = invoke("--ip", ip, "--mail-from", mail_from, "--zone", zone, "--offline", "--json")
    assert code == 0
    data = json.loads(out)
    assert set(data) == JSON_KEYS
    assert data["result"] == expected
    assert isinstance(data["trace"], list) and data["trace"][-1].startswith(f"result: {expected}")
    assert isinstance(data["lookups"], int) and isinstance(data["void_lookups"], int)


def test_plain_output_has_a_readable_trace(zone: str) -> None:
    code, out, _ = invoke("--ip", "203.0.113.1", "--mail-from", "a@example.com", "--zone", zone, "--offline")
    assert code == 0
    assert out.startswith("SPF fail for a@example.com from 203.0.113.1")
    assert "mechanism:    -all" in out
    assert "trace:" in out
    assert "include:_spf.example.net: no match (included result softfail)" in out


def test_helo_identity(zone: str) -> None:
    code, out, _ = invoke("--ip", "192.0.2.25", "--mail-from", "", "--helo", "helo.example",
                          "--zone", zone, "--offline", "--json")
    assert code == 0 and json.loads(out)["result"] == "pass"


def test_live_dns_server(dns_server: Callable[..., TestDnsServer]) -> None:
    server = dns_server({"srv.example": [("TXT", "v=spf1 ip4:192.0.2.3 -all")]})
    code, out, _ = invoke("--ip", "192.0.2.3", "--mail-from", "x@srv.example", "--dns", server.address, "--json")
    assert code == 0 and json.loads(out)["result"] == "pass"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ip", "999.1.1.1", "--mail-from", "a@example.com"], "not an IP address"),
        (["--ip", "banana", "--mail-from", "a@example.com"], "not an IP address"),
        (["--ip", "192.0.2.1", "--mail-from", ""], "needs --helo"),
        (["--mail-from", "a@example.com"], "Missing option '--ip'"),
        (["--ip", "192.0.2.1"], "Missing option '--mail-from'"),
        (["--ip", "192.0.2.1", "--mail-from", "a@example.com", "--void-lookup-limit", "-1"], "void-lookup-limit"),
        (["--ip", "192.0.2.1", "--mail-from", "a@example.com", "--dns", "not-an-ip"], "nameserver"),
        (["--ip", "192.0.2.1", "--mail-from", "a@example.com", "--zone", "/nonexistent.zone"], "cannot read"),
        (["--ip", "192.0.2.1", "--mail-from", "a\n@example.com"], "control characters"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zegel: ") and message in lines[0], err


def test_console_script_end_to_end(zone: str) -> None:
    """Through the real entry point (zegel.cli.main) in a separate process."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from zegel.cli import main; sys.exit(main())", "spf",
         "--ip", "192.0.2.9", "--mail-from", "a@example.com", "--zone", zone, "--offline", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["result"] == "pass"
    bad = subprocess.run(
        [sys.executable, "-c", "import sys; from zegel.cli import main; sys.exit(main())", "spf",
         "--ip", "1.2.3", "--mail-from", "a@example.com"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
