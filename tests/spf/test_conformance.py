"""The OpenSPF conformance suites (RFC 7208 and RFC 4408), served from a loopback DNS server.

Each scenario's zone data is served by a TestDnsServer; every case runs through the public
``zegel.spf.check`` API with a resolver pointed at that server. Suite path: $ZEGEL_CONFORMANCE
(default ../shared/conformance), subdirectory ``spf``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.spf import dns_limits
from zegel.dns.testserver import TestDnsServer
from zegel.spf import check

SUITES = ("rfc7208-tests.yml", "rfc4408-tests.yml")
REPO = Path(__file__).resolve().parents[2]

# RFC 4408 cases whose expected result RFC 7208 changed. Each is an explicit strict xfail: if
# one starts passing, the harness says so. Keys: "scenario/case".
RFC4408_CHANGED: dict[str, str] = {}


def _suite_dir() -> Path:
    root = Path(os.environ.get("ZEGEL_CONFORMANCE", REPO.parent / "shared" / "conformance"))
    return root / "spf"


def _scenario_id(description: str) -> str:
    return "-".join(description.lower().split())


def _load(name: str) -> list[dict[str, Any]]:
    path = _suite_dir() / name
    if not path.is_file():
        return []
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def _txt_value(value: Any) -> Any:
    """A TXT/SPF value from the YAML; \\xNN escapes there stand for raw octets."""
    def octets(text: str) -> bytes:
        try:
            return text.encode("latin-1")
        except UnicodeEncodeError:
            return text.encode("utf-8")
    if isinstance(value, list):
        # An empty list (a TXT record without strings) cannot be put on the wire by dnspython;
        # the nearest servable form is one empty string.
        return [octets(str(v)) for v in value] or [b""]
    return octets(str(value))


def zone_records(zonedata: dict[str, Any]) -> tuple[dict[str, list[tuple[str, Any]]], list[str]]:
    """The scenario's zone data as TestDnsServer records, and the names marked TIMEOUT."""
    records: dict[str, list[tuple[str, Any]]] = {}
    timeouts: list[str] = []
    for name, entries in (zonedata or {}).items():
        out: list[tuple[str, Any]] = []
        spf_values: list[Any] = []
        has_txt = False
        for entry in entries or []:
            if entry == "TIMEOUT":
                timeouts.append(name)
                continue
            ((rdtype, value),) = entry.items()
            rdtype = rdtype.upper()
            if rdtype == "TXT":
                has_txt = True  # "TXT: NONE" too: no TXT copy of the SPF entries
            if value == "NONE":
                continue
            if rdtype == "SPF":
                spf_values.append(_txt_value(value))
                out.append(("SPF", _txt_value(value)))
            elif rdtype == "TXT":
                out.append(("TXT", _txt_value(value)))
            elif rdtype == "MX":
                preference, host = value
                out.append(("MX", (int(preference), str(host))))
            else:
                out.append((rdtype, str(value)))
        if not has_txt:
            # The suite's convention: SPF entries are also published as TXT.
            out.extend(("TXT", value) for value in spf_values)
        records[name] = out
    return records, timeouts


def _cases() -> Iterator[Any]:
    found = False
    for suite in SUITES:
        tag = suite.split("-")[0]
        for scenario in _load(suite):
            found = True
            scenario_id = _scenario_id(scenario["description"])
            for case_name in scenario["tests"]:
                key = f"{scenario_id}/{case_name}"
                marks = []
                if tag == "rfc4408" and key in RFC4408_CHANGED:
                    marks.append(pytest.mark.xfail(strict=True, reason=RFC4408_CHANGED[key]))
                yield pytest.param(suite, scenario["description"], case_name, id=f"{tag}/{key}", marks=marks)
    if not found:
        yield pytest.param(None, None, None, id="suite-missing")


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[str, str], TestDnsServer]]:
    """One TestDnsServer per scenario, started on first use, stopped at the end."""
    started: dict[tuple[str, str], TestDnsServer] = {}
    scenarios: dict[tuple[str, str], dict[str, Any]] = {}

    def get(suite: str, description: str) -> TestDnsServer:
        key = (suite, description)
        if key not in started:
            if not scenarios:
                for name in SUITES:
                    for doc in _load(name):
                        scenarios[(name, doc["description"])] = doc
            records, timeouts = zone_records(scenarios[key].get("zonedata") or {})
            # The suite's TIMEOUT: queries for types the name holds no records of go unanswered
            # (its reference driver lets type-SPF queries for `spftimeout` time out, not TXT).
            started[key] = TestDnsServer(records, drop_absent_types=timeouts).start_in_thread()
        return started[key]

    yield get
    for server in started.values():
        server.stop_thread()


def _as_list(value: Any) -> list[str]:
    return [str(v).lower() for v in value] if isinstance(value, list) else [str(value).lower()]


@pytest.mark.parametrize(("suite", "scenario", "case_name"), list(_cases()))
def test_case(conformance_dir: Path, servers: Callable[[str, str], TestDnsServer],
              suite: str | None, scenario: str | None, case_name: str | None) -> None:
    assert suite is not None and scenario is not None and case_name is not None
    case = next(doc for doc in _load(suite) if doc["description"] == scenario)["tests"][case_name]
    server = servers(suite, scenario)
    resolver = dns_limits.resolver(server, expecting_timeouts=dns_limits.drops_queries(server))
    result = asyncio.run(check(str(case["host"]), str(case.get("mailfrom") or ""), str(case.get("helo") or ""),
                               resolver=resolver))
    expected = _as_list(case["result"])
    trace = "\n".join(result.trace)
    assert result.result in expected, f"got {result.result}, want {expected}\n{trace}"
    assert len(result.trace) >= 2
    wanted = case.get("explanation")
    if wanted is not None and result.result == "fail":
        assert result.explanation, trace
        if wanted != "DEFAULT":
            # Compared case-insensitively: the suite writes some %{i} IPv6 nibbles in upper
            # case, where RFC 7208 7.4's own example expands them in lower case.
            assert result.explanation.lower() == str(wanted).lower(), trace
