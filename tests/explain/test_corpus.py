"""The realistic header corpus: every set gets its expected verdict, in every provider's format."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from zegel.cli import cli
from zegel.explain import explain_json, explain_message
from zegel.explain.chain import provider_named

CORPUS = Path(__file__).parent / "corpus"
CASES = tomllib.loads((CORPUS / "expected.toml").read_text(encoding="utf-8"))["case"]
PROVIDERS = ("google", "microsoft", "yahoo", "apple", "fastmail", "proton", "kpn", "xs4all", "ziggo", "mimecast",
             "proofpoint")
# English words that must not appear in Dutch output (labels included).
ENGLISH = ("Why:", "Visible sender", "Look-alike", "What each server", "Genuine", "Not authenticated",
           "Cannot tell", "Phishing likely", "trusted", "could be forged", "Next step", "Received by")


def test_the_corpus_is_large_and_covers_every_provider_and_kind() -> None:
    assert len(CASES) >= 40
    assert {c["provider"] for c in CASES} >= set(PROVIDERS)
    assert {c["category"] for c in CASES} >= {"genuine", "spoofed", "forwarded", "mailing_list", "mailing_list_arc",
                                             "lookalike", "forged"}
    assert {c["verdict"] for c in CASES} == {"genuine", "suspicious", "phishing", "unknown"}


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_expected_verdict(case: dict[str, str]) -> None:
    report = explain_message((CORPUS / case["file"]).read_bytes())
    assert report.verdict == case["verdict"]
    if case["provider"]:
        provider = provider_named(case["provider"])
        assert provider is not None
        assert report.chain is not None and provider in report.chain.providers
    assert report.reasons, "a verdict always comes with its reasons"


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_both_languages_render_completely(case: dict[str, str]) -> None:
    report = explain_message((CORPUS / case["file"]).read_bytes())
    english, dutch = report.render("en"), report.render("nl")
    for rendered in (english, dutch):
        assert "{" not in rendered.replace("{domain}", "") and "}" not in rendered
    for word in ENGLISH:
        assert word not in dutch, word
    first = {"genuine": "Echt:", "suspicious": "Niet bevestigd", "phishing": "Waarschijnlijk phishing",
             "unknown": "Niet te zeggen:"}[report.verdict]
    assert dutch.startswith(first)


def test_cli_json_is_the_package_json_and_exit_status_follows_the_verdict() -> None:
    runner = CliRunner()
    for case in CASES:
        path = CORPUS / case["file"]
        result = runner.invoke(cli, ["explain", str(path), "--json", "--lang", "nl"])
        assert result.exit_code == (1 if case["verdict"] in ("suspicious", "phishing") else 0), case["file"]
        data = json.loads(result.stdout)
        assert data == explain_json(path.read_bytes(), lang="nl", source=str(path))
        assert data["verdict"] == case["verdict"]
        assert {"from_domain", "authenticated", "hops", "lookalike", "verdict", "reasons"} <= set(data)
        assert all(set(r) == {"code", "text", "in_headline"} for r in data["reasons"])
        # An "unknown" headline quotes exactly one reason; the other verdicts quote none.
        quoted = [r for r in data["reasons"] if r["in_headline"]]
        assert len(quoted) == (1 if data["verdict"] == "unknown" and any(
            r["code"] not in ("untrusted", "next_step") for r in data["reasons"]) else 0), case["file"]
        assert all(r["text"] in data["headline"] for r in quoted)
