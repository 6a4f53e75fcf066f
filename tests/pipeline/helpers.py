"""Shared data for the pipeline tests: the shipped sample messages and their zone."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MESSAGES = REPO / "demo" / "messages"
ZONE = REPO / "demo" / "zones" / "sample.zone"
EXAMPLES = REPO / "examples"
AUTHSERV_ID = "mx.ontvanger.example"


def samples() -> list[dict[str, Any]]:
    index = tomllib.loads((MESSAGES / "index.toml").read_text())
    items: list[dict[str, Any]] = index["message"]
    return items


def sample(file: str) -> dict[str, Any]:
    return next(item for item in samples() if item["file"] == file)


def message(file: str) -> bytes:
    return (MESSAGES / file).read_bytes()
