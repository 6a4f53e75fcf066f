"""build()'s memoized per-kind formatting equals the full path, format_resinfo(to_resinfo(item)),
on awkward values: quoting, control characters, enums, bools, duck-typed results, repeats."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zegel.arc.result import ArcResult
from zegel.authres import build
from zegel.authres.build import _format_item, format_resinfo, to_resinfo
from zegel.dmarc.record import parse_record
from zegel.spf.result import SpfResult


class Result(str, enum.Enum):  # noqa: UP042 -- str() is "Result.PASS", unlike a StrEnum
    PASS = "pass"
    FAIL = "fail"


class Plain(enum.Enum):
    TEMP = "temperror"


@dataclass(frozen=True)
class Dkim:
    result: Any
    domain: Any
    selector: Any
    header_b: Any = None
    identity: Any = None
    algorithm: Any = None
    reason: Any = None
    key_bits: Any = None


@dataclass(frozen=True)
class Dmarc:
    result: Any
    disposition: Any
    from_domain: Any = None
    record: Any = None


@dataclass(frozen=True)
class Rec:
    p: Any = None
    sp: Any = None
    np: Any = None


@dataclass(frozen=True)
class Spf:
    result: Any
    identity: Any = "mailfrom"
    domain: Any = None
    sender: Any = None
    ip: Any = None
    reason: Any = None


@dataclass(frozen=True)
class Arc:
    cv: Any
    reason: Any = None
    oldest_pass: Any = None


AWKWARD = ["", " ", "pass", " PASS ", "a b", 'say "hi"', "back\\slash", "(paren)", "tab\there", "nl\r\nx",
           "ünïcode", "x@y.example", "@example.com", "a;b", "\x00nul", None]

ITEMS: list[Any] = [
    SpfResult("pass", None, "ip4:1.2.3.4", 1, 0, (), "example.com", "mailfrom", "a@example.com", "192.0.2.1"),
    SpfResult("none", None, None, 0, 0, (), "example.com", "helo", "postmaster@example.com", "192.0.2.1"),
    SpfResult("permerror", None, None, 0, 0, (), "example.com", "mailfrom", "", "", 'bad "record" (x)'),
    SpfResult("softfail", None, None, 0, 0, (), "", "mailfrom", "", "2001:db8::1"),
    Spf(Result.PASS, domain="example.com", ip="192.0.2.1"),
    Spf("temperror", identity=None, domain="example.com", reason=Plain.TEMP),
    Spf("fail", identity="helo", domain="helo.example", ip=True),
    ArcResult("none", "no ARC header fields"),
    ArcResult("fail", "seal (i=2) says \"cv=fail\"\n"),
    ArcResult("pass", "ok", oldest_pass=1),
    ArcResult("pass", "ok", oldest_pass=3),
    Arc("fail", reason="x", oldest_pass=True),
    Arc(Result.PASS, oldest_pass=1.0),
    Arc(" FAIL ", reason=""),
    Dkim("pass", "example.com", "sel", "abcdefgh", "@example.com", "rsa-sha256", None, 2048),
    Dkim("fail", "example.com", "sel", "a+b/c=", None, None, "body hash did not verify", 1024),
    Dkim("permerror", "", "", "", "", "", "no key", 0),
    Dkim("neutral", "x.example", "s 1", None, reason='quote " and \\', key_bits=True),
    Dkim(Result.FAIL, "x.example", "s", "b", reason="r", key_bits=-1),
    Dkim("pass", 7, 8, 9, key_bits=2048.0),
    Dmarc("pass", "none", "example.com", parse_record("v=DMARC1; p=reject")),
    Dmarc("fail", "quarantine", "example.com", parse_record("v=DMARC1; p=quarantine; sp=reject; np=none")),
    Dmarc("none", "none", "example.com", None),
    Dmarc("permerror", "none", None, None),
    Dmarc("fail", "reject", "ex ample", Rec(p=None, sp="", np="reject")),
    Dmarc(Result.FAIL, Plain.TEMP, "example.com", Rec(p="reject")),
]


def full(item: Any) -> str:
    return format_resinfo(to_resinfo(item))


@pytest.mark.parametrize("item", ITEMS, ids=range(len(ITEMS)))
def test_format_item_equals_full_path(item: Any) -> None:
    expected = full(item)
    assert _format_item(item) == expected
    assert _format_item(item) == expected  # the memoized answer, second time round


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["spf", "dkim", "dmarc", "arc"]),
       st.lists(st.one_of(st.sampled_from(AWKWARD), st.text(max_size=12), st.integers(-2, 4096)),
                min_size=8, max_size=8))
def test_format_item_property(kind: str, values: list[Any]) -> None:
    a, b, c, d, e, f, g, h = values
    item: Any
    if kind == "spf":
        item = Spf(a, b, c, d, e, f)
    elif kind == "dkim":
        item = Dkim(a, b, c, d, e, f, g, h)
    elif kind == "dmarc":
        item = Dmarc(a, b, c, Rec(d, e, f) if g else None)
    else:
        item = Arc(a, b, c)
    try:
        expected = full(item)
    except Exception as exc:  # the full path's error is the fast path's too
        with pytest.raises(type(exc)):
            _format_item(item)
        return
    assert _format_item(item) == expected
    assert _format_item(item) == expected


def test_build_authserv_memo() -> None:
    assert build("mx.example", []) == "mx.example; none"
    assert build(" mx.example ", [], version=1) == "mx.example 1; none"
    assert build("mx example", [ITEMS[0]]) == f'"mx example"; {full(ITEMS[0])}'
    for bad in ("", "  "):
        with pytest.raises(ValueError):
            build(bad, [])
        with pytest.raises(ValueError):
            build(bad, [])


def test_long_values_are_formatted_afresh_not_memoized() -> None:
    from zegel.authres.build import _dkim_head

    before = _dkim_head.cache_info().currsize
    item = Dkim("fail", "example.com", "sel", "bbbb", "@" + "i" * 5000, "rsa-sha256", "r" * 3000, 2048)
    assert _format_item(item) == full(item)
    assert _format_item(item) == full(item)
    assert _dkim_head.cache_info().currsize == before
