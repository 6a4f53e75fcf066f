"""DKIM, offline on the shipped samples: verify every sample message's signatures, show what a
changed body or header does, sign with the bakery's (test) key, generate a new key with its DNS
record, and check published key records."""

from __future__ import annotations

import asyncio
from pathlib import Path

from zegel.dkim import DkimResult, DkimVerifier, sign
from zegel.dkim.keys import load_private_key, parse_key_record, public_key_record, zone_file_line
from zegel.dns import Resolver

DEMO = Path(__file__).resolve().parent.parent
ZONE = DEMO / "zones" / "sample.zone"
MESSAGES = DEMO / "messages"
BAKERY_KEY = MESSAGES / "keys" / "bakkerij-jansen.nl.mail2026.pem"


def show(title: str, results: list[DkimResult]) -> None:
    print(f"\n--- {title}")
    for r in results:
        where = f"d={r.domain} s={r.selector} {r.algorithm} b={r.header_b}" if r.domain else ""
        print(f"  {r.result.upper():9} {where}  {r.reason}")


async def main() -> None:
    resolver = Resolver(zones=[ZONE], offline=True)
    # The samples carry fixed signing times; judge them as archived mail (x=/t= not applied).
    verifier = DkimVerifier(resolver, check_times=False)

    for path in sorted(MESSAGES.glob("*.eml")):
        show(path.name, await verifier.verify(path.read_bytes()))

    genuine = (MESSAGES / "genuine.eml").read_bytes()
    show("genuine.eml, one word of the body changed",
         await verifier.verify(genuine.replace(b"krentenbollen", b"krentenbroden")))
    show("genuine.eml, the Subject changed",
         await verifier.verify(genuine.replace(b"Subject: Uw bestelling", b"Subject: Uw factuur")))

    # Sign a new message with the bakery's test key (RSA) and verify it straight away.
    body = genuine[genuine.index(b"From:"):]
    signed = sign(body, domain="bakkerij-jansen.nl", selector="mail2026",
                  private_key=load_private_key(BAKERY_KEY.read_bytes()))
    print("\n--- zegel signs (relaxed/relaxed, From over-signed):")
    print("  " + signed.decode().replace("\r\n", "\n  ").rstrip())
    show("and verifies its own signature", await DkimVerifier(resolver).verify(signed + body))

    # What `zegel dkim keygen` prints: a zone-file line (255-octet strings) and a panel string.
    from cryptography.hazmat.primitives.asymmetric import rsa

    record = public_key_record(rsa.generate_private_key(65537, 2048))
    print("\n--- a new key for rotation (new selector mail2027), as `zegel dkim keygen` prints it:")
    print("  " + zone_file_line("mail2027", "bakkerij-jansen.nl", record)[:150] + " ...")
    print(f"  web DNS panel value: {record[:60]}...")
    print("  (keep mail2026 published for a few weeks after switching: see docs/dkim.md)")

    print("\n--- published key records (`zegel dkim record`):")
    for name in ("mail2026._domainkey.bakkerij-jansen.nl", "ed2026._domainkey.gemeente-voorbeeld.nl"):
        answer = await resolver.txt(name)
        parsed = parse_key_record(answer.records[0])
        flags = " testing" if parsed.testing else ""
        print(f"  {name}: {parsed.key_type} {parsed.key_bits} bits{flags}, usable")


if __name__ == "__main__":
    asyncio.run(main())
