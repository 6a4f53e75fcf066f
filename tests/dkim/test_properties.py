"""Property tests: the whole-buffer canonicalization equals a line-by-line reading of RFC 6376
sections 3.4.3 / 3.4.4, for any body and any chunk size; tag-lists round-trip with FWS."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

import zegel.dkim.canonicalize as canon
from zegel.dkim.tags import parse_tag_list

# Bodies made of the pieces canonicalization cares about.
PIECES = [b"a", b"b", b" ", b"  ", b"\t", b"\r\n", b"\r\n\r\n", b"\xc3\xa9"]
bodies = st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join)
# ... and with bare CRs, which are data (only CRLF ends a line)
bodies_with_cr = st.lists(st.sampled_from([*PIECES, b"\r", b" \r"]), max_size=60).map(b"".join)


def reference_simple(body: bytes) -> bytes:
    """RFC 6376 3.4.3, line by line: drop empty lines at the end; an empty body is CRLF."""
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()  # the text after the last CRLF is empty: not a line
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines) or b"\r\n"


def reference_relaxed(body: bytes) -> bytes:
    """RFC 6376 3.4.4, line by line: WSP at line end removed, WSP runs -> SP, empty lines at
    the end dropped, CRLF after a non-empty body."""
    lines = body.split(b"\r\n")
    if lines and lines[-1] == b"":
        lines.pop()
    lines = [re.sub(rb"[ \t]+", b" ", re.sub(rb"[ \t]+$", b"", line)) for line in lines]
    while lines and lines[-1] == b"":
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


@given(bodies_with_cr, st.integers(min_value=1, max_value=40))
@settings(max_examples=400, deadline=None)
def test_body_canonicalization_matches_rfc_reading(body: bytes, chunk_size: int) -> None:
    saved = canon.CHUNK_SIZE
    canon.CHUNK_SIZE = chunk_size
    try:
        assert canon.canonicalize_body(body, "simple", unix_newlines=False) == reference_simple(body)
        assert canon.canonicalize_body(body, "relaxed", unix_newlines=False) == reference_relaxed(body)
    finally:
        canon.CHUNK_SIZE = saved


@given(bodies)
@settings(max_examples=200, deadline=None)
def test_unix_file_reads_as_crlf(body: bytes) -> None:
    unix = body.replace(b"\r\n", b"\n")
    for method in ("simple", "relaxed"):
        assert canon.canonicalize_body(unix, method, unix_newlines=True) == canon.canonicalize_body(
            body, method, unix_newlines=False
        )
        assert canon.canonicalize_body(unix, method) == canon.canonicalize_body(body, method)


@given(bodies, st.integers(min_value=0, max_value=80))
@settings(max_examples=200, deadline=None)
def test_body_length_limit_hashes_a_prefix(body: bytes, limit: int) -> None:
    import hashlib

    whole = canon.canonicalize_body(body, "relaxed")
    result = canon.body_hash(body, "relaxed", limit=limit)
    assert result.length == len(whole)
    assert result.digest == hashlib.sha256(whole[:limit]).digest()


def reference_relaxed_header(field: bytes) -> bytes:
    name, _, value = field.partition(b":")
    value = value.replace(b"\r\n", b"")
    value = re.sub(rb"[ \t]+", b" ", value).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value + b"\r\n"


header_values = st.lists(st.sampled_from([b"x", b"Y", b" ", b"\t", b"\r\n ", b"\r\n\t", b":"]), max_size=30).map(
    b"".join
)


@given(st.sampled_from([b"Subject", b"X-Mixed-Case", b"to"]), st.sampled_from([b"", b" ", b"\t "]), header_values)
@settings(max_examples=300, deadline=None)
def test_relaxed_header_matches_rfc_reading(name: bytes, before_colon: bytes, value: bytes) -> None:
    field = name + before_colon + b":" + value + b"\r\n"
    assert canon.canonicalize_header(field, "relaxed") == reference_relaxed_header(field)
    assert canon.canonicalize_header(field, "simple") == field


tag_names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,5}", fullmatch=True)
tag_values = st.from_regex(r"(?:[!-:<-~]{1,6}(?:[ \t]{1,2}[!-:<-~]{1,6}){0,2})?", fullmatch=True)
fws = st.sampled_from(["", " ", "\t", "\r\n ", " \r\n\t"])


@given(st.dictionaries(tag_names, tag_values, min_size=1, max_size=6), fws, fws, st.booleans())
@settings(max_examples=300, deadline=None)
def test_tag_list_round_trip(tags: dict[str, str], around: str, inner: str, trailing: bool) -> None:
    text = ";".join(f"{around}{name}{inner}={inner}{value}{around}" for name, value in tags.items())
    if trailing:
        text += ";"
    assert parse_tag_list(text) == tags


@given(
    st.lists(
        st.tuples(st.sampled_from([b"Subject", b"X-Mixed-Case", b"to"]), st.sampled_from([b"", b" ", b"\t "]), header_values),
        min_size=1,
        max_size=6,
    )
)
@settings(max_examples=300, deadline=None)
def test_relaxed_header_block_matches_field_by_field(fields: list[tuple[bytes, bytes, bytes]]) -> None:
    raws = [name + before + b":" + value + b"\r\n" for name, before, value in fields]
    message = canon.parse_message(b"".join(raws) + b"\r\n")
    names = [field.name for field in message.headers]
    selected = canon.select_headers(message.headers, names)
    expected = b"".join(reference_relaxed_header(field.raw) for field in selected if field is not None)
    assert canon.headers_hash_input(message.headers, names, "relaxed") == expected
