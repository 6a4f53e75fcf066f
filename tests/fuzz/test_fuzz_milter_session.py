"""The milter session as the MTA side reaches it: hostile packet streams into a running service.

The packet decoder has its own target (test_fuzz_milter.py); this one drives the whole
session path, which handles most packets of a message without the decoder (header fields,
body chunks, macros, end of message), over a real unix socket into a real MilterService with
real DNS from the loopback test server. Sequences start from what Postfix sends and get
commands in odd orders, random field contents, damaged frames and random cuts between reads.

The properties, for every stream:
- the service answers only with packets the MTA can decode;
- after the MTA ends the session (QUIT, or a half-close mid-frame), the service closes the
  connection within a bound (no hang);
- no exception escapes into the "session failed" path (that log line means a bug);
- afterwards a well-formed spoof of a p=reject domain is still rejected: a bad session
  never changes what the next one gets.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from zegel.dns.testserver import TestDnsServer
from zegel.milter import protocol as p
from zegel.milter.config import load_config
from zegel.milter.service import MilterService

AUTHSERV_ID = "mx.zegel.test"
RECORDS = {
    "bank.example": [("TXT", "v=spf1 ip4:192.0.2.1 -all")],
    "_dmarc.bank.example": [("TXT", "v=DMARC1; p=reject")],
}
SPOOF = (b"From: ceo@bank.example\r\nTo: user@example.net\r\nSubject: pay now\r\n"
         b"Message-ID: <1@bank.example>\r\n\r\nWire the money.\r\n")


def _frame(code: bytes, data: bytes) -> bytes:
    return struct.pack("!I", len(data) + 1) + code + data


def _z(*parts: bytes) -> bytes:
    return b"".join(part + b"\0" for part in parts)


OPTNEG = _frame(b"O", struct.pack("!III", 6, 0x1FF, 0x1FFFFF))
HEADER_NAMES = [b"From", b"from", b"To", b"Subject", b"DKIM-Signature", b"ARC-Seal", b"ARC-Message-Signature",
                b"ARC-Authentication-Results", b"Authentication-Results", b"Received", b"Sender", b"X-Pad", b""]
HOSTILE = [b"ceo@bank.example", b"\0", b"\r\n", b"=?utf-8?b?Y2VvQGJhbmsuZXhhbXBsZQ==?=", b"(" * 200, b"<>",
           b"v=1; a=rsa-sha256; d=bank.example; s=s; b=; bh=; h=from; l=0", b"i=1; cv=none", b" " * 300,
           b"\xff\xfe", b"x" * 5000, b"bank.example; dmarc=pass"]

texts = st.one_of(st.binary(max_size=80), st.sampled_from(HOSTILE))
packets = st.one_of(
    st.builds(lambda h, f, port, a: _frame(b"C", _z(h) + f + struct.pack("!H", port) + _z(a)),
              texts, st.sampled_from([b"4", b"6", b"L", b"U", b"x"]), st.integers(0, 65535),
              st.sampled_from([b"203.0.113.9", b"2001:db8::9", b"IPv6:2001:db8::9", b"999.1.1.1", b""])),
    st.builds(lambda h: _frame(b"H", _z(h)), texts),
    st.builds(lambda a, args: _frame(b"M", _z(a, *args)), st.sampled_from([b"<ceo@bank.example>", b"<>", b"x"]),
              st.lists(texts, max_size=3)),
    st.builds(lambda a: _frame(b"R", _z(a)), st.sampled_from([b"<user@example.net>", b"<>"])),
    st.builds(lambda n, v: _frame(b"L", _z(n, v)), st.sampled_from(HEADER_NAMES), texts),
    st.builds(lambda n, v: _frame(b"L", n + b"\0" + v), st.sampled_from(HEADER_NAMES), texts),  # no final NUL
    st.builds(lambda b: _frame(b"B", b), texts),
    st.builds(lambda c, m: _frame(b"D", c + m), st.sampled_from([b"C", b"H", b"M", b"R", b"T", b"E", b"L", b"N", b"?"]),
              st.lists(texts, max_size=4).map(lambda parts: _z(*parts))),
    st.sampled_from([_frame(b"N", b""), _frame(b"T", b""), _frame(b"A", b""), _frame(b"E", b""), _frame(b"Q", b""),
                     _frame(b"K", b""), OPTNEG, _frame(b"O", b"\0\0"), _frame(b"U", b"HELP\0")]),
    st.builds(lambda c, d: _frame(bytes([c]), d), st.integers(0, 255), st.binary(max_size=40)),
    st.binary(min_size=1, max_size=12),  # a damaged frame: any length, any code
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    body = draw(st.lists(packets, max_size=24))
    if draw(st.booleans()):  # mostly a message that reaches its end
        body += [_frame(b"N", b""), _frame(b"E", b"")]
    data = (OPTNEG if draw(st.integers(0, 9)) else b"") + b"".join(body)
    cuts = sorted(draw(st.lists(st.integers(0, max(len(data), 1)), max_size=6)))
    return data, cuts


class _Service:
    """A MilterService in a thread of its own, on a unix socket, with the errors it logs."""

    def __init__(self, directory: Path, dns: TestDnsServer) -> None:
        self.socket_path = directory / "milter.sock"
        config = directory / "milter.toml"
        config.write_text(f'authserv_id = "{AUTHSERV_ID}"\nsocket = "unix:{self.socket_path}"\n'
                          f'[dns]\nnameservers = ["{dns.address}"]\ntimeout = 1.0\nlifetime = 2.0\n',
                          encoding="utf-8")
        self.config = load_config(config)
        self.failures: list[str] = []
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        service = MilterService(self.config)
        await service.start()
        self._ready.set()
        await self._stop.wait()
        service.request_stop("fuzz over")
        await service.stop()

    def __enter__(self) -> _Service:
        self._thread.start()
        assert self._ready.wait(30), "the milter did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.failures.append(f"{record.getMessage()} {getattr(record, 'fields', '')}")


class _Collector(logging.Handler):
    def __init__(self, service: _Service) -> None:
        super().__init__(logging.DEBUG)
        self.service = service

    def emit(self, record: logging.LogRecord) -> None:
        self.service.emit(record)


@pytest.fixture(scope="module")
def service() -> Iterator[_Service]:
    dns = TestDnsServer(RECORDS).start_in_thread()
    logger = logging.getLogger("zegel")
    with tempfile.TemporaryDirectory() as directory, _Service(Path(directory), dns) as running:
        collector = _Collector(running)
        logger.addHandler(collector)
        try:
            _spoof_is_rejected(running.socket_path)  # the check below means something
            yield running
            # However the streams went, the next well-formed session is judged as before.
            _spoof_is_rejected(running.socket_path)
            assert not running.failures, running.failures
        finally:
            logger.removeHandler(collector)
    dns.stop_thread()


QUIT = _frame(b"Q", b"")


def _whole_frames(data: bytes) -> bool:
    """Whether ``data`` ends on a frame boundary (else the service rightly waits for more)."""
    position = 0
    while position + 4 <= len(data):
        position += 4 + struct.unpack("!I", data[position:position + 4])[0]
    return position == len(data)


def _exchange(path: Path, data: bytes, cuts: list[int]) -> bytes:
    """Send ``data`` in the pieces ``cuts`` makes, then end the session as an MTA would: QUIT
    after whole frames (everything before it is answered first), else a half-close. Returns
    what the service sent, read until it closed the connection."""
    ending = QUIT if _whole_frames(data) else b""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(20)
        conn.connect(str(path))
        start = 0
        try:
            for end in [*cuts, len(data)]:
                if end > start:
                    conn.sendall(data[start:end])
                    start = end
            if ending:
                conn.sendall(ending)
            else:
                conn.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it closed on a protocol error: what it sent first is still read below
        received = bytearray()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:  # closed with our last bytes unread: closed all the same
                return bytes(received)
            if not chunk:
                return bytes(received)
            received += chunk
        raise AssertionError("the milter kept the connection open after the MTA ended the session")


def _replies(data: bytes) -> list[p.Response]:
    splitter = p.PacketSplitter(max_size=1 << 20)
    replies = [p.decode_response(code, body) for code, body in splitter.feed(data)]
    splitter.finish()
    return replies


def _spoof_is_rejected(path: Path) -> None:
    head, _, body = SPOOF.partition(b"\r\n\r\n")
    stream = [OPTNEG, _frame(b"D", b"C" + _z(b"{client_addr}", b"203.0.113.9")),
              _frame(b"C", _z(b"spoofer.example") + b"4" + struct.pack("!H", 4000) + _z(b"203.0.113.9")),
              _frame(b"H", _z(b"spoofer.example")), _frame(b"M", _z(b"<ceo@bank.example>")),
              _frame(b"R", _z(b"<user@example.net>"))]
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        stream.append(_frame(b"L", _z(name, value)))
    stream += [_frame(b"N", b""), _frame(b"B", body), _frame(b"E", b"")]
    replies = _replies(_exchange(path, b"".join(stream), []))
    final = [r for r in replies if isinstance(r, p.FINAL_RESPONSES)][-1]
    assert isinstance(final, p.ReplyCode) and final.code == 550, final


@given(streams())
def test_hostile_packet_streams_get_decodable_answers_and_an_end(service: _Service,
                                                                  stream: tuple[bytes, list[int]]) -> None:
    data, cuts = stream
    replies = _replies(_exchange(service.socket_path, data, cuts))
    decided = [type(r).__name__ for r in replies if isinstance(r, p.FINAL_RESPONSES) and not isinstance(r, p.Continue)]
    event(f"decisions: {' '.join(decided) or 'none'}"[:60])
    assert not service.failures, service.failures

