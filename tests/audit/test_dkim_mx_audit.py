"""DKIM and MX findings on zone files."""

from __future__ import annotations

from zegel.audit import DomainReport


def _codes(report: DomainReport) -> set[str]:
    return {f.code for f in report.findings}


def _dkim(report: DomainReport) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in report.findings if f.area == "dkim"]


def test_1024_bit_key_is_a_warning(audit) -> None:
    report = audit("dkim-1024.example")  # found by probing: selector1
    finding = next(f for f in report.findings if f.code == "dkim.key-1024")
    assert finding.severity == "warning"
    assert "2048" in finding.fix
    assert not report.has_errors


def test_key_under_1024_bits_is_an_error(audit) -> None:
    report = audit("dkim-512.example")
    finding = next(f for f in report.findings if f.code == "dkim.key-too-small")
    assert finding.severity == "error" and "512" in finding.message


def test_given_selectors_flags(audit) -> None:
    report = audit("dkim-flags.example", selectors=("old", "test", "bad", "dup", "missing"))
    found = _codes(report)
    assert {"dkim.revoked", "dkim.testing", "dkim.syntax", "dkim.multiple-records",
            "dkim.selector-missing", "dkim.key"} <= found
    assert "dkim.none-found" not in found
    missing = next(f for f in report.findings if f.code == "dkim.selector-missing")
    assert "missing._domainkey.dkim-flags.example" in missing.message


def test_ed25519_only_is_warned_to_dual_sign(audit) -> None:
    report = audit("dkim-ed.example", selectors=("ed",))
    finding = next(f for f in report.findings if f.code == "dkim.ed25519-only")
    assert "RSA" in finding.fix
    assert "dkim.ed25519-only" not in _codes(audit("dkim-flags.example", selectors=("test", "dup")))


def test_probe_finds_common_selector_and_ignores_wildcard_txt(audit) -> None:
    assert "dkim.key" in _codes(audit("good.example"))
    wild = _codes(audit("dkim-wild.example"))
    assert "dkim.syntax" not in wild and "dkim.none-found" in wild


def test_mx_findings(audit) -> None:
    assert "mx.null-mixed" in _codes(audit("mx-mixed.example"))
    dangling = audit("mx-dangling.example")
    finding = next(f for f in dangling.findings if f.code == "mx.host-unresolvable")
    assert "mail.mx-dangling.example" in finding.message
    assert "mx.host-is-ip" in _codes(audit("mx-ip.example"))
    assert "mx.none" in _codes(audit("nothing.example"))
    hosts = next(f for f in audit("good.example").findings if f.code == "mx.hosts")
    assert "mx1.provider.example (10), mx2.provider.example (20)" in hosts.message


def test_null_mx_mixed_is_not_a_no_mail_domain(audit) -> None:
    assert not {c for c in _codes(audit("mx-mixed.example")) if c.startswith("nomail.")}
