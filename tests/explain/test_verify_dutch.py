"""`zegel verify --explain --lang nl`: every line in Dutch, the Action and Reason lines included."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from zegel.cli import cli

REPO = Path(__file__).parent.parent.parent
MESSAGES = REPO / "demo" / "messages"
ZONE = REPO / "demo" / "zones" / "sample.zone"
INDEX = tomllib.loads((MESSAGES / "index.toml").read_text(encoding="utf-8"))["message"]


def verify(item: dict[str, str], *extra: str) -> str:
    args = ["verify", str(MESSAGES / item["file"]), "--ip", item["ip"], "--helo", item["helo"], "--mail-from",
            item["mail_from"], "--authserv-id", "mx.ontvanger.example", "--zone", str(ZONE), "--offline", *extra]
    return CliRunner().invoke(cli, args).stdout


@pytest.mark.parametrize("item", INDEX, ids=[i["file"] for i in INDEX])
def test_verify_explain_dutch_labels(item: dict[str, str]) -> None:
    out = verify(item, "--explain", "--lang", "nl")
    lines = out.splitlines()
    assert lines[0].startswith("Authentication-Results: ")
    assert lines[1].startswith("Actie: ")
    assert not any(line.startswith(("Action:", "Reason:", "Note:")) for line in lines)
    reason = next((line for line in lines if line.startswith("Reden: ")), "")
    for english in ("no local policy rule applies", "DMARC fails and", "SPF fails", "the sender's"):
        assert english not in reason
    # Without --explain the plain lines stay English (scripts read them).
    assert verify(item).splitlines()[1].startswith("Action: ")


def test_no_rule_decided_is_said_so_even_when_an_outcome_matched() -> None:
    """A genuine message from an address its SPF record does not name: spf_fail matches, but no
    rule acts on it (DKIM and DMARC pass), so the message is accepted because no rule applies.
    The Dutch reason must say that, not explain spf_fail as if it decided."""
    item = dict(next(i for i in INDEX if i["file"] == "genuine.eml"), ip="127.0.0.1")
    english = verify(item).splitlines()
    assert "Action: accept" in english and "Reason: no local policy rule applies" in english
    dutch = verify(item, "--explain", "--lang", "nl").splitlines()
    assert "Reden: geen regel van het lokale beleid is van toepassing" in dutch
