"""The pipeline over the real network path: the dns_server fixture serving the sample zone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tests.pipeline.helpers import AUTHSERV_ID, ZONE, message, sample
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer
from zegel.policy import Policy
from zegel.verify import Verdict, verify_message


def verify(server: TestDnsServer, file: str, policy: Policy | None = None, timeout: float = 1.0) -> Verdict:
    item = sample(file)
    resolver = Resolver([server.address], timeout=timeout, lifetime=timeout * 2)
    return asyncio.run(verify_message(message(file), ip=item["ip"], helo=item["helo"], mail_from=item["mail_from"],
                                      resolver=resolver, authserv_id=AUTHSERV_ID, policy=policy))


def test_network_path_matches_the_zone_file(dns_server: Callable[..., TestDnsServer]) -> None:
    server = dns_server(zone_files=[str(ZONE)])
    for file in ("genuine.eml", "spoofed.eml", "mailing-list-arc.eml"):
        verdict = verify(server, file)
        expect: dict[str, Any] = sample(file)["expect"]
        assert (verdict.spf.result, verdict.dmarc.result, verdict.arc.cv, verdict.action.kind) == (
            expect["spf"], expect["dmarc"], expect["arc"], expect["action"])


def test_dmarc_servfail_tempfails_where_configured(dns_server: Callable[..., TestDnsServer]) -> None:
    server = dns_server(zone_files=[str(ZONE)], servfail=["_dmarc.bakkerij-jansen.nl"])
    policy = Policy.from_toml('[on]\ndmarc_temperror = "tempfail"\n')
    verdict = verify(server, "genuine.eml", policy)
    assert verdict.dmarc.result == "temperror"
    assert verdict.action.kind == "tempfail"
    assert verdict.action.smtp_code == 451
    assert verdict.action.smtp_reply is not None and verdict.action.smtp_reply.startswith("4.")
    # The default policy accepts rather than defers.
    assert verify(server, "genuine.eml").action.kind == "accept"


def test_dropped_key_query_is_a_temporary_error(dns_server: Callable[..., TestDnsServer]) -> None:
    server = dns_server(zone_files=[str(ZONE)], drop=["mail2026._domainkey.bakkerij-jansen.nl"])
    verdict = verify(server, "spoofed.eml", timeout=0.2)  # unsigned: the key is never asked for
    assert verdict.dkim[0].result == "none"
    verdict = verify(server, "genuine.eml", timeout=0.2)
    assert verdict.dkim[0].result == "temperror"
    assert verdict.dmarc.result == "pass"  # SPF still aligns
