"""DKIM (RFC 6376): DKIM-Signature tag lists, key records, canonicalization and whole-message
verification on hostile input. Documented errors only; verification always gives a result."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import hostile_bytes, hostile_text, repeated
from zegel.dkim import verify
from zegel.dkim.canonicalize import (
    MessageFormatError,
    canonicalize_body,
    canonicalize_header,
    parse_message,
)
from zegel.dkim.keys import KeyRecordError, parse_key_record
from zegel.dkim.tags import TagListError, parse_tag_list
from zegel.dns import Resolver

RESULTS = {"pass", "fail", "neutral", "policy", "temperror", "permerror", "none"}
TAGS = ["v=1", "a=rsa-sha256", "a=ed25519-sha256", "c=relaxed/relaxed", "c=simple", "d=example.com", "s=sel",
        "h=from:to", "h=", "bh=", "b=", "l=1", "l=²", "l=99999999999999999999", "t=1", "x=0", "i=@example.com",
        "i=²@x", "q=dns/txt", "z=From:a|To:b", ";", "=", " ", "\r\n\t", "k=rsa", "p=", "p=MIIB", "n=x", "t=y:s"]
tag_text = st.lists(st.sampled_from(TAGS) | hostile_text, max_size=12).map("; ".join)
OFFLINE = Resolver(zones=[], offline=True)


@given(st.one_of(hostile_text, tag_text))
def test_tag_list_and_key_record(text: str) -> None:
    with contextlib.suppress(TagListError):
        parse_tag_list(text)
    with contextlib.suppress(KeyRecordError):
        parse_key_record(text)


@given(st.one_of(hostile_bytes, repeated(st.sampled_from(["a", "a:", " ", "\r\n", "\n", ":", "\r\n "])).map(str.encode)))
def test_canonicalization(data: bytes) -> None:
    for method in ("simple", "relaxed"):
        canonicalize_body(data, method)
        canonicalize_header(b"Subject:" + data.replace(b"\n", b" ") + b"\r\n", method)
    with contextlib.suppress(MessageFormatError):
        parse_message(data + b"\r\nFrom: x@y\r\n\r\nb")


@given(tag_text, hostile_bytes)
def test_verify_gives_a_result(signature: str, rest: bytes) -> None:
    message = b"DKIM-Signature: " + signature.encode("utf-8", "surrogatepass") + b"\r\nFrom: a@example.com\r\n" + rest

    async def run() -> None:
        results = await verify(message, resolver=OFFLINE)
        assert results and all(r.result in RESULTS for r in results)

    asyncio.run(run())
