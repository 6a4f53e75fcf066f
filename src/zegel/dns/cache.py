"""A size-bounded, TTL-respecting answer cache (least recently used entries go first)."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from zegel.dns.answer import Answer


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0

    @property
    def hit_rate(self) -> float:
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class AnswerCache:
    def __init__(self, max_entries: int = 10_000, *, min_ttl: int = 0, max_ttl: int = 86_400) -> None:
        if max_entries < 0:
            raise ValueError("cache size must be >= 0")
        self._entries: OrderedDict[tuple[str, str], tuple[float, Answer[Any]]] = OrderedDict()
        self.max_entries = max_entries
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[str, str]) -> Answer[Any] | None:
        entry = self._entries.get(key)
        if entry is None:
            self.stats.misses += 1
            return None
        expires, answer = entry
        if expires <= time.monotonic():
            del self._entries[key]
            self.stats.misses += 1
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return answer

    def peek(self, key: tuple[str, str]) -> Answer[Any] | None:
        """:meth:`get` for a hit; on a miss or an expired entry None with nothing changed, so
        the caller's :meth:`get` that follows counts (and removes) it exactly once."""
        entry = self._entries.get(key)
        if entry is None or entry[0] <= time.monotonic():
            return None
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return entry[1]

    def refresh(self, key: tuple[str, str], answer: Answer[Any]) -> bool:
        """True, with the hit counted as :meth:`get` counts it, when ``key`` holds ``answer``
        itself and has not expired; else False with nothing changed. Lets a caller reuse
        what it derived from that very answer."""
        entry = self._entries.get(key)
        if entry is None or entry[1] is not answer or entry[0] <= time.monotonic():
            return False
        self._entries.move_to_end(key)
        self.stats.hits += 1
        return True

    def put(self, key: tuple[str, str], answer: Answer[Any]) -> None:
        if self.max_entries == 0:
            return
        ttl = min(max(answer.ttl, self.min_ttl), self.max_ttl)
        if ttl <= 0:
            return
        self._entries[key] = (time.monotonic() + ttl, answer)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
