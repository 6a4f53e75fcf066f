"""Interop with checkdmarc (a real peer): record parsing and policy location agree where both
apply. checkdmarc queries DNS through dnspython, pointed at the same loopback server."""

from __future__ import annotations

from collections.abc import Callable

import dns.resolver
import pytest
from tests.dmarc.helpers import run

from zegel.dmarc import DmarcRecordError, discover_policy, parse_record
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

checkdmarc_dmarc = pytest.importorskip("checkdmarc.dmarc")

Factory = Callable[..., TestDnsServer]

RECORDS = [
    "v=DMARC1; p=reject",
    "v=DMARC1; p=quarantine; sp=none; adkim=s; aspf=r",
    "v=DMARC1; p=none; np=reject; psd=n; t=y",
    "v=DMARC1; p=none; sp=reject",
    "v=DMARC1; p=none; fo=1:d; ruf=mailto:f@example.com",
    "v=DMARC1; p=reject; rua=mailto:a@example.com!10m,mailto:b@example.com",
    "v=DMARC1;p=QUARANTINE;adkim=x",
    "v=DMARC1; p=none; foo=bar",
    "v=DMARC1; sp=quarantine; p=reject; psd=y",
]
INVALID = ["v=DMARC1; p=none; p=reject", "p=none; v=DMARC1", "v=DMARC2; p=none"]


@pytest.fixture
def peer_resolver(dns_server: Factory) -> dns.resolver.Resolver:
    server = dns_server({"example.com": [("MX", (10, "mx.example.com"))], "mx.example.com": [("A", "192.0.2.1")]})
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = server.port
    resolver.lifetime = 2.0
    return resolver


@pytest.mark.parametrize("text", RECORDS)
def test_tags_agree_with_checkdmarc(text: str, peer_resolver: dns.resolver.Resolver) -> None:
    theirs = checkdmarc_dmarc.parse_dmarc_record(text, "example.com", resolver=peer_resolver)
    tags = {name: value["value"] for name, value in theirs["tags"].items()}
    ours = parse_record(text)
    assert ours.policy_for("p") == tags["p"].lower()
    assert ours.policy_for("sp") == tags["sp"].lower()
    assert ours.policy_for("np") == tags["np"].lower()
    assert (ours.adkim, ours.aspf, ours.psd) == (tags["adkim"], tags["aspf"], tags["psd"])
    assert ("y" if ours.t else "n") == tags["t"]
    assert ":".join(ours.fo) == tags["fo"]
    for kind in ("rua", "ruf"):
        theirs_uris = [(u["scheme"], u["address"]) for u in tags.get(kind, [])]
        assert [(u.scheme, u.address) for u in getattr(ours, kind)] == theirs_uris
    # both flag what RFC 9989 dropped or ignores
    if "foo=" in text:
        assert any("foo" in w for w in theirs["warnings"]) and any(w.code == "unknown-tag" for w in ours.warnings)
    if "!10m" in text:
        assert any("obsolete" in w for w in theirs["warnings"])
        assert any(w.code == "obsolete-size-limit" for w in ours.warnings)


@pytest.mark.parametrize("text", INVALID)
def test_both_reject_invalid_records(text: str, peer_resolver: dns.resolver.Resolver) -> None:
    with pytest.raises(Exception):  # noqa: B017 - checkdmarc raises several error classes
        checkdmarc_dmarc.parse_dmarc_record(text, "example.com", resolver=peer_resolver)
    with pytest.raises(DmarcRecordError):
        parse_record(text)


def test_invalid_policy_value_both_flag(peer_resolver: dns.resolver.Resolver) -> None:
    with pytest.raises(Exception):  # noqa: B017
        checkdmarc_dmarc.parse_dmarc_record("v=DMARC1; p=bogus", "example.com", resolver=peer_resolver)
    assert not parse_record("v=DMARC1; p=bogus").usable()


def test_policy_location_agrees(dns_server: Factory) -> None:
    zone = {
        "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject")],
        "_dmarc.own.example.com": [("TXT", "v=DMARC1; p=none")],
        "_dmarc.example.org": [("TXT", "v=DMARC1; p=quarantine")],
        # checkdmarc insists the author domain exists
        **{name: [("A", "192.0.2.1")] for name in
           ["example.com", "a.b.example.com", "own.example.com", "x.own.example.com", "mail.example.org"]},
    }
    server = dns_server(zone)
    peer = dns.resolver.Resolver(configure=False)
    peer.nameservers = ["127.0.0.1"]
    peer.port = server.port
    ours = Resolver([server.address])
    for domain in ["example.com", "a.b.example.com", "own.example.com", "x.own.example.com", "mail.example.org"]:
        theirs = checkdmarc_dmarc.query_dmarc_record(domain, resolver=peer)
        found = run(discover_policy(domain, ours))
        assert found.policy_domain == theirs["location"], domain
        assert found.record is not None and found.record.text == theirs["record"]
