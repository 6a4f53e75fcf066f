"""build() formats zegel's result objects directly; it must equal format_resinfo(to_resinfo(...))."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import pytest

from zegel.authres.build import _format_item, format_resinfo, to_resinfo
from zegel.verify import UncheckedArc, UncheckedDkim, UncheckedDmarc, UncheckedSpf

RESULTS = ["pass", "fail", "none", "softfail", "neutral", "temperror", "permerror", "PASS ", ""]


def _spf_items() -> list[object]:
    items: list[object] = []
    for result, identity, sender, domain, ip, reason in itertools.product(
        RESULTS, ["mailfrom", "helo", "", None], ["a@example.com", "", None], ["example.com", "", None],
        ["192.0.2.1", None], ["some (reason) \\ here", None],
    ):
        items.append(SimpleNamespace(result=result, identity=identity, sender=sender, domain=domain, ip=ip,
                                     reason=reason, mechanism=None, explanation=None))
    items.append(UncheckedSpf("permerror", "not checked: bad ip", sender="x@example.org"))
    items.append(SimpleNamespace(result="pass", mechanism="all"))
    return items


def _dkim_items() -> list[object]:
    items: list[object] = []
    for result, reason, bits, identity in itertools.product(
        RESULTS, ["body hash mismatch", 'odd "quoted"\r\n reason', "", None], [2048, 0, None, "2048"],
        ["@example.com", "user@sub.example.com", None],
    ):
        items.append(SimpleNamespace(result=result, domain="example.com", selector="sel", header_b="abcdEFGH",
                                     identity=identity, algorithm="rsa-sha256", reason=reason, key_bits=bits))
    items.append(UncheckedDkim("permerror", "DKIM stage failed: boom"))
    return items


def _dmarc_items() -> list[object]:
    items: list[object] = []
    records = [None, SimpleNamespace(p="reject", sp=None, np=None), SimpleNamespace(p=None, sp="none", np="reject"),
               SimpleNamespace(p="quarantine", sp="reject", np="none")]
    for result, record, disposition, from_domain in itertools.product(
        RESULTS, records, ["none", "quarantine", "reject"], ["example.com", None, ""],
    ):
        items.append(SimpleNamespace(result=result, record=record, disposition=disposition, from_domain=from_domain))
    items.append(UncheckedDmarc("permerror", "no From domain"))
    return items


def _arc_items() -> list[object]:
    items: list[object] = []
    for cv, reason, oldest in itertools.product(["pass", "fail", "none", "Fail"], ["broken (seal)", "", None],
                                                [0, 2, None]):
        items.append(SimpleNamespace(cv=cv, reason=reason, ams_oldest_pass=oldest))
        items.append(SimpleNamespace(cv=cv, reason=reason, oldest_pass=oldest))
    items.append(UncheckedArc("none", "not checked"))
    return items


@pytest.mark.parametrize("kind", ["spf", "dkim", "dmarc", "arc"])
def test_direct_format_equals_resinfo_path(kind: str) -> None:
    items = {"spf": _spf_items, "dkim": _dkim_items, "dmarc": _dmarc_items, "arc": _arc_items}[kind]()
    for item in items:
        assert _format_item(item) == format_resinfo(to_resinfo(item)), item


def test_unknown_object_still_type_error() -> None:
    with pytest.raises(TypeError, match="cannot express object"):
        _format_item(object())
