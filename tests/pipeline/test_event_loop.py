"""CPU-heavy work does not block the event loop (docs/security.md, rule 2): while a large
signed message is verified, other coroutines (other milter sessions) keep running."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from zegel.dkim import sign, verify
from zegel.dkim.keys import KeyCache
from zegel.dkim.verify import OFFLOAD_BODY_BYTES
from zegel.dns import Resolver


def test_a_large_body_is_hashed_while_other_sessions_run(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    zone = tmp_path / "example.com.zone"
    zone.write_text("$ORIGIN example.com.\n"
                    f'sel._domainkey 300 IN TXT "v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"\n')
    body = (b"y" * 998 + b"\r\n") * 8_000  # 8 MB, over OFFLOAD_BODY_BYTES
    assert len(body) > OFFLOAD_BODY_BYTES
    message = b"From: a@example.com\r\nSubject: big\r\n\r\n" + body
    message = sign(message, domain="example.com", selector="sel", private_key=key) + message

    async def run() -> tuple[str, int]:
        resolver = Resolver(zones=[str(zone)], offline=True)
        cache = KeyCache()
        await verify(message, resolver=resolver, key_cache=cache)  # the key is cached: no DNS wait below
        ticks = 0
        stop = asyncio.Event()

        async def other_session() -> None:
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.create_task(other_session())
        await asyncio.sleep(0)
        before = ticks
        results = await verify(message, resolver=resolver, key_cache=cache)
        during = ticks - before
        stop.set()
        await ticker
        return results[0].result, during

    result, during = asyncio.run(run())
    assert result == "pass"
    assert during > 1  # the other coroutine ran while the body was hashed
