"""SPF: zegel vs pyspf on the same DNS data, served by one TestDnsServer on loopback.

(a) warm cache: checks/s over a mix of realistic records (ip4-only; includes three deep as
    large providers publish; mx and a terms; macros). zegel reuses one SpfChecker (resolver
    cache + parse cache); pyspf runs on dnspython's default resolver with its LRU cache on, both
    pointed at the test server and primed with one pass over the mix.
(b) cold cache: median latency of one check with the server adding 20 ms to every answer —
    zegel with a fresh resolver per check, pyspf with dnspython's cache off.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import dns.resolver

from bench.common import Row
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer
from zegel.spf import SpfChecker

AREA = "spf"

# Realistic shapes: a small business listing its own ranges; a domain on a large provider
# (include -> include -> netblock records, three deep); mx/a based; a macro-based policy.
RECORDS: dict[str, list[tuple[str, Any]]] = {
    "smallbiz.example": [("TXT", "v=spf1 ip4:192.0.2.0/27 ip4:198.51.100.17 ip6:2001:db8:10::/48 -all")],
    "bigcorp.example": [("TXT", "v=spf1 ip4:203.0.113.5 include:_spf.mailhost.example ~all")],
    "_spf.mailhost.example": [("TXT", "v=spf1 include:_netblocks.mailhost.example "
                                      "include:_netblocks2.mailhost.example include:_netblocks3.mailhost.example ~all")],
    "_netblocks.mailhost.example": [("TXT", "v=spf1 " + " ".join(f"ip4:10.{i}.0.0/16" for i in range(12)) + " ~all")],
    "_netblocks2.mailhost.example": [("TXT", "v=spf1 " + " ".join(f"ip6:2001:db8:{i:x}::/48" for i in range(8))
                                      + " include:_netblocks4.mailhost.example ~all")],
    "_netblocks3.mailhost.example": [("TXT", "v=spf1 " + " ".join(f"ip4:172.16.{i}.0/24" for i in range(16)) + " ~all")],
    "_netblocks4.mailhost.example": [("TXT", "v=spf1 " + " ".join(f"ip4:100.64.{i}.0/24" for i in range(10)) + " ~all")],
    "shop.example": [("TXT", "v=spf1 mx a a:relay.shop.example -all"),
                     ("MX", (10, "mx1.shop.example")), ("MX", (20, "mx2.shop.example")),
                     ("A", "192.0.2.80")],
    "mx1.shop.example": [("A", "192.0.2.81")],
    "mx2.shop.example": [("A", "192.0.2.82"), ("AAAA", "2001:db8:80::2")],
    "relay.shop.example": [("A", "192.0.2.90")],
    "macro.example": [("TXT", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} include:%{d2}._policy.example -all")],
    "2.100.51.198.alice._spf.macro.example": [("A", "127.0.0.2")],
    "macro.example._policy.example": [("TXT", "v=spf1 ip4:198.51.100.200 -all")],
    # A company on several providers at once: its own MX, the big provider's tree, a CRM, a newsletter.
    "multi.example": [("TXT", "v=spf1 mx include:_spf.mailhost.example include:spf.crm.example "
                              "include:mail.newsletter.example -all"),
                      ("MX", (10, "mx1.multi.example")), ("MX", (20, "mx2.multi.example"))],
    "mx1.multi.example": [("A", "192.0.2.121")],
    "mx2.multi.example": [("A", "192.0.2.122")],
    "spf.crm.example": [("TXT", "v=spf1 include:_n1.crm.example include:_n2.crm.example ~all")],
    "_n1.crm.example": [("TXT", "v=spf1 ip4:198.51.100.64/28 ip4:198.51.100.96/28 ~all")],
    "_n2.crm.example": [("TXT", "v=spf1 ip6:2001:db8:c::/48 ~all")],
    "mail.newsletter.example": [("TXT", "v=spf1 ip4:203.0.113.0/26 ~all")],
}

# (ip, mail_from, helo): passes deep in the tree and failures that walk everything.
MIX: list[tuple[str, str, str]] = [
    ("198.51.100.17", "ann@smallbiz.example", "mail.smallbiz.example"),
    ("192.0.2.200", "ann@smallbiz.example", "mail.smallbiz.example"),
    ("100.64.9.9", "bob@bigcorp.example", "out.mailhost.example"),
    ("172.16.15.3", "bob@bigcorp.example", "out.mailhost.example"),
    ("198.18.0.1", "bob@bigcorp.example", "spam.example"),
    ("192.0.2.82", "orders@shop.example", "mx2.shop.example"),
    ("192.0.2.90", "orders@shop.example", "relay.shop.example"),
    ("198.51.100.2", "alice@macro.example", "mail.macro.example"),
    ("198.51.100.200", "carol@macro.example", "mail.macro.example"),
    ("203.0.113.99", "carol@macro.example", "mail.macro.example"),
    ("203.0.113.7", "news@multi.example", "out.newsletter.example"),
    ("198.18.0.9", "news@multi.example", "spam.example"),
]
# The include tree (bigcorp -> _spf -> 3 netblock records, one including a fourth): a pass found
# in the deepest record, and a fail that must read all six records.
COLD_CASES = {
    "pass in deepest include": ("100.64.9.9", "bob@bigcorp.example", "out.mailhost.example"),
    "fail, all 6 records read": ("198.18.0.1", "bob@bigcorp.example", "spam.example"),
    "fail, 4 providers, 10 records + MX": ("198.18.0.9", "news@multi.example", "spam.example"),
}


def _pyspf_resolver(server: TestDnsServer, cached: bool) -> None:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [server.host]
    resolver.port = server.port
    resolver.timeout = 2.0
    resolver.lifetime = 5.0
    resolver.cache = dns.resolver.LRUCache(100_000) if cached else None
    # pyspf calls dns.resolver.query(), which uses this default resolver.
    dns.resolver.default_resolver = resolver


def _pyspf_check() -> Callable[[str, str, str], str]:
    import spf

    def run(ip: str, mail_from: str, helo: str) -> str:
        result, _explanation = spf.check2(i=ip, s=mail_from, h=helo)
        return str(result)

    return run


def _zegel_mix(checker: SpfChecker, repeat: int) -> list[str]:
    async def go() -> list[str]:
        results = []
        for _ in range(repeat):
            for ip, mail_from, helo in MIX:
                results.append((await checker.check(ip, mail_from, helo)).result)
        return results

    return asyncio.run(go())


def run() -> list[Row]:
    warnings.simplefilter("ignore", DeprecationWarning)  # pyspf uses dns.resolver.query()
    rows: list[Row] = []
    pyspf_check = _pyspf_check()
    with TestDnsServer(RECORDS) as server:
        # (a) warm cache
        checker = SpfChecker(Resolver([server.address], timeout=2.0, lifetime=5.0))
        zegel_results = _zegel_mix(checker, 1)
        _pyspf_resolver(server, cached=True)
        pyspf_results = [pyspf_check(*case) for case in MIX]
        mismatches = [case[1] for case, a, b in zip(MIX, zegel_results, pyspf_results, strict=True) if a != b]
        batch = 20

        def zegel_batch() -> None:
            _zegel_mix(checker, batch)

        def pyspf_batch() -> None:
            for _ in range(batch):
                for case in MIX:
                    pyspf_check(*case)

        # Interleaved rounds, best of each: on a shared machine, load that comes and goes then
        # hits both sides alike instead of whichever happened to run at the time.
        zegel_rate = pyspf_rate = 0.0
        for _round in range(5):
            zegel_rate = max(zegel_rate, _rate(zegel_batch, 0.5) * batch * len(MIX))
            pyspf_rate = max(pyspf_rate, _rate(pyspf_batch, 0.5) * batch * len(MIX))
        note = "same results" if not mismatches else f"results differ for {', '.join(mismatches)}"
        rows.append(Row(AREA, f"warm-cache checks/s ({len(MIX)}-case mix)", "checks/s", zegel_rate,
                        "pyspf", pyspf_rate, note=f"{note}; best of 5 interleaved rounds"))

    # (b) cold cache, 20 ms per answer
    with TestDnsServer(RECORDS, delay=0.020) as slow:
        def zegel_cold(case: tuple[str, str, str]) -> float:
            async def go() -> float:
                checker = SpfChecker(Resolver([slow.address], timeout=2.0, lifetime=5.0))
                started = time.perf_counter()
                await checker.check(*case)
                return time.perf_counter() - started
            return asyncio.run(go())

        _pyspf_resolver(slow, cached=False)

        def pyspf_cold(case: tuple[str, str, str]) -> float:
            started = time.perf_counter()
            pyspf_check(*case)
            return time.perf_counter() - started

        runs = 7
        for label, case in COLD_CASES.items():
            zegel_tree = statistics.median(zegel_cold(case) for _ in range(runs)) * 1000
            pyspf_tree = statistics.median(pyspf_cold(case) for _ in range(runs)) * 1000
            rows.append(Row(AREA, f"cold check, include tree: {label} (20 ms/answer)", "ms", zegel_tree,
                            "pyspf", pyspf_tree, higher_is_better=False, note=f"median of {runs}"))
        zegel_mix = statistics.median(zegel_cold(case) for case in MIX) * 1000
        pyspf_mix = statistics.median(pyspf_cold(case) for case in MIX) * 1000
        rows.append(Row(AREA, "cold check, median over the mix (20 ms/answer)", "ms", zegel_mix,
                        "pyspf", pyspf_mix, higher_is_better=False))
    return rows


def _rate(func: Callable[[], object], seconds: float = 2.0) -> float:
    func()
    runs = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or runs < 3:
        func()
        runs += 1
    return runs / (time.perf_counter() - started)
