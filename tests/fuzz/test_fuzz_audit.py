"""zegel check's SPF audit over hostile DNS: the TXT records of the audited domain and of a name
it includes are attacker-chosen, one or several SPF records among them. Whatever they hold, the
audit gives findings (never an exception), every record it suggests publishing is one SPF
record without a passing or neutral 'all' or a repeated term, and the protection verdict comes
from the same evaluation receivers make."""

from __future__ import annotations

import asyncio
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import examples, hostile_text, spf_text
from zegel.audit import CheckOptions, audit_domain
from zegel.dns import Resolver
from zegel.dns.records import merge, nodes_from_spec
from zegel.dns.testserver import TestDnsServer
from zegel.spf import check_host, parse_record
from zegel.spf import parse_record as parse_record_spf

counter = itertools.count()


records = st.lists(st.one_of(spf_text, hostile_text, st.just("v=spf1 include:INCLUDED +all"),
                             st.just("v=spf1 a a mx ?all"),
                             # mechanisms written as modifiers, one with no valid argument either
                             st.just("v=spf1 include=INCLUDED ip4=192.0.2.1 a=x +all")), min_size=0, max_size=3)


@settings(max_examples=examples(30))
@given(records, records, st.sampled_from(["", "v=DMARC1; p=reject", "v=DMARC1; p=none"]))
def test_spf_audit_over_hostile_records(hostile_dns: TestDnsServer, top: list[str], below: list[str], dmarc: str) -> None:
    # Fresh names per example, so no cached answer speaks for another example.
    name = f"d{next(counter)}.audit-fuzz.example"
    included = f"x.{name}"

    def served(texts: list[str]) -> list[tuple[str, str]]:
        # A TXT string is octets: text that UTF-8 cannot carry (lone surrogates) cannot be served.
        return [("TXT", t[:1500].encode("utf-8", "replace").decode().replace("INCLUDED", included)) for t in texts]

    spec: dict[str, list[tuple[str, str]]] = {name: [*served(top), ("A", "192.0.2.1")], included: served(below)}
    if dmarc:
        spec[f"_dmarc.{name}"] = [("TXT", dmarc)]
    merge(hostile_dns.nodes, nodes_from_spec(spec, 300))

    async def run() -> None:
        resolver = Resolver([hostile_dns.address], timeout=1.0, lifetime=2.0)
        report = await audit_domain(name, resolver, CheckOptions(selectors=("s1",), transport=False))
        assert report.grade in ("A", "B", "C", "D", "F")
        for finding in report.findings:
            if finding.area != "spf" or not finding.record:
                continue
            owner, _, value = finding.record.partition(" TXT ")
            assert owner.endswith(".") and value.startswith('"')
            text = "".join(part for part in value.strip('"').split('" "')).replace('\\"', '"').replace("\\\\", "\\")
            terms = [term.lower().lstrip("+") for term in text.split()]
            assert "all" not in terms and "?all" not in terms, finding
            assert len(terms) == len(set(terms)), finding
        if report.protected:
            for ip in ("240.0.0.1", "0.0.0.1", "100::1"):
                assert (await check_host(ip, name, f"postmaster@{name}", resolver=resolver)).result != "pass"

    asyncio.run(run())


def test_suggested_records_parse_when_their_source_does() -> None:
    """The audit suggests records of terms that parsed; what it suggests parses too."""
    from zegel.audit.record_text import corrected_spf, merge_spf

    for texts in (["v=spf1 a +all", "v=spf1 mx -all"], ["v=spf1 include:a.example ?all"], ["v=spf1 a a a"]):
        for text in texts:
            parse_record(text)
        parse_record(corrected_spf(merge_spf(texts)))
        for text in texts:
            parse_record(corrected_spf(text))


# DMARC record text: its tags with good, odd and hostile values.
DMARC_PIECES = ["v=DMARC1", "p=none", "p=rejct", "P=Reject", "sp=quarantaine", "np=", "pct=150", "pct=0", "rf=afrf",
                "ri=-1", "fo=7", "fo=1:d", "fo=0:1", "adkim=q", "aspf=s", "t=y", "psd=x", "rua=mailto:a@x.example",
                "rua=a@x.example", "rua=mailto:a@x.example!10m", "ruf=nope", "ruf=mailto:f@x.example,bogus", "x=y",
                "rua=,", "rua=https://x.example/r", "rua=mailto:a b@x.example"]
dmarc_text = st.lists(st.sampled_from(DMARC_PIECES) | hostile_text, max_size=10).map("; ".join)


@settings(max_examples=examples(200))
@given(dmarc_text, spf_text)
def test_suggested_dmarc_record_and_dutch_reasons(record: str, spf: str) -> None:
    """Whatever the owner's DMARC record holds, the next step zegel suggests parses with no
    value receivers would ignore; every reason the parsers give has a Dutch form (a str, the
    English one when the table does not know it), found without error."""
    from zegel.audit.fixes import dmarc_next
    from zegel.audit.reasons import translate_reason
    from zegel.audit.record_text import MAX_RESPELLINGS, respelled_spf
    from zegel.dmarc import DmarcRecordError, parse_record
    from zegel.spf.parser import SpfSyntaxError

    suggested = dmarc_next("x.example", record).split(" TXT ", 1)[1]
    text = "".join(part for part in suggested.strip('"').split('" "')).replace('\\"', '"').replace("\\\\", "\\")
    ignored = [w for w in parse_record(text).warnings if w.code in ("invalid-value", "empty-value", "invalid-uri",
                                                                      "no-valid-uri", "fo-without-ruf", "unusable")]
    assert not ignored, (record, text, ignored)
    reasons = []
    try:
        reasons.extend(w.message for w in parse_record(record).warnings)
    except DmarcRecordError as exc:
        reasons.append(exc.reason)
    try:
        parse_record_spf(spf)
    except SpfSyntaxError as exc:
        reasons.append(f"{exc.reason} at character {exc.position + 1}")
        # The respelled record, when there is one, parses and grew by a few characters at most.
        respelled = respelled_spf(spf)
        if respelled is not None:
            parse_record_spf(respelled)
            assert len(respelled) <= len(spf) + 4 * MAX_RESPELLINGS
    for reason in reasons:
        assert isinstance(translate_reason(reason, "nl"), str)
