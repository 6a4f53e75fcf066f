"""zegel explain: header sets explained per second on the issue-11 corpus (tests/explain/corpus).

Each run reads the pasted text, finds the receiving hop in the Received chain, parses every
Authentication-Results and ARC-Authentication-Results field, decides trust, diagnoses causes
and checks the From domain for look-alikes, then builds the JSON (English). The target is
2,000 messages/s. The peer is the ``authres`` package (used by authheaders and dkimpy users)
parsing only the same messages' Authentication-Results fields with the stdlib email parser:
less work than explain does, shown for scale.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Row
from zegel.explain import NotAMessage, explain_json

AREA = "explain"
CORPUS = Path(__file__).parent.parent / "tests" / "explain" / "corpus"


def _messages() -> list[bytes]:
    return [p.read_bytes() for p in sorted(CORPUS.glob("*.eml"))]


def _zegel(messages: list[bytes]) -> None:
    for data in messages:
        with contextlib.suppress(NotAMessage):
            explain_json(data)


def _authres(messages: list[bytes]) -> None:
    import authres

    for data in messages:
        message = email.message_from_bytes(data, policy=email.policy.compat32)
        for value in message.get_all("Authentication-Results") or ():
            # The peer raises on provider formats it does not know; those count as done.
            with contextlib.suppress(Exception):
                authres.AuthenticationResultsHeader.parse_value(" ".join(str(value).split()))


def _cpu_rate(func: Callable[[], object], min_seconds: float = 2.0) -> float:
    """Calls per CPU second of this process: on a machine shared with other work, wall-clock
    rates measure the neighbours; CPU time measures the code (both sides the same way)."""
    func()  # warm-up
    runs = 0
    started = time.process_time()
    while (elapsed := time.process_time() - started) < min_seconds or runs < 3:
        func()
        runs += 1
    return runs / elapsed


def run() -> list[Row]:
    messages = _messages()
    zegel = _cpu_rate(lambda: _zegel(messages)) * len(messages)
    peer: float | None
    try:
        peer = _cpu_rate(lambda: _authres(messages)) * len(messages)
    except ImportError:
        peer = None
    return [Row(AREA, f"explain ({len(messages)} header sets, full report + JSON)", "msg/s", zegel,
                "authres (A-R parsing only)" if peer is not None else "", peer,
                note="per CPU second; target >= 2,000 msg/s")]
