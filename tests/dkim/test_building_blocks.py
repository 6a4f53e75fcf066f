"""Tag-lists, canonicalization, header selection and key records (RFC 6376 3.2, 3.4, 3.6.1, 5.4.2)."""

from __future__ import annotations

import pytest

from zegel.dkim.canonicalize import (
    MessageFormatError,
    body_hash,
    canonicalize_body,
    canonicalize_header,
    headers_hash_input,
    parse_message,
    select_headers,
    signature_field_input,
)
from zegel.dkim.keys import KeyCache, KeyRecordError, parse_key_record
from zegel.dkim.tags import TagListError, decode_base64, decode_qp, parse_tag_list, split_colon_list

ED25519_P = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="


# -- tag-lists -------------------------------------------------------------------------------

def test_tag_list_fws_everywhere() -> None:
    tags = parse_tag_list(" v = 1 ;\r\n\ta=rsa-sha256; h = from :\r\n to ; b=ab\r\n cd ;")
    assert tags == {"v": "1", "a": "rsa-sha256", "h": "from :\r\n to", "b": "ab\r\n cd"}
    assert split_colon_list(tags["h"]) == ["from", "to"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a=1; a=2", "duplicate tag a="),
        ("a=1;; b=2", "empty tag"),
        ("1a=2", "invalid tag name"),
        ("v=1; a b=2", "invalid tag name 'a b'"),
        ("a", "has no '='"),
        ("a=\x01", "control character"),
        ("", "empty tag-list"),
    ],
)
def test_tag_list_errors(text: str, reason: str) -> None:
    with pytest.raises(TagListError, match=reason):
        parse_tag_list(text)


def test_base64_with_fws_and_invalid() -> None:
    assert decode_base64("aGVs\r\n bG8=") == b"hello"
    with pytest.raises(TagListError, match="invalid base64"):
        decode_base64("aGVs*bG8=")
    with pytest.raises(TagListError):
        decode_base64("aGVsbG8")  # bad padding


def test_quoted_printable() -> None:
    assert decode_qp("joe=40ex ample.com") == "joe@example.com"
    assert decode_qp("=C3=A9t=C3=A9@x") == "été@x"
    with pytest.raises(TagListError):
        decode_qp("bad=4")


# -- message splitting and header selection ------------------------------------------------

def test_bare_lf_is_crlf_and_mbox_line_skipped() -> None:
    message = parse_message(b"From someone Mon Jan  1 10:00:00 2024\nSubject: a\n b\nTo: x\n\nbody\n")
    assert message.skipped_mbox_line
    assert [f.raw for f in message.headers] == [b"Subject: a\r\n b\r\n", b"To: x\r\n"]
    assert bytes(message.body) == b"body\n"
    assert canonicalize_body(message.body, "simple") == b"body\r\n"


def test_no_separator_and_malformed_header() -> None:
    message = parse_message(b"Subject: a\r\nTo: b")
    assert not message.has_separator and bytes(message.body) == b""
    assert [f.name for f in message.headers] == ["subject", "to"]
    with pytest.raises(MessageFormatError, match="line 2"):
        parse_message(b"Subject: a\r\nnot a header\r\n\r\nbody")


def test_selection_bottom_up_and_oversigned_absent() -> None:
    message = parse_message(b"Received: 1\r\nFrom: a\r\nReceived: 2\r\n\r\n")
    selected = select_headers(message.headers, ["received", "Received", "received", "reply-to"])
    assert [f.raw if f else None for f in selected] == [b"Received: 2\r\n", b"Received: 1\r\n", None, None]
    assert headers_hash_input(message.headers, ["from", "from"], "relaxed") == b"from:a\r\n"


# -- canonicalization (RFC 6376 3.4 and its example in 3.4.5) -------------------------------

def test_rfc6376_section_3_4_5_example() -> None:
    headers = [b"A: X\r\n", b"B : Y\t\r\n\tZ  \r\n"]
    body = b" C \r\nD \t E\r\n\r\n\r\n"
    assert b"".join(canonicalize_header(h, "relaxed") for h in headers) == b"a:X\r\nb:Y Z\r\n"
    assert canonicalize_body(body, "relaxed") == b" C\r\nD E\r\n"
    assert b"".join(canonicalize_header(h, "simple") for h in headers) == b"".join(headers)
    assert canonicalize_body(body, "simple") == b" C \r\nD \t E\r\n"


@pytest.mark.parametrize(
    ("body", "simple", "relaxed"),
    [
        (b"", b"\r\n", b""),
        (b"\r\n\r\n", b"\r\n", b""),
        (b"abc", b"abc\r\n", b"abc\r\n"),
        (b"abc  ", b"abc  \r\n", b"abc\r\n"),
        (b"a\r\n \r\n", b"a\r\n \r\n", b"a\r\n"),
        (b"abc\r\r\n\r\n", b"abc\r\r\n", b"abc\r\r\n"),
        (b"\xe9t\xe9 \t\r\n", b"\xe9t\xe9 \t\r\n", b"\xe9t\xe9\r\n"),
    ],
)
def test_body_edge_cases(body: bytes, simple: bytes, relaxed: bytes) -> None:
    assert canonicalize_body(body, "simple") == simple
    assert canonicalize_body(body, "relaxed") == relaxed


def test_chunked_body_matches_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    import zegel.dkim.canonicalize as canon

    body = (b"line  with\tspace \r\n" * 50 + b"\r\n" * 30 + b"x \r\n" + b"\r\n" * 40) * 3
    whole = {m: canon.canonicalize_body(body, m) for m in ("simple", "relaxed")}
    monkeypatch.setattr(canon, "CHUNK_SIZE", 37)
    for method, expected in whole.items():
        assert canon.canonicalize_body(body, method) == expected
        assert body_hash(body, method, limit=100).length == len(expected)


def test_signature_field_b_value_removed() -> None:
    field = b"DKIM-Signature: v=1; bh=abc=;\r\n b=dGVz\r\n dA==; x=1\r\n"
    assert signature_field_input(field, "simple") == b"DKIM-Signature: v=1; bh=abc=;\r\n b=; x=1"
    assert signature_field_input(field, "relaxed") == b"dkim-signature:v=1; bh=abc=; b=; x=1"


# -- key records -----------------------------------------------------------------------------

def test_key_record_ed25519_and_flags() -> None:
    record = parse_key_record(f"v=DKIM1; k=ed25519; t=y:s; h=sha256; p={ED25519_P}")
    assert (record.key_type, record.key_bits, record.testing, record.strict) == ("ed25519", 256, True, True)
    assert record.allows_hash("sha256") and not record.allows_hash("sha1") and record.allows_email


def test_key_record_revoked() -> None:
    record = parse_key_record("v=DKIM1; p=")
    assert record.revoked and record.public_key is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("k=rsa; v=DKIM1; p=", "first tag"),
        ("v=DKIM2; p=", "version"),
        ("v=DKIM1; k=dsa; p=", "unknown key type"),
        ("v=DKIM1", "no p="),
        ("v=DKIM1; p=!!!", "base64"),
        ("v=DKIM1; p=aGVsbG8=", "RSA public key"),
        ("v=DKIM1; k=ed25519; p=aGVsbG8=", "32 octets"),
    ],
)
def test_key_record_errors(text: str, reason: str) -> None:
    with pytest.raises(KeyRecordError, match=reason):
        parse_key_record(text)


def test_key_cache_memoizes_errors_too() -> None:
    cache = KeyCache(max_entries=2)
    with pytest.raises(KeyRecordError):
        cache.parse("garbage")
    first = cache.parse(f"k=ed25519; p={ED25519_P}")
    assert cache.parse(f"k=ed25519; p={ED25519_P}") is first
    cache.parse("v=DKIM1; p=")
    assert len(cache) == 2


def test_many_space_runs_collapse_like_few() -> None:
    # more than 4096 runs takes the rescanning path; runs of 2..7 spaces and tabs
    body = b"".join(b"w" + b" " * (2 + i % 6) + (b"\t" if i % 5 == 0 else b"") + b"x \r\n" for i in range(6000))
    expected = b"".join(b"w x\r\n" for _ in range(6000))
    assert canonicalize_body(body, "relaxed") == expected
