"""Every Dutch text zegel shows addresses the reader the same way: formally, with u and uw, as
the web app, the explanations and the report summaries always did (the domain check's
findings said je until session 12, so one page mixed both)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "zegel"
INFORMAL = re.compile(r"\b(je|jij|jou|jouw|jezelf)\b", re.IGNORECASE)


def _strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def test_no_informal_dutch_in_any_text() -> None:
    sources = sorted(SRC.rglob("*.py"))
    templates = sorted((SRC / "web" / "templates").rglob("*.html"))
    assert len(sources) > 100 and templates
    informal = [f"{path.relative_to(SRC)}:{line}: {text[:80]!r}"
                for path in sources for line, text in _strings(path) if INFORMAL.search(text)]
    informal += [f"{path.relative_to(SRC)}: {match.group(0)!r}" for path in templates
                 for match in INFORMAL.finditer(path.read_text(encoding="utf-8"))]
    assert not informal


def test_the_check_findings_say_u() -> None:
    from zegel.audit.catalog import CATALOG

    dutch = " ".join(spec.message["nl"] + " " + spec.fix["nl"] for spec in CATALOG.values())
    assert re.search(r"\buw\b", dutch) and re.search(r"\bu\b", dutch)
