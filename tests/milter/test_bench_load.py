"""The milter benchmark's SMTP load generator (bench/smtpload.c) through a real Postfix.

Its figures are only worth something if it sends what smtplib would: every message whole,
dot-stuffed and unstuffed back, line ends made CRLF, and every refusal counted.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bench.bench_milter import LoadGenerator, _data_payload
from tests.conftest import require, require_tool
from tests.milter.postfix_harness import PostfixInstance

pytestmark = pytest.mark.slow


def _message(number: int, body: bytes) -> bytes:
    return (b"From: alice@zegelbench.nl\r\nTo: user@example.test\r\nSubject: load %d\r\n"
            b"Message-ID: <load-%d@zegelbench.nl>\r\n\r\n" % (number, number)) + body


def test_data_payload_of_a_crlf_message_is_what_smtplib_sends() -> None:
    import smtplib

    for raw in (b"a\r\n.b\r\n", b".\r\n..\r\n", b"no end", b"x\r\n.\r\ny"):
        quoted = smtplib._quote_periods(raw)  # type: ignore[attr-defined]
        expected = quoted if quoted.endswith(b"\r\n") else quoted + b"\r\n"
        assert _data_payload(raw) == expected + b".\r\n"


def test_data_payload_makes_bare_line_ends_crlf() -> None:
    # smtplib sends a bytes message's line ends as they are; SMTP wants CRLF (RFC 5321 2.3.8).
    assert _data_payload(b"a\nb\rc\r\n.d") == b"a\r\nb\r\nc\r\n..d\r\n.\r\n"


def test_smtpload_delivers_every_message_whole_and_counts_refusals(tmp_path: Path) -> None:
    require_tool("postfix")
    require(os.geteuid() == 0, "starting a Postfix instance needs root (its daemons run as user postfix)")
    compiler = require_tool("cc", "gcc")
    assert compiler
    line = b"An ordinary line of the body.\r\n"
    accepted = [
        _message(0, line * 200),
        _message(1, b".a line that starts with a dot\r\n..two dots\r\n.\r\nthe end\r\n"),
        _message(2, b"bare\nline feeds\nand no final line end"),
        *(_message(n, line * (50 + n)) for n in range(3, 25)),
    ]
    too_large = _message(99, line * 2000)  # 60 KB over a 40 KB limit: 552 at MAIL or at the end of DATA
    load = LoadGenerator(tmp_path)
    binary = load.binary()
    assert binary is not None and binary.exists(), "bench/smtpload.c did not compile"
    batch = [*accepted, too_large]
    payloads = load.payloads(batch)
    assert payloads is not None
    postfix = PostfixInstance(milter=None, settings={"message_size_limit": "40000"}, process_limit=40)
    try:
        postfix.start()
        failed, first = load.send(postfix, batch, payloads)
        delivered = postfix.wait_delivered(len(accepted), timeout=60)
        assert failed == 1, first
        assert "552" in first
        assert len(delivered) == len(accepted)
        # Postfix's virtual(8) stores LF line ends and adds its trace fields above the message.
        bodies = sorted(path.read_bytes() for path in delivered)
        for raw in accepted:
            stored = raw.replace(b"\r\n", b"\n")
            if not stored.endswith(b"\n"):
                stored += b"\n"
            assert sum(body.endswith(stored) for body in bodies) == 1, raw[:120]
        assert not postfix.queued()
    finally:
        postfix.stop()
