"""Fuzzing the report parsers an attacker reaches by mailing a report: aggregate XML, TLS-RPT
JSON, gzip, zip and MIME. The property is the fail-closed rule: a parser returns a report or
raises its module's own ``ReportError``; the ingester turns every input into result lines and
never raises; nothing grows without bound. Profiles (example counts, seeds) come from
tests/fuzz/conftest.py."""

from __future__ import annotations

import gzip
import io
import random
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from zegel.reports.corpus import STYLES, as_email, as_gzip, as_zip, make_report
from zegel.reports.ingest import (
    AggregateParser,
    Ingester,
    Limits,
    ReportError,
    _read_plain,
    gunzip_capped,
    parse_aggregate,
    parse_tls_report,
    parse_xml,
    unzip_capped,
)
from zegel.reports.store import ReportStore, open_store

_, AGGREGATE = make_report("rfc9990", random.Random(7), index=1, records=3, domain="example.com")
_, AGGREGATE_7489 = make_report("outlook", random.Random(8), index=2, records=2, domain="example.com")
TLS = (b'{"organization-name":"Org","date-range":{"start-datetime":"2026-11-01T00:00:00Z",'
       b'"end-datetime":"2026-11-01T23:59:59Z"},"contact-info":"a@b.example","report-id":"r1",'
       b'"policies":[{"policy":{"policy-type":"sts","policy-domain":"example.com"},'
       b'"summary":{"total-successful-session-count":5,"total-failure-session-count":1},'
       b'"failure-details":[{"result-type":"certificate-expired","failed-session-count":1}]}]}')
GZIP = as_gzip(AGGREGATE)
ZIP = as_zip("report.xml", AGGREGATE)
MAIL = as_email("r", GZIP, "xml.gz")
SMALL = Limits(max_file=1 << 20, max_attachment=1 << 20, max_decompressed=1 << 20, max_zip_members=5)


@st.composite
def mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` with a few random splices: bytes flipped, inserted, deleted or repeated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(("flip", "insert", "delete", "repeat", "truncate")))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        elif action == "repeat":
            data[at:at] = bytes(data[at:at + draw(st.integers(1, 60))]) * draw(st.integers(2, 50))
        else:
            del data[at:]
    return bytes(data)


# Fragments that reporters and attackers put into XML, spliced in by the structured strategy.
XML_PIECES = [b"<feedback>", b"</feedback>", b"<record>", b"</record>", b"<row>", b"<count>", b"</count>",
              b"<source_ip>", b"::1", b"\xd9\xa1\xd9\xa2", b"1e400", b"-1", b"nan", b"<!DOCTYPE x>",
              b"<![CDATA[", b"]]>", b"&amp;", b"&#0;", b"\x00", b"\xff", b"<xs:schema>", b"<email><bad@x></email>",
              b"<begin>", b"</begin>", b"99999999999999999999999"]


@st.composite
def xml_documents(draw: st.DrawFn) -> bytes:
    base = draw(st.sampled_from((AGGREGATE, AGGREGATE_7489)))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.sampled_from(XML_PIECES))
    return bytes(data)


@pytest.fixture(scope="module")
def store() -> Iterator[ReportStore]:
    with tempfile.TemporaryDirectory() as directory:
        opened = open_store(None, Path(directory))
        yield opened
        opened.close()


def _parses_or_refuses(parse: object, data: bytes) -> None:
    try:
        parse(data)  # type: ignore[operator]
    except ReportError as exc:
        assert "\n" not in str(exc)


@given(st.one_of(xml_documents(), mutated(AGGREGATE), st.binary(max_size=300)))
def test_aggregate_xml(data: bytes) -> None:
    _parses_or_refuses(parse_aggregate, data)


# Reports the plain (tree-less) reader takes, and what pushes a document just outside that subset
# or stretches its bounded quantifiers: long whitespace runs, long texts, repeated blocks.
PLAIN_SEEDS = [make_report(style, random.Random(20 + n), index=n, records=1 + n % 4, domain="example.com")[1]
               for n, style in enumerate(STYLES * 2)]
PLAIN_PIECES = [b" " * 3000, b"\r\n", b"\t\n ", b"x" * 4100, b"<reason><type>x</type></reason>", b"<dkim>",
                b"</dkim>", b"<identifiers>", b"</identifiers>", b"</auth_results>", b"&#x78;", b"<!-- c -->",
                b' xmlns:a="urn:x"', b"\xef\xbb\xbf", b"<?xml version='1.0'?>", b"\r", b"\xc3\xa9", b"\xed\xa0\x80",
                b"<error/>", b"a='1'", b"\x0b", b"\xef\xbf\xbe"]


@st.composite
def plain_documents(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(PLAIN_SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.sampled_from(PLAIN_PIECES + XML_PIECES))
    if draw(st.booleans()):  # a block of the document repeated: records, texts, whitespace
        at = draw(st.integers(0, len(data) - 1))
        data[at:at] = bytes(data[at:at + draw(st.integers(1, 400))]) * draw(st.integers(2, 40))
    return bytes(data)


def _outcome(parse: object, data: bytes) -> object:
    try:
        return parse(data)  # type: ignore[operator]
    except ReportError as exc:
        assert "\n" not in str(exc)
        return f"ReportError: {exc}"


@given(st.one_of(plain_documents(), st.sampled_from(PLAIN_SEEDS).flatmap(mutated)))
def test_plain_reader_agrees_with_the_tree_walk(data: bytes) -> None:
    """Whatever the tree-less reader reads must read the same through lxml's tree: it may only
    ever narrow what it accepts, never accept (or read differently) what the parser would not."""
    fast = _outcome(AggregateParser().parse, data)
    if _read_plain(data) is not None:
        assert fast == _outcome(lambda d: AggregateParser().parse(parse_xml(d)), data)


@given(st.one_of(mutated(TLS), st.binary(max_size=200),
                 st.integers(1, 5000).map(lambda n: b'{"policies":' + b"[" * n + b"]" * n + b"}")))
def test_tls_json(data: bytes) -> None:
    _parses_or_refuses(parse_tls_report, data)


@given(st.one_of(mutated(GZIP), st.binary(max_size=200).map(lambda b: b"\x1f\x8b" + b),
                 st.integers(1, 2000).map(lambda n: gzip.compress(b"") * n + b"\r\n")))
def test_gzip(data: bytes) -> None:
    _parses_or_refuses(lambda d: gunzip_capped(d, 1 << 20), data)


@given(st.one_of(mutated(ZIP), st.binary(max_size=200).map(lambda b: b"PK\x03\x04" + b)))
def test_zip(data: bytes) -> None:
    _parses_or_refuses(lambda d: list(unzip_capped(d, SMALL)), data)


@given(st.one_of(mutated(MAIL), mutated(ZIP), mutated(GZIP), xml_documents(), mutated(TLS)))
def test_ingester_never_raises(store: ReportStore, data: bytes) -> None:
    with Ingester(store, limits=SMALL) as ingester:
        for as_mail in (False, True):
            results = list(ingester.ingest_bytes(data, "fuzz", as_email=as_mail))
            assert results
            for result in results:
                assert result.status in ("stored", "duplicate", "rejected", "suppressed", "skipped")
                assert "\n" not in result.detail


def test_zip_of_mutated_members_never_raises(store: ReportStore) -> None:
    """One deterministic sweep: every member damaged at a different place, in one archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for at in range(0, len(AGGREGATE), max(1, len(AGGREGATE) // 4)):
            archive.writestr(f"m{at}.xml", AGGREGATE[:at] + b"\xff<" + AGGREGATE[at:])
    with Ingester(store, limits=SMALL) as ingester:
        results = list(ingester.ingest_bytes(buffer.getvalue(), "sweep.zip"))
    assert results and all(r.status in ("stored", "duplicate", "rejected") for r in results)
