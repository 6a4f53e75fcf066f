"""MTA-STS, TLS-RPT, BIMI, DNSSEC, DANE, MX host checks, records to paste and input handling,
on the zone files (offline) and through the loopback DNS server."""

from __future__ import annotations

import asyncio
import datetime
import re

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from zegel.audit import CheckOptions, Texts, audit_domain
from zegel.audit.bimi import check_svg
from zegel.audit.dane import parse_tlsa, tlsa_record
from zegel.audit.fixes import dmarc_next, txt_line
from zegel.audit.inputs import reduce_input, split_selectors
from zegel.audit.mta_sts import mx_matches, parse_policy, parse_sts_record, parse_tlsrpt_record
from zegel.audit.net import parse_connect_to
from zegel.audit.render_csv import csv_rows
from zegel.audit.render_html import render_html
from zegel.audit.starttls import ProbeResult, cipher_grade, grade_probe
from zegel.dns import Resolver

from .conftest import ZONE_FILES

EN = Texts("en")


def _codes(report) -> set[str]:  # type: ignore[no-untyped-def]
    return {f.code for f in report.findings}


def _cert(key_size: int = 2048, days: int = 90, name: str = "mx.ts.example") -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size) if key_size else ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - datetime.timedelta(days=10))
            .not_valid_after(now + datetime.timedelta(days=days)).sign(key, hashes.SHA256()))
    from cryptography.hazmat.primitives.serialization import Encoding
    return cert.public_bytes(Encoding.DER)


# -- on the zone files ----------------------------------------------------------------------

def test_transport_records_pass(audit) -> None:
    report = audit("ts.example")
    codes = _codes(report)
    assert {"mta-sts.record", "tlsrpt.ok", "bimi.record", "mx.ipv6", "mx.fcrdns-ok", "dnssec.draft"} <= codes
    assert "dkim.adsp" in codes
    # offline: no HTTPS fetch, and no DNSSEC verdict on drafted TLSA records
    assert "mta-sts.fetch-failed" not in codes and "dane.insecure" not in codes
    assert any(r.name == "_mta-sts.ts.example" and r.draft for r in report.records)
    assert any(r.rdtype == "TLSA" for r in report.records)


def test_everything_wrong(audit) -> None:
    report = audit("bad-ts.example")
    codes = _codes(report)
    assert {"mx.cname", "mx.no-ipv6", "mx.fcrdns", "mx.spf-limit", "spf.broad-include", "mta-sts.syntax",
            "tlsrpt.syntax", "bimi.syntax", "bimi.dmarc-not-enforced", "bimi.no-certificate", "dane.syntax",
            "dane.usage", "dane.parameters"} <= codes
    by_code = {f.code: f for f in report.findings}
    assert by_code["mta-sts.syntax"].record.startswith('_mta-sts.bad-ts.example. TXT "v=STSv1; id=zegel')
    assert by_code["tlsrpt.syntax"].record == \
        '_smtp._tls.bad-ts.example. TXT "v=TLSRPTv1; rua=mailto:tls-reports@bad-ts.example"'
    assert "16,777,216" in by_code["spf.broad-include"].message
    assert by_code["dmarc.policy-none"].record == \
        '_dmarc.bad-ts.example. TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@bad-ts.example;"'


def test_duplicate_records(audit) -> None:
    codes = _codes(audit("multi-ts.example"))
    assert {"mta-sts.multiple-records", "tlsrpt.multiple-records", "bimi.none"} <= codes


def test_missing_records_get_a_record_to_paste(audit) -> None:
    report = audit("flat.example")
    by_code = {f.code: f for f in report.findings}
    assert "mta-sts.none" in by_code and "tlsrpt.none" in by_code
    policy = by_code["mta-sts.none"].record
    assert "version: STSv1\nmode: testing\nmx: mx.ts.example\nmax_age: 1209600" in policy
    assert by_code["tlsrpt.none"].record.startswith('_smtp._tls.flat.example. TXT "v=TLSRPTv1; rua=mailto:')


def test_spf_over_the_limit_is_flattened_within_ten(audit) -> None:
    report = audit("flat.example")
    by_code = {f.code: f for f in report.findings}
    assert "spf.too-many-lookups" in by_code
    flat = by_code["spf.flattened"]
    assert flat.severity == "warning" and "snapshot" in flat.fix
    assert "ip4:198.51.100.1" in flat.record and "include:r1.flat.example" not in flat.record
    assert flat.record.count("include:") == 10
    # the record is valid zone syntax: each string at most 255 characters
    strings = re.findall(r'"([^"]*)"', flat.record)
    assert len(strings) >= 2 and all(len(part) <= 255 for part in strings)
    assert all(part.endswith(" ") for part in strings[:-1])  # cut between terms, not inside one


def test_parked_domain_missing_selector_is_not_an_error(audit) -> None:
    report = audit("parked.example", selectors=("s1",))
    assert "dkim.selector-missing" not in _codes(report) and not report.has_errors


def test_url_and_address_are_reduced(audit) -> None:
    for given, code in (("https://good.example/contact", "domain.from-url"), ("info@good.example", "domain.from-address")):
        report = audit(given)
        assert code in _codes(report)
    report = audit("info@good.example")
    assert report.domain == "good.example" and report.to_json()["input"] == "info@good.example"
    assert report.grade == "A"


def test_draft_selectors_checked_without_being_named() -> None:
    zone = "draft.example. 300 IN TXT \"v=spf1 -all\"\nmysel._domainkey.draft.example. 300 IN TXT \"v=DKIM1; p=\"\n"
    from zegel.dns import nodes_from_zone_text
    resolver = Resolver(zone_nodes=nodes_from_zone_text(zone), offline=True)
    report = asyncio.run(audit_domain("draft.example", resolver, CheckOptions(selectors=("other",))))
    assert "mysel" in report.dkim_selectors or "dkim.revoked" in _codes(report)


def test_selector_scoped_to_one_domain(audit) -> None:
    options = {"domain_selectors": {"good.example": ("nosuch",)}}
    assert "dkim.selector-missing" in _codes(audit("good.example", **options))
    assert "dkim.selector-missing" not in _codes(audit("dmarc-norua.example", **options))


def test_dns_only_skips_transport(audit) -> None:
    codes = _codes(audit("ts.example", transport=False))
    assert not any(c.startswith(("mta-sts.", "tlsrpt.", "dnssec.", "bimi.")) for c in codes)


def test_html_marks_drafts_and_has_an_overview(audit) -> None:
    page = render_html([audit("ts.example"), audit("bad-ts.example")])
    assert "Overview" in page and 'class="badge draft"' in page and "_25._tcp.mx.ts.example. TLSA" in page
    assert "Record to publish" in page


def test_csv_rows(audit) -> None:
    rows = csv_rows(audit("bad-ts.example"))
    assert all(len(row) == 8 and row[0] == "bad-ts.example" for row in rows)
    assert any(row[4] == "mx.cname" for row in rows)


# -- through the loopback DNS server (not validating: insecure; SERVFAIL: error) -----------

def test_dnssec_through_a_non_validating_server(dns_server) -> None:
    server = dns_server(zone_files=ZONE_FILES, servfail=["bad-ts.example"])
    resolver = Resolver([server.address], timeout=2, lifetime=4)
    report = asyncio.run(audit_domain("ts.example", resolver, CheckOptions(fetch=False)))
    assert {"dnssec.insecure", "dnssec.mx-insecure"} <= _codes(report)
    assert "dane.insecure" in _codes(report)
    assert report.to_json()["dnssec"]["state"] == "insecure"
    failed = asyncio.run(audit_domain("bad-ts.example", resolver, CheckOptions(fetch=False)))
    assert "dnssec.dns-error" in _codes(failed)


# -- pure parsers ----------------------------------------------------------------------------

def test_sts_record_and_policy() -> None:
    assert not parse_sts_record("v=STSv1; id=20260101T000000").problems
    assert parse_sts_record("v=STSv1;").problems
    policy = parse_policy(b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.nl\r\nmx: *.example.net\r\nmax_age: 604800\r\n")
    assert not policy.problems and policy.mode == "enforce" and policy.max_age == 604800
    assert parse_policy(b"version: STSv1\nmode: strict\nmax_age: 99999999999\n").problems
    assert mx_matches("a.example.net", "*.example.net") and not mx_matches("a.b.example.net", "*.example.net")
    assert not mx_matches("example.net", "*.example.net")


def test_tlsrpt_record() -> None:
    assert not parse_tlsrpt_record("v=TLSRPTv1; rua=mailto:a@b.example,https://r.example/x").problems
    assert parse_tlsrpt_record("v=TLSRPTv1").problems


SVG_OK = (b'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny-ps" viewBox="0 0 10 10">'
          b"<title>Bakkerij</title><rect width=\"10\" height=\"10\" fill=\"#c00\"/></svg>")


def test_svg_tiny_ps() -> None:
    assert check_svg(SVG_OK) == ()
    bad = b'<svg xmlns="http://www.w3.org/2000/svg" x="1"><script>alert(1)</script><image href="https://x/y.png"/></svg>'
    problems = " ".join(check_svg(bad))
    assert "<script>" in problems and "external reference" in problems and "title" in problems
    bomb = b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg>&a;</svg>'
    assert any("DOCTYPE" in p for p in check_svg(bomb))
    assert check_svg(b"x" * 40_000)[0].startswith("40,000 bytes")


def test_tlsa_parse_and_record() -> None:
    der = _cert()
    record = tlsa_record(der)
    parsed = parse_tlsa(record)
    assert (parsed.usage, parsed.selector, parsed.matching) == (3, 1, 1)
    with pytest.raises(ValueError):
        parse_tlsa("3 1 1 abc")


def test_cipher_grades_follow_ncsc() -> None:
    assert cipher_grade("TLS_AES_256_GCM_SHA384", "TLSv1.3") == "good"
    assert cipher_grade("ECDHE-RSA-AES256-GCM-SHA384", "TLSv1.2") == "good"
    assert cipher_grade("ECDHE-RSA-AES256-SHA", "TLSv1.2") == "sufficient"
    assert cipher_grade("AES256-GCM-SHA384", "TLSv1.2") == "phase-out"
    assert cipher_grade("RC4-SHA", "TLSv1.2") == "insufficient"


def test_grade_probe_pure() -> None:
    der = _cert(key_size=1024, days=3)
    result = ProbeResult("mx.ts.example", "192.0.2.30", starttls=True, version="TLSv1.2",
                         cipher="AES256-GCM-SHA384", leaf_der=der, verify_error="self-signed certificate",
                         old_versions=("TLSv1",))
    codes = {f.code for f in grade_probe(result, EN)}
    assert {"starttls.version", "starttls.cipher", "starttls.cert-expiring", "starttls.cert-key-weak",
            "starttls.cert-invalid"} <= codes
    expired = ProbeResult("h", starttls=True, version="TLSv1.3", cipher="TLS_AES_128_GCM_SHA256",
                          leaf_der=_cert(days=-2))
    assert "starttls.cert-expired" in {f.code for f in grade_probe(expired, EN)}
    assert [f.code for f in grade_probe(ProbeResult("h"), EN)] == ["starttls.not-offered"]
    assert [f.code for f in grade_probe(ProbeResult("h", error="refused"), EN)] == ["starttls.failed"]


def test_inputs() -> None:
    assert reduce_input("https://user@www.bakkerij.example:8443/path?q#f").domain == "www.bakkerij.example"
    assert reduce_input("Info <info@bakkerij.example>").kind == ""
    assert reduce_input("mailto:info@bakkerij.example?subject=x").domain == "bakkerij.example"
    assert split_selectors(["s1", "bakkerij.example:k2"]) == (("s1",), {"bakkerij.example": ("k2",)})
    with pytest.raises(ValueError):
        split_selectors([":x"])
    assert parse_connect_to("mta-sts.example:443:127.0.0.1:8443") == (("mta-sts.example", 443), ("127.0.0.1", 8443))
    with pytest.raises(ValueError):
        parse_connect_to("host:443:name.example:1")


def test_fix_records() -> None:
    assert dmarc_next("x.example", "v=DMARC1; p=quarantine; pct=50; rua=mailto:a@x.example") == \
        '_dmarc.x.example. TXT "v=DMARC1; p=reject; rua=mailto:a@x.example;"'
    # The step after what receivers apply: a capitalised value counts (RFC 5234 2.3), a
    # misspelt one leaves them at none, so the step is quarantine, not a jump to reject.
    for record, step in (("v=DMARC1; p=None; rua=mailto:a@x.example", "quarantine"),
                         ("v=DMARC1; p=QUARANTINE; rua=mailto:a@x.example", "reject"),
                         ("v=DMARC1; p=rejct; rua=mailto:a@x.example", "quarantine")):
        assert dmarc_next("x.example", record) == f'_dmarc.x.example. TXT "v=DMARC1; p={step}; rua=mailto:a@x.example;"'
    long_line = txt_line("x.example", "v=spf1 " + "ip4:192.0.2.1 " * 40 + "-all")
    assert long_line.count('" "') >= 2


def test_dnssec_judgement_shows_the_chain() -> None:
    from zegel.audit.dnssec_audit import judge_dnssec
    from zegel.dns import Security

    ds = Security("secure", records=("12345 13 2 AB12",))
    key = Security("secure", records=("257 3 13 KEY",), signatures=("RRSIG DNSKEY alg 13 key tag 12345 by x.example",))
    secure = judge_dnssec("x.example", ["mx.x.example", "mx.y.example"], Security("secure"), ds, key,
                          [Security("secure"), Security("bogus")], EN)
    codes = [f.code for f in secure.findings]
    assert codes == ["dnssec.secure", "dnssec.mx-secure", "dnssec.mx-bogus"]
    assert "x.example DS 12345 13 2 AB12" in secure.chain and "key tag 12345" in secure.findings[0].message
    bogus = judge_dnssec("x.example", [], Security("bogus"), ds, key, [], EN)
    assert [f.code for f in bogus.findings] == ["dnssec.bogus"] and bogus.state == "bogus"


def test_dane_with_a_signed_host(zone_resolver) -> None:
    from zegel.audit.dane import audit_dane

    result = asyncio.run(audit_dane(["mx.ts.example", "mx1.provider.example"], ["secure", "secure"],
                                    zone_resolver, EN))
    codes = [f.code for f in result.findings]
    assert "dane.ok" in codes and "dane.none" in codes
    unsigned = asyncio.run(audit_dane(["mx1.provider.example"], ["insecure"], zone_resolver, EN))
    assert [f.code for f in unsigned.findings] == ["dane.none-unsigned"]


def test_probe_against_tlsa() -> None:
    der = _cert(key_size=0)
    good = ProbeResult("mx.ts.example", starttls=True, version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384",
                       leaf_der=der, verify_error="self-signed certificate")
    codes = [f.code for f in grade_probe(good, EN, (parse_tlsa(tlsa_record(der)),))]
    assert codes == ["dane.match", "starttls.ok"]  # with DANE the self-signed certificate is fine
    other = parse_tlsa(tlsa_record(_cert(key_size=0)))
    mismatch = grade_probe(good, EN, (other,))
    assert [f.code for f in mismatch] == ["dane.mismatch"]
    assert mismatch[0].record == f"_25._tcp.mx.ts.example. TLSA {tlsa_record(der)}"


def test_lookup_failures(dns_server) -> None:
    server = dns_server(zone_files=ZONE_FILES, servfail=["_mta-sts.ts.example", "_smtp._tls.ts.example",
                                                          "default._bimi.ts.example", "_25._tcp.mx.ts.example"])
    resolver = Resolver([server.address], timeout=1, lifetime=2)
    codes = _codes(asyncio.run(audit_domain("ts.example", resolver, CheckOptions(fetch=False))))
    assert {"mta-sts.dns-error", "tlsrpt.dns-error", "bimi.dns-error", "dane.dns-error"} <= codes


def test_records_to_paste_for_more_fixes(audit) -> None:
    def record(domain: str, code: str) -> str:
        return next(f.record for f in audit(domain).findings if f.code == code)

    assert record("bad-ts.example", "mx.cname") == "bad-ts.example. MX 10 real.bad-ts.example."
    assert record("mx-ip.example", "mx.host-is-ip").splitlines() == [
        "mail.mx-ip.example. A 192.0.2.25", "mx-ip.example. MX 10 mail.mx-ip.example."]
    assert record("dup.example", "spf.multiple-records") == \
        'dup.example. TXT "v=spf1 include:_spf.provider.example ip4:192.0.2.1 -all"'
    assert record("dmarc-pct.example", "dmarc.pct").startswith('_dmarc.dmarc-pct.example. TXT "v=DMARC1; p=reject;')
    assert "pct=" not in record("dmarc-pct.example", "dmarc.pct")
    assert "sp=" not in record("dmarc-weak-sp.example", "dmarc.sp-weaker")
    assert record("dmarc-apex.example", "dmarc.wrong-place").startswith('_dmarc.dmarc-apex.example. TXT "v=DMARC1;')
    assert record("multi-ts.example", "mta-sts.multiple-records").startswith('_mta-sts.multi-ts.example. TXT "v=STSv1; id=')
    assert record("bad-ts.example", "bimi.dmarc-not-enforced").startswith('_dmarc.bad-ts.example. TXT "v=DMARC1; p=quarantine;')
