"""Bad input: a defined result with a reason, never a traceback, memory bounded."""

from __future__ import annotations

import asyncio
import random
import tracemalloc
from collections.abc import Callable

import pytest

from tests.pipeline.helpers import AUTHSERV_ID, ZONE, message, sample
from zegel.authres import parse
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer
from zegel.verify import Verdict, verify_message


def verify(data: bytes, *, file: str = "genuine.eml", resolver: Resolver | None = None, ip: str | None = None) -> Verdict:
    item = sample(file)
    return asyncio.run(verify_message(
        data, ip=ip or item["ip"], helo=item["helo"], mail_from=item["mail_from"],
        resolver=resolver or Resolver(zones=[str(ZONE)], offline=True), authserv_id=AUTHSERV_ID))


def assert_defined(verdict: Verdict) -> None:
    assert verdict.action.kind in ("accept", "add_header", "tag_subject", "quarantine", "reject", "tempfail")
    assert parse(verdict.authentication_results).authserv_id == AUTHSERV_ID
    assert verdict.to_dict()["authentication_results"]


JUNK = random.Random(4).randbytes(200_000)


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (b"", "no header section"),
        (b"\r\n\r\njust a body", "no header section"),
        # Starts with the empty line: no header fields, and "From:" below it is body text.
        (b"\r\nFrom: ceo@bank.example\r\n\r\nbody\r\n", "no header section"),
        (b"\nFrom: ceo@bank.example\n\nbody\n", "no header section"),
        (b"Hello, this is not a mail message at all.\r\nSecond line.\r\n", "does not start with a header field"),
        (JUNK, "not an RFC 5322 message"),
    ],
    ids=["empty", "no-header", "leading-empty-line", "leading-bare-lf", "prose", "binary-junk"],
)
def test_not_rfc5322(data: bytes, note: str) -> None:
    verdict = verify(data)
    assert_defined(verdict)
    assert any(note in n for n in verdict.notes), verdict.notes
    assert verdict.dkim == ()
    assert verdict.dmarc.result == "permerror"
    assert verdict.arc.cv == "none"
    assert verdict.spf.result == "pass"  # SPF needs no message: it still runs
    # Fail closed (docs/security.md): no author domain is author_unknown, rejected by default.
    assert "author_unknown" in verdict.action.outcomes
    assert verdict.action.kind == "reject"


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (b"X-Filler: a\r\n" * 100_000 + b"From: a@bakkerij-jansen.nl\r\n\r\nbody\r\n", "header section"),
        (b"X-Filler: a\n" * 20_000 + b"From: a@bakkerij-jansen.nl\n\nbody\n", "fields (limit"),
    ],
    ids=["100000-line-header", "20000-fields"],
)
def test_header_section_over_the_limits(data: bytes, note: str) -> None:
    verdict = verify(data)
    assert_defined(verdict)
    assert any(note in n for n in verdict.notes), verdict.notes
    # Limits bound the work, never the decision: DKIM and ARC are skipped with a reason, the
    # From domain is still found and DMARC evaluated (here SPF aligns), and the header_limits
    # outcome rejects by default.
    assert [d.result for d in verdict.dkim] == ["none"]
    assert note in (verdict.dkim[0].reason or "")
    assert verdict.arc.cv == "none"
    assert verdict.dmarc.from_domain == "bakkerij-jansen.nl"
    assert verdict.dmarc.result == "pass"
    assert verdict.action.kind == "reject"
    assert verdict.action.outcomes[0] == "header_limits"


def test_junk_inside_a_header_section() -> None:
    data = b"From: a@bakkerij-jansen.nl\r\nSubject: \x00\xff\xfe bad\r\nno colon line\r\n\r\n" + JUNK
    verdict = verify(data)
    assert_defined(verdict)
    assert verdict.dmarc.from_domain == "bakkerij-jansen.nl"
    assert verdict.dmarc.result == "pass"  # SPF aligns; the junk is only content


def test_mixed_line_ends_end_the_header_where_dkim_ends_it() -> None:
    """A bare LF ends a header line for every stage alike (as for DKIM and MTAs): the CR LF
    after it is the empty line, so the second From line is body text for DMARC too, which
    then reads the one author that DKIM would sign and a mail client would show."""
    data = b"From: a@bakkerij-jansen.nl\n\r\nFrom: ceo@bank.example\r\n\r\nbody\r\n"
    verdict = verify(data)
    assert_defined(verdict)
    assert verdict.dmarc.from_domain == "bakkerij-jansen.nl"
    assert verdict.dmarc.result == "pass"  # SPF aligns with the one author
    # Reversed, the bank's From is the header's only field: DMARC judges the bank's domain.
    reversed_data = b"From: ceo@bank.example\n\r\nFrom: a@bakkerij-jansen.nl\r\n\r\nbody\r\n"
    verdict = verify(reversed_data)
    assert_defined(verdict)
    assert verdict.dmarc.from_domain == "bank.example"
    assert verdict.dmarc.result != "pass"


def test_fifty_megabyte_body_in_bounded_memory() -> None:
    signed = message("genuine.eml")
    big = signed + b"a" * 78 + b"\r\n" * 1 + (b"x" * 998 + b"\r\n") * 50_000  # ~50 MB, changed after signing
    tracemalloc.start()
    try:
        verdict = verify(big)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_defined(verdict)
    assert verdict.dkim[0].result == "fail"
    assert "body" in (verdict.dkim[0].reason or "")
    # A few copies of the body at most, never a blow-up per line.
    assert peak < 4 * len(big), f"peak {peak / 1e6:.0f} MB for a {len(big) / 1e6:.0f} MB message"


@pytest.mark.parametrize(
    "record",
    ["v=DMARC1; p=bogus; !!!", "v=DMARC1 p=reject", "garbage \x7f", "v=DMARC1; p=reject; pct=abc; adkim=q; rua=:::",
     "v=DMARC1; " + "x=y; " * 2000],
)
def test_dmarc_record_garbage(dns_server: Callable[..., TestDnsServer], record: str) -> None:
    server = dns_server({"_dmarc.example.org": [("TXT", record)],
                         "example.org": [("TXT", "v=spf1 ip4:192.0.2.1 -all")]})
    data = b"From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
    item = sample("genuine.eml")
    verdict = asyncio.run(verify_message(data, ip="192.0.2.1", helo=item["helo"], mail_from="a@example.org",
                                         resolver=Resolver([server.address], timeout=1.0, lifetime=2.0),
                                         authserv_id=AUTHSERV_ID))
    assert_defined(verdict)
    assert verdict.dmarc.result in ("pass", "none", "permerror")
    assert verdict.notes == ()


def _arc_set(data: bytes) -> tuple[bytes, bytes]:
    """(the three ARC header fields, the rest) of the sealed sample."""
    end = data.index(b"Authentication-Results: lists.example.org")
    return data[:end], data[end:]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda arc: arc + arc,  # duplicate instance 1
        lambda arc: arc.replace(b"i=1;", b"i=2;"),  # chain starts at 2
        lambda arc: arc.replace(b"i=1;", b"i=0;"),  # instance 0
        lambda arc: arc.replace(b"i=1;", b"i=abc;"),  # not a number
        lambda arc: arc.replace(b"i=1;", b"i=99999999999999999999;"),
        lambda arc: arc.split(b"ARC-Message-Signature")[0],  # seal only
    ],
    ids=["duplicate", "starts-at-2", "zero", "not-a-number", "huge", "incomplete"],
)
def test_arc_sets_with_wrong_instances(mangle: Callable[[bytes], bytes]) -> None:
    arc, rest = _arc_set(message("mailing-list-arc.eml"))
    verdict = verify(mangle(arc) + rest, file="mailing-list-arc.eml")
    assert_defined(verdict)
    assert verdict.arc.cv == "fail"
    assert verdict.arc.reason


def test_bad_client_address_is_a_defined_result() -> None:
    verdict = verify(message("genuine.eml"), ip="not-an-ip")
    assert_defined(verdict)
    assert verdict.spf.result == "permerror"
    assert any("SPF not checked" in n for n in verdict.notes)
