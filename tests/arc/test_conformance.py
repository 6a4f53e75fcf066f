"""The public ARC test suite (ValiMail, written against draft-18 of RFC 8617): every validation and
signing case, one pytest case each, with the scenario's key records served by TestDnsServer.

Data: ``$ZEGEL_CONFORMANCE/arc`` (default ``../shared/conformance/arc``); see FORMAT.md there.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from tests.conftest import conformance_root

from zegel.arc import seal, validate
from zegel.arc.seal import collect_auth_results
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

Factory = Callable[..., TestDnsServer]


def _load(name: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(case id, scenario, case) for every case; YAML mappings keep the later of duplicate names."""
    path = conformance_root() / "arc" / name
    if not path.is_file():
        return []
    cases = []
    with path.open(encoding="utf-8") as handle:
        for scenario in yaml.safe_load_all(handle):
            if not scenario:
                continue
            for case_name, case in (scenario.get("tests") or {}).items():
                cases.append((case_name, scenario, case))
    return cases


VALIDATION = _load("validation-tests.yml")
SIGNING = _load("sign-tests.yml")

# Cases that contradict RFC 8617 as published (docs/arc.md, "Conformance").
RFC_CONFLICTS = {
    "ams_fields_c_na": (
        "RFC 8617 section 4.1.2 gives the ARC-Message-Signature the syntax and semantics of "
        "DKIM-Signature, whose missing c= means simple/simple (RFC 6376 section 3.5); this AMS "
        "has no c= but was signed relaxed/relaxed, so by the RFC it does not verify and cv=fail "
        "(the draft-era suite assumes a relaxed default)"
    ),
}


def _params(cases: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> list[Any]:
    if not cases:  # without the data: one case, which skips (or fails under CI) with the reason
        return [pytest.param("missing", {}, {}, id="missing")]
    params = []
    for name, scenario, case in cases:
        marks = []
        if name in RFC_CONFLICTS:
            marks.append(pytest.mark.xfail(strict=True, reason=RFC_CONFLICTS[name]))
        params.append(pytest.param(name, scenario, case, id=name, marks=marks))
    return params


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def _records(scenario: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    # A value written as a YAML literal block keeps its line breaks: the lines are pieces of
    # one record (joined without separator, as resolvers do), each cut to the 255-octet limit
    # of a character-string (RFC 1035 section 3.3).
    records: dict[str, list[tuple[str, Any]]] = {}
    for name, value in (scenario.get("txt-records") or {}).items():
        strings = [
            line[i : i + 255] for line in str(value).splitlines() for i in range(0, len(line), 255)
        ]
        records[name] = [("TXT", strings or [""])]
    return records


def _tags(value: str) -> set[str]:
    """FORMAT.md: compare header fields as sets of tags with all whitespace removed."""
    return {t for t in (re.sub(r"\s+", "", part) for part in value.split(";")) if t}


@pytest.mark.parametrize(("name", "scenario", "case"), _params(VALIDATION))
def test_validation(
    name: str, scenario: dict[str, Any], case: dict[str, Any], conformance_dir: Path, dns_server: Factory
) -> None:
    assert VALIDATION, f"no ARC validation cases found under {conformance_dir / 'arc'}"
    server = dns_server(_records(scenario))
    resolver = Resolver([server.address], timeout=1.0, lifetime=2.0)
    # An empty cv means Fail (README of the conformance data); names are case-insensitive.
    expected = str(case.get("cv") or "fail").strip().lower()
    result = asyncio.run(validate(_crlf(case.get("message") or ""), resolver=resolver))
    assert result.cv == expected, f"{name}: {case.get('description')}: got {result.cv} ({result.reason})"
    assert result.reason


@pytest.mark.parametrize(("name", "scenario", "case"), _params(SIGNING))
def test_signing(
    name: str, scenario: dict[str, Any], case: dict[str, Any], conformance_dir: Path, dns_server: Factory
) -> None:
    assert SIGNING, f"no ARC signing cases found under {conformance_dir / 'arc'}"
    message = _crlf(case["message"])
    authserv_id = str(case["srv-id"])
    fields = seal(
        message,
        domain=str(scenario["domain"]),
        selector=str(scenario["sel"]),
        private_key=str(scenario["privatekey"]).encode(),
        authserv_id=authserv_id,
        auth_results=collect_auth_results(message, authserv_id),
        timestamp=int(case["t"]),
        headers=str(case["sig-headers"]).split(":"),
    )
    expected = {key: str(case.get(key) or "").strip() for key in ("AS", "AMS", "AAR")}
    if not expected["AS"]:
        assert fields == [], f"{name}: expected no new ARC set, got {fields!r}"
        return
    assert len(fields) == 3
    names = [f.split(b":", 1)[0].decode() for f in fields]
    assert names == ["ARC-Seal", "ARC-Message-Signature", "ARC-Authentication-Results"]
    values = [f.split(b":", 1)[1].decode() for f in fields]
    assert all(f.endswith(b"\r\n") for f in fields)
    assert _tags(values[2]) == _tags(expected["AAR"])
    assert _tags(values[1]) == _tags(expected["AMS"])
    assert _tags(values[0]) == _tags(expected["AS"])

    # Beyond the suite: the sealed message validates, unless this hop recorded a failed chain.
    sealed = b"".join(fields) + message
    server = dns_server(_records(scenario))
    resolver = Resolver([server.address], timeout=1.0, lifetime=2.0)
    result = asyncio.run(validate(sealed, resolver=resolver))
    cv = "fail" if "cv=fail" in _tags(values[0]) else "pass"
    assert result.cv == cv, result.reason
