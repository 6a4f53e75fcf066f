"""Record parsing: the typed AST and syntax errors with position and reason (RFC 7208 4.6, 12)."""

from __future__ import annotations

import ipaddress

import pytest

from zegel.spf import SpfSyntaxError, is_spf_record, parse_macro_string, parse_record
from zegel.spf.parser import A, All, Exists, Include, Ip4, Ip6, MacroExpand, Mx, Ptr


def test_every_mechanism_and_modifier() -> None:
    record = parse_record(
        "v=spf1 +all -include:_spf.example.com ~a ?a:mail.example.com/24//64 mx/26 mx:mx.example.com//48 "
        "ptr ptr:example.org ip4:192.0.2.0/24 ip6:2001:db8::/32 exists:%{ir}.bl.example.net "
        "redirect=_spf.example.net exp=explain.%{d} x-vendor=whatever.%{h}"
    )
    kinds = [type(m) for m in record.mechanisms]
    assert kinds == [All, Include, A, A, Mx, Mx, Ptr, Ptr, Ip4, Ip6, Exists]
    assert [m.qualifier for m in record.mechanisms[:4]] == ["+", "-", "~", "?"]
    assert [m.result for m in record.mechanisms[:4]] == ["pass", "fail", "softfail", "neutral"]
    a_plain, a_dual = record.mechanisms[2], record.mechanisms[3]
    assert isinstance(a_plain, A) and a_plain.domain_spec is None and (a_plain.cidr4, a_plain.cidr6) == (32, 128)
    assert isinstance(a_dual, A) and a_dual.domain_spec is not None
    assert (a_dual.domain_spec.text, a_dual.cidr4, a_dual.cidr6) == ("mail.example.com", 24, 64)
    mx4, mx6 = record.mechanisms[4], record.mechanisms[5]
    assert isinstance(mx4, Mx) and (mx4.cidr4, mx4.cidr6) == (26, 128)
    assert isinstance(mx6, Mx) and (mx6.cidr4, mx6.cidr6) == (32, 48)
    ip4, ip6 = record.mechanisms[8], record.mechanisms[9]
    assert isinstance(ip4, Ip4) and ip4.network == ipaddress.IPv4Network("192.0.2.0/24")
    assert isinstance(ip6, Ip6) and ip6.network == ipaddress.IPv6Network("2001:db8::/32")
    assert record.redirect is not None and record.redirect.domain_spec.literal == "_spf.example.net"
    assert record.explanation is not None and not record.explanation.domain_spec.is_literal
    assert [m.name for m in record.unknown_modifiers] == ["x-vendor"]
    assert record.has_all
    assert record.mechanisms[1].position == len("v=spf1 +all ")


def test_case_insensitive_names_and_host_bits() -> None:
    record = parse_record("V=SPF1 IP4:192.0.2.77/24 MX INCLUDE:Example.COM -ALL")
    ip4 = record.mechanisms[0]
    assert isinstance(ip4, Ip4) and str(ip4.network) == "192.0.2.0/24"  # RFC 7208 5.6: host bits ignored
    assert [type(m) for m in record.mechanisms] == [Ip4, Mx, Include, All]


def test_macro_string_parts() -> None:
    spec = parse_macro_string("%{l2r-+}.%%%_%-x.%{IR}", exp=False)
    first = spec.parts[0]
    assert isinstance(first, MacroExpand)
    assert (first.letter, first.digits, first.reverse, first.delimiters, first.url_escape) == ("l", 2, True, "-+", False)
    assert spec.parts[1] == ".% %20x."
    last = spec.parts[2]
    assert isinstance(last, MacroExpand) and last.url_escape and last.reverse and last.letter == "i"


@pytest.mark.parametrize(
    ("record", "position", "reason"),
    [
        ("v=spf1 foo", 7, "unknown mechanism"),
        ("v=spf1 -all ip4:192.0.2.300", 16, "bad IPv4 address"),
        ("v=spf1 ip4:192.0.2.0/33", 21, "over 32"),
        ("v=spf1 ip4:192.0.2.0/024", 21, "leading zero"),
        ("v=spf1 ip6:2001:db8::/129", 22, "over 128"),
        ("v=spf1 ip6:2001:db8::1%eth0", 11, "bad IPv6 address"),
        ("v=spf1 ip4", 10, "needs ':'"),
        ("v=spf1 a:example.com/24//129", 25, "over 128"),
        ("v=spf1 a:example.com/abc", 9, "valid top label"),
        ("v=spf1 a:111.222.33.44", 9, "valid top label"),
        ("v=spf1 include:", 15, "empty domain-spec"),
        ("v=spf1 include", 14, "needs ':'"),
        ("v=spf1 all:foo", 10, "takes no argument"),
        ("v=spf1 ptr/24", 10, "no CIDR"),
        ("v=spf1 exists:%{x}.example.com", 16, "unknown macro letter"),
        ("v=spf1 exists:%{i0}.example.com", 17, "nonzero"),
        ("v=spf1 exists:%{i.example.com", 14, "malformed macro"),
        ("v=spf1 a:%{r}.example.com", 9, "only in explanation"),
        ("v=spf1 exp=%{t}.example.com", 11, "only in explanation"),
        ("v=spf1 a:foo%.example.com", 12, "must be followed by"),
        ("v=spf1 redirect=a.example redirect=b.example", 26, "more than once"),
        ("v=spf1 exp=a.example exp=b.example", 21, "more than once"),
        ("v=spf1 x-mod=%z", 13, "must be followed by"),
        ("v=spf1 -exp=foo.example", 8, "unknown mechanism"),
        ("v=spf1 a:ctrl.example.com\rptr -all", 25, "control character"),
        ("v=spf1 a:example.net \u2013all", 21, "non-ASCII"),
        ("v=spf1\ta", 0, "does not start with 'v=spf1'"),
        ("v=spf10 a", 0, "does not start with 'v=spf1'"),
    ],
)
def test_syntax_errors_have_position_and_reason(record: str, position: int, reason: str) -> None:
    with pytest.raises(SpfSyntaxError) as caught:
        parse_record(record)
    assert reason in caught.value.reason
    assert caught.value.position == position, caught.value
    assert isinstance(caught.value, ValueError)


def test_record_selection_prefix() -> None:
    assert is_spf_record("v=spf1")
    assert is_spf_record("v=spf1 -all")
    assert is_spf_record("V=SPF1 -all")
    assert not is_spf_record("v=spf10 -all")
    assert not is_spf_record("spf2.0/pra -all")
    assert not is_spf_record(" v=spf1 -all")


def test_trailing_and_repeated_spaces_are_allowed() -> None:
    assert [type(m) for m in parse_record("v=spf1   a    -all   ").mechanisms] == [A, All]


def test_ten_thousand_character_record_parses_in_bounded_time() -> None:
    terms = " ".join(f"ip4:10.{i // 256}.{i % 256}.0/24" for i in range(700))
    text = ("v=spf1 " + terms + " -all")[:10_000]
    text = text[: text.rfind(" ")] + " -all"
    record = parse_record(text)
    assert len(record.mechanisms) > 500
    bad = "v=spf1 " + "a" * 9_990 + ":"
    with pytest.raises(SpfSyntaxError):
        parse_record(bad)


def test_domain_spec_may_end_in_macro_or_trailing_dot() -> None:
    parse_record("v=spf1 include:%{d2}")
    parse_record("v=spf1 include:_spf.example.com.")
    parse_record("v=spf1 a:mail.123-example")
    with pytest.raises(SpfSyntaxError):
        parse_record("v=spf1 a:example.com-")


@pytest.mark.parametrize(("record", "reason"), [
    ("v=spf1 inlcude:_spf.example.net -all", "unknown mechanism 'inlcude' (did you mean 'include'?)"),
    ("v=spf1 ipv4:192.0.2.1 -all", "unknown mechanism 'ipv4' (did you mean 'ip4'?)"),
    ("v=spf1 exist:%{i}.x.example -all", "unknown mechanism 'exist' (did you mean 'exists'?)"),
    ("v=spf1 mx -alll", "unknown mechanism 'alll' (did you mean 'all'?)"),
    ("v=spf1 redirect:_spf.example.net", "unknown mechanism 'redirect' (redirect is a modifier: write 'redirect=')"),
    ("v=spf1 foo -all", "unknown mechanism 'foo'"),  # nothing close: no guess
    ("v=spf1 " + "x" * 300, "unknown mechanism"),  # long: no guess, no quadratic work
])
def test_a_misspelt_mechanism_names_the_one_meant(record: str, reason: str) -> None:
    with pytest.raises(SpfSyntaxError) as raised:
        parse_record(record)
    assert raised.value.reason.startswith(reason)
    if "did you mean" not in reason:
        assert "did you mean" not in raised.value.reason


@pytest.mark.parametrize(("record", "corrected"), [
    ("v=spf1 inlcude:_spf.example.net -all", "v=spf1 include:_spf.example.net -all"),
    ("v=spf1 ~IPV4:192.0.2.1 -all", "v=spf1 ~ip4:192.0.2.1 -all"),
    ("v=spf1 redirect:_spf.example.net", "v=spf1 redirect=_spf.example.net"),
    ("v=spf1 foo -all", None),  # no sure correction
])
def test_the_suggestion_comes_with_the_span_to_rewrite(record: str, corrected: str | None) -> None:
    with pytest.raises(SpfSyntaxError) as raised:
        parse_record(record)
    fix = raised.value.fix
    if corrected is None:
        assert fix is None
        return
    assert fix is not None
    start, end, replacement = fix
    assert record[:start] + replacement + record[end:] == corrected
    parse_record(corrected)
