"""SPF (RFC 7208): record parsing on hostile text, and check_host over hostile DNS answers
served by the loopback test DNS server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import examples, hostile_text, repeated
from zegel.dns import Resolver
from zegel.dns.records import merge, nodes_from_spec
from zegel.dns.testserver import TestDnsServer
from zegel.spf import SpfSyntaxError, check_host, parse_record

RESULTS = {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}
TERMS = ["a", "mx", "ptr", "ip4:192.0.2.1", "ip6:2001:db8::/32", "include:", "exists:", "redirect=", "exp=",
         "all", "-all", "~all", "?all", "+all", "%{d}", "%{ir}", "%{l1r+-}", "%{s}", "%%", "%_", "%-", ".", "/24",
         "//64", "a:", "mx:", ":", "=", "v=spf1", "example", "-", "x" * 70]
spf_text = st.lists(st.sampled_from(TERMS) | hostile_text, max_size=12).map(" ".join).map(lambda t: "v=spf1 " + t)


def _parse(text: str) -> None:
    try:
        parse_record(text)
    except SpfSyntaxError as exc:
        assert isinstance(exc.position, int) and str(exc)


@given(st.one_of(hostile_text, spf_text))
def test_parse_record_is_total(text: str) -> None:
    _parse(text)


@given(repeated(st.sampled_from(["a", ".a", "%{d}", "x:", "-", "a-", "%", "{", "=?"])), st.sampled_from(TERMS))
def test_parse_record_long_terms(body: str, tail: str) -> None:
    _parse("v=spf1 exists:%{d}.examp" + body + tail + " -all")
    _parse("v=spf1 include:" + body + ".com " + tail)


counter = itertools.count()


@pytest.fixture(scope="module")
def server() -> Iterator[TestDnsServer]:
    running = TestDnsServer({"anchor.fuzz.example": [("A", "192.0.2.1")]}).start_in_thread()
    yield running
    running.stop_thread()


answers = st.lists(st.one_of(spf_text, hostile_text, repeated(st.sampled_from(["v=spf1 ", "a", " include:x"]))),
                   min_size=0, max_size=3)


@settings(max_examples=examples(40))
@given(answers, answers, st.sampled_from(["192.0.2.1", "2001:db8::1", "203.0.113.9"]),
       st.sampled_from(["ceo@", "", "a.b@", "%{d}@", "\u00fc@"]))
def test_check_host_over_hostile_dns(server: TestDnsServer, top: list[str], below: list[str], ip: str,
                                     local: str) -> None:
    # Each example publishes under fresh names, so the resolver cache never answers for it.
    name = f"d{next(counter)}.fuzz.example"
    # A TXT string is octets: text that UTF-8 cannot carry (lone surrogates) cannot be served.
    top = [t[:2000].encode("utf-8", "replace").decode() for t in top]
    below = [t[:2000].encode("utf-8", "replace").decode() for t in below]
    spec = {name: [("TXT", t) for t in top] + [("A", "192.0.2.1")],
            f"x.{name}": [("TXT", t) for t in below]}
    merge(server.nodes, nodes_from_spec(spec, 300))
    top_with_include = [t.replace("include:", f"include:x.{name} ") for t in top]
    if top_with_include != top:
        merge(server.nodes, nodes_from_spec({name: [("TXT", t) for t in top_with_include]}, 300))

    async def run() -> None:
        resolver = Resolver([server.address], timeout=1.0, lifetime=2.0)
        result = await check_host(ip, name, f"{local}{name}", helo="helo." + name, resolver=resolver)
        assert result.result in RESULTS
        assert result.lookups <= 10 or result.result == "permerror"

    asyncio.run(run())

