"""Fixtures for the audit tests: the zone files under tests/audit/zones and a runner helper."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from zegel.audit import CheckOptions, DomainReport, audit_domain
from zegel.dns import Resolver

ZONES = Path(__file__).resolve().parent / "zones"
ZONE_FILES = sorted(str(p) for p in ZONES.glob("*.zone"))

Audit = Callable[..., DomainReport]


@pytest.fixture
def zone_resolver() -> Resolver:
    """The zone files are the whole world (offline)."""
    return Resolver(zones=ZONE_FILES, offline=True)


@pytest.fixture
def audit(zone_resolver: Resolver) -> Audit:
    """``audit("good.example", selectors=(...), lang="nl", mx_sends=True)`` -> DomainReport."""

    def run(domain: str, **options: object) -> DomainReport:
        return asyncio.run(audit_domain(domain, zone_resolver, CheckOptions(**options)))  # type: ignore[arg-type]

    return run
