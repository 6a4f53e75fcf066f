"""SPF checks of sample senders against demo/zones/spf.zone, offline: results and traces."""

from __future__ import annotations

import asyncio
from pathlib import Path

from zegel.dns import Resolver
from zegel.spf import SpfChecker, SpfResult

ZONE = Path(__file__).resolve().parent.parent / "zones" / "spf.zone"

# (what it shows, client IP, MAIL FROM, HELO)
SAMPLES = [
    ("pass: the bakery's own block", "192.0.2.5", "info@bakkerij.example", "mail.bakkerij.example"),
    ("fail with the domain's explanation", "203.0.113.66", "info@bakkerij.example", "spammer.example"),
    ("pass through an include chain three deep", "203.0.113.200", "orders@webshop.example", "out.mailprovider.example"),
    ("softfail: not one of the provider's servers", "192.0.2.99", "orders@webshop.example", "unknown.example"),
    ("permerror: two SPF records", "192.0.2.5", "jan@tweemaal.example", "mail.tweemaal.example"),
    ("permerror: too many void lookups", "192.0.2.5", "piet@verhuisd.example", "mail.verhuisd.example"),
    ("pass for a bounce: HELO identity", "192.0.2.21", "", "mx1.bakkerij.example"),
]


async def main() -> None:
    checker = SpfChecker(Resolver(zones=[ZONE], offline=True))
    for title, ip, mail_from, helo in SAMPLES:
        result = await checker.check(ip, mail_from, helo)
        show(title, result)


def show(title: str, result: SpfResult) -> None:
    print(f"\n--- {title}")
    print(f"SPF {result.result.upper()}: {result.sender} from {result.ip} ({result.identity} identity)")
    if result.mechanism:
        print(f"  decided by:  {result.mechanism}")
    if result.explanation:
        print(f"  explanation: {result.explanation}")
    print(f"  DNS-querying terms: {result.lookups}, void lookups: {result.void_lookups}")
    for line in result.trace:
        print(f"    | {line}")


if __name__ == "__main__":
    asyncio.run(main())
