"""SPF (RFC 7208): record parsing on hostile text, and check_host over hostile DNS answers
served by the loopback test DNS server."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import SPF_TERMS, examples, hostile_text, repeated, spf_text
from zegel.dns import Resolver
from zegel.dns.records import merge, nodes_from_spec
from zegel.dns.testserver import TestDnsServer
from zegel.spf import SpfSyntaxError, check_host, parse_record

RESULTS = {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}


def _parse(text: str) -> None:
    try:
        parse_record(text)
    except SpfSyntaxError as exc:
        assert isinstance(exc.position, int) and str(exc)


@given(st.one_of(hostile_text, spf_text))
def test_parse_record_is_total(text: str) -> None:
    _parse(text)


@given(repeated(st.sampled_from(["a", ".a", "%{d}", "x:", "-", "a-", "%", "{", "=?"])), st.sampled_from(SPF_TERMS))
def test_parse_record_long_terms(body: str, tail: str) -> None:
    _parse("v=spf1 exists:%{d}.examp" + body + tail + " -all")
    _parse("v=spf1 include:" + body + ".com " + tail)


counter = itertools.count()


answers = st.lists(st.one_of(spf_text, hostile_text, repeated(st.sampled_from(["v=spf1 ", "a", " include:x"]))),
                   min_size=0, max_size=3)


@settings(max_examples=examples(40))
@given(answers, answers, st.sampled_from(["192.0.2.1", "2001:db8::1", "203.0.113.9"]),
       st.sampled_from(["ceo@", "", "a.b@", "%{d}@", "\u00fc@"]))
def test_check_host_over_hostile_dns(hostile_dns: TestDnsServer, top: list[str], below: list[str], ip: str,
                                     local: str) -> None:
    # Each example publishes under fresh names, so the resolver cache never answers for it.
    name = f"d{next(counter)}.fuzz.example"
    # A TXT string is octets: text that UTF-8 cannot carry (lone surrogates) cannot be served.
    top = [t[:2000].encode("utf-8", "replace").decode() for t in top]
    below = [t[:2000].encode("utf-8", "replace").decode() for t in below]
    spec = {name: [("TXT", t) for t in top] + [("A", "192.0.2.1")],
            f"x.{name}": [("TXT", t) for t in below]}
    merge(hostile_dns.nodes, nodes_from_spec(spec, 300))
    top_with_include = [t.replace("include:", f"include:x.{name} ") for t in top]
    if top_with_include != top:
        merge(hostile_dns.nodes, nodes_from_spec({name: [("TXT", t) for t in top_with_include]}, 300))

    async def run() -> None:
        resolver = Resolver([hostile_dns.address], timeout=1.0, lifetime=2.0)
        result = await check_host(ip, name, f"{local}{name}", helo="helo." + name, resolver=resolver)
        assert result.result in RESULTS
        assert result.lookups <= 10 or result.result == "permerror"

    asyncio.run(run())

