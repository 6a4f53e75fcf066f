"""Shared hypothesis strategies: hostile text built from the grammar's own special characters,
so random examples reach the interesting branches of each parser quickly."""

from __future__ import annotations

from hypothesis import strategies as st

from tests.fuzz.conftest import LONG

# Characters that mean something to the mail grammars (RFC 5322, 6376, 7208, 7489, 8601), plus
# controls, non-ASCII digits and letters: the alphabet an attacker builds hostile input from.
SPECIALS = " \t\r\n()<>[]{}@,;:\\\".=/%+-_~?!*^|'#$&`0123456789²١٠٠" + "\x00\x01\x7f" + "aAbBzZéü"
hostile_text = st.text(alphabet=st.sampled_from(SPECIALS) | st.characters(), max_size=400)
hostile_bytes = st.binary(max_size=400) | hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass"))


def repeated(piece: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """A piece repeated many times: the shape of most super-linear reproducers."""
    most = 20_000 if LONG else 3_000
    return st.tuples(piece, st.integers(1, most)).map(lambda pair: pair[0] * pair[1])


def examples(short: int) -> int:
    """max_examples for a costly target: ``short`` in make test, the profile's own in make fuzz."""
    from hypothesis import settings

    return settings.default.max_examples if LONG else short


# SPF record text: the grammar's own terms, macros and odd pieces, or hostile text, after "v=spf1".
SPF_TERMS = ["a", "mx", "ptr", "ip4:192.0.2.1", "ip6:2001:db8::/32", "include:", "exists:", "redirect=", "exp=",
             "all", "-all", "~all", "?all", "+all", "%{d}", "%{ir}", "%{l1r+-}", "%{s}", "%%", "%_", "%-", ".", "/24",
             "//64", "a:", "mx:", ":", "=", "v=spf1", "example", "-", "x" * 70,
             # misspellings the parser suggests a correction for
             "inlcude:", "ipv4:192.0.2.1", "~IPV6:2001:db8::1", "redirect:", "exp:", "exist:", "alll"]
spf_text = st.lists(st.sampled_from(SPF_TERMS) | hostile_text, max_size=12).map(" ".join).map(lambda t: "v=spf1 " + t)
