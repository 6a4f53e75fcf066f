"""build() reuses the line of the very result object it formatted last (zegel's own SPF, DMARC
and ARC results, which never change): the same text as formatting it afresh."""

from __future__ import annotations

import pytest

import zegel.verify  # noqa: F401  (registers the result types)
from zegel.arc.result import ArcResult
from zegel.authres import build
from zegel.dmarc.evaluate import DmarcResult
from zegel.dmarc.record import parse_record
from zegel.spf.result import SpfResult

build_module = __import__("zegel.authres.build", fromlist=["_UNCHANGING"])

RESULTS = [
    SpfResult("pass", None, "ip4:192.0.2.1", 0, 0, ("x",), "example.com", "mailfrom", "a@example.com", "192.0.2.1"),
    SpfResult("fail", "no", "-all", 0, 0, (), "example.com", "helo", "postmaster@h.example", "192.0.2.1", "r"),
    DmarcResult("pass", "example.com", "reject", record=parse_record("v=DMARC1; p=reject")),
    DmarcResult("fail", "example.com", "reject", "quarantine", record=parse_record("v=DMARC1; p=reject; t=y")),
    ArcResult("none", "no ARC header fields"),
    ArcResult("fail", "seal (x) broken", oldest_pass=1),
]


def test_types_are_registered() -> None:
    assert {SpfResult, DmarcResult, ArcResult} <= build_module._UNCHANGING


@pytest.mark.parametrize("order", [RESULTS, RESULTS[::-1], [RESULTS[0], RESULTS[0], RESULTS[1], RESULTS[0]]],
                         ids=["forward", "backward", "repeated"])
def test_reused_lines_equal_fresh(order: list[object], monkeypatch: pytest.MonkeyPatch) -> None:
    reused = [build("mx.example", [item]) for item in order for _ in range(2)]
    with monkeypatch.context() as patch:
        patch.setattr(build_module, "_UNCHANGING", set())
        fresh = [build("mx.example", [item]) for item in order for _ in range(2)]
    assert reused == fresh
    assert build("mx.example", order) == "mx.example; " + "; ".join(
        build_module._format_item_fresh(item) for item in order)
