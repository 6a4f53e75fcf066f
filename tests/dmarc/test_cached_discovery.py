"""DMARC discovery from the resolver's cache without coroutines (_discover_cached, fetch_dmarc's
cached answer, Resolver.cached) gives the results and cache statistics of the full path."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path
from typing import Any

import pytest
from tests.dmarc.helpers import Dkim, Spf

from zegel.dmarc import evaluate, evaluate_message
from zegel.dmarc.discovery import discover_policy, fetch_dmarc
from zegel.dns import Resolver
from zegel.web.service import BoundedResolver

discovery_module = importlib.import_module("zegel.dmarc.discovery")
evaluate_module = importlib.import_module("zegel.dmarc.evaluate")

ZONE = """\
_dmarc.own.example. 300 IN TXT "v=DMARC1; p=reject"
_dmarc.org.example. 300 IN TXT "v=DMARC1; p=quarantine; sp=none; np=reject"
_dmarc.multi.example. 300 IN TXT "v=DMARC1; p=reject"
_dmarc.multi.example. 300 IN TXT "v=DMARC1; p=none"
_dmarc.bad.example. 300 IN TXT "v=DMARC1; p=bogus"
_dmarc.junk.example. 300 IN TXT "not dmarc"
_dmarc.test.example. 300 IN TXT "v=DMARC1; p=reject; t=y"
exists.sub.org.example. 300 IN A 192.0.2.1
"""

AUTHORS = ["own.example", "OWN.example.", "sub.org.example", "exists.sub.org.example", "gone.sub.org.example",
           "multi.example", "bad.example", "junk.example", "test.example", "x.y.z.a.b.c.d.e.own.example",
           "nothing.example", "b\u00fccher.example"]
AUTHS = [(Spf("pass", "own.example"), []), (Spf("fail", "x.example"), [Dkim("pass", "org.example")]),
         (None, [Dkim("pass", "sub.org.example"), Dkim("fail", "own.example")]),
         (Spf("pass", "own.example"), [Dkim("pass", "own.example")]), (Spf("pass", "test.example"), []),
         (Spf("softfail", "own.example"), [Dkim("fail", "own.example"), Dkim("pass", "other.example")]),
         (Spf("pass", "x@OWN.example."), [Dkim("pass", d) for d in ("a.example", "b.example", "c.example",
                                                                   "d.example", "own.example")])]


def _full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(evaluate_module, "_discover_cached", lambda *args: None)
    monkeypatch.setattr(Resolver, "cached", lambda self, name, rdtype: None)


async def _evaluations(zone: Path, warm: bool) -> tuple[list[Any], tuple[int, int]]:
    resolver = Resolver(zones=[str(zone)], offline=True)
    results: list[Any] = []
    for _ in range(2 if warm else 1):
        results = []
        for author in AUTHORS:
            message = f"From: a@{author}\r\nSubject: x\r\n\r\nbody\r\n".encode()
            for spf, dkim in AUTHS:
                for mode in ("rfc9989", "rfc7489"):
                    results.append(await evaluate_message(message, spf=spf, dkim=dkim, resolver=resolver,
                                                          mode=mode, draw=50.0))
                results.append(await evaluate(author, spf=spf, dkim=dkim, resolver=resolver))
            results.append(await discover_policy(author, resolver))
            results.append(await fetch_dmarc(author, resolver))
    return results, (resolver.stats.hits, resolver.stats.misses)


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "cached"])
def test_cached_discovery_equals_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool) -> None:
    zone = tmp_path / "dmarc.zone"
    zone.write_text(ZONE)
    fast = asyncio.run(_evaluations(zone, warm))
    with monkeypatch.context() as patch:
        _full_path(patch)
        full = asyncio.run(_evaluations(zone, warm))
    assert fast == full


def test_resolver_cached_matches_query(tmp_path: Path) -> None:
    zone = tmp_path / "dmarc.zone"
    zone.write_text(ZONE)

    async def scenario() -> None:
        resolver = Resolver(zones=[str(zone)], offline=True)
        assert resolver.cached("_dmarc.own.example", "TXT") is None  # not asked yet: nothing counted
        assert (resolver.stats.hits, resolver.stats.misses) == (0, 0)
        answer = await resolver.query("_dmarc.own.example", "txt")
        assert resolver.cached("_DMARC.own.example", "txt") is answer
        assert resolver.stats.hits == 1
        assert resolver.cached("_dmarc.own.example.", "TXT") is answer  # a final dot: the same entry
        assert resolver.stats.hits == 2
        for odd in ("b\u00fccher.example", "a..b", "x" * 254):
            assert resolver.cached(odd, "TXT") is None  # query() normalizes these itself
        bounded = BoundedResolver(resolver, budget=0)
        assert bounded.cached("_dmarc.own.example", "TXT") is None  # its query() counts the budget
        assert (await fetch_dmarc("own.example", bounded)).status == "tempfail"

    asyncio.run(scenario())


def test_expired_answer_is_asked_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zone = tmp_path / "dmarc.zone"
    zone.write_text(ZONE)
    clock = [1000.0]
    monkeypatch.setattr("zegel.dns.cache.time.monotonic", lambda: clock[0])

    async def scenario() -> list[Any]:
        resolver = Resolver(zones=[str(zone)], offline=True)
        message = b"From: a@own.example\r\n\r\n"
        first = await evaluate_message(message, spf=None, dkim=[], resolver=resolver)
        clock[0] += 301
        expired = await evaluate_message(message, spf=None, dkim=[], resolver=resolver)
        return [first, expired, len(resolver.cache), resolver.stats.hits, resolver.stats.misses]

    fast = asyncio.run(scenario())
    clock[0] = 1000.0
    with monkeypatch.context() as patch:
        _full_path(patch)
        full = asyncio.run(scenario())
    assert fast == full
    assert fast[3:] == [0, 2]
