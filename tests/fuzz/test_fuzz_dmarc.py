"""DMARC (RFC 7489 / RFC 9989): records, and the author-domain parser on hostile From values."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import hostile_bytes, hostile_text, repeated
from zegel.arc.validate import has_arc_fields
from zegel.dkim.canonicalize import MessageFormatError, parse_message
from zegel.dmarc import DmarcRecordError, author_domains, parse_record
from zegel.dmarc.author import header_block, header_fields, parse_address_list

TAGS = ["v=DMARC1", "p=reject", "p=none", "sp=quarantine", "np=reject", "pct=50", "pct=1²", "pct=١٠٠", "ri=86400",
        "rua=mailto:a@b.example", "ruf=mailto:x@y!10m", "adkim=s", "aspf=r", "fo=1:d", "t=y", "psd=y", ";", "="]
record_text = st.lists(st.sampled_from(TAGS) | hostile_text, max_size=10).map("; ".join)
PIECES = ["(", ")", "\"", "<", ">", ",", ":", ";", "@", "\\", " ", "a", "=?utf-8?q?x?=", "\x00", "ceo@bank.example"]


@given(st.one_of(hostile_text, record_text))
def test_parse_record(text: str) -> None:
    try:
        record = parse_record(text)
    except DmarcRecordError:
        return
    assert record.pct is None or 0 <= record.pct <= 100


@given(st.one_of(hostile_text, st.lists(st.sampled_from(PIECES), max_size=60).map("".join),
                 repeated(st.sampled_from(PIECES))))
def test_address_list_is_total(value: str) -> None:
    parsed = parse_address_list(value)
    for address in parsed.addresses:
        assert address


@given(hostile_bytes)
def test_author_domains_is_total(data: bytes) -> None:
    found = author_domains(b"From: " + data + b"\r\n\r\n")
    if not found.unknown:
        assert found.domain is not None and "." in found.domain
    if found.unattributed:  # what keeps DMARC from a pass is always a reported problem too
        assert found.unknown and found.problems


@given(st.lists(st.sampled_from(PIECES[:-1]), min_size=1, max_size=30).map("".join))
def test_an_appended_tail_never_hides_the_spoofed_domain(tail: str) -> None:
    """Rule 1: text after the spoofed address either leaves bank.example as the author domain
    or makes the author unknown; it never yields another single, clean author domain."""
    if tail[0] not in '()<>,:;" \\\x00':
        tail = " " + tail  # "ceo@bank.examplea" is another address, not a tail
    found = author_domains(b"From: ceo@bank.example" + tail.encode() + b"\r\n\r\n")
    assert found.unknown or found.domain == "bank.example", (tail, found)


LINES = [b"From: ceo@bank.example", b"from:x@attacker.example", b"FROM \t: y@z.example", b"From\x00: a@b.example",
         b"Fr\xc3\xb6m: a@b.example", b" From: c@d.example", b"To: c@d.example", b"ARC-Seal: i=1",
         b"arc-message-signature\t:x", b" folded", b"\tfolded", b"", b"\r", b"junk", b"From someone", b"X:"]
ENDS = [b"\r\n", b"\n", b"\r", b"\r\r\n", b"\n\r\n", b"\r\n\n"]
mixed_messages = st.lists(st.tuples(st.sampled_from(LINES) | hostile_bytes, st.sampled_from(ENDS)), max_size=16).map(
    lambda lines: b"".join(text + end for text, end in lines) + b"body\r\n")


@given(mixed_messages)
def test_dkim_and_dmarc_read_the_same_header_fields(message: bytes) -> None:
    """DKIM signs the From fields it finds; DMARC judges the ones it finds; ARC's shortcut
    looks for its fields in the same header section: in every mix of line ends they agree."""
    try:
        parsed = parse_message(message)
    except MessageFormatError:
        return  # DKIM: permerror for the whole message; nothing of it is signed
    if parsed.skipped_mbox_line:
        return  # a leading mbox "From " line, which only DKIM's file reading skips
    signed_from = [field for field in parsed.headers if field.name == "from"]
    assert len(signed_from) == len(header_fields(header_block(message), b"from"))
    arc_names = {"arc-seal", "arc-message-signature", "arc-authentication-results"}
    assert has_arc_fields(message) == any(field.name in arc_names for field in parsed.headers)
