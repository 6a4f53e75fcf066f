"""Fuzz ``zegel explain`` over hostile header sections (profiles in tests/fuzz/conftest.py).

Whatever the headers hold, explain gives a defined verdict or NotAMessage, renders in both
languages, and never earns ``genuine`` from results the receiving chain did not write.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from zegel.explain import NotAMessage, explain_message
from zegel.explain.headers import read_fields

CORPUS = Path(__file__).parent.parent / "explain" / "corpus"
SEEDS = sorted(p.read_bytes() for p in CORPUS.glob("*.eml"))

_NAMES = st.sampled_from([
    "Received", "Authentication-Results", "ARC-Authentication-Results", "From", "Return-Path", "List-Id",
    "ARC-Seal", "DKIM-Signature", "Subject", "X-MS-Exchange-Organization-AuthAs", "Received-SPF",
])
_ATOMS = st.sampled_from([
    "from", "by", "with", "ESMTPS", "id", ";", "(", ")", "[", "]", "<", ">", "@", '"', "\\", ":", ",", "=",
    "i=1", "i=²", "i=١٠٠", "spf=pass", "dkim=pass", "dmarc=pass", "dmarc=fail", "arc=pass", "compauth=pass",
    "reason=130", "reason=000", "header.from=bank.example", "header.d=bank.example", "smtp.mailfrom=\"a b\"@bank.example",
    "header.i=@bank.example", "(p=REJECT sp=REJECT dis=NONE)", "(192.0.2.1;bank.example)", "action=oreject",
    "mx.google.com", "mx.ontvanger.example", "mail.iss.as9143.net", "relay.mimecast.com", "ppops.net",
    "x.mail.protection.outlook.com", "atlas1.mail.yahoo.com", "[203.0.113.66]", "[10.0.0.1]", "(EHLO a.example)",
    "ceo@bank.example", "=?utf-8?q?x?=", "\x00", "\t", " ", "\r\n", "\n", "\r\n ", "xn--pypal-4ve.com", "bank.example",
    "((((((((((", "x:x:x:x:", "\u00e9", "\ufeff",
])
_VALUE = st.lists(st.one_of(_ATOMS, st.text(max_size=12)), max_size=40).map(" ".join)
_FIELD = st.tuples(_NAMES, _VALUE).map(lambda f: f"{f[0]}: {f[1]}")
_MESSAGE = st.lists(_FIELD, max_size=25).map(lambda fields: ("\r\n".join(fields) + "\r\n\r\nbody\r\n").encode())


def _check(data: bytes) -> None:
    try:
        report = explain_message(data)
    except NotAMessage as exc:
        assert exc.code in ("empty", "gzip", "zip", "xml", "json", "binary", "no_header")
        return
    assert report.verdict in ("genuine", "suspicious", "phishing", "unknown")
    for lang in ("en", "nl"):
        report.render(lang)
        data_json = report.to_dict(lang)
        assert data_json["verdict"] == report.verdict
    if report.verdict == "genuine":
        # Only results the receiving chain wrote can make a message genuine.
        assert any(hop.trusted for hop in report.hops)
        assert report.from_domain is not None


@given(_MESSAGE)
def test_fuzz_explain_structured(data: bytes) -> None:
    _check(data)


@given(st.sampled_from(SEEDS), st.integers(min_value=0, max_value=8000), st.binary(max_size=200))
def test_fuzz_explain_mutated_corpus(seed: bytes, at: int, junk: bytes) -> None:
    _check(seed[:at] + junk + seed[at:])


@given(st.binary(max_size=2000))
def test_fuzz_explain_bytes(data: bytes) -> None:
    _check(data)


@given(st.sampled_from(SEEDS), _FIELD)
def test_fuzz_a_field_added_below_the_chain_never_makes_a_message_better(seed: bytes, field: str) -> None:
    """A sender can only add fields below the receiver's: the verdict never improves."""
    head, sep, body = seed.partition(b"\r\n\r\n") if b"\r\n\r\n" in seed else seed.partition(b"\n\n")
    newline = b"\r\n" if b"\r\n" in head else b"\n"
    before = explain_message(seed).verdict
    try:
        after = explain_message(head + newline + field.encode("utf-8", "replace").replace(b"\r\n", b" ")
                                + sep + body).verdict
    except NotAMessage:
        return
    rank = {"genuine": 0, "unknown": 1, "suspicious": 2, "phishing": 3}
    if not field.startswith("From"):
        assert rank[after] >= rank[before], (before, after)
    read_fields(seed)
