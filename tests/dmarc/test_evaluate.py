"""DMARC evaluation end to end over the loopback DNS server: alignment in both modes, p/sp/np,
pct and t= (deterministic), temperror/permerror, the From header choices."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.dmarc.helpers import Dkim, Spf, run

from zegel.dmarc import author_domains, evaluate, evaluate_message, load_psl
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

Factory = Callable[..., TestDnsServer]

ZONE = {
    "_dmarc.example.com": [("TXT", "v=DMARC1; p=reject; sp=quarantine; np=reject; rua=mailto:d@example.com")],
    "example.com": [("A", "192.0.2.10")],
    "mail.example.com": [("A", "192.0.2.11")],
    "_dmarc.strict.example": [("TXT", "v=DMARC1; p=reject; adkim=s; aspf=s")],
    "_dmarc.test.example": [("TXT", "v=DMARC1; p=reject; t=y")],
    "_dmarc.pct.example": [("TXT", "v=DMARC1; p=reject; pct=30")],
    "_dmarc.quar.example": [("TXT", "v=DMARC1; p=quarantine; pct=0; t=y")],
    "_dmarc.monitor.example": [("TXT", "v=DMARC1; p=none")],
    "_dmarc.bad.example": [("TXT", "v=DMARC1; p=bogus")],
    "_dmarc.co.uk": [("TXT", "v=DMARC1; p=reject; psd=y")],
    "_dmarc.shop.co.uk": [("TXT", "v=DMARC1; p=quarantine")],
    "_dmarc.flaky3.example": [("TXT", "v=DMARC1; p=reject")],
}


@pytest.fixture
def resolver(dns_server: Factory) -> Resolver:
    server = dns_server(ZONE, servfail=["_dmarc.flaky.example", "_dmarc.sub.flaky2.example",
                                              "_dmarc.b.flaky3.example"])
    return Resolver([server.address])


@pytest.fixture(scope="module")
def psl():  # type: ignore[no-untyped-def]
    return load_psl()


@pytest.mark.parametrize("mode", ["rfc9989", "rfc7489"])
def test_relaxed_alignment_spf_and_dkim(resolver: Resolver, psl, mode: str) -> None:  # type: ignore[no-untyped-def]
    spf_only = run(evaluate("example.com", spf=Spf("pass", "bounce.mail.example.com"), dkim=[],
                            resolver=resolver, mode=mode, psl=psl))  # type: ignore[arg-type]
    assert (spf_only.result, spf_only.spf_aligned, spf_only.dkim_aligned) == ("pass", True, False)
    assert spf_only.disposition == "none" and spf_only.policy == "reject" and spf_only.policy_tag == "p"
    dkim_only = run(evaluate("mail.example.com", spf=Spf("pass", "other.example.net"),
                             dkim=[Dkim("fail", "mail.example.com"), Dkim("pass", "example.com")],
                             resolver=resolver, mode=mode, psl=psl))  # type: ignore[arg-type]
    assert (dkim_only.result, dkim_only.spf_aligned, dkim_only.dkim_domains) == ("pass", False, ("example.com",))


def test_strict_alignment(resolver: Resolver) -> None:
    exact = run(evaluate("strict.example", spf=None, dkim=[Dkim("pass", "strict.example")], resolver=resolver))
    assert exact.result == "pass"
    sub = run(evaluate("strict.example", spf=Spf("pass", "mail.strict.example"),
                       dkim=[Dkim("pass", "news.strict.example")], resolver=resolver))
    assert sub.result == "fail" and sub.disposition == "reject"
    assert all("strict" in a.reason for a in sub.alignments)


def test_failures_only_count_passing_identifiers(resolver: Resolver) -> None:
    result = run(evaluate("example.com", spf=Spf("softfail", "example.com"), dkim=[Dkim("fail", "example.com")],
                          resolver=resolver))
    assert result.result == "fail" and result.reason == "no SPF or DKIM pass to align"


def test_sp_for_existing_and_np_for_non_existent_subdomains(resolver: Resolver, psl) -> None:  # type: ignore[no-untyped-def]
    existing = run(evaluate("mail.example.com", spf=None, dkim=[], resolver=resolver))
    assert (existing.result, existing.policy_tag, existing.policy, existing.disposition) == ("fail", "sp", "quarantine", "quarantine")
    ghost = run(evaluate("ghost.example.com", spf=None, dkim=[], resolver=resolver))
    assert (ghost.policy_tag, ghost.policy, ghost.disposition) == ("np", "reject", "reject")
    # RFC 7489 has no np: sp applies to the non-existent subdomain
    old = run(evaluate("ghost.example.com", spf=None, dkim=[], resolver=resolver, mode="rfc7489", psl=psl))
    assert (old.policy_tag, old.policy) == ("sp", "quarantine")


def test_t_flag_lowers_the_policy_in_rfc9989_only(resolver: Resolver, psl) -> None:  # type: ignore[no-untyped-def]
    new = run(evaluate("test.example", spf=None, dkim=[], resolver=resolver))
    assert (new.policy, new.disposition, new.testing) == ("reject", "quarantine", True)
    old = run(evaluate("test.example", spf=None, dkim=[], resolver=resolver, mode="rfc7489", psl=psl, draw=99.0))
    assert (old.disposition, old.testing) == ("reject", False)  # t= unknown to RFC 7489
    quarantine = run(evaluate("quar.example", spf=None, dkim=[], resolver=resolver))
    assert quarantine.disposition == "none"


def test_pct_sampling_is_deterministic_with_an_injected_draw(resolver: Resolver, psl) -> None:  # type: ignore[no-untyped-def]
    selected = run(evaluate("pct.example", spf=None, dkim=[], resolver=resolver, mode="rfc7489", psl=psl, draw=29.9))
    assert (selected.disposition, selected.sampled) == ("reject", True)
    skipped = run(evaluate("pct.example", spf=None, dkim=[], resolver=resolver, mode="rfc7489", psl=psl, draw=30.0))
    assert (skipped.disposition, skipped.sampled) == ("quarantine", False)  # next policy down
    # RFC 9989 ignores pct
    new = run(evaluate("pct.example", spf=None, dkim=[], resolver=resolver, draw=99.0))
    assert (new.disposition, new.sampled) == ("reject", None)
    zero = run(evaluate("quar.example", spf=None, dkim=[], resolver=resolver, mode="rfc7489", psl=psl, draw=0.0))
    assert zero.disposition == "none"


def test_monitoring_policy(resolver: Resolver) -> None:
    result = run(evaluate("monitor.example", spf=None, dkim=[], resolver=resolver))
    assert (result.result, result.policy, result.disposition) == ("fail", "none", "none")


def test_no_record_none(resolver: Resolver) -> None:
    result = run(evaluate("nodmarc.example", spf=Spf("pass", "nodmarc.example"), dkim=[], resolver=resolver))
    assert (result.result, result.policy, result.disposition) == ("none", None, "none")


def test_temperror_and_permerror(resolver: Resolver) -> None:
    temp = run(evaluate("flaky.example", spf=None, dkim=[], resolver=resolver))
    assert temp.result == "temperror" and "flaky" in temp.reason
    perm = run(evaluate("bad.example", spf=None, dkim=[], resolver=resolver))
    assert perm.result == "permerror" and perm.disposition == "none"
    invalid = run(evaluate("bad domain", spf=None, dkim=[], resolver=resolver))
    assert invalid.result == "permerror"


def test_alignment_temperror_when_org_domain_unknown(resolver: Resolver) -> None:
    # the Tree Walk for the DKIM d= hits SERVFAIL: alignment cannot be decided
    result = run(evaluate("flaky3.example", spf=None, dkim=[Dkim("pass", "b.flaky3.example")], resolver=resolver))
    assert result.result == "temperror" and "b.flaky3.example" in result.reason
    # unrelated domains need no lookup: cleanly not aligned
    other = run(evaluate("example.com", spf=None, dkim=[Dkim("pass", "a.sub.flaky2.example")], resolver=resolver))
    assert other.result == "fail"


def test_psd_policy_under_a_public_suffix(resolver: Resolver) -> None:
    result = run(evaluate("nobody.co.uk", spf=None, dkim=[], resolver=resolver))
    # no np/sp in the PSD record: p applies to the subdomain, no existence query needed
    assert (result.policy_domain, result.policy_tag, result.policy) == ("co.uk", "sp", "reject")
    own = run(evaluate("shop.co.uk", spf=None, dkim=[Dkim("pass", "mail.shop.co.uk")], resolver=resolver))
    assert own.result == "pass"  # Organizational Domain shop.co.uk, one label below the PSD
    cross = run(evaluate("shop.co.uk", spf=None, dkim=[Dkim("pass", "other.co.uk")], resolver=resolver))
    assert cross.result == "fail"  # same PSD is not the same Organizational Domain


MESSAGE = b"From: Alice <alice@Example.COM>\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


def test_author_domains_from_raw_messages() -> None:
    assert author_domains(MESSAGE).domains == ("example.com",)
    folded = b"Subject: x\r\nFROM :\r\n \"Bob, Jr\" <bob@a.example>,\r\n\tcarol@b.example\r\n\r\n"
    found = author_domains(folded)
    assert found.domains == ("a.example", "b.example") and found.domain is None and found.problems
    assert author_domains(b"Subject: none\r\n\r\nFrom: x@y.example\r\n").problems == ("no From header field",)
    assert author_domains(b"From: undisclosed-recipients:;\r\n\r\n").domains == ()
    assert author_domains(b"From: alice\r\n\r\n").domains == ()
    literal = author_domains(b"From: a@[192.0.2.1]\r\n\r\n")
    assert literal.domains == () and "literal" in literal.problems[0]
    assert author_domains("From: ü@bücher.example\r\n\r\n".encode()).domains == ("xn--bcher-kva.example",)
    assert author_domains(b"From: a@x.example\nFrom: b@x.example\n\n").domains == ("x.example",)


def test_evaluate_message_choices(resolver: Resolver) -> None:
    ok = run(evaluate_message(MESSAGE, spf=Spf("pass", "example.com"), dkim=[], resolver=resolver))
    assert ok.result == "pass" and ok.from_domain == "example.com"
    missing = run(evaluate_message(b"Subject: x\r\n\r\n", spf=None, dkim=[], resolver=resolver))
    assert missing.result == "permerror" and "no From" in missing.reason
    two = b"From: a@monitor.example, b@example.com\r\n\r\n"
    strictest = run(evaluate_message(two, spf=None, dkim=[], resolver=resolver))
    assert strictest.result == "fail" and strictest.from_domain == "example.com" and strictest.disposition == "reject"
    assert "2 author domains" in strictest.reason
    # One author passes, the other has no DMARC record: the combination is no pass.
    mixed = b"From: a@example.com, ceo@no-record.example\r\n\r\n"
    for message in (mixed, b"From: ceo@no-record.example\r\nFrom: a@example.com\r\n\r\n"):
        combined = run(evaluate_message(message, spf=Spf("pass", "example.com"), dkim=[], resolver=resolver))
        assert combined.result == "none" and combined.from_domain == "no-record.example", combined
        assert combined.author is not None and combined.author.unknown
    alone = run(evaluate_message(b"From: a@example.com\r\n\r\n", spf=Spf("pass", "example.com"), dkim=[],
                                 resolver=resolver))
    assert alone.result == "pass"


@pytest.mark.parametrize("from_value", [
    b"ceo@no-record.example <a@example.com>",  # an address of several words: which is the author?
    b"<ceo@no-record.example>\x00<a@example.com>",
    b"<a@example.com",  # unterminated
    b"a@example.com, b@[192.0.2.1]",  # a literal: no domain to check
    b"a@example.com, b@localhost",  # a single-label domain
])
def test_no_pass_when_part_of_the_from_is_unread(resolver: Resolver, from_value: bytes) -> None:
    """A From with text that is not a mailbox with a domain may show a mail client an author
    that nothing was checked for: the domain that did pass does not make it a DMARC pass."""
    result = run(evaluate_message(b"From: " + from_value + b"\r\n\r\n", spf=Spf("pass", "example.com"), dkim=[],
                                  resolver=resolver))
    assert result.result == "permerror" and result.from_domain == "example.com", result
    assert result.author is not None and result.author.unattributed and "not a pass" in result.reason


@pytest.mark.parametrize("from_value", [
    b"Alice <a@example.com>", b"(comment) a@example.com", b'"ceo@bank.example" <a@example.com>',
    b"a@example.com, b@example.com",  # two mailboxes of one domain: both were checked
])
def test_a_fully_read_from_keeps_its_pass(resolver: Resolver, from_value: bytes) -> None:
    result = run(evaluate_message(b"From: " + from_value + b"\r\n\r\n", spf=Spf("pass", "example.com"), dkim=[],
                                  resolver=resolver))
    assert result.result == "pass" and result.author is not None and not result.author.unattributed


def test_bad_input_never_raises(resolver: Resolver) -> None:
    huge = b"From: " + b"a" * 100_000 + b"@example.com\r\n" + b"X: y\r\n" * 100_000 + b"\r\n"
    result = run(evaluate_message(huge, spf=None, dkim=[], resolver=resolver))
    assert result.result in ("permerror", "fail", "none")
    junk = bytes(range(256)) * 400
    assert run(evaluate_message(junk, spf=None, dkim=[], resolver=resolver)).result == "permerror"


def test_invalid_np_and_the_rua_rescue(dns_server: Factory, psl) -> None:  # type: ignore[no-untyped-def]
    server = dns_server({
        "_dmarc.badnp.example": [("TXT", "v=DMARC1; p=reject; np=never")],
        "_dmarc.rescued.example": [("TXT", "v=DMARC1; p=never; rua=mailto:r@rescued.example")],
    })
    resolver = Resolver([server.address])
    assert run(evaluate("badnp.example", spf=None, dkim=[], resolver=resolver)).result == "permerror"
    # RFC 7489 has no np tag, so the record is fine there
    old = run(evaluate("badnp.example", spf=None, dkim=[], resolver=resolver, mode="rfc7489", psl=psl))
    assert (old.result, old.disposition) == ("fail", "reject")
    rescued = run(evaluate("rescued.example", spf=None, dkim=[], resolver=resolver))
    assert (rescued.result, rescued.policy, rescued.disposition) == ("fail", "none", "none")


def test_psd_n_boundary_limits_relaxed_alignment(dns_server: Factory) -> None:
    server = dns_server({
        "_dmarc.dept.example.com": [("TXT", "v=DMARC1; p=reject; psd=n")],
        "_dmarc.example.com": [("TXT", "v=DMARC1; p=none")],
    })
    resolver = Resolver([server.address])
    inside = run(evaluate("a.dept.example.com", spf=None, dkim=[Dkim("pass", "mail.dept.example.com")], resolver=resolver))
    assert inside.result == "pass"
    outside = run(evaluate("a.dept.example.com", spf=None, dkim=[Dkim("pass", "example.com")], resolver=resolver))
    assert outside.result == "fail" and "dept.example.com" in outside.reason
    assert (outside.policy_domain, outside.disposition) == ("dept.example.com", "reject")


def test_spf_domain_given_as_an_address(resolver: Resolver) -> None:
    result = run(evaluate("example.com", spf=Spf("pass", "bounce@mail.example.com"), dkim=[], resolver=resolver))
    assert result.result == "pass" and result.spf_domain == "mail.example.com"


def test_to_dict_has_the_cli_keys(resolver: Resolver) -> None:
    data = run(evaluate("example.com", spf=None, dkim=[], resolver=resolver)).to_dict()
    assert {"result", "policy", "disposition", "from_domain"} <= set(data)
    assert data["result"] == "fail" and data["disposition"] == "reject"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_author_domains(data: bytes) -> None:
    found = author_domains(b"From: " + data + b"\r\n\r\n")
    assert all(domain == domain.lower() and "@" not in domain for domain in found.domains)


def test_fuzz_evaluate_message_offline(tmp_path: Path) -> None:
    zone = tmp_path / "offline.zone"
    zone.write_text('_dmarc.example.com. 300 IN TXT "v=DMARC1; p=reject"\n')
    resolver = Resolver(zones=[str(zone)], offline=True)

    @settings(max_examples=100, deadline=None)
    @given(st.binary(max_size=300), st.sampled_from(["rfc9989", "rfc7489"]))
    def check(data: bytes, mode: str) -> None:
        message = b"From: x@example.com\r\nFrom: " + data + b"\r\n\r\nbody"
        result = run(evaluate_message(message, spf=Spf("pass", "example.com"), dkim=[], resolver=resolver,
                                      mode=mode, psl=PSL))  # type: ignore[arg-type]
        assert result.result in ("pass", "fail", "none", "temperror", "permerror")

    check()


PSL = load_psl()
