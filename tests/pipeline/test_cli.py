"""``zegel verify`` and ``zegel explain`` end to end (click runner, zone files)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.pipeline.helpers import AUTHSERV_ID, EXAMPLES, MESSAGES, ZONE, sample
from zegel.cli import cli
from zegel.reports.store import open_store


def zegel(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def verify_args(file: str, *extra: str) -> list[str]:
    item = sample(file)
    return ["verify", str(MESSAGES / file), "--ip", item["ip"], "--helo", item["helo"], "--mail-from",
            item["mail_from"], "--authserv-id", AUTHSERV_ID, "--zone", str(ZONE), "--offline", *extra]


def test_verify_plain() -> None:
    code, out, _ = zegel(*verify_args("genuine.eml"))
    assert code == 0
    assert out.startswith(f"Authentication-Results: {AUTHSERV_ID}; spf=pass")
    assert "Action: accept" in out


def test_verify_json_keys() -> None:
    code, out, _ = zegel(*verify_args("spoofed.eml", "--json"))
    assert code == 1  # rejected
    data = json.loads(out)
    assert set(data) == {"spf", "dkim", "arc", "dmarc", "authentication_results", "action"}
    assert {"result", "policy", "disposition", "from_domain"} <= set(data["dmarc"])
    assert data["dmarc"]["result"] == "fail" and data["dmarc"]["disposition"] == "reject"
    assert data["action"]["kind"] == "reject" and data["action"]["smtp_code"] == 550


def test_verify_explain_dutch() -> None:
    code, out, _ = zegel(*verify_args("provider-only-dkim.eml", "--explain", "--lang", "nl"))
    assert code == 1  # quarantined
    assert "Waarom DMARC faalde" in out
    assert "mailservice.example" in out and "gemeente-voorbeeld.nl" in out


def test_verify_with_policy_file() -> None:
    code, out, _ = zegel(*verify_args("mailing-list-arc.eml", "--policy", str(EXAMPLES / "policy-strict.toml")))
    assert code == 0
    assert "override=trusted_forwarder" in out


def test_verify_usage_errors_are_one_line(tmp_path: object) -> None:
    bad_policy = MESSAGES / "index.toml"  # TOML, but not a policy
    for args in (verify_args("genuine.eml", "--policy", str(bad_policy)),
                 ["verify", str(MESSAGES / "genuine.eml"), "--ip", "1.2.3", "--helo", "h", "--mail-from", "a@b"],
                 ["verify", "/nonexistent.eml", "--ip", "192.0.2.1", "--helo", "h", "--mail-from", "a@b"],
                 verify_args("genuine.eml", "--authserv-id", "bad id;")):
        code, _, err = zegel(*args)
        assert code == 2, args
        assert err.startswith("zegel: ") and err.count("\n") == 1, err


def test_explain_json_keys_and_exit_status() -> None:
    code, out, _ = zegel("explain", str(MESSAGES / "lookalike-received.eml"), "--json", "--lang", "nl")
    assert code == 1  # imitates rabobank.nl
    data = json.loads(out)
    assert {"from_domain", "authenticated", "hops", "lookalike", "verdict", "reasons"} <= set(data)
    assert data["verdict"] == "phishing"
    assert data["lookalike"]["imitates"] == "rabobank.nl"
    assert "doet zich voor als" in data["lookalike"]["reason"]
    assert data["hops"][0]["server"] == "mx.ontvanger.example"


def test_explain_plain_and_seen_domains(tmp_path: object) -> None:
    code, out, _ = zegel("explain", str(MESSAGES / "genuine.eml"))
    assert code == 0
    assert "bakkerij-jansen.nl" in out
    code, out, _ = zegel("explain", str(MESSAGES / "genuine.eml"), "--seen", "bakkerij-janssen.nl")
    assert code == 1 and "bakkerij-janssen.nl" in out


def test_verify_record_stores_the_outcome(tmp_path: Path) -> None:
    code, _, err = zegel(*verify_args("spoofed.eml", "--record", "--data-dir", str(tmp_path)))
    assert code == 1, err
    store = open_store(None, tmp_path)
    try:
        assert store.count_outcomes() == 1
    finally:
        store.close()
