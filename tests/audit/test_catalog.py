"""The finding catalogue: both languages complete and consistent, every code documented in
docs/check.md and asserted by a test, and the plain-text report."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from zegel.audit import Texts, parse_lang
from zegel.audit.catalog import CATALOG, PHRASES
from zegel.audit.render_text import plain_text

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent.parent / "docs" / "check.md"
CODE = re.compile(r"^[a-z][a-z-]*\.[a-z0-9-]+$")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("code", sorted(CATALOG))
def test_code_texts_complete(code: str) -> None:
    spec = CATALOG[code]
    assert CODE.match(code)
    assert spec.severity in ("error", "warning", "info")
    for part in (spec.message, spec.fix):
        assert set(part) == {"en", "nl"}
        assert all(text.strip() for text in part.values())
        # the Dutch text uses the same parameters as the English one
        assert _fields(part["en"]) == _fields(part["nl"]), code


def test_phrases_complete() -> None:
    for key, texts in PHRASES.items():
        assert set(texts) == {"en", "nl"}, key
        assert _fields(texts["en"]) == _fields(texts["nl"]), key


def test_every_code_documented() -> None:
    documented = set(re.findall(r"`([a-z][a-z-]*\.[a-z0-9-]+)`", DOCS.read_text(encoding="utf-8")))
    assert set(CATALOG) - documented == set()
    assert {c for c in documented - set(CATALOG) if c.split(".")[0] in
            ("spf", "dmarc", "dkim", "mx", "domain", "nomail")} == set()


def test_every_code_asserted_by_a_test() -> None:
    sources = "\n".join(p.read_text(encoding="utf-8") for p in HERE.glob("test_*.py") if p.name != "test_catalog.py")
    missing = sorted(code for code in CATALOG if f'"{code}"' not in sources)
    assert missing == []


def test_unknown_placeholder_is_left_visible() -> None:
    finding = Texts("en").finding("spf.none")  # {domain} not given
    assert "{domain}" in finding.message


def test_parse_lang() -> None:
    assert parse_lang("NL") == "nl" and parse_lang("nl_NL") == "nl" and parse_lang("en-GB") == "en"
    with pytest.raises(ValueError):
        parse_lang("fr")


def test_plain_text_report(audit) -> None:
    text = plain_text(audit("deep.example"), width=80)
    assert "deep.example" in text and "Grade F" in text
    assert "└── include:d1.chain.example [10]" in text
    # Prose is wrapped; records to paste (indented 8) are left whole so they can be copied.
    assert all(len(line) <= 80 for line in text.splitlines() if "──" not in line and not line.startswith(" " * 8))
    assert not any(line.endswith(" ") for line in text.splitlines())
