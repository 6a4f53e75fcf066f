"""DMARC findings on zone files (RFC 9989, and what RFC 7489 receivers still read)."""

from __future__ import annotations

import pytest

from zegel.audit import DomainReport

CASES: dict[str, set[str]] = {
    "dmarc-none.example": {"dmarc.none"},
    "dmarc-syntax.example": {"dmarc.syntax", "dmarc.policy-none"},
    "dmarc-broken.example": {"dmarc.syntax"},
    "dmarc-dup.example": {"dmarc.multiple-records"},
    "dmarc-old.example": {"dmarc.tag-removed", "dmarc.policy-reject"},
    "dmarc-new.example": {"dmarc.tag-new"},
    "dmarc-monitor.example": {"dmarc.policy-none"},
    "dmarc-quarantine.example": {"dmarc.policy-quarantine"},
    "dmarc-norua.example": {"dmarc.no-rua"},
    "dmarc-pct.example": {"dmarc.pct"},
    "dmarc-weak-sp.example": {"dmarc.sp-weaker", "dmarc.np-weaker"},
    "dmarc-testing.example": {"dmarc.testing"},
    "dmarc-uri.example": {"dmarc.invalid-uri", "dmarc.warning"},
    "third-party.example": {"dmarc.report-unauthorized"},  # rua to a third party without authorization
    "sub.good.example": {"dmarc.inherited"},
    "dmarc-apex.example": {"dmarc.wrong-place", "dmarc.none"},
    "good.example": {"dmarc.alignment", "dmarc.policy-reject"},
}


def _codes(report: DomainReport) -> set[str]:
    return {f.code for f in report.findings}


@pytest.mark.parametrize("domain", sorted(CASES))
def test_dmarc_findings(audit, domain: str) -> None:
    report = audit(domain)
    missing = CASES[domain] - _codes(report)
    assert not missing, f"{domain}: missing {missing}; got {sorted(_codes(report))}"


def test_removed_tags_each_named(audit) -> None:
    removed = [f.message for f in audit("dmarc-old.example").findings if f.code == "dmarc.tag-removed"]
    assert len(removed) == 3
    assert all("RFC 9989" in m for m in removed)
    assert {m.split("'")[1] for m in removed} == {"pct", "rf", "ri"}


def test_new_tags_each_named(audit) -> None:
    new = [f.message.split("'")[1] for f in audit("dmarc-new.example").findings if f.code == "dmarc.tag-new"]
    assert sorted(new) == ["np", "psd", "t"]


def test_policy_none_gives_the_path_to_reject(audit) -> None:
    report = audit("dmarc-monitor.example")
    finding = next(f for f in report.findings if f.code == "dmarc.policy-none")
    assert finding.severity == "warning"
    assert "p=quarantine" in finding.fix and "p=reject" in finding.fix
    assert report.protected is False


def test_third_party_rua_names_the_authorization_record(audit) -> None:
    finding = next(f for f in audit("third-party.example").findings if f.code == "dmarc.report-unauthorized")
    assert "third-party.example._report._dmarc.dmarc-service.example" in finding.fix


def test_authorized_third_party_and_own_subdomain_are_fine(audit) -> None:
    assert "dmarc.report-unauthorized" not in _codes(audit("authorised.example"))


def test_pct_weakens_protection(audit) -> None:
    report = audit("dmarc-pct.example")
    assert report.protected is False
    assert "pct=50" in report.verdict


def test_testing_flag_steps_policy_down(audit) -> None:
    reject = audit("dmarc-testing.example")
    assert reject.protected is True  # t=y on reject: quarantine still keeps forged mail out of the inbox
    assert "quarantine" in next(f for f in reject.findings if f.code == "dmarc.testing").message
    quarantine = audit("dmarc-testing-q.example")
    assert quarantine.protected is False


def test_alignment_modes_explained(audit) -> None:
    finding = next(f for f in audit("dmarc-uri.example").findings if f.code == "dmarc.alignment")
    assert "DKIM strict (s)" in finding.message and "SPF relaxed (r)" in finding.message


def test_invalid_uri_is_quoted(audit) -> None:
    finding = next(f for f in audit("dmarc-uri.example").findings if f.code == "dmarc.invalid-uri")
    assert "'dmarc@dmarc-uri.example'" in finding.message
    assert "mailto:" in finding.fix


def test_a_subdomain_is_told_to_publish_its_own_next_step_and_the_parent_is_fixed_where_it_is(audit) -> None:
    """RFC 9989 4.10.1: shop.X without a record gets X's sp. Its next step is its own record,
    one step up from that sp (not X's p, which would skip quarantine); a problem of X's record
    (no rua) is fixed in X's record, its p kept."""
    weak = {f.code: f for f in audit("shop.dmarc-weak-sp.example").findings}
    assert "dmarc.inherited" in weak
    assert weak["dmarc.policy-none"].record == (
        '_dmarc.shop.dmarc-weak-sp.example. TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@dmarc-weak-sp.example;"')
    norua = {f.code: f for f in audit("shop.dmarc-norua.example").findings}
    assert norua["dmarc.no-rua"].record == (
        '_dmarc.dmarc-norua.example. TXT "v=DMARC1; p=reject; rua=mailto:dmarc-reports@dmarc-norua.example;"')
    # A domain's own record: unchanged advice.
    own = {f.code: f for f in audit("dmarc-norua.example").findings}
    assert own["dmarc.no-rua"].record == norua["dmarc.no-rua"].record


def test_the_record_to_publish_keeps_only_what_receivers_read(audit) -> None:
    """The next step is built from the owner's record, but its ignored values (an invalid adkim,
    pct out of range, fo without a usable ruf, report URIs that do not parse) and the tags RFC
    9989 removed are left out; a bare report address gets the mailto: its finding asks for.
    The result parses without a single warning."""
    from zegel.dmarc import parse_record

    findings = {f.code: f for f in audit("dmarc-messy.example").findings}
    assert {"dmarc.invalid-uri", "dmarc.policy-none"} <= set(findings)
    record = findings["dmarc.policy-none"].record
    assert record == ('_dmarc.dmarc-messy.example. TXT '
                      '"v=DMARC1; p=quarantine; rua=mailto:reports@dmarc-messy.example; aspf=s;"')
    published = record.split('"')[1]
    assert parse_record(published).warnings == ()
