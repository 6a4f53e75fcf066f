"""The coroutine-free steps of an SPF check (a cached record decided by its ip4/ip6/all terms,
AnswerCache.peek) give the result, trace and cache statistics the full path gives."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from zegel.dns import Resolver
from zegel.spf import SpfChecker
from zegel.spf import evaluate as spf_evaluate

ZONE = """\
pass4.example. 300 IN TXT "v=spf1 ip4:198.51.100.0/24 ip4:192.0.2.1 -all"
run.example. 300 IN TXT "v=spf1 ip4:198.51.100.1 ip4:198.51.100.2 ip6:2001:db8::/32 ~all"
neutral.example. 300 IN TXT "v=spf1 ip4:198.51.100.1 ip6:2001:db8::1"
noall.example. 300 IN TXT "v=spf1 ip4:198.51.100.1 redirect=pass4.example"
allredir.example. 300 IN TXT "v=spf1 ?all redirect=pass4.example"
inc.example. 300 IN TXT "v=spf1 ip4:198.51.100.1 include:pass4.example -all"
amx.example. 300 IN TXT "v=spf1 a mx ip4:203.0.113.0/24 -all"
amx.example. 300 IN A 192.0.2.9
amx.example. 300 IN MX 10 mail.amx.example.
mail.amx.example. 300 IN A 192.0.2.1
exp.example. 300 IN TXT "v=spf1 ip4:198.51.100.1 -all exp=why.exp.example"
why.exp.example. 300 IN TXT "%{i} may not send for %{d}"
two.example. 300 IN TXT "v=spf1 -all"
two.example. 300 IN TXT "v=spf1 +all"
bad.example. 300 IN TXT "v=spf1 ip4:1.2.3.4/99 -all"
other.example. 300 IN TXT "hello"
redirnone.example. 300 IN TXT "v=spf1 redirect=other.example"
short.example. 1 IN TXT "v=spf1 ip4:192.0.2.1 -all"
"""

DOMAINS = ["pass4.example", "run.example", "neutral.example", "noall.example", "allredir.example", "inc.example",
           "amx.example", "exp.example", "two.example", "bad.example", "other.example", "redirnone.example",
           "missing.example", "nolabel", "PASS4.example."]
CLIENTS = ["192.0.2.1", "198.51.100.7", "2001:db8::5", "203.0.113.9", "10.0.0.1"]


def _full_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every check take the coroutine path it took before the shortcuts."""
    monkeypatch.setattr(spf_evaluate._Evaluation, "_domain_record", lambda self, *args: None)
    monkeypatch.setattr(spf_evaluate._Evaluation, "_scan", lambda self, *args: (0, 0))


async def _checks(zone: Path, warm: bool) -> tuple[list[Any], tuple[int, int]]:
    resolver = Resolver(zones=[str(zone)], offline=True)
    checker = SpfChecker(resolver, receiver="mx.example")
    results: list[Any] = []
    for _ in range(2 if warm else 1):
        results = []
        for domain in DOMAINS:
            for client in CLIENTS:
                for helo in ("helo.example", "other.example"):  # the memo of check() ignores HELO
                    results.append(await checker.check(client, f"user@{domain}", helo))
                results.append(await checker.check_host(client, domain, f"user@{domain}", helo="h.example",
                                                        identity="helo"))
    return results, (resolver.stats.hits, resolver.stats.misses)


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "cached"])
def test_cached_path_equals_full_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool) -> None:
    zone = tmp_path / "spf.zone"
    zone.write_text(ZONE)
    fast = asyncio.run(_checks(zone, warm))
    with monkeypatch.context() as patch:
        _full_path(patch)
        full = asyncio.run(_checks(zone, warm))
    assert fast == full


def test_changed_limits_are_not_answered_from_the_memo(tmp_path: Path) -> None:
    zone = tmp_path / "spf.zone"
    zone.write_text(ZONE)

    async def scenario() -> tuple[Any, Any]:
        checker = SpfChecker(Resolver(zones=[str(zone)], offline=True))
        await checker.check("192.0.2.1", "a@pass4.example", "h.example")
        checker.lookup_limit = 5
        changed = await checker.check("192.0.2.1", "a@pass4.example", "h.example")
        fresh = SpfChecker(checker.resolver, lookup_limit=5)
        return changed, await fresh.check("192.0.2.1", "a@pass4.example", "h.example")

    changed, fresh = asyncio.run(scenario())
    assert changed == fresh
    assert "of 5," in changed.trace[-1]


def test_cache_peek_counts_like_get() -> None:
    resolver = Resolver(offline=True)
    cache = resolver.cache
    answer = asyncio.run(resolver.query("nothing.example", "TXT"))  # NXDOMAIN, negatively cached
    key = ("nothing.example", "TXT")
    before = (cache.stats.hits, cache.stats.misses)
    assert cache.peek(("other.example", "TXT")) is None
    assert (cache.stats.hits, cache.stats.misses) == before  # a miss is left to get()
    assert cache.peek(key) is answer
    assert cache.stats.hits == before[0] + 1
    assert cache.get(key) is answer
    hits = cache.stats.hits
    assert not cache.refresh(key, Resolver)  # type: ignore[arg-type]  # not that very answer
    assert not cache.refresh(("other.example", "TXT"), answer)
    assert cache.stats.hits == hits
    assert cache.refresh(key, answer)
    assert cache.stats.hits == hits + 1


def test_expired_record_goes_to_the_network_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    zone = tmp_path / "spf.zone"
    zone.write_text(ZONE)
    clock = [1000.0]
    monkeypatch.setattr("zegel.dns.cache.time.monotonic", lambda: clock[0])

    async def scenario() -> list[Any]:
        resolver = Resolver(zones=[str(zone)], offline=True)
        checker = SpfChecker(resolver)
        first = await checker.check("192.0.2.1", "a@short.example", "h.example")
        hit = await checker.check("192.0.2.1", "a@short.example", "h.example")
        clock[0] += 5  # past the 1 s TTL
        sent = resolver.queries_sent
        expired = await checker.check("192.0.2.1", "a@short.example", "h.example")
        return [first, hit, expired, len(resolver.cache), resolver.stats.hits, resolver.stats.misses, sent]

    fast = asyncio.run(scenario())
    clock[0] = 1000.0
    with monkeypatch.context() as patch:
        _full_path(patch)
        full = asyncio.run(scenario())
    assert fast == full
    assert fast[0] == fast[1] == fast[2]
