"""Domains that send no mail, grades and the spoofing verdict."""

from __future__ import annotations

from zegel.audit import DomainReport


def _codes(report: DomainReport) -> set[str]:
    return {f.code for f in report.findings}


def test_parked_domain_set_up_correctly(audit) -> None:
    report = audit("parked.example")
    assert "nomail.ok" in _codes(report)
    assert report.grade == "A"
    assert report.protected is True
    assert not [f for f in report.findings if f.severity != "info"]
    # no DKIM needed for a domain that sends nothing
    assert "dkim.none-found" not in _codes(report)


def test_half_parked_domain_gets_the_missing_pieces(audit) -> None:
    report = audit("half-parked.example")
    assert {"nomail.spf", "nomail.dmarc", "mx.null"} <= _codes(report)
    spf = next(f for f in report.findings if f.code == "nomail.spf")
    assert "v=spf1 -all" in spf.fix


def test_spf_only_parked_domain(audit) -> None:
    report = audit("spf-only-parked.example")
    assert {"nomail.dmarc", "nomail.null-mx"} <= _codes(report)
    assert "mx.none" not in _codes(report)
    assert "MX 0 ." in next(f for f in report.findings if f.code == "nomail.null-mx").fix


def test_grades(audit) -> None:
    assert audit("good.example").grade == "A"
    assert audit("dmarc-quarantine.example").grade == "B"
    assert audit("dmarc-monitor.example").grade == "C"
    assert audit("dmarc-syntax.example").grade == "D"
    assert audit("dmarc-none.example").grade == "D"  # working SPF, no DMARC
    assert audit("nothing.example").grade == "F"


def test_verdict_sentences(audit) -> None:
    assert audit("good.example").verdict.startswith("Yes:")
    assert audit("dmarc-quarantine.example").verdict.startswith("Mostly:")
    assert audit("dmarc-monitor.example").verdict.startswith("No:")
    assert audit("nothing.example", lang="nl").verdict.startswith("Nee:")
    assert audit("good.example", lang="nl").verdict.startswith("Ja:")


def test_idna_domain_checked_in_a_label_form(audit) -> None:
    report = audit("münchen-test.example")
    assert report.domain == "münchen-test.example"
    assert report.ascii_domain == "xn--mnchen-test-thb.example"
    assert {"domain.idna", "nomail.ok"} <= _codes(report)
    same = audit("xn--mnchen-test-thb.example")
    assert "domain.idna" not in _codes(same) and same.grade == "A"


def test_json_keeps_the_original_keys_first(audit) -> None:
    data = audit("dmarc-norua.example").to_json()
    # The original four keys first and unchanged; the newer ones (docs/check.md) after them.
    assert list(data)[:4] == ["domain", "grade", "protected", "findings"]
    assert {"verdict", "records", "dnssec"} <= set(data)
    assert data["findings"] and all(list(f)[:4] == ["severity", "code", "message", "fix"] for f in data["findings"])
    assert all(set(f) <= {"severity", "code", "message", "fix", "record"} for f in data["findings"])
    assert all(f["severity"] in ("error", "warning", "info") for f in data["findings"])
