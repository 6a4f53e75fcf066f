"""The SPF memos (client address, domain checks, address facts, macro context) give what the
uncached functions give, errors included, and a check's result does not depend on them."""

from __future__ import annotations

import asyncio
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zegel.dns import Resolver
from zegel.spf import SpfChecker
from zegel.spf import evaluate as spf_evaluate
from zegel.spf.evaluate import _domain_problem, _parse_ip, domain_problem, parse_ip

ADDRESSES = ["192.0.2.1", " 192.0.2.1 ", "192.0.2.01", "::ffff:192.0.2.1", "[IPv6:2001:db8::1]", "IPv6:2001:DB8::1",
             "[192.0.2.1]", "2001:db8::1", "fe80::1%eth0", "0.0.0.0", "256.1.1.1", "1.2.3", "", "::", "x" * 80,
             "١٢.0.0.1", "192.0.2.1\n", ipaddress.ip_address("::ffff:10.0.0.1"), ipaddress.ip_address("10.0.0.1")]


def outcome(function: object, value: object) -> object:
    try:
        return function(value)  # type: ignore[operator]
    except ValueError as exc:
        return ("ValueError", str(exc))


@pytest.mark.parametrize("value", ADDRESSES, ids=range(len(ADDRESSES)))
def test_parse_ip_memo_equals_parse(value: object) -> None:
    expected = outcome(_parse_ip, value)
    assert outcome(parse_ip, value) == expected
    assert outcome(parse_ip, value) == expected
    if not isinstance(expected, tuple):
        assert type(parse_ip(value)) is type(expected)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF.:[]%v6IP ", max_size=50))
def test_parse_ip_property(text: str) -> None:
    assert outcome(parse_ip, text) == outcome(_parse_ip, text) == outcome(parse_ip, text)


DOMAINS = ["example.com", "EXAMPLE.com.", "com", "", "[192.0.2.1]", "a..b", "-x.example", "bücher.example",
           "a" * 64 + ".example", ("a" * 63 + ".") * 4 + "com", "x_y.example", "ex ample.com", "."]


@pytest.mark.parametrize("domain", DOMAINS, ids=range(len(DOMAINS)))
def test_domain_problem_memo_equals_uncached(domain: str) -> None:
    assert domain_problem(domain) == _domain_problem(domain) == domain_problem(domain)


def test_check_results_do_not_depend_on_the_memos(tmp_path: Path) -> None:
    zone = tmp_path / "spf.zone"
    zone.write_text('example.com. 300 IN TXT "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all"\n'
                    'helo.example. 300 IN TXT "v=spf1 a:%{h} exists:%{l}.%{o}.%{i}.x.example ~all"\n'
                    "helo.example. 300 IN A 192.0.2.7\n")
    checker = SpfChecker(Resolver(zones=[str(zone)], offline=True), receiver="mx.example")
    calls = [("192.0.2.7", "a@example.com", "helo.example"), ("::ffff:192.0.2.7", "<A@Example.com>", "h"),
             ("2001:db8::5", "", "helo.example"), ("198.51.100.1", "b@example.com", None),
             ("192.0.2.7", "", "helo.example"), ("192.0.2.7", "example.com", "")]

    async def all_checks() -> list[object]:
        return [await checker.check(ip, mail_from, helo, timestamp=1) for ip, mail_from, helo in calls]

    first = asyncio.run(all_checks())
    second = asyncio.run(all_checks())
    for memo in (spf_evaluate._parse_ip_text, spf_evaluate._ip_facts, spf_evaluate._macro_context,
                 spf_evaluate._domain_problem_memo):
        memo.cache_clear()
    cleared = asyncio.run(all_checks())
    assert first == second == cleared
    assert [r.result for r in first] == ["pass", "pass", "softfail", "fail", "pass", "pass"]
