"""The pipeline on the shipped sample messages, DNS from the shipped zone file."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.pipeline.helpers import AUTHSERV_ID, EXAMPLES, ZONE, message, sample, samples
from zegel.authres import parse
from zegel.dns import Resolver
from zegel.policy import Policy
from zegel.verify import Verdict, Verifier, verify_message


def run(file: str, policy: Policy | None = None, **overrides: Any) -> Verdict:
    item = {**sample(file), **overrides}
    resolver = Resolver(zones=[str(ZONE)], offline=True)
    return asyncio.run(verify_message(
        message(file), ip=item["ip"], helo=item["helo"], mail_from=item["mail_from"],
        resolver=resolver, authserv_id=AUTHSERV_ID, policy=policy))


@pytest.mark.parametrize("item", samples(), ids=lambda item: item["file"])
def test_sample_results(item: dict[str, Any]) -> None:
    verdict = run(item["file"])
    expect = item["expect"]
    assert verdict.spf.result == expect["spf"]
    assert (",".join(d.result for d in verdict.dkim) or "none") == expect["dkim"]
    assert verdict.dmarc.result == expect["dmarc"]
    assert verdict.arc.cv == expect["arc"]
    assert verdict.action.kind == expect["action"]
    assert verdict.notes == ()
    # The header parses back and says the same thing (RFC 8601).
    parsed = parse(verdict.authentication_results)
    assert parsed.authserv_id == AUTHSERV_ID
    by_method = {r.method: r.result for r in parsed.results}
    assert by_method["spf"] == expect["spf"]
    assert by_method["dmarc"] == expect["dmarc"]
    assert by_method["arc"] == expect["arc"]
    assert verdict.from_domain == verdict.dmarc.from_domain


def test_spoofed_is_rejected_with_a_5_7_reply() -> None:
    action = run("spoofed.eml").action
    assert action.kind == "reject" and action.smtp_code == 550
    assert action.smtp_reply is not None and action.smtp_reply.startswith("5.7.")
    assert action.disposition == "reject" and action.override is None


def test_trusted_forwarder_overrides_dmarc_fail() -> None:
    policy = Policy.load(EXAMPLES / "policy-strict.toml")
    verdict = run("mailing-list-arc.eml", policy)
    assert verdict.dmarc.result == "fail" and verdict.arc.cv == "pass"
    assert verdict.action.kind == "add_header"
    assert verdict.action.override == "trusted_forwarder"
    assert "lists.example.org" in verdict.action.reason
    # Without a seal the same list gets no such trust.
    assert run("mailing-list-footer.eml", policy).action.kind == "reject"


def test_untrusted_forwarder_gets_no_override() -> None:
    policy = Policy.from_toml('[arc]\ntrusted_forwarders = ["other.example"]\n')
    verdict = run("mailing-list-arc.eml", policy)
    assert verdict.action.kind == "reject" and verdict.action.override is None


def test_kpn_policy_quarantines_and_tags() -> None:
    policy = Policy.load(EXAMPLES / "policy-kpn.toml")
    footer = run("mailing-list-footer.eml", policy).action
    assert footer.kind == "quarantine"
    assert footer.subject_tag == "[dkim]"
    assert footer.override == "local_policy"
    assert footer.disposition == "quarantine"
    # SPF alone (forwarded, DKIM intact) is never acted on.
    assert run("forwarded-no-arc.eml", policy).action.kind == "accept"


def test_centric_policy_rejects_at_p_none() -> None:
    # mailservice.example publishes p=none; its own mail from an unlisted server with no
    # signature fails SPF and DKIM both.
    policy = Policy.load(EXAMPLES / "policy-centric.toml")
    verdict = run("spoofed.eml", policy, mail_from="x@mailservice.example")
    assert verdict.spf.result == "fail"
    assert "spf_and_dkim_fail" in verdict.action.outcomes
    assert verdict.action.kind == "reject"


def test_rfc7489_mode_from_policy() -> None:
    policy = Policy.from_toml('[dmarc]\nmode = "rfc7489"\n')
    verdict = run("genuine.eml", policy)
    assert verdict.dmarc.result == "pass"
    assert getattr(verdict.dmarc, "mode", None) == "rfc7489"


def test_null_sender_checks_helo() -> None:
    verdict = run("genuine.eml", mail_from="")
    assert verdict.spf.identity == "helo"


def test_verifier_reuse_and_recorder() -> None:
    recorded: list[tuple[Verdict, str]] = []

    class Sink:
        def record(self, verdict: Verdict, *, ip: str, helo: str, mail_from: str) -> None:
            recorded.append((verdict, ip))

    item = sample("genuine.eml")
    verifier = Verifier(Resolver(zones=[str(ZONE)], offline=True), authserv_id=AUTHSERV_ID, recorder=Sink())

    async def twice() -> list[Verdict]:
        return [await verifier.verify(message("genuine.eml"), ip=item["ip"], helo=item["helo"],
                                      mail_from=item["mail_from"]) for _ in range(2)]

    verdicts = asyncio.run(twice())
    assert [v.dmarc.result for v in verdicts] == ["pass", "pass"]
    assert [ip for _, ip in recorded] == [item["ip"], item["ip"]]
    assert recorded[0][0] is verdicts[0]


def test_failing_recorder_does_not_cost_the_verdict() -> None:
    class Broken:
        def record(self, verdict: Verdict, *, ip: str, helo: str, mail_from: str) -> None:
            raise RuntimeError("queue full")

    item = sample("genuine.eml")
    verdict = asyncio.run(verify_message(message("genuine.eml"), ip=item["ip"], helo=item["helo"],
                                         mail_from=item["mail_from"], authserv_id=AUTHSERV_ID,
                                         resolver=Resolver(zones=[str(ZONE)], offline=True), recorder=Broken()))
    assert verdict.action.kind == "accept"
    assert any("queue full" in note for note in verdict.notes)


def test_to_dict_has_the_documented_keys() -> None:
    data = run("spoofed.eml").to_dict()
    assert set(data) == {"spf", "dkim", "arc", "dmarc", "authentication_results", "action"}
    assert {"result", "policy", "disposition", "from_domain"} <= set(data["dmarc"])
    assert data["action"]["kind"] == "reject"
