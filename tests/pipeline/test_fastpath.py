"""The verification fast paths equal the full paths: Policy.decide's memo, header_findings'
field-name check, the skipped ARC stage and every memo on the way, verdict by verdict."""

from __future__ import annotations

import asyncio
import enum
import importlib
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zegel.verify as verify_module
from tests.pipeline.helpers import AUTHSERV_ID, EXAMPLES, ZONE, message, samples
from tests.rfc5322_model import blank_line_by_lines
from zegel.arc import validate as arc_validate
from zegel.dns import Resolver
from zegel.policy import FAULT_OUTCOMES, Policy
from zegel.verify import MAX_HEADER_BYTES, MAX_HEADER_FIELDS, Verdict, Verifier, header_findings

# Package attributes named like these submodules are functions (build, ...): take the modules.
authres_build = importlib.import_module("zegel.authres.build")
dmarc_author = importlib.import_module("zegel.dmarc.author")
dmarc_discovery = importlib.import_module("zegel.dmarc.discovery")


@dataclass(frozen=True)
class R:
    result: Any
    domain: str = "example.com"
    disposition: Any = "none"
    from_domain: Any = "example.com"


class Res(str, enum.Enum):  # noqa: UP042 -- str() is "Res.FAIL", unlike a StrEnum
    FAIL = "fail"


POLICIES = [
    Policy.default(),
    Policy.load(EXAMPLES / "policy-kpn.toml"),
    Policy.load(EXAMPLES / "policy-centric.toml"),
    Policy.load(EXAMPLES / "policy-strict.toml"),
    Policy.from_toml('[dmarc]\nhonour_sender_policy = false\n[on]\nspf_softfail = { action = "tag_subject" }\n'
                     'dkim_fail = { action = "add_header", header = "x" }\n[arc]\naction = "quarantine"\n'),
]


def test_decide_memo_equals_fresh_decision() -> None:
    spfs = [None, R("pass"), R("fail"), R("softfail"), R("temperror"), R("permerror"), R("none")]
    dkims: list[list[R]] = [[], [R("pass")], [R("fail")], [R("temperror")], [R("fail"), R("pass")], [R("policy")]]
    dmarcs = [None, R("pass"), R("fail", disposition="reject"), R("fail", disposition="quarantine"),
              R("fail", disposition="none", from_domain=None), R("temperror"), R("permerror"), R("none")]
    faults: list[Any] = [[], ["author_unknown"], ("header_limits", "author_unknown", "header_limits")]
    for policy in POLICIES:
        for spf, dkim, dmarc, arc_cv, forwarder, fault in itertools.product(
                spfs, dkims, dmarcs, [None, "none", "pass", "fail"], [None, "lists.example.org"], faults):
            fresh = policy._decide_fresh(spf, dkim, dmarc, arc_cv=arc_cv, trusted_forwarder=forwarder,
                                         faults=fault)
            for _ in range(2):
                assert policy.decide(spf, dkim, dmarc, arc_cv=arc_cv, trusted_forwarder=forwarder,
                                     faults=fault) == fresh


def test_decide_memo_is_per_policy_and_skips_odd_values() -> None:
    default, kpn = POLICIES[0], POLICIES[1]
    dmarc = R("fail", disposition="reject")
    assert default.decide(R("fail"), [R("fail")], dmarc).kind == "reject"
    assert kpn.decide(R("fail"), [R("fail")], dmarc).kind == "quarantine"
    # Enum results, generators: decided afresh, as before.
    odd = R(Res.FAIL)
    assert default.decide(odd, [odd], odd) == default._decide_fresh(odd, [odd], odd)
    assert default.decide(None, (d for d in [R("fail")]), dmarc) == default._decide_fresh(None, [R("fail")], dmarc)
    long = R("fail", disposition="reject", from_domain="x" * 2000 + ".example")
    assert default.decide(None, [], long) == default._decide_fresh(None, [], long)
    assert not any("x" * 2000 + ".example" in key for key in default._decisions)
    for _ in range(2):
        with pytest.raises(ValueError, match="not fault outcomes"):
            default.decide(None, [], None, faults=["bogus"])
    assert set(FAULT_OUTCOMES) >= {"author_unknown", "header_limits"}


def reference_header_findings(message: bytes) -> tuple[str | None, str | None]:
    """header_findings as it was before the field-name check became one regex."""
    window = message[: MAX_HEADER_BYTES + 4]
    end = blank_line_by_lines(window)
    over_limits = None
    if end != -1:
        head = window[:end]
    else:
        head = window
        if len(message) > MAX_HEADER_BYTES:
            over_limits = f"header section larger than {MAX_HEADER_BYTES} bytes"
    if not head.strip():
        return "not an RFC 5322 message: no header section", over_limits
    name, colon, _ = head.split(b"\n", 1)[0].partition(b":")
    name = name.rstrip(b" \t")
    if not colon or not name or any(c < 33 or c > 126 for c in name):
        return "not an RFC 5322 message: it does not start with a header field", over_limits
    if over_limits is None:
        fields = head.count(b"\n") + 1 - head.count(b"\n ") - head.count(b"\n\t")
        if fields > MAX_HEADER_FIELDS:
            over_limits = f"header section has {fields} fields (limit {MAX_HEADER_FIELDS})"
    return None, over_limits


HEADERS = [b"From: a\r\n\r\nbody", b"From : a\r\n\r\n", b"From\t: a\n\n", b" From: a\r\n\r\n", b": a\r\n\r\n",
           b"Fr om: a\r\n\r\n", b"Fr\x7fom: a\r\n\r\n", b"Fr\xc3\xa9m: a\r\n\r\n", b"From a\r\n\r\n", b"From:",
           b"From", b"", b"\r\n\r\nFrom: a", b"   \r\n\r\n", b"X-\x00: a\r\n\r\n", b"From: a\rb: c\r\n\r\n",
           b"~!#: a\r\n\r\n", b"From:\r\n" * (MAX_HEADER_FIELDS + 1) + b"\r\n",
           b"From: " + b"x" * (MAX_HEADER_BYTES + 10), b"From\n: a\n\n",
           # around the field limit: the shortest heads with MAX_HEADER_FIELDS (+1) fields
           b"a:" + b"\n:" * (MAX_HEADER_FIELDS - 1) + b"\n\n", b"a:" + b"\n:" * MAX_HEADER_FIELDS + b"\n\n",
           b"a:" + b"\nb" * MAX_HEADER_FIELDS + b"\n\n", b"a:" + b"\n b" * MAX_HEADER_FIELDS + b"\n\n",
           # blank-ish heads, and the blank line around the end of the searched first MiB
           b"\x0b\x0c\r\n\r\n", b"\x0bFrom: a\r\n\r\n", b"\x0c", b"\n\n", b"a: b\n\r\nc: d\r\n\r\n",
           b"a: b\r\n\r", b"a: b\r\r\n\r\n", b"a: b\n\r\n\n",
           *(b"a: " + b"x" * (MAX_HEADER_BYTES - 3 + shift) + b"\r\n\r\nbody" for shift in range(-2, 4)),
           *(b"a: " + b"x" * (MAX_HEADER_BYTES - 1 + shift) + b"\n\nbody" for shift in range(-2, 4))]


@pytest.mark.parametrize("data", HEADERS, ids=range(len(HEADERS)))
def test_header_findings_equals_reference(data: bytes) -> None:
    assert header_findings(data) == reference_header_findings(data)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"From", b"x", b" ", b"\t", b":", b"\r\n", b"\n", b"\x7f", b"\x00", b"\xff",
                                 b"\r", b"~", b"\x0b", b"\x0c"]), max_size=16))
def test_header_findings_property(parts: list[bytes]) -> None:
    data = b"".join(parts)
    assert header_findings(data) == reference_header_findings(data)


def verdicts(policy: Policy) -> list[Verdict]:
    async def all_samples() -> list[Verdict]:
        verifier = Verifier(Resolver(zones=[str(ZONE)], offline=True), authserv_id=AUTHSERV_ID, policy=policy)
        return [await verifier.verify(message(item["file"]), ip=item["ip"], helo=item["helo"],
                                      mail_from=item["mail_from"]) for item in samples()]
    return asyncio.run(all_samples())


@pytest.mark.parametrize("policy", [POLICIES[0], POLICIES[3]], ids=["default", "strict"])
def test_verdicts_equal_with_and_without_the_fast_paths(policy: Policy, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = verdicts(policy)
    again = verdicts(policy)  # every memo warm
    assert any(v.arc.cv == "none" for v in fast) and any(v.arc.cv != "none" for v in fast)
    # The full path: the ARC stage always runs, memos are bypassed or empty.
    monkeypatch.setattr(verify_module, "has_arc_fields", lambda message: True)
    monkeypatch.setattr(dmarc_author, "MEMO_FROM_BYTES", -1)
    monkeypatch.setattr(dmarc_discovery, "_own_record_outcome", dmarc_discovery._own_record_outcome_of)
    monkeypatch.setattr(type(policy), "decide", type(policy)._decide_fresh)
    for memo in (authres_build._arc_line, authres_build._dmarc_line, authres_build._dkim_head,
                 authres_build._spf_line, authres_build._authserv_memo):
        memo.cache_clear()
    slow = verdicts(policy)
    assert fast == again == slow
    assert [v.authentication_results for v in fast] == [v.authentication_results for v in slow]
    for verdict, item in zip(fast, samples(), strict=True):
        if verdict.arc.cv == "none":
            assert verdict.arc == asyncio.run(arc_validate(message(item["file"])))
