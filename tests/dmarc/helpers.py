"""Shared bits for the DMARC tests: stand-in SPF/DKIM results with the documented attributes."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Spf:
    """Matches the attributes zegel.dmarc.SpfLike documents (as zegel.spf.SpfResult has them)."""

    result: str
    domain: str | None


@dataclass(frozen=True)
class Dkim:
    result: str
    domain: str | None


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
