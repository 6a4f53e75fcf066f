"""ARC (RFC 8617): validation of hostile ARC header sets always gives a defined cv."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import examples, hostile_text
from zegel.arc import validate
from zegel.dns import Resolver

TAGS = ["i=1", "i=2", "i=²", "i=0", "i=51", "cv=none", "cv=pass", "cv=fail", "a=rsa-sha256", "d=example.com",
        "s=sel", "t=1", "b=", "bh=", "h=from", "c=relaxed/relaxed", "dkim=pass", ";", "="]
value = st.lists(st.sampled_from(TAGS) | hostile_text, max_size=8).map("; ".join)
NAMES = ["ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"]
OFFLINE = Resolver(zones=[], offline=True)


@settings(max_examples=examples(60))
@given(st.lists(st.tuples(st.sampled_from(NAMES), value), max_size=8))
def test_validate_gives_a_cv(fields: list[tuple[str, str]]) -> None:
    head = b"".join(f"{name}: {text}".encode("utf-8", "surrogatepass").replace(b"\n", b" ").replace(b"\r", b" ")
                    + b"\r\n" for name, text in fields)
    message = head + b"From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n"

    async def run() -> None:
        result = await validate(message, resolver=OFFLINE)
        assert result.cv in ("none", "pass", "fail")

    asyncio.run(run())
