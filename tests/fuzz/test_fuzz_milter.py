"""The milter packet decoder: framing and command decoding on hostile bytes from the MTA side.
Only ProtocolError (the module's own type) may be raised."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st

from zegel.milter.protocol import PacketSplitter, ProtocolError, decode_command, decode_response

CODES = list(b"ABCDEHKLMNOQRTU") + list(b"+-abcdefhimpqrstly")


@given(st.binary(max_size=2000), st.integers(1, 64))
def test_packet_splitter_and_decoders(stream: bytes, chunk: int) -> None:
    splitter = PacketSplitter(max_size=1 << 16)
    try:
        for start in range(0, len(stream), chunk):
            for code, data in splitter.feed(stream[start:start + chunk]):
                for decode in (decode_command, decode_response):
                    with contextlib.suppress(ProtocolError):
                        decode(code, data)
        splitter.finish()
    except ProtocolError:
        pass


reply_lines = st.tuples(st.text("0123456789²١45", min_size=3, max_size=3), st.text(max_size=30)).map(
    lambda pair: f"{pair[0]} {pair[1]}".encode("utf-8", "surrogatepass") + b"\0")


@given(st.sampled_from(CODES), st.binary(max_size=600) | reply_lines)
def test_every_command_code(code: int, data: bytes) -> None:
    for decode in (decode_command, decode_response):
        with contextlib.suppress(ProtocolError):
            decode(bytes([code]), data)
