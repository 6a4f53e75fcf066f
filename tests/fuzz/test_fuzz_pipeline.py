"""Rule 1 through the whole receiver pipeline: a spoof of a p=reject domain with random padding
fields around its From field and random text after the address is rejected, whatever is added."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import examples
from zegel.dns import Resolver
from zegel.verify import verify_message

ZONE = """$ORIGIN bank.example.
@ 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc 300 IN TXT "v=DMARC1; p=reject"
"""
PIECES = ["(", ")", "\"", "<", ">", ",", ":", ";", "@", "\\", " ", "a", ".", "=?utf-8?q?x?=", "\x00", "\t",
          "x@attacker.example", "attacker.example"]
field_names = st.sampled_from(["X-Pad", "Received", "Subject", "Reply-To", "Sender", "DKIM-Signature",
                               "ARC-Seal", "Authentication-Results", "Comments", "from", "From "])
field_values = st.text(st.sampled_from("abc ;=:@()<>\"\\\t\x00é"), max_size=40)
padding = st.lists(st.tuples(field_names, field_values), max_size=12)
tails = st.lists(st.sampled_from(PIECES), max_size=12).map("".join).filter(
    lambda t: not t or t[0] in '()<>,:;" \\\x00\t')


@pytest.fixture(scope="module")
def resolver(tmp_path_factory: pytest.TempPathFactory) -> Resolver:
    zone = Path(tmp_path_factory.mktemp("zone")) / "bank.example.zone"
    zone.write_text(ZONE)
    return Resolver(zones=[str(zone)], offline=True)


def _fields(items: list[tuple[str, str]]) -> bytes:
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in items)


@settings(max_examples=examples(60))
@given(padding, tails, padding, st.integers(0, 3))
def test_a_padded_spoof_is_always_rejected(resolver: Resolver, before: list[tuple[str, str]], tail: str,
                                           after: list[tuple[str, str]], repeat: int) -> None:
    message = (_fields(before) * (1 + repeat * 1000 // max(len(before), 1)) + b"From: ceo@bank.example"
               + tail.encode() + b"\r\n" + _fields(after) + b"\r\nPay now.\r\n")
    verdict = asyncio.run(verify_message(message, ip="203.0.113.9", helo="h.attacker.example",
                                         mail_from="b@attacker.example", resolver=resolver, authserv_id="mx.test"))
    assert verdict.action.kind == "reject", (tail, verdict.action.outcomes, verdict.notes)
