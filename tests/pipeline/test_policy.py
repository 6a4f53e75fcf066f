"""Local policy: loading, validation errors, and the decisions the seed stances need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from zegel.policy import Policy, PolicyError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@dataclass(frozen=True)
class Spf:
    result: str


@dataclass(frozen=True)
class Dkim:
    result: str
    domain: str = "example.com"


@dataclass(frozen=True)
class Dmarc:
    result: str
    disposition: str = "none"
    from_domain: str | None = "example.com"
    policy: str | None = None


def test_default_honours_the_senders_policy() -> None:
    policy = Policy.default()
    action = policy.decide(Spf("fail"), [], Dmarc("fail", "reject", policy="reject"))
    assert action.kind == "reject"
    assert action.smtp_code == 550
    assert action.smtp_reply is not None and action.smtp_reply.startswith("5.7.")
    assert "example.com" in action.smtp_reply
    assert action.override is None
    assert action.disposition == "reject"
    assert policy.decide(Spf("pass"), [], Dmarc("pass")).kind == "accept"
    quarantined = policy.decide(Spf("fail"), [], Dmarc("fail", "quarantine"))
    assert quarantined.kind == "quarantine" and quarantined.disposition == "quarantine"


def test_kpn_quarantines_where_the_sender_says_reject_and_tags_dkim() -> None:
    policy = Policy.from_toml(
        """
        [on]
        dmarc_reject = "quarantine"
        dkim_fail = { action = "quarantine", tag = "[dkim]" }
        spf_fail = "accept"
        """
    )
    action = policy.decide(Spf("fail"), [Dkim("fail")], Dmarc("fail", "reject"))
    assert action.kind == "quarantine"
    assert action.override == "local_policy"  # milder than the sender asked: reported so
    assert action.subject_tag == "[dkim]"
    # Never act on SPF alone.
    alone = policy.decide(Spf("fail"), [Dkim("pass")], Dmarc("pass"))
    assert alone.kind == "accept"


def test_centric_rejects_spf_and_dkim_failure_even_at_p_none() -> None:
    policy = Policy.from_toml('[on]\nspf_and_dkim_fail = "reject"\n')
    action = policy.decide(Spf("softfail"), [Dkim("fail")], Dmarc("fail", "none"))
    assert action.kind == "reject"
    assert action.smtp_reply is not None and action.smtp_reply.startswith("5.7.1 ")
    # One passing method is enough.
    assert policy.decide(Spf("fail"), [Dkim("pass")], Dmarc("pass")).kind == "accept"
    # A temporary DNS error is not a failure.
    assert policy.decide(Spf("temperror"), [], Dmarc("temperror")).kind == "accept"


def test_spf_fail_and_optionally_softfail() -> None:
    strict = Policy.from_toml('[on]\nspf_fail = "reject"\nspf_softfail = "tag_subject"\n')
    assert strict.decide(Spf("fail"), [Dkim("pass")], Dmarc("pass")).smtp_reply.startswith("5.7.1 SPF")  # type: ignore[union-attr]
    soft = strict.decide(Spf("softfail"), [Dkim("pass")], Dmarc("pass"))
    assert soft.kind == "tag_subject" and soft.subject_tag == "[spam]"


def test_tempfail_where_configured() -> None:
    policy = Policy.from_toml('[on]\ndmarc_temperror = "tempfail"\n')
    action = policy.decide(Spf("temperror"), [], Dmarc("temperror"))
    assert action.kind == "tempfail" and action.smtp_code == 451
    assert action.smtp_reply is not None and action.smtp_reply.startswith("4.")
    assert Policy.default().decide(Spf("temperror"), [], Dmarc("temperror")).kind == "accept"


def test_trusted_forwarder_overrides_dmarc_fail_and_records_why() -> None:
    policy = Policy.from_toml('[on]\nspf_and_dkim_fail = "reject"\n[arc]\ntrusted_forwarders = ["lists.example.org"]\n')
    action = policy.decide(Spf("fail"), [Dkim("fail")], Dmarc("fail", "reject"), arc_cv="pass",
                           trusted_forwarder="lists.example.org")
    assert action.kind == "accept"
    assert action.override == "trusted_forwarder"
    assert "lists.example.org" in action.reason


def test_add_header_names_the_outcome() -> None:
    policy = Policy.from_toml('[on]\ndmarc_none = "add_header"\n[reply]\nheader = "X-Auth-Warning"\n')
    action = policy.decide(Spf("fail"), [], Dmarc("fail", "none"))
    assert action.kind == "add_header"
    assert action.header == ("X-Auth-Warning", "dmarc_none")


def test_dont_honour_sender_policy() -> None:
    policy = Policy.from_toml("[dmarc]\nhonour_sender_policy = false\n")
    action = policy.decide(Spf("fail"), [], Dmarc("fail", "reject"))
    assert action.kind == "accept" and action.override == "local_policy"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[on\n", "not valid TOML"),
        ('[on]\ndmarc_reject = "bounce"\n', "unknown action 'bounce'"),
        ('[on]\nspf_explode = "reject"\n', "on.spf_explode: unknown outcome"),
        ('[dmarc]\nmode = "rfc1234"\n', "dmarc.mode"),
        ('[arc]\ntrusted_forwarders = "x.example"\n', "arc.trusted_forwarders"),
        ('[on]\nspf_fail = { action = "reject", reply = "hello" }\n', "enhanced status code"),
        ('[on]\nspf_fail = { action = "accept", reply = "5.7.1 no" }\n', "only used with action"),
        ('[reply]\nheader = "X Bad:"\n', "not a valid header field name"),
        ('colour = "blue"\n', "colour: unknown setting"),
        ('on = 3\n', "on must be a table"),
    ],
)
def test_policy_errors_are_one_line(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        Policy.from_toml(text, source="p.toml")
    assert message in str(info.value)
    assert str(info.value).startswith("p.toml: ")
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read"):
        Policy.load(tmp_path / "absent.toml")


def test_shipped_examples_load() -> None:
    files = sorted(EXAMPLES.glob("policy*.toml"))
    assert files, "examples/policy*.toml missing"
    for path in files:
        Policy.load(path)


def test_decided_by_names_the_rule_that_chose_the_action_or_none() -> None:
    policy = Policy.default()
    rejected = policy.decide(Spf("fail"), [], Dmarc("fail", "reject", policy="reject"))
    assert rejected.decided_by == "dmarc_reject" and rejected.reason.startswith("dmarc_reject:")
    # spf_fail matches, but the default policy has no rule for it: accepted, decided by no rule.
    accepted = policy.decide(Spf("fail"), [Dkim("pass")], Dmarc("pass"))
    assert accepted.kind == "accept" and "spf_fail" in accepted.outcomes and accepted.decided_by is None
