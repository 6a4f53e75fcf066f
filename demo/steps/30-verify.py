"""Demo: verify the shipped sample messages as mx.ontvanger.example would, offline.

Each message (demo/messages/, see index.toml for how it arrives) is checked against the shipped
zone (demo/zones/sample.zone): SPF, DKIM and ARC concurrently, then DMARC, the
Authentication-Results header and the local policy's action, with plain-language explanations
in English and a Dutch example. Then the recipient's side: ``zegel explain`` on received mail.
"""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path

from zegel.authres import build_field
from zegel.dns import Resolver
from zegel.explain.received import explain_received
from zegel.explain.verdict import explain_verdict, render
from zegel.policy import Policy
from zegel.verify import Verdict, Verifier

DEMO = Path(__file__).resolve().parent.parent
MESSAGES = DEMO / "messages"
EXAMPLES = DEMO.parent / "examples"
AUTHSERV_ID = "mx.ontvanger.example"


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


async def main() -> None:
    resolver = Resolver(zones=[str(DEMO / "zones" / "sample.zone")], offline=True)
    default = Verifier(resolver, authserv_id=AUTHSERV_ID)
    strict = Verifier(resolver, authserv_id=AUTHSERV_ID, policy=Policy.load(EXAMPLES / "policy-strict.toml"))
    kpn = Verifier(resolver, authserv_id=AUTHSERV_ID, policy=Policy.load(EXAMPLES / "policy-kpn.toml"))
    index = tomllib.loads((MESSAGES / "index.toml").read_text())
    verdicts: dict[str, Verdict] = {}
    for item in index["message"]:
        message = (MESSAGES / item["file"]).read_bytes()
        verdict = await default.verify(message, ip=item["ip"], helo=item["helo"], mail_from=item["mail_from"])
        verdicts[item["file"]] = verdict
        print(f"\n--- {item['title']} ({item['file']}, from {item['ip']})")
        print(f"Authentication-Results: {verdict.authentication_results}")
        action = verdict.action
        print(f"Action: {action.kind}" + (f" {action.smtp_code} {action.smtp_reply}" if action.smtp_code else ""))
        if verdict.dmarc.result == "fail" or item["file"] == "forwarded-no-arc.eml":
            print(indent(render(explain_verdict(verdict, ip=item["ip"], lang="en", message=message))))

    print("\n--- The same mailing-list message under examples/policy-strict.toml (lists.example.org trusted)")
    item = next(i for i in index["message"] if i["file"] == "mailing-list-arc.eml")
    sealed = (MESSAGES / item["file"]).read_bytes()
    verdict = await strict.verify(sealed, ip=item["ip"], helo=item["helo"], mail_from=item["mail_from"])
    print(f"Action: {verdict.action.kind} (override={verdict.action.override}): {verdict.action.reason}")

    print("\n--- The footer message under examples/policy-kpn.toml (spam folder, never reject; [dkim] tag)")
    item = next(i for i in index["message"] if i["file"] == "mailing-list-footer.eml")
    footer = (MESSAGES / item["file"]).read_bytes()
    verdict = await kpn.verify(footer, ip=item["ip"], helo=item["helo"], mail_from=item["mail_from"])
    print(f"Action: {verdict.action.kind}, subject tag {verdict.action.subject_tag}, override={verdict.action.override}")

    print("\n--- Een voorbeeld in het Nederlands: de nieuwsbrief via een verzenddienst (zegel verify --explain --lang nl)")
    item = next(i for i in index["message"] if i["file"] == "provider-only-dkim.eml")
    print(indent(render(explain_verdict(verdicts[item["file"]], ip=item["ip"], lang="nl"))))

    print("\n--- The recipient's side: zegel explain on the spoofed message as delivered (with our header)")
    spoofed = (MESSAGES / "spoofed.eml").read_bytes()
    delivered = build_field(AUTHSERV_ID, [verdicts["spoofed.eml"].spf, *verdicts["spoofed.eml"].dkim,
                                          verdicts["spoofed.eml"].dmarc]) + (
        f"Received: from mail.example.com (mail.example.com [192.0.2.66]) by {AUTHSERV_ID}; "
        "Mon, 02 Nov 2026 10:00:00 +0100\r\n").encode() + spoofed
    print(indent(explain_received(delivered).render("en")))
    print("\n--- zegel explain --lang nl op een phishingbericht van een domein dat op een bank lijkt")
    print(indent(explain_received((MESSAGES / "lookalike-received.eml").read_bytes()).render("nl")))


if __name__ == "__main__":
    asyncio.run(main())
