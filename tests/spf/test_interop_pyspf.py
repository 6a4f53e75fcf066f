"""Interoperability: zegel.spf against the real peer pyspf, both asking the same loopback DNS.

Every check runs twice on identical DNS data served by a TestDnsServer on 127.0.0.1: once through
``zegel.spf.check`` with ``zegel.dns.Resolver([server.address])``, once through pyspf
(``tests/spf/pyspf_peer.py``: pyspf's dnspython resolver pointed at the same server), both with
the DNS limits of ``tests/spf/dns_limits.py``: short where queries are dropped on purpose,
generous elsewhere.

(1) The public RFC 7208 suite (``$ZEGEL_CONFORMANCE/spf/rfc7208-tests.yml``, zone data converted
    by ``test_conformance.zone_records``). Where pyspf's result is one the suite accepts, zegel
    must give the same result or another accepted one; where pyspf's is not accepted (a pyspf
    deviation, listed in ``PYSPF_DEVIATIONS`` with the analysis), zegel must give an accepted one.
    For `fail` with an exp= explanation on both sides the texts must match; where one side uses
    its default explanation, so must the other (the default texts differ by design).

    Last run (pyspf 2.0.14, dnspython 2.9.2): 203 cases; zegel accepted on 203, pyspf on 202,
    and on all 202 zegel gives exactly pyspf's result. Of the 57 cases where both fail, 43 use
    both defaults and 14 the domain's exp= text on both sides: identical in 13, in one equal
    up to letter case (``EXPLANATION_CASE_ONLY``). The one pyspf deviation:

    - ``ptr-mechanism-syntax/ptr-cname-loop``: suite and RFC 7208 5.5 say neutral ("If a DNS
      error occurs while doing an A RR lookup, then that domain name is skipped and the search
      continues"); pyspf gives temperror, because dnspython reports the CNAME loop of
      loop4.example.com as "all nameservers failed" and pyspf turns that into a TempError for the
      whole check instead of skipping the name. zegel gives neutral.

(2) Realistic records (ip4/ip6 with CIDR, an include chain three deep, mx, a with dual CIDR,
    exists with macros, redirect, exp=, ptr, void lookups, too many lookups, DNS timeouts and
    SERVFAIL, syntax errors) with several client IPs each. Each case states the result RFC 7208
    gives (worked out by hand, section in the comment); both implementations must give it, and
    for `fail` the same explanation. Last run: 88 cases, zegel and pyspf identical on all 88
    (results, and the 3 exp= explanations; the other fails use both defaults).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.reversename
import pytest
import yaml

from tests.conftest import conformance_root
from tests.spf import dns_limits
from tests.spf.pyspf_peer import PeerResult, pyspf_check
from tests.spf.test_conformance import zone_records
from zegel.dns.testserver import TestDnsServer
from zegel.spf import SpfResult, check

SUITE = "rfc7208-tests.yml"

# Suite cases where pyspf's own result is not one the suite accepts ("scenario/case": why).
# Kept exact: a case pyspf starts getting right, or a new deviation, fails the test so this list
# (and the module docstring) stays true.
PYSPF_DEVIATIONS: dict[str, str] = {
    "ptr-mechanism-syntax/ptr-cname-loop": (
        "pyspf gives temperror: dnspython reports the CNAME loop behind the PTR name as a server "
        "failure and pyspf fails the whole check; RFC 7208 5.5 skips a name whose A lookup "
        "fails (neutral)"),
}

# Explanations equal up to letter case: pyspf (like the suite) writes %{i} IPv6 nibbles in upper
# case; zegel in lower case, as RFC 7208 7.4's own example expansion of %{ir} does (7.3 does not
# fix the case of the hex digits).
EXPLANATION_CASE_ONLY: dict[str, str] = {
    "macro-expansion-rules/v-macro-ip6": "%{i} of an IPv6 client: hex nibble letter case",
}

# zegel's default `fail` explanation (docs/spf.md: exp= problems fall back to it).
ZEGEL_DEFAULT_EXPLANATION = re.compile(r".* is not allowed to send mail for \S+ \(SPF fail\)\Z")


def _zegel(server: TestDnsServer, ip: str, mail_from: str, helo: str, *, expecting_timeouts: bool) -> SpfResult:
    resolver = dns_limits.resolver(server, expecting_timeouts=expecting_timeouts)
    return asyncio.run(check(ip, mail_from, helo, resolver=resolver))


def _domain_explanation(result: SpfResult) -> str | None:
    """zegel's explanation when it came from the domain's exp=, None for its default."""
    if result.result != "fail" or result.explanation is None:
        return None
    if ZEGEL_DEFAULT_EXPLANATION.match(result.explanation):
        return None
    return result.explanation


def _run_both(server: TestDnsServer, ip: str, mail_from: str, helo: str, *,
              expecting_timeouts: bool) -> tuple[SpfResult, PeerResult]:
    zegel = _zegel(server, ip, mail_from, helo, expecting_timeouts=expecting_timeouts)
    # The same lookup limit for both implementations.
    _, lifetime = dns_limits.limits(expecting_timeouts=expecting_timeouts)
    peer = pyspf_check(server, ip, mail_from, helo, timeout=lifetime)
    return zegel, peer


def _trace(zegel: SpfResult, peer: PeerResult) -> str:
    return f"zegel {zegel.result} {zegel.explanation!r}; pyspf {peer.result} {peer.explanation!r}\n" + \
        "\n".join(zegel.trace)


# ---------------------------------------------------------------------------------------------
# (1) the RFC 7208 suite

def _suite_path() -> Path:
    return conformance_root() / "spf" / SUITE


@functools.cache
def _scenarios() -> list[dict[str, Any]]:
    """The suite's scenarios, parsed once per test process (read-only afterwards)."""
    path = _suite_path()
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _scenario_id(description: str) -> str:
    return "-".join(description.lower().split())


def _suite_cases() -> Iterator[Any]:
    scenarios = _scenarios()
    for scenario in scenarios:
        for case_name in scenario["tests"]:
            key = f"{_scenario_id(scenario['description'])}/{case_name}"
            yield pytest.param(scenario["description"], case_name, id=f"rfc7208/{key}")
    if not scenarios:
        yield pytest.param(None, None, id="suite-missing")


@pytest.fixture(scope="module")
def suite_servers() -> Iterator[Callable[[str], TestDnsServer]]:
    """One TestDnsServer per scenario (started on first use), as in test_conformance."""
    started: dict[str, TestDnsServer] = {}
    scenarios = {doc["description"]: doc for doc in _scenarios()}

    def get(description: str) -> TestDnsServer:
        if description not in started:
            records, timeouts = zone_records(scenarios[description].get("zonedata") or {})
            started[description] = TestDnsServer(records, drop_absent_types=timeouts).start_in_thread()
        return started[description]

    yield get
    for server in started.values():
        server.stop_thread()


def _accepted(value: Any) -> list[str]:
    return [str(v).lower() for v in value] if isinstance(value, list) else [str(value).lower()]


@pytest.mark.parametrize(("scenario", "case_name"), list(_suite_cases()))
def test_rfc7208_suite_against_pyspf(conformance_dir: Path, suite_servers: Callable[[str], TestDnsServer],
                                     scenario: str | None, case_name: str | None) -> None:
    assert scenario is not None and case_name is not None, f"{_suite_path()} has no scenarios"
    case = next(doc for doc in _scenarios() if doc["description"] == scenario)["tests"][case_name]
    key = f"{_scenario_id(scenario)}/{case_name}"
    accepted = _accepted(case["result"])
    server = suite_servers(scenario)
    zegel, peer = _run_both(server, str(case["host"]), str(case.get("mailfrom") or ""),
                            str(case.get("helo") or ""), expecting_timeouts=dns_limits.drops_queries(server))
    trace = _trace(zegel, peer)

    if key in PYSPF_DEVIATIONS:
        assert peer.result not in accepted, (
            f"pyspf now gives an accepted result ({peer.result}); drop {key} from PYSPF_DEVIATIONS")
        assert zegel.result in accepted, f"want one of {accepted}\n{trace}"
        return
    assert peer.result in accepted, (
        f"pyspf deviates from the suite (want {accepted}): analyse and list it in "
        f"PYSPF_DEVIATIONS\n{trace}")
    assert zegel.result == peer.result or zegel.result in accepted, f"want one of {accepted}\n{trace}"

    if zegel.result == peer.result == "fail":
        mine, theirs = _domain_explanation(zegel), peer.explanation
        assert (mine is None) == (theirs is None), f"only one side used the domain's exp=\n{trace}"
        if mine is not None and theirs is not None:
            if key in EXPLANATION_CASE_ONLY:
                assert mine != theirs and mine.lower() == theirs.lower(), trace
            else:
                assert mine == theirs, trace


# ---------------------------------------------------------------------------------------------
# (2) realistic records

def _ptr(ip: str) -> str:
    return dns.reversename.from_address(ip).to_text(omit_final_dot=True)


REALISTIC_RECORDS: dict[str, list[tuple[str, Any]]] = {
    # A small business listing its own networks.
    "smallbiz.example": [("TXT", "v=spf1 ip4:192.0.2.0/25 ip4:198.51.100.7 ip6:2001:db8:1::/48 "
                                 "ip6:2001:db8:2::1 -all"),
                         ("TXT", "google-site-verification=abc123")],
    # A company on a large provider: include -> include -> include (three deep).
    "corp.example": [("TXT", "v=spf1 ip4:203.0.113.250 include:_spf.corp.example ~all")],
    "_spf.corp.example": [("TXT", "v=spf1 include:_nb1.esp.example include:_nb2.esp.example ?all")],
    "_nb1.esp.example": [("TXT", "v=spf1 include:_nb3.esp.example ip4:203.0.113.0/28 -all")],
    "_nb2.esp.example": [("TXT", "v=spf1 ip4:203.0.113.128/26 ~all")],
    "_nb3.esp.example": [("TXT", "v=spf1 ip4:100.64.0.0/12 ip6:2001:db8:e5::/48 -all")],
    # mx, and mx of another domain with a CIDR.
    "mxshop.example": [("TXT", "v=spf1 mx mx:backup.example/28 -all"),
                       ("MX", (10, "mx1.mxshop.example")), ("MX", (20, "mx2.mxshop.example"))],
    "mx1.mxshop.example": [("A", "192.0.2.10")],
    "mx2.mxshop.example": [("A", "192.0.2.20"), ("AAAA", "2001:db8:20::1")],
    "backup.example": [("MX", (5, "mxb.backup.example"))],
    "mxb.backup.example": [("A", "198.51.100.33")],
    # a with dual CIDR (RFC 7208 5.6).
    "dual.example": [("TXT", "v=spf1 a/24//64 a:relay.dual.example/30 -all"),
                     ("A", "192.0.2.66"), ("AAAA", "2001:db8:66::1")],
    "relay.dual.example": [("A", "198.51.100.100")],
    # exists with macros (RFC 7208 7.4's style): per-user and per-IP allow lists.
    "macro.example": [("TXT", "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} exists:%{ir}.%{v}._allow.%{d} -all")],
    "2.100.51.198.alice._spf.macro.example": [("A", "127.0.0.2")],
    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._allow.macro.example":
        [("A", "127.0.0.2")],
    "5.100.51.198.in-addr._allow.macro.example": [("A", "127.0.0.2")],
    # redirect, and a redirect whose target's own exp= applies (RFC 7208 6.1, 6.2).
    "redir.example": [("TXT", "v=spf1 ip4:192.0.2.99 redirect=corp.example")],
    "redir-exp.example": [("TXT", "v=spf1 redirect=strict.example exp=ignored.redir-exp.example")],
    "ignored.redir-exp.example": [("TXT", "not this one")],
    "strict.example": [("TXT", "v=spf1 ip4:192.0.2.1 -all exp=why.strict.example")],
    "why.strict.example": [("TXT", "%{i} is not one of %{d}'s designated mail servers.")],
    # exp= with macros (RFC 7208 6.2, 7.3: c, l, o, h, r and URL-escaped S).
    "exp.example": [("TXT", "v=spf1 mx -all exp=explain._spf.%{d}"),
                    ("MX", (10, "mx.exp.example"))],
    "mx.exp.example": [("A", "192.0.2.40")],
    "explain._spf.exp.example": [("TXT", "Mail from %{c} for %{l} at %{o} (helo %{h}, receiver %{r}) "
                                         "refused; see http://%{d}/spf?s=%{S}")],
    # ptr (RFC 7208 5.5): validated names only.
    "ptr.example": [("TXT", "v=spf1 ptr -all")],
    "ptr2.example": [("TXT", "v=spf1 ptr:relay.ptr.example ~all")],
    _ptr("192.0.2.30"): [("PTR", "mail.ptr.example")],
    _ptr("192.0.2.31"): [("PTR", "mail.ptr.example")],
    _ptr("192.0.2.33"): [("PTR", "host.relay.ptr.example")],
    _ptr("2001:db8:30::1"): [("PTR", "v6.ptr.example")],
    "mail.ptr.example": [("A", "192.0.2.30")],
    "host.relay.ptr.example": [("A", "192.0.2.33")],
    "v6.ptr.example": [("AAAA", "2001:db8:30::1")],
    # void lookups (RFC 7208 4.6.4): two allowed, the third is permerror.
    "void2.example": [("TXT", "v=spf1 a:nx1.void.example mx:nx2.void.example ip4:192.0.2.1 -all")],
    "void3.example": [("TXT", "v=spf1 a:nx1.void.example mx:nx2.void.example "
                              "exists:%{i}.nx.void.example ip4:192.0.2.1 -all")],
    "inclnone.example": [("TXT", "v=spf1 ip4:192.0.2.1 include:norecord.example -all")],
    "norecord.example": [("A", "192.0.2.250")],
    # too many DNS-querying terms (RFC 7208 4.6.4): the eleventh is permerror.
    "many.example": [("TXT", "v=spf1 " + " ".join(f"a:h{n}.many.example" for n in range(1, 12)) + " -all")],
    **{f"h{n}.many.example": [("A", f"192.0.2.{n}")] for n in range(1, 12)},
    "deep.example": [("TXT", "v=spf1 include:corp.example include:many.example -all")],
    # DNS failures (RFC 7208 5: temperror).
    "slowinc.example": [("TXT", "v=spf1 ip4:192.0.2.1 include:timeout.example -all")],
    "sfail.example": [("TXT", "v=spf1 a:servfail.example -all")],
    # broken and missing records (RFC 7208 4.5, 4.6).
    "typo.example": [("TXT", "v=spf1 ip4:192.0.2.0/24 inlcude:_spf.corp.example -all")],
    "tworecs.example": [("TXT", "v=spf1 ip4:192.0.2.1 -all"), ("TXT", "v=spf1 mx -all")],
    "nospf.example": [("TXT", "google-site-verification=xyz"), ("MX", (10, "mx.nospf.example"))],
    # HELO identity (RFC 7208 2.3).
    "out.helo.example": [("TXT", "v=spf1 a -all"), ("A", "198.51.100.77")],
    # A long record published as two character-strings, joined without a space (RFC 7208 3.3).
    "long.example": [("TXT", [b"v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/2", b"4 ip6:2001:db8:aa::/48 -all"])],
    # include and redirect loops end at the lookup limit (4.6.4); a redirect target without a
    # record is permerror (6.1); redirect is ignored when the record has `all` (6.1).
    "loop-a.example": [("TXT", "v=spf1 ip4:192.0.2.1 include:loop-b.example -all")],
    "loop-b.example": [("TXT", "v=spf1 include:loop-a.example -all")],
    "redir-none.example": [("TXT", "v=spf1 ip4:192.0.2.1 redirect=norecord.example")],
    "redir-all.example": [("TXT", "v=spf1 ip4:192.0.2.1 redirect=smallbiz.example ?all")],
    # an include target reached through a CNAME, as hosted providers publish it.
    "cname.example": [("TXT", "v=spf1 include:spf.cname.example -all")],
    "spf.cname.example": [("CNAME", "spf.provider.example")],
    "spf.provider.example": [("TXT", "v=spf1 ip4:198.51.100.128/25 -all")],
    # more than 10 MX records (4.6.4), and a null MX (RFC 7505) in an mx term.
    "mxmany.example": [("TXT", "v=spf1 mx -all"),
                       *[("MX", (n, f"mx{n}.mxmany.example")) for n in range(11)]],
    **{f"mx{n}.mxmany.example": [("A", f"203.0.113.{n}")] for n in range(11)},
    "nullmx.example": [("TXT", "v=spf1 mx ip4:192.0.2.1 -all"), ("MX", (0, "."))],
    # exp= pointing at a name without TXT: the default explanation (6.2).
    "exp-missing.example": [("TXT", "v=spf1 -all exp=nowhere.exp-missing.example")],
}


@dataclass(frozen=True)
class Case:
    ip: str
    mail_from: str
    expected: str
    helo: str = "mail.client.example"
    explanation: str | None = None  # the domain's exp= text for fail; None: the default


REALISTIC_CASES: dict[str, Case] = {
    # ip4/ip6 with CIDR (5.6); other TXT records are not SPF records (4.5).
    "ip4-cidr-first": Case("192.0.2.1", "ann@smallbiz.example", "pass"),
    "ip4-cidr-last": Case("192.0.2.127", "ann@smallbiz.example", "pass"),
    "ip4-cidr-outside": Case("192.0.2.128", "ann@smallbiz.example", "fail"),
    "ip4-host": Case("198.51.100.7", "ann@smallbiz.example", "pass"),
    "ip4-host-neighbour": Case("198.51.100.8", "ann@smallbiz.example", "fail"),
    "ip6-cidr": Case("2001:db8:1:ffff::25", "ann@smallbiz.example", "pass"),
    "ip6-host": Case("2001:db8:2::1", "ann@smallbiz.example", "pass"),
    "ip6-host-neighbour": Case("2001:db8:2::2", "ann@smallbiz.example", "fail"),
    "ip6-for-ip4-net": Case("::c000:201", "ann@smallbiz.example", "fail"),
    # include chain three deep (5.2): pass from any depth; inner -all/~all do not match.
    "include-own-ip": Case("203.0.113.250", "bob@corp.example", "pass"),
    "include-deepest-v4": Case("100.79.255.254", "bob@corp.example", "pass"),
    "include-deepest-v6": Case("2001:db8:e5::25", "bob@corp.example", "pass"),
    "include-second-level": Case("203.0.113.5", "bob@corp.example", "pass"),
    "include-sibling": Case("203.0.113.190", "bob@corp.example", "pass"),
    "include-none-match-v4": Case("100.80.0.1", "bob@corp.example", "softfail"),
    "include-none-match-v6": Case("2001:db8:e6::25", "bob@corp.example", "softfail"),
    # mx (5.4), with a CIDR on another domain's MX hosts.
    "mx-first": Case("192.0.2.10", "orders@mxshop.example", "pass"),
    "mx-second": Case("192.0.2.20", "orders@mxshop.example", "pass"),
    "mx-ipv6": Case("2001:db8:20::1", "orders@mxshop.example", "pass"),
    "mx-other-domain-cidr": Case("198.51.100.40", "orders@mxshop.example", "pass"),
    "mx-other-domain-outside": Case("198.51.100.50", "orders@mxshop.example", "fail"),
    "mx-no-match": Case("192.0.2.11", "orders@mxshop.example", "fail"),
    # a with dual CIDR (5.3, 5.6).
    "a-dual-v4": Case("192.0.2.200", "sales@dual.example", "pass"),
    "a-dual-v4-outside": Case("192.0.3.1", "sales@dual.example", "fail"),
    "a-dual-v6": Case("2001:db8:66::ffff", "sales@dual.example", "pass"),
    "a-dual-v6-outside": Case("2001:db8:66:1::1", "sales@dual.example", "fail"),
    "a-other-cidr": Case("198.51.100.103", "sales@dual.example", "pass"),
    "a-other-cidr-outside": Case("198.51.100.104", "sales@dual.example", "fail"),
    # exists with macros (5.7, 7.3, 7.4): %{l1r+-} of alice+news is alice.
    "exists-user": Case("198.51.100.2", "alice@macro.example", "pass"),
    "exists-user-delimited": Case("198.51.100.2", "alice+news@macro.example", "pass"),
    "exists-other-user": Case("198.51.100.2", "carol@macro.example", "fail"),
    "exists-ip4-allow": Case("198.51.100.5", "carol@macro.example", "pass"),
    "exists-ip6-allow": Case("2001:db8::cb01", "carol@macro.example", "pass"),
    "exists-ip6-other": Case("2001:db8::cb02", "carol@macro.example", "fail"),
    # redirect (6.1), and the target's exp= (6.2).
    "redirect-own-ip": Case("192.0.2.99", "eve@redir.example", "pass"),
    "redirect-target-pass": Case("100.64.1.1", "eve@redir.example", "pass"),
    "redirect-target-softfail": Case("198.18.0.1", "eve@redir.example", "softfail"),
    "redirect-target-exp": Case("192.0.2.2", "eve@redir-exp.example", "fail",
                                explanation="192.0.2.2 is not one of strict.example's designated mail servers."),
    "redirect-target-pass-2": Case("192.0.2.1", "eve@redir-exp.example", "pass"),
    # exp= with macros (6.2, 7.3).
    "exp-macros-v4": Case("192.0.2.41", "Jo.Doe@exp.example", "fail", helo="bad.helo.example",
                          explanation="Mail from 192.0.2.41 for Jo.Doe at exp.example (helo "
                                      "bad.helo.example, receiver unknown) refused; see "
                                      "http://exp.example/spf?s=Jo.Doe%40exp.example"),
    "exp-macros-v6": Case("2001:db8::41", "jo@exp.example", "fail", helo="bad.helo.example",
                          explanation="Mail from 2001:db8::41 for jo at exp.example (helo "
                                      "bad.helo.example, receiver unknown) refused; see "
                                      "http://exp.example/spf?s=jo%40exp.example"),
    "exp-not-for-pass": Case("192.0.2.40", "jo@exp.example", "pass"),
    # ptr (5.5): forward-confirmed names only.
    "ptr-validated": Case("192.0.2.30", "pat@ptr.example", "pass"),
    "ptr-not-confirmed": Case("192.0.2.31", "pat@ptr.example", "fail"),
    "ptr-no-ptr": Case("192.0.2.32", "pat@ptr.example", "fail"),
    "ptr-subdomain": Case("192.0.2.33", "pat@ptr.example", "pass"),
    "ptr-ipv6": Case("2001:db8:30::1", "pat@ptr.example", "pass"),
    "ptr-target-match": Case("192.0.2.33", "pat@ptr2.example", "pass"),
    "ptr-target-other": Case("192.0.2.30", "pat@ptr2.example", "softfail"),
    # void lookups (4.6.4).
    "void-two-then-match": Case("192.0.2.1", "vic@void2.example", "pass"),
    "void-two-no-match": Case("192.0.2.2", "vic@void2.example", "fail"),
    "void-third-before-match": Case("192.0.2.1", "vic@void3.example", "permerror"),
    "void-third-no-match": Case("192.0.2.2", "vic@void3.example", "permerror"),
    "include-without-record": Case("192.0.2.2", "ian@inclnone.example", "permerror"),
    "include-without-record-not-reached": Case("192.0.2.1", "ian@inclnone.example", "pass"),
    # too many lookups (4.6.4): counted when reached, across includes.
    "lookups-tenth-matches": Case("192.0.2.10", "max@many.example", "pass"),
    "lookups-eleventh": Case("192.0.2.11", "max@many.example", "permerror"),
    "lookups-over-no-match": Case("203.0.113.99", "max@many.example", "permerror"),
    "lookups-early-match": Case("192.0.2.3", "max@many.example", "pass"),
    "lookups-nested-found-in-time": Case("100.64.0.1", "max@deep.example", "pass"),
    "lookups-nested-tenth": Case("192.0.2.4", "max@deep.example", "pass"),
    "lookups-nested-eleventh": Case("192.0.2.5", "max@deep.example", "permerror"),
    # DNS failures (5, 4.4): temperror, unless a match comes first.
    "timeout-include": Case("192.0.2.2", "tim@slowinc.example", "temperror"),
    "timeout-not-reached": Case("192.0.2.1", "tim@slowinc.example", "pass"),
    "timeout-own-record": Case("192.0.2.1", "tim@timeout.example", "temperror"),
    "servfail-a": Case("192.0.2.1", "sam@sfail.example", "temperror"),
    # broken and missing records (4.5, 4.6).
    "syntax-error": Case("192.0.2.1", "ty@typo.example", "permerror"),
    "two-records": Case("192.0.2.1", "two@tworecs.example", "permerror"),
    "no-spf-record": Case("192.0.2.1", "no@nospf.example", "none"),
    "no-such-domain": Case("192.0.2.1", "no@nxdomain.example", "none"),
    # HELO identity: empty MAIL FROM checks postmaster@HELO (2.3, 2.4).
    "helo-pass": Case("198.51.100.77", "", "pass", helo="out.helo.example"),
    "helo-fail": Case("198.51.100.78", "", "fail", helo="out.helo.example"),
    # IPv4-mapped IPv6 clients are IPv4 clients (5, 5.6).
    "ip4-mapped-client": Case("::ffff:192.0.2.5", "ann@smallbiz.example", "pass"),
    "ip4-mapped-client-outside": Case("::ffff:192.0.2.200", "ann@smallbiz.example", "fail"),
    # domain names are case-insensitive; the local-part is kept as given (4.3).
    "upper-case-domain": Case("100.64.2.2", "Bob@CORP.Example", "pass"),
    # multi-string TXT (3.3).
    "multi-string-v4": Case("198.51.100.24", "lee@long.example", "pass"),
    "multi-string-v6": Case("2001:db8:aa::1", "lee@long.example", "pass"),
    "multi-string-outside": Case("198.51.101.1", "lee@long.example", "fail"),
    # loops, redirect edge cases (4.6.4, 6.1).
    "include-loop-match-first": Case("192.0.2.1", "lo@loop-a.example", "pass"),
    "include-loop": Case("192.0.2.2", "lo@loop-a.example", "permerror"),
    "redirect-no-record": Case("192.0.2.2", "re@redir-none.example", "permerror"),
    "redirect-ignored-with-all": Case("198.51.100.7", "re@redir-all.example", "neutral"),
    "include-via-cname": Case("198.51.100.200", "cy@cname.example", "pass"),
    "include-via-cname-outside": Case("198.51.100.2", "cy@cname.example", "fail"),
    "mx-more-than-ten": Case("203.0.113.1", "m@mxmany.example", "permerror"),
    "null-mx": Case("192.0.2.1", "n@nullmx.example", "pass"),
    "null-mx-no-match": Case("192.0.2.2", "n@nullmx.example", "fail"),
    "exp-without-txt": Case("192.0.2.2", "x@exp-missing.example", "fail"),
}


@pytest.fixture(scope="module")
def realistic_server() -> Iterator[TestDnsServer]:
    server = TestDnsServer(REALISTIC_RECORDS, drop=["timeout.example"],
                           servfail=["servfail.example"]).start_in_thread()
    yield server
    server.stop_thread()


@pytest.mark.parametrize("name", list(REALISTIC_CASES))
def test_realistic_records_against_pyspf(realistic_server: TestDnsServer, name: str) -> None:
    case = REALISTIC_CASES[name]
    zegel, peer = _run_both(realistic_server, case.ip, case.mail_from, case.helo,
                            expecting_timeouts=name.startswith("timeout-"))
    trace = _trace(zegel, peer)
    assert zegel.result == peer.result == case.expected, trace
    if case.expected == "fail":
        assert _domain_explanation(zegel) == peer.explanation == case.explanation, trace
