"""Policy discovery and Organizational Domains over the loopback DNS server:
RFC 9989 Tree Walk (8-query cap, psd=y/psd=n) and RFC 7489 (Public Suffix List)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.dmarc.helpers import run

from zegel.dmarc import (
    MAX_TREE_WALK_QUERIES,
    discover_policy,
    load_psl,
    organizational_domain,
    tree_walk_names,
)
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

Factory = Callable[..., TestDnsServer]


@pytest.fixture(scope="module")
def psl():  # type: ignore[no-untyped-def]
    return load_psl()


def resolver_for(server: TestDnsServer) -> Resolver:
    return Resolver([server.address])


def test_tree_walk_names_rfc9989_example() -> None:
    # RFC 9989 4.10: the eight queries for a.b.c.d.e.f.g.h.i.j.mail.example.com
    assert tree_walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com") == [
        "a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com", "h.i.j.mail.example.com",
        "i.j.mail.example.com", "j.mail.example.com", "mail.example.com", "example.com", "com",
    ]
    assert tree_walk_names("a.mail.example.com") == ["a.mail.example.com", "mail.example.com", "example.com", "com"]
    eight = "a.b.c.d.e.f.example.com"
    assert len(eight.split(".")) == 8 and tree_walk_names(eight)[1] == "b.c.d.e.f.example.com"
    assert all(len(tree_walk_names("x." * n + "example")) <= MAX_TREE_WALK_QUERIES for n in range(40))


def test_record_at_author_domain(dns_server: Factory) -> None:
    server = dns_server({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")]})
    found = run(discover_policy("Example.COM.", resolver_for(server)))
    assert found.status == "found" and found.policy_domain == "example.com" and not found.is_subdomain_policy
    assert found.record is not None and found.record.p == "reject"
    assert found.queries == 1


def test_walk_uses_organizational_domain_not_intermediate(dns_server: Factory) -> None:
    # RFC 9989 4.10.2 example: records at mail.example.com and example.com -> org is example.com
    server = dns_server({
        "_dmarc.mail.example.com": [("TXT", "v=DMARC1; p=none")],
        "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; sp=quarantine")],
    })
    resolver = resolver_for(server)
    found = run(discover_policy("a.mail.example.com", resolver))
    assert (found.status, found.policy_domain, found.org_domain) == ("found", "example.com", "example.com")
    assert found.is_subdomain_policy
    assert [lookup.domain for lookup in found.lookups] == ["a.mail.example.com", "mail.example.com", "example.com", "com"]
    org = run(organizational_domain("a.mail.example.com", resolver))
    assert org.org_domain == "example.com"


def test_psd_n_stops_the_walk(dns_server: Factory) -> None:
    server = dns_server({
        "_dmarc.dept.example.com": [("TXT", "v=DMARC1; p=quarantine; psd=n")],
        "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")],
    })
    resolver = resolver_for(server)
    found = run(discover_policy("x.dept.example.com", resolver))
    assert (found.policy_domain, found.org_domain) == ("dept.example.com", "dept.example.com")
    assert "_dmarc.example.com" not in server.stats.by_name
    assert run(organizational_domain("x.dept.example.com", resolver)).org_domain == "dept.example.com"


def test_psd_y_record_applies_below_public_suffix(dns_server: Factory) -> None:
    # a PSD publishes psd=y; the registrant publishes nothing: the PSD policy applies (sp/np)
    server = dns_server({
        "_dmarc.gov.example": [("TXT", "v=DMARC1; p=reject; sp=quarantine; psd=y")],
        "agency.gov.example": [("A", "192.0.2.1")],
    })
    resolver = resolver_for(server)
    found = run(discover_policy("mail.agency.gov.example", resolver))
    assert found.status == "found"
    assert (found.policy_domain, found.psd_domain, found.org_domain) == ("gov.example", "gov.example", "agency.gov.example")
    assert "_dmarc.example" not in server.stats.by_name  # psd=y stops the walk
    # the Organizational Domain is one label below the PSD
    assert run(organizational_domain("mail.agency.gov.example", resolver)).org_domain == "agency.gov.example"
    # the PSD itself as author: its own record, p applies
    own = run(discover_policy("gov.example", resolver))
    assert own.policy_domain == "gov.example" and not own.is_subdomain_policy


def test_psd_y_not_used_when_org_domain_publishes(dns_server: Factory) -> None:
    server = dns_server({
        "_dmarc.gov.example": [("TXT", "v=DMARC1; p=reject; psd=y")],
        "_dmarc.agency.gov.example": [("TXT", "v=DMARC1; p=none")],
    })
    found = run(discover_policy("x.agency.gov.example", resolver_for(server)))
    assert (found.policy_domain, found.psd_domain) == ("agency.gov.example", None)


def test_eight_query_cap_on_long_names(dns_server: Factory) -> None:
    server = dns_server({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")]})
    long_name = ".".join(f"l{i}" for i in range(30)) + ".example.com"
    found = run(discover_policy(long_name, resolver_for(server)))
    assert found.status == "found" and found.policy_domain == "example.com"
    dmarc_queries = [name for name in server.stats.by_name if name.startswith("_dmarc.")]
    assert len(dmarc_queries) <= MAX_TREE_WALK_QUERIES
    assert found.queries <= MAX_TREE_WALK_QUERIES


def test_record_beyond_the_cap_is_not_found(dns_server: Factory) -> None:
    # RFC 9989 5.1.8: a psd=n record in the skipped part of a long name is never seen
    server = dns_server({"_dmarc.b.c.d.e.f.g.example.com": [("TXT", "v=DMARC1; p=reject; psd=n")]})
    found = run(discover_policy("mail.a.b.c.d.e.f.g.example.com", resolver_for(server)))
    assert found.status == "none"
    assert "_dmarc.b.c.d.e.f.g.example.com" not in server.stats.by_name


def test_no_record_anywhere(dns_server: Factory) -> None:
    found = run(discover_policy("nothing.example.net", resolver_for(dns_server({}))))
    assert found.status == "none" and found.record is None


def test_several_records_are_discarded(dns_server: Factory, psl) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({"_dmarc.multi.example": [("TXT", "v=DMARC1; p=reject"), ("TXT", "v=DMARC1; p=none")]})
    resolver = resolver_for(server)
    for mode in ("rfc9989", "rfc7489"):
        found = run(discover_policy("multi.example", resolver, mode=mode, psl=psl))  # type: ignore[arg-type]
        assert found.status == "none", mode
        assert "2 DMARC records" in found.reason


def test_several_records_walk_on_to_the_parent_in_rfc9989(dns_server: Factory, psl) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({
        "_dmarc.sub.example.com": [("TXT", "v=DMARC1; p=none"), ("TXT", "v=DMARC1; p=quarantine")],
        "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")],
    })
    resolver = resolver_for(server)
    assert run(discover_policy("sub.example.com", resolver)).policy_domain == "example.com"
    # RFC 7489 6.6.3: several records at the author domain end discovery
    assert run(discover_policy("sub.example.com", resolver, mode="rfc7489", psl=psl)).status == "none"


def test_non_dmarc_txt_records_are_ignored(dns_server: Factory) -> None:
    server = dns_server({"_dmarc.example.org": [("TXT", "v=spf1 -all"), ("TXT", "v=DMARC1; p=quarantine")]})
    found = run(discover_policy("example.org", resolver_for(server)))
    assert found.record is not None and found.record.p == "quarantine"


def test_rfc7489_uses_the_public_suffix_list(dns_server: Factory, psl) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({
        "_dmarc.example.co.uk": [("TXT", "v=DMARC1; p=reject; sp=none")],
        "_dmarc.mail.example.co.uk": [("TXT", "v=DMARC1; p=quarantine")],
        "_dmarc.co.uk": [("TXT", "v=DMARC1; p=reject; psd=y")],
    })
    resolver = resolver_for(server)
    found = run(discover_policy("a.b.example.co.uk", resolver, mode="rfc7489", psl=psl))
    assert (found.status, found.policy_domain, found.org_domain) == ("found", "example.co.uk", "example.co.uk")
    assert found.queries == 2
    # the Tree Walk sees the intermediate record but picks the Organizational Domain too
    walked = run(discover_policy("a.b.example.co.uk", resolver))
    assert walked.policy_domain == "example.co.uk"
    org = run(organizational_domain("x.mail.example.co.uk", resolver, mode="rfc7489", psl=psl))
    assert org.org_domain == "example.co.uk"


def test_tempfail_gives_temperror(dns_server: Factory, psl) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({"_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")]}, servfail=["_dmarc.sub.example.com"])
    resolver = resolver_for(server)
    found = run(discover_policy("sub.example.com", resolver))
    assert found.status == "temperror" and "_dmarc.sub.example.com" in found.reason
    assert run(discover_policy("sub.example.com", resolver, mode="rfc7489", psl=psl)).status == "temperror"
    server2 = dns_server({}, servfail=["_dmarc.example.com"])
    assert run(discover_policy("a.example.com", resolver_for(server2))).status == "temperror"


def test_broken_record_gives_permerror(dns_server: Factory) -> None:
    server = dns_server({"_dmarc.broken.example": [("TXT", "v=DMARC1; p=reject; p=none")]})
    found = run(discover_policy("broken.example", resolver_for(server)))
    assert found.status == "permerror" and "more than once" in found.reason


def test_invalid_author_domain() -> None:
    found = run(discover_policy("not a domain..", Resolver(["127.0.0.1:9"], offline=True)))
    assert found.status == "permerror"


def test_multi_string_txt_is_joined(dns_server: Factory) -> None:
    server = dns_server({"_dmarc.split.example": [("TXT", ["v=DMARC1; p=rej", "ect; rua=mailto:a@split.example"])]})
    found = run(discover_policy("split.example", resolver_for(server)))
    assert found.record is not None and found.record.p == "reject" and found.record.rua
