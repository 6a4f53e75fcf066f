"""Every reproducer of issue 10 (docs/security.md) as a regression test: each input gets its
defined result. The super-linear ones are run at the size that took seconds to minutes before
the fix (no timing assertion: a regression shows as a test that does not finish)."""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import Callable

import pytest

from zegel import authres
from zegel.arc.validate import has_arc_fields
from zegel.dkim import verify as dkim_verify
from zegel.dkim.canonicalize import parse_message
from zegel.dmarc import DmarcRecordError, author_domains, parse_record
from zegel.dmarc.author import parse_address_list
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer
from zegel.milter.protocol import ProtocolError, decode_response
from zegel.policy import Policy, PolicyError
from zegel.reports.ingest import Limits, ReportError, parse_aggregate, unzip_capped
from zegel.spf import SpfSyntaxError, check_host
from zegel.spf import parse_record as parse_spf

OFFLINE = Resolver(zones=[], offline=True)


def test_spf_domain_end_is_linear() -> None:
    # 7.7 s at 16,000 before (the _DOMAIN_END search backtracked over the long label).
    # "=" and "?" are macro-literal characters: the record is valid, its top label is "com".
    record = parse_spf("v=spf1 exists:%{d}.examp" + "a" * 160_000 + "=?le.com -all")
    assert len(record.mechanisms) == 2
    with pytest.raises(SpfSyntaxError):
        parse_spf("v=spf1 exists:%{d}.examp" + "a" * 160_000 + "=?le.123 -all")


@pytest.mark.parametrize(("spec", "ok"), [
    ("a.com", True), ("a.com.", True), ("a.c0m", True), ("a.123", False), ("a.x-1", True), ("a.-x", False),
    ("a.x-", False), ("a", False), ("a.", False), ("a.%{d}", True), ("a.ü", False), ("a.1-2", True),
])
def test_spf_domain_end_grammar(spec: str, ok: bool) -> None:
    try:
        parse_spf(f"v=spf1 a:{spec} -all")
    except SpfSyntaxError:
        assert not ok
    else:
        assert ok


def test_a_60_kilobyte_spf_record_over_dns_is_a_defined_result(dns_server: Callable[..., TestDnsServer]) -> None:
    record = "v=spf1 exists:%{d}.examp" + "a" * 60_000 + "=?le.com -all"
    server = dns_server({"attacker.example": [("TXT", record)]})

    async def run() -> str:
        result = await check_host("192.0.2.1", "attacker.example", "x@attacker.example",
                                  resolver=Resolver([server.address], timeout=2.0))
        return result.result

    # The expanded name is over 253 octets: exists does not match, -all decides (RFC 7208 4.6.4).
    assert asyncio.run(run()) == "fail"


def test_dkim_field_split_is_linear() -> None:
    # 17 s before at 32,000 (the unanchored _FIELD findall); 320,000 now.
    results = asyncio.run(dkim_verify(b"a" * 320_000 + b"\r\nFrom: x@y\r\n\r\nb", resolver=OFFLINE))
    assert [r.result for r in results] == ["none"]


def test_authres_non_ascii_version_digit_is_a_warning_not_a_traceback() -> None:
    parsed = authres.parse("mx.example 1²; dkim=pass")
    assert parsed.version is None and parsed.warnings


@pytest.mark.parametrize("pct", ["1²", "١٠٠", "²"])
def test_dmarc_pct_needs_ascii_digits(pct: str) -> None:
    try:
        record = parse_record(f"v=DMARC1; p=reject; pct={pct}")
    except DmarcRecordError:
        return
    assert record.pct is None or record.pct != 100 or pct.isascii()
    assert any(issue.tag == "pct" and issue.code == "invalid-value" for issue in record.warnings)


def test_policy_reply_code_needs_ascii_digits() -> None:
    with pytest.raises(PolicyError):
        Policy.from_toml('[on]\nspf_fail = { action = "reject", reply = "5.7.²3 no" }\n')


@pytest.mark.parametrize("value", [
    b"ceo@bank.example " + b"(" * 1000,
    b"ceo@bank.example " + b"x:" * 1000,
    b"(" * 100_000 + b")" * 100_000 + b" ceo@bank.example",
    b'"' + b"a" * 170_000 + b'" <ceo@bank.example>',
    b"ceo@bank.example " + b"\\" * 100_000,
    b"<" * 50_000 + b"ceo@bank.example",
    b"a@bank.example, " * 10_000,
])
def test_hostile_from_values_keep_the_domain_or_are_unknown(value: bytes) -> None:
    found = author_domains(b"From: " + value + b"\r\n\r\n")
    assert "bank.example" in found.domains
    assert found.unknown or found.domain == "bank.example"


def test_the_huge_display_name_is_read_whole() -> None:
    found = author_domains(b'From: "' + b"a" * 17_000 + b'" <ceo@bank.example>\r\n\r\n')
    assert found.domains == ("bank.example",) and not found.unknown


@pytest.mark.parametrize(("value", "why"), [
    (b"ceo@bank\x00.example", "NUL"),
    (b"=?utf-8?q?ceo=40bank.example?=", "encoded-word"),
    (b"", "without a mailbox"),
    (b"ceo@bank.example, x@attacker.example", "several author domains"),
    (b"ceo@bank.example <x@attacker.example>", "unquoted display name"),
    (b'"ceo@bank.example"@attacker.example', "inside its local part"),
    (b"ceo@bank", "single-label"),
])
def test_unknown_authors(value: bytes, why: str) -> None:
    found = author_domains(b"From: " + value + b"\r\n\r\n")
    assert found.unknown
    assert any(why in problem for problem in found.problems), found.problems


def test_parse_address_list_is_the_public_parser() -> None:
    parsed = parse_address_list('"Bank (Treasury)" <ceo@bank.example>, team: a@b.example, c@d.example;')
    assert parsed.addresses == ("ceo@bank.example", "a@b.example", "c@d.example")
    assert parsed.problems == ()


def test_milter_reply_code_needs_ascii_digits() -> None:
    # Found by the review for issue 10: int("4²5") raised a bare ValueError from the decoder.
    with pytest.raises(ProtocolError):
        decode_response(b"y", "4²5 4.0.0 try later".encode() + b"\0")


def test_a_report_head_of_lt_and_white_space_is_a_refusal_not_an_index_error() -> None:
    """Found by test_plain_reader_agrees_with_the_tree_walk: "<" followed by 500 spaces before
    the declaration made repair_xml look for a wrapping element's name in an empty split."""
    document = (b"<" + b" " * 600 + b'?xml version="1.0"?><feedback><report_metadata/></feedback>')
    with pytest.raises(ReportError) as refused:
        parse_aggregate(document)
    assert "\n" not in str(refused.value)


def test_a_zip_member_named_nothing_is_read_or_refused_not_an_index_error() -> None:
    """Found by make fuzz (test_zip): zipfile's ZipInfo.is_dir() indexes the member's name,
    and a damaged central directory (or a hostile archive) can name a member ""."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo(""), b"<feedback/>")
    limits = Limits(max_file=1 << 20, max_attachment=1 << 20, max_decompressed=1 << 20, max_zip_members=5)
    assert list(unzip_capped(buffer.getvalue(), limits)) == [("", b"<feedback/>")]


def test_a_message_that_starts_with_the_empty_line_has_no_arc_fields() -> None:
    """Found by test_dkim_and_dmarc_read_the_same_header_fields: has_arc_fields searched up to
    the first empty line after a line, so an 'ARC-Seal' line after a leading empty line (body
    text for DKIM) counted as a header field."""
    message = b"\r\nARC-Seal: i=1\r\nbody\r\n"
    assert has_arc_fields(message) is False
    assert parse_message(message).headers == ()
