"""Macro expansion (RFC 7208 section 7), including the RFC's own examples (7.4)."""

from __future__ import annotations

import ipaddress

import pytest

from zegel.spf import MacroContext, expand, parse_macro_string
from zegel.spf.macros import expand_domain, truncate_domain

# RFC 7208 7.4: sender strong-bad@email.example.com, IPv4 192.0.2.3, IPv6 2001:db8::cb01.
V4 = MacroContext("strong-bad@email.example.com", "strong-bad", "email.example.com",
                  ipaddress.ip_address("192.0.2.3"), "mx.example.org", "mx.receiver.example", 1_700_000_000)
V6 = MacroContext("strong-bad@email.example.com", "strong-bad", "email.example.com",
                  ipaddress.ip_address("2001:db8::cb01"), "mx.example.org")
DOMAIN = "email.example.com"


def run(text: str, ctx: MacroContext = V4, *, exp: bool = False, validated: str | None = None) -> str:
    return expand(parse_macro_string(text, exp=exp), ctx, DOMAIN, validated)


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
    ],
)
def test_rfc7208_section_7_4_examples(macro: str, expected: str) -> None:
    assert run(macro) == expected


def test_rfc7208_ipv6_example() -> None:
    assert run("%{ir}.%{v}._spf.%{d2}", V6) == (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
    )
    assert run("%{c}", V6, exp=True) == "2001:db8::cb01"


def test_exp_only_letters() -> None:
    assert run("%{c} %{r} %{t}", exp=True) == "192.0.2.3 mx.receiver.example 1700000000"
    assert run("%{h} %{p}", exp=True, validated="mail.example.com") == "mx.example.org mail.example.com"
    assert run("%{p}", exp=True) == "unknown"


def test_escapes_and_url_encoding() -> None:
    assert run("%%%_%-") == "% %20"
    odd = MacroContext("~jack&jill=up-a_b3.c@x.example", "~jack&jill=up-a_b3.c", "x.example",
                       ipaddress.ip_address("192.0.2.1"), "h.example")
    assert run("%{L}", odd) == "~jack%26jill%3Dup-a_b3.c"
    utf8 = MacroContext("jöran@x.example", "jöran", "x.example", ipaddress.ip_address("192.0.2.1"), "h")
    assert run("%{L}", utf8) == "j%C3%B6ran"  # UTF-8 then percent-encoded
    assert run("%{S}", V4) == "strong-bad%40email.example.com"


def test_unusual_transformers() -> None:
    assert run("%{d999999999999999}") == "email.example.com"  # more parts than exist: all of them
    assert run("%{l.-+,/_=}") == "strong.bad"
    with pytest.raises(ValueError):
        parse_macro_string("%{s@}")
    empty = MacroContext("@x.example", "", "x.example", ipaddress.ip_address("192.0.2.1"), "")
    assert run("%{l}.%{h}", empty) == "."
    dotted = MacroContext("a..b@x.example", "a..b", "x.example", ipaddress.ip_address("192.0.2.1"), "")
    assert run("%{l2r}", dotted) == ".a"


def test_long_expansion_is_truncated_from_the_left() -> None:
    long_local = ".".join(["label"] * 60)
    ctx = MacroContext(f"{long_local}@x.example", long_local, "x.example", ipaddress.ip_address("192.0.2.1"), "")
    name = expand_domain(parse_macro_string("%{l}.%{d}"), ctx, "example.com")
    assert len(name) <= 253 and name.endswith("label.example.com")
    assert not name.startswith(".")
    assert truncate_domain("example.com.") == "example.com"
