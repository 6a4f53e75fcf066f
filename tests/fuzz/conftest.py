"""Fuzz profiles for every parser and evaluator an attacker can reach.

`make test` runs the short profile: deterministic (derandomized) and bounded, so CI is
reproducible. `make fuzz` sets ZEGEL_FUZZ=long, which draws fresh random examples for as long
as ZEGEL_FUZZ_SECONDS allows per target (see tests/fuzz/README.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from zegel.dns.testserver import TestDnsServer

_COMMON = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
}
settings.register_profile("fuzz-short", max_examples=150, derandomize=True, **_COMMON)
# One batch of the long run; tests/fuzz/run.py repeats batches with fresh seeds until each
# target's time budget (ZEGEL_FUZZ_SECONDS) is spent.
settings.register_profile("fuzz-long", max_examples=int(os.environ.get("ZEGEL_FUZZ_EXAMPLES", "2000")),
                          derandomize=False, **_COMMON)

LONG = os.environ.get("ZEGEL_FUZZ", "") == "long"
settings.load_profile("fuzz-long" if LONG else "fuzz-short")



@pytest.fixture(scope="module")
def hostile_dns() -> Iterator[TestDnsServer]:
    """A loopback DNS server for targets that publish hostile records per example (under fresh
    names each time, so no cached answer speaks for another example)."""
    running = TestDnsServer({"anchor.fuzz.example": [("A", "192.0.2.1")]}).start_in_thread()
    yield running
    running.stop_thread()
