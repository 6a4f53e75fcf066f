"""Interop with authheaders' DMARC evaluation (a real peer, RFC 7489 logic with the Public Suffix
List): the same results and policies as zegel's rfc7489 mode on shared scenarios. authheaders
reads DNS through its ``dnsfunc`` hook; here that hook asks the loopback server with dnspython."""

from __future__ import annotations

from collections.abc import Callable

import dns.resolver
import pytest
from tests.dmarc.helpers import Dkim, Spf, run

from zegel.dmarc import evaluate, load_psl
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

authheaders = pytest.importorskip("authheaders")
authres = pytest.importorskip("authres")

Factory = Callable[..., TestDnsServer]

ZONE = {
    "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; sp=quarantine")],
    "_dmarc.strict.example": [("TXT", "v=DMARC1; p=quarantine; aspf=s; adkim=s")],
    "_dmarc.example.co.uk": [("TXT", "v=DMARC1; p=reject")],
    "_dmarc.monitor.example": [("TXT", "v=DMARC1; p=none")],
}

# (From domain, SPF (result, MAIL FROM domain) or None, DKIM (result, d=) or None)
SCENARIOS = [
    ("example.com", ("pass", "bounce.example.com"), None),
    ("example.com", ("pass", "example.net"), ("pass", "other.example")),
    ("example.com", ("fail", "example.com"), ("fail", "example.com")),
    ("sub.example.com", None, None),
    ("sub.example.com", None, ("pass", "mail.example.com")),
    ("nodmarc.example", ("pass", "nodmarc.example"), None),
    ("strict.example", ("pass", "mail.strict.example"), None),
    ("strict.example", None, ("pass", "strict.example")),
    ("a.example.co.uk", None, ("pass", "b.example.co.uk")),
    ("a.example.co.uk", None, ("pass", "other.co.uk")),
    ("monitor.example", ("softfail", "monitor.example"), None),
]


@pytest.mark.parametrize(("from_domain", "spf", "dkim"), SCENARIOS)
def test_rfc7489_evaluation_agrees(dns_server: Factory, from_domain: str,
                                   spf: tuple[str, str] | None, dkim: tuple[str, str] | None) -> None:
    server = dns_server(ZONE)
    peer_resolver = dns.resolver.Resolver(configure=False)
    peer_resolver.nameservers = ["127.0.0.1"]
    peer_resolver.port = server.port
    peer_resolver.lifetime = 2.0

    def dnsfunc(name: str) -> str | None:
        try:
            answer = peer_resolver.resolve(name, "TXT")
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return None
        return b"".join(answer[0].strings).decode()

    peer_spf = authres.SPFAuthenticationResult(result=spf[0], smtp_mailfrom=f"x@{spf[1]}") if spf else None
    peer_dkim = authres.DKIMAuthenticationResult(result=dkim[0], header_d=dkim[1]) if dkim else None
    their_result, _, _, their_policy = authheaders.dmarc_per_from(
        from_domain, peer_spf, peer_dkim, dnsfunc=dnsfunc)

    ours = run(evaluate(from_domain, spf=Spf(*spf) if spf else None, dkim=[Dkim(*dkim)] if dkim else [],
                        resolver=Resolver([server.address]),
                        mode="rfc7489", psl=load_psl()))
    assert ours.result == their_result
    if their_result == "none":
        return
    if ours.policy_domain == from_domain and ours.record is not None and ours.record.sp not in (None, ours.record.p):
        # Known authheaders divergence: for a record at the From domain itself it applies sp
        # (dmarc_per_from sets orgdomain = from_domain, then takes sp). RFC 7489 6.3: p applies
        # to the domain queried, sp only to its subdomains.
        assert (ours.policy, their_policy) == (ours.record.p, ours.record.sp)
    else:
        assert ours.policy == their_policy
