"""check_host() / check() against a loopback DNS server: results, limits, IPv6, DNS faults,
internationalized names, bad input, and the concurrent prefetch never changing a result."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.spf import dns_limits
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer
from zegel.spf import SpfChecker, SpfResult, check, check_host

Records = dict[str, list[tuple[str, Any]]]

RECORDS: Records = {
    "pass.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 -all")],
    "soft.example": [("TXT", "v=spf1 ip4:192.0.2.10 ~all")],
    "neutral.example": [("TXT", "v=spf1 ?all")],
    "nomatch.example": [("TXT", "v=spf1 ip4:192.0.2.10")],
    "norecord.example": [("A", "192.0.2.1")],
    "other-txt.example": [("TXT", "google-site-verification=abc"), ("TXT", "v=spf10 -all")],
    "two.example": [("TXT", "v=spf1 -all"), ("TXT", "v=spf1 +all")],
    "syntax.example": [("TXT", "v=spf1 ip4:192.0.2.1 a:foo% -all")],
    "servfail-inc.example": [("TXT", "v=spf1 include:broken.example -all")],
    "timeout-inc.example": [("TXT", "v=spf1 ip4:192.0.2.99 include:slow.example -all")],
    "inc.example": [("TXT", "v=spf1 include:pass.example include:soft.example -all")],
    "inc-none.example": [("TXT", "v=spf1 include:norecord.example -all")],
    "redir.example": [("TXT", "v=spf1 ip4:198.51.100.1 redirect=pass.example")],
    "redir-none.example": [("TXT", "v=spf1 redirect=norecord.example")],
    "redir-all.example": [("TXT", "v=spf1 ?all redirect=pass.example")],
    "a.example": [("TXT", "v=spf1 a a:relay.a.example/28 -all"), ("A", "192.0.2.50")],
    "relay.a.example": [("A", "198.51.100.33")],
    "mx.example": [("TXT", "v=spf1 mx -all"), ("MX", (10, "mx1.mx.example")), ("MX", (20, "mx2.mx.example"))],
    "mx1.mx.example": [("A", "192.0.2.61")],
    "mx2.mx.example": [("A", "192.0.2.62"), ("AAAA", "2001:db8:62::1")],
    "nullmx.example": [("TXT", "v=spf1 mx -all"), ("MX", (0, "."))],
    "exists.example": [("TXT", "v=spf1 exists:%{ir}.list.exists.example -all")],
    "1.2.0.192.list.exists.example": [("A", "127.0.0.2")],
    "v6.example": [("TXT", "v=spf1 ip6:2001:db8:1::/48 a/24//64 -all"),
                   ("A", "203.0.113.5"), ("AAAA", "2001:db8:aa::5")],
    "ptr.example": [("TXT", "v=spf1 ptr -all")],
    "7.2.0.192.in-addr.arpa": [("PTR", "host.ptr.example")],
    "host.ptr.example": [("A", "192.0.2.7")],
    "8.2.0.192.in-addr.arpa": [("PTR", "forged.ptr.example")],
    "forged.ptr.example": [("A", "198.51.100.250")],
    "exp.example": [("TXT", "v=spf1 -all exp=why.exp.example")],
    "why.exp.example": [("TXT", "%{i} may not send for %{d} (%{s}) via %{r}")],
    "exp-timeout.example": [("TXT", "v=spf1 -all exp=slow.example")],
    "exp-multi.example": [("TXT", "v=spf1 -all exp=multi.exp.example")],
    "multi.exp.example": [("TXT", "one"), ("TXT", "two")],
    "helo.example": [("TXT", "v=spf1 a -all"), ("A", "192.0.2.25")],
    "xn--bcher-kva.example": [("TXT", "v=spf1 ip4:192.0.2.80 -all")],
    "big.example": [("TXT", "v=spf1 " + " ".join(f"ip4:10.{i}.0.0/16" for i in range(60)) + " ip4:192.0.2.44 -all")],
    "loop1.example": [("TXT", "v=spf1 include:loop2.example -all")],
    "loop2.example": [("TXT", "v=spf1 include:loop1.example -all")],
    "self.example": [("TXT", "v=spf1 redirect=self.example")],
}


def _limit_records() -> Records:
    records: Records = {}
    # Ten DNS-querying terms: at the limit. Eleven: over it.
    records["ten.example"] = [("TXT", "v=spf1 " + " ".join(f"a:h{i}.hosts.example" for i in range(9))
                               + " include:last.example -all")]
    records["eleven.example"] = [("TXT", "v=spf1 " + " ".join(f"a:h{i}.hosts.example" for i in range(10))
                                  + " include:last.example -all")]
    records["last.example"] = [("TXT", "v=spf1 ip4:192.0.2.1 -all")]
    for i in range(10):
        records[f"h{i}.hosts.example"] = [("A", "198.51.100.1")]
    records["void2.example"] = [("TXT", "v=spf1 a:gone1.example mx:gone2.example ip4:192.0.2.1 -all")]
    records["void3.example"] = [("TXT", "v=spf1 a:gone1.example mx:gone2.example exists:gone3.example "
                                       "ip4:192.0.2.1 -all")]
    records["mx10.example"] = [("TXT", "v=spf1 mx -all")] + [("MX", (i, f"m{i}.hosts.example")) for i in range(10)]
    records["mx11.example"] = [("TXT", "v=spf1 mx -all")] + [("MX", (i, f"m{i}.hosts.example")) for i in range(11)]
    for i in range(11):
        records[f"m{i}.hosts.example"] = [("A", f"192.0.2.{100 + i}")]
    records["ptr11.example"] = [("TXT", "v=spf1 ptr -all")]
    records["30.2.0.192.in-addr.arpa"] = [("PTR", f"p{i}.ptr11.example") for i in range(11)]
    for i in range(11):
        records[f"p{i}.ptr11.example"] = [("A", "192.0.2.30")]
    return records


@pytest.fixture
def server(dns_server: Callable[..., TestDnsServer]) -> TestDnsServer:
    return dns_server({**RECORDS, **_limit_records()}, drop=["slow.example"], servfail=["broken.example"])


def spf(server: TestDnsServer, ip: str, mail_from: str, helo: str = "mail.sender.example", *,
        expecting_timeout: bool = False, **options: Any) -> SpfResult:
    # expecting_timeout: the check looks up slow.example, which the server drops.
    resolver = dns_limits.resolver(server, expecting_timeouts=expecting_timeout)
    return asyncio.run(check(ip, mail_from, helo, resolver=resolver, **options))


@pytest.mark.parametrize(
    ("ip", "mail_from", "result", "mechanism"),
    [
        ("192.0.2.1", "a@pass.example", "pass", "ip4:192.0.2.0/24"),
        ("198.51.100.1", "a@pass.example", "fail", "-all"),
        ("198.51.100.1", "a@soft.example", "softfail", "~all"),
        ("198.51.100.1", "a@neutral.example", "neutral", "?all"),
        ("198.51.100.1", "a@nomatch.example", "neutral", None),
        ("192.0.2.1", "a@norecord.example", "none", None),
        ("192.0.2.1", "a@nxdomain.example", "none", None),
        ("192.0.2.1", "a@other-txt.example", "none", None),
        ("192.0.2.1", "a@two.example", "permerror", None),
        ("192.0.2.1", "a@syntax.example", "permerror", None),
        ("192.0.2.1", "a@servfail-inc.example", "temperror", "include:broken.example"),
        ("192.0.2.1", "a@inc.example", "pass", "include:pass.example"),
        ("198.51.100.7", "a@inc.example", "fail", "-all"),
        ("192.0.2.1", "a@inc-none.example", "permerror", "include:norecord.example"),
        ("192.0.2.1", "a@redir.example", "pass", "ip4:192.0.2.0/24"),
        ("198.51.100.2", "a@redir.example", "fail", "-all"),
        ("192.0.2.1", "a@redir-none.example", "permerror", "redirect=norecord.example"),
        ("192.0.2.1", "a@redir-all.example", "neutral", "?all"),
        ("192.0.2.50", "a@a.example", "pass", "a"),
        ("198.51.100.40", "a@a.example", "pass", "a:relay.a.example/28"),
        ("198.51.100.50", "a@a.example", "fail", "-all"),
        ("192.0.2.62", "a@mx.example", "pass", "mx"),
        ("192.0.2.63", "a@mx.example", "fail", "-all"),
        ("192.0.2.63", "a@nullmx.example", "fail", "-all"),
        ("192.0.2.1", "a@exists.example", "pass", "exists:%{ir}.list.exists.example"),
        ("192.0.2.2", "a@exists.example", "fail", "-all"),
        ("192.0.2.7", "a@ptr.example", "pass", "ptr"),
        ("192.0.2.8", "a@ptr.example", "fail", "-all"),
        ("192.0.2.44", "a@big.example", "pass", "ip4:192.0.2.44"),
        ("192.0.2.1", "a@loop1.example", "permerror", "include:loop2.example"),
        ("192.0.2.1", "a@self.example", "permerror", "redirect=self.example"),
    ],
)
def test_results(server: TestDnsServer, ip: str, mail_from: str, result: str, mechanism: str | None) -> None:
    outcome = spf(server, ip, mail_from)
    trace = "\n".join(outcome.trace)
    assert outcome.result == result, trace
    assert outcome.mechanism == mechanism, trace
    assert outcome.trace[-1].startswith(f"result: {result}")
    assert outcome.identity == "mailfrom" and outcome.domain == mail_from.split("@")[1]


def test_lookup_limit_counts_across_includes(server: TestDnsServer) -> None:
    at_limit = spf(server, "192.0.2.1", "a@ten.example")
    assert (at_limit.result, at_limit.lookups) == ("pass", 10)
    over = spf(server, "192.0.2.1", "a@eleven.example")
    assert over.result == "permerror" and over.mechanism == "include:last.example"
    assert "more than 10 DNS-querying terms" in over.reason
    lowered = spf(server, "192.0.2.1", "a@ten.example", lookup_limit=9)
    assert lowered.result == "permerror"


def test_loops_stop_at_the_lookup_limit(server: TestDnsServer) -> None:
    for sender in ("a@loop1.example", "a@self.example"):
        outcome = spf(server, "192.0.2.1", sender)
        assert outcome.result == "permerror" and outcome.lookups == 11


def test_void_lookup_limit_is_two_and_configurable(server: TestDnsServer) -> None:
    two = spf(server, "192.0.2.1", "a@void2.example")
    assert (two.result, two.void_lookups) == ("pass", 2)
    three = spf(server, "192.0.2.1", "a@void3.example")
    assert three.result == "permerror" and three.mechanism == "exists:gone3.example"
    assert three.void_lookups == 3
    strict = spf(server, "192.0.2.1", "a@void2.example", void_lookup_limit=1)
    assert strict.result == "permerror" and strict.mechanism == "mx:gone2.example"
    lenient = spf(server, "192.0.2.1", "a@void3.example", void_lookup_limit=3)
    assert lenient.result == "pass"


def test_mx_and_ptr_name_limits(server: TestDnsServer) -> None:
    assert spf(server, "192.0.2.109", "a@mx10.example").result == "pass"
    over = spf(server, "192.0.2.109", "a@mx11.example")
    assert over.result == "permerror" and "MX records" in over.reason
    # RFC 7208 4.6.4: PTR names past the tenth are ignored, not an error.
    assert spf(server, "192.0.2.30", "a@ptr11.example").result == "pass"


def test_ipv6_and_dual_cidr(server: TestDnsServer) -> None:
    assert spf(server, "2001:db8:1:ffff::1", "a@v6.example").result == "pass"
    assert spf(server, "2001:db8:aa::ffff", "a@v6.example").mechanism == "a/24//64"  # same /64 as the AAAA
    assert spf(server, "2001:db8:ab::1", "a@v6.example").result == "fail"
    assert spf(server, "203.0.113.200", "a@v6.example").mechanism == "a/24//64"  # same /24 as the A
    assert spf(server, "2001:db8:62::1", "a@mx.example").result == "pass"  # AAAA of mx2
    # An IPv4-mapped IPv6 client is the IPv4 client (RFC 7208 5).
    mapped = spf(server, "::ffff:192.0.2.1", "a@pass.example")
    assert mapped.result == "pass" and mapped.ip == "192.0.2.1"
    # ip4 terms never match an IPv6 client and vice versa.
    assert spf(server, "2001:db8::1", "a@pass.example").result == "fail"


def test_dns_faults(server: TestDnsServer) -> None:
    servfail = spf(server, "192.0.2.1", "a@broken.example")
    assert servfail.result == "temperror"
    timeout = spf(server, "192.0.2.1", "a@timeout-inc.example", expecting_timeout=True)
    assert timeout.result == "temperror" and "timeout" in timeout.reason
    # Reached only after a match: the failing lookup is never needed.
    assert spf(server, "192.0.2.99", "a@timeout-inc.example").result == "pass"


def test_truncated_udp_answer_is_retried_over_tcp(dns_server: Callable[..., TestDnsServer]) -> None:
    long_record = "v=spf1 " + " ".join(f"ip4:10.{i}.{i}.0/24" for i in range(60)) + " ip4:192.0.2.5 -all"
    assert len(long_record) > 1000
    server = dns_server({"long.example": [("TXT", long_record)]})
    outcome = spf(server, "192.0.2.5", "x@long.example")
    assert outcome.result == "pass" and outcome.mechanism == "ip4:192.0.2.5"


def test_ten_thousand_character_record(dns_server: Callable[..., TestDnsServer]) -> None:
    terms = " ".join(f"ip4:10.{i // 200}.{i % 200}.0/24" for i in range(600))
    record = ("v=spf1 " + terms)[:9_990]
    record = record[: record.rfind(" ")] + " -all"
    server = dns_server({"huge.example": [("TXT", record)], "huge-bad.example": [("TXT", record + " bogus")]})
    assert spf(server, "192.0.2.5", "x@huge.example").result == "fail"
    assert spf(server, "10.1.5.9", "x@huge.example").result == "pass"
    bad = spf(server, "10.1.5.9", "x@huge-bad.example")
    assert bad.result == "permerror" and "unknown mechanism 'bogus'" in bad.reason


def test_explanations(server: TestDnsServer) -> None:
    resolver = dns_limits.resolver(server, expecting_timeouts=False)
    outcome = asyncio.run(check("192.0.2.9", "joe@exp.example", "h.example", resolver=resolver,
                                receiver="mx.receiver.example"))
    assert outcome.result == "fail"
    assert outcome.explanation == "192.0.2.9 may not send for exp.example (joe@exp.example) via mx.receiver.example"
    assert outcome.lookups == 0  # exp= is not a counted lookup
    for sender in ("joe@exp-timeout.example", "joe@exp-multi.example", "joe@pass.example"):
        failed = spf(server, "198.51.100.9", sender, expecting_timeout=sender.startswith("joe@exp-timeout"))
        assert failed.result == "fail" and failed.explanation is not None
        assert failed.explanation.startswith("198.51.100.9 is not allowed")  # the default
    assert spf(server, "192.0.2.1", "joe@pass.example").explanation is None


def test_helo_identity_and_mail_from_forms(server: TestDnsServer) -> None:
    bounce = spf(server, "192.0.2.25", "", helo="helo.example")
    assert (bounce.result, bounce.identity, bounce.sender, bounce.domain) == (
        "pass", "helo", "postmaster@helo.example", "helo.example")
    assert spf(server, "192.0.2.25", "<>", helo="helo.example").identity == "helo"
    assert spf(server, "192.0.2.1", "<a@pass.example>").result == "pass"
    # No local part: "postmaster" (RFC 7208 4.3); no "@" at all: the whole thing is the domain.
    no_local = spf(server, "192.0.2.1", "@pass.example")
    assert no_local.result == "pass"
    no_at = spf(server, "192.0.2.1", "pass.example")
    assert no_at.result == "pass" and no_at.domain == "pass.example"
    nothing = spf(server, "192.0.2.1", "", helo="")
    assert nothing.result == "none"
    single_label = spf(server, "192.0.2.1", "", helo="localhost")
    assert single_label.result == "none"
    literal = spf(server, "192.0.2.1", "", helo="[192.0.2.1]")
    assert literal.result == "none"


def test_check_host_direct(server: TestDnsServer) -> None:
    resolver = dns_limits.resolver(server, expecting_timeouts=False)
    outcome = asyncio.run(check_host("192.0.2.25", "helo.example", "postmaster@helo.example",
                                     helo="helo.example", resolver=resolver))
    assert outcome.result == "pass"


def test_internationalized_names(server: TestDnsServer) -> None:
    # U-labels are looked up as their A-labels (IDNA 2008).
    outcome = spf(server, "192.0.2.80", "jörg@bücher.example")
    assert outcome.result == "pass", outcome.trace
    assert spf(server, "192.0.2.81", "jörg@BÜCHER.example").result == "fail"
    bad = spf(server, "192.0.2.80", "x@" + "ü" * 70 + ".example")
    assert bad.result == "none"


def test_malformed_domains_give_none(server: TestDnsServer) -> None:
    for sender in ("x@" + "a" * 64 + ".example", "x@a..example", "x@" + ("abcdefghi." * 26) + "example"):
        assert spf(server, "192.0.2.1", sender).result == "none"


def test_bad_ip_is_a_value_error(server: TestDnsServer) -> None:
    for bad in ("192.0.2", "not-an-ip", "", "2001:db8::1::2", "192.0.2.1/24"):
        with pytest.raises(ValueError, match="not an IP address"):
            spf(server, bad, "a@pass.example")


def test_prefetch_never_counts_or_changes_the_result(dns_server: Callable[..., TestDnsServer]) -> None:
    # Terms after the match start lookups concurrently (one of them never answered, the
    # others void); none of that may show in the result or the counters.
    includes = " ".join(f"include:i{i}.example" for i in range(15))
    records: Records = {
        "early.example": [("TXT", f"v=spf1 ip4:192.0.2.1 a:void1.example a:void2.example a:void3.example "
                                   f"a:dropped.example {includes} -all")],
        "dropped.example": [("A", "192.0.2.200")],
    }
    for i in range(15):
        records[f"i{i}.example"] = [("TXT", "v=spf1 a:nothing.example -all")]
    server = dns_server(records, drop=["dropped.example"], delay=0.005)
    outcome = spf(server, "192.0.2.1", "x@early.example")
    assert (outcome.result, outcome.lookups, outcome.void_lookups) == ("pass", 0, 0)
    # The same record evaluated to the end: the limits apply as usual.
    late = spf(server, "198.51.100.1", "x@early.example")
    assert late.result == "permerror" and late.void_lookups == 3


def test_no_lookup_starts_after_the_result(dns_server: Callable[..., TestDnsServer]) -> None:
    # The include's record arrives after the result (ip4 matched first): the lookup that was
    # in flight finishes, but its record's own terms are not prefetched any more.
    records: Records = {
        "early.example": [("TXT", "v=spf1 ip4:192.0.2.1 include:late.example -all")],
        "late.example": [("TXT", "v=spf1 a:after.example -all")],
        "after.example": [("A", "192.0.2.9")],
    }
    server = dns_server(records, delays={"late.example": 0.1})

    async def check_then_wait() -> SpfResult:
        result = await check("192.0.2.1", "x@early.example", "h.example",
                             resolver=Resolver([server.address], timeout=1.0, lifetime=2.0))
        await asyncio.sleep(0.4)  # the include's answer arrives meanwhile
        return result

    result = asyncio.run(check_then_wait())
    assert (result.result, result.lookups) == ("pass", 0)
    assert server.stats.by_name.get("late.example") == 1  # prefetched while evaluating
    assert "after.example" not in server.stats.by_name


def test_prefetch_off_gives_the_same_results(server: TestDnsServer) -> None:
    async def both(sender: str, ip: str) -> tuple[str, str]:
        with_prefetch = SpfChecker(dns_limits.resolver(server, expecting_timeouts=False))
        without = SpfChecker(dns_limits.resolver(server, expecting_timeouts=False), prefetch=False)
        first = await with_prefetch.check(ip, sender, "h.example")
        second = await without.check(ip, sender, "h.example")
        assert (first.lookups, first.void_lookups) == (second.lookups, second.void_lookups)
        return first.result, second.result

    for sender, ip in [("a@inc.example", "192.0.2.10"), ("a@void3.example", "192.0.2.1"),
                       ("a@eleven.example", "192.0.2.1"), ("a@mx.example", "192.0.2.62")]:
        first, second = asyncio.run(both(sender, ip))
        assert first == second


def test_checker_reuses_parsed_records(server: TestDnsServer) -> None:
    checker = SpfChecker(dns_limits.resolver(server, expecting_timeouts=False))

    async def twice() -> list[SpfResult]:
        return [await checker.check("192.0.2.1", "a@inc.example", "h.example") for _ in range(2)]

    first, second = asyncio.run(twice())
    assert first.result == second.result == "pass"
    assert first.trace == second.trace
    sent = checker.resolver.queries_sent
    asyncio.run(twice())
    assert checker.resolver.queries_sent == sent  # warm: answered from the cache


def test_time_limit_gives_temperror(dns_server: Callable[..., TestDnsServer]) -> None:
    # RFC 7208 4.6.4: a bound on the whole evaluation; past it the result is temperror.
    server = dns_server({"slowchain.example": [("TXT", "v=spf1 include:s1.example include:s2.example -all")],
                         "s1.example": [("TXT", "v=spf1 a:x1.example -all")],
                         "s2.example": [("TXT", "v=spf1 -all")]},
                        delays={"x1.example": 0.5})
    resolver = Resolver([server.address], timeout=2.0, lifetime=2.0)
    outcome = asyncio.run(check("192.0.2.1", "a@slowchain.example", "h.example", resolver=resolver, time_limit=0.2))
    assert outcome.result == "temperror" and "longer than 0.2 s" in outcome.reason
    # The same check with time to spare completes.
    patient = Resolver([server.address], timeout=2.0, lifetime=2.0)
    assert asyncio.run(check("192.0.2.1", "a@slowchain.example", "h.example", resolver=patient,
                             time_limit=5.0)).result == "fail"


def test_cancelled_check_leaves_shared_lookups_intact(dns_server: Callable[..., TestDnsServer]) -> None:
    # Two checks share one resolver (its identical queries are coalesced); the first is cut
    # short by its time limit, the second still gets its answers.
    server = dns_server({"shared.example": [("TXT", "v=spf1 a:host.shared.example -all")],
                         "host.shared.example": [("A", "192.0.2.1")]},
                        delays={"host.shared.example": 0.3})
    resolver = Resolver([server.address], timeout=2.0, lifetime=2.0)

    async def both() -> tuple[SpfResult, SpfResult]:
        hasty = SpfChecker(resolver, time_limit=0.1)
        patient = SpfChecker(resolver)
        return await asyncio.gather(hasty.check("192.0.2.1", "a@shared.example", "h"),
                                    patient.check("192.0.2.1", "a@shared.example", "h"))

    hasty, patient = asyncio.run(both())
    assert hasty.result == "temperror"
    assert patient.result == "pass"


def test_hostile_answers_give_defined_results(dns_server: Callable[..., TestDnsServer]) -> None:
    server = dns_server({
        "binary.example": [("TXT", b"v=spf1 ip4:192.0.2.1 \xff\xfe -all")],
        "crowd.example": [("TXT", f"filler record {i}") for i in range(150)] + [("TXT", "v=spf1 ip4:192.0.2.1 -all")],
        "loop-a.example": [("CNAME", "loop-b.example")],
        "loop-b.example": [("CNAME", "loop-a.example")],
        "cname-inc.example": [("TXT", "v=spf1 include:loop-a.example -all")],
        "selfmx.example": [("TXT", "v=spf1 mx -all"), ("MX", (10, "selfmx.example"))],
        "manya.example": [("TXT", "v=spf1 a -all")] + [("A", f"198.51.{i // 250}.{i % 250}") for i in range(400)],
    })
    binary = spf(server, "192.0.2.1", "x@binary.example")
    assert binary.result == "permerror" and "non-ASCII" in binary.reason
    assert spf(server, "192.0.2.1", "x@crowd.example").result == "pass"  # large answer, over TCP
    assert spf(server, "192.0.2.1", "x@cname-inc.example").result in ("temperror", "permerror")
    assert spf(server, "192.0.2.1", "x@selfmx.example").result == "fail"  # MX host without A
    assert spf(server, "198.51.1.10", "x@manya.example").result == "pass"  # no limit on A records
