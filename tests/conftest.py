"""Shared fixtures: the loopback test DNS server, system-tool requirements, conformance data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from zegel.dns.testserver import TestDnsServer

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` locally; under CI=true a missing prerequisite fails the test."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and prerequisite missing: {reason}")
    pytest.skip(reason)


def require_tool(name: str, package: str | None = None) -> str:
    """Path of a system tool; skips locally (fails under CI) when it is not installed."""
    candidates = [Path("/usr/sbin") / name, *sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))]
    path = shutil.which(name) or next((str(p) for p in candidates if p.exists()), None)
    require(path is not None, f"{name} not installed (apt-get install {package or name}; `make deps`)")
    assert path is not None
    return path


def conformance_root() -> Path:
    """The public conformance suites: $ZEGEL_CONFORMANCE or ../shared/conformance."""
    return Path(os.environ.get("ZEGEL_CONFORMANCE", REPO.parent / "shared" / "conformance"))


@pytest.fixture
def conformance_dir() -> Path:
    root = conformance_root()
    require(root.is_dir(), f"conformance data not found at {root} (set ZEGEL_CONFORMANCE)")
    return root


@pytest.fixture
def dns_server() -> Iterator[Callable[..., TestDnsServer]]:
    """Factory: ``dns_server(records, **options)`` starts a TestDnsServer on 127.0.0.1 in a
    background thread (usable from sync and async tests, and by peers under test); all are
    stopped at teardown."""
    started: list[TestDnsServer] = []

    def start(records: Any = None, **options: Any) -> TestDnsServer:
        server = TestDnsServer(records, **options).start_in_thread()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop_thread()
