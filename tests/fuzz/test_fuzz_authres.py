"""Authentication-Results (RFC 8601): parse is documented never to raise."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.strategies import hostile_text, repeated
from zegel.authres import parse

PIECES = ["mx.example", " 1", " 1²", ";", " dkim=pass", " spf=fail", " reason=\"x\"", " header.d=example.com",
          " (", ")", "\"", "\\", " smtp.mailfrom=a@b", " none", "=", "/", "."]


@given(st.one_of(hostile_text, st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
                 repeated(st.sampled_from(["(", "\"", ";", " dkim=pass", "\\("]))))
def test_parse_never_raises(text: str) -> None:
    result = parse(text)
    assert isinstance(result.warnings, tuple)
