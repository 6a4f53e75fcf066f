"""The hot-path shortcuts in zegel.dkim equal the plain code they stand in for.

Each ``reference_*`` below is the straightforward implementation the fast path replaced;
the tests run both on awkward inputs (folds, tabs, trailing whitespace, duplicate tags, empty
values, non-ASCII, bare CR and LF) and, with Hypothesis, on generated ones.
"""

from __future__ import annotations

import hashlib
import importlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zegel.dkim.canonicalize as canon
from zegel.dkim.tags import TagListError, parse_tag_list

dkim_verify = importlib.import_module("zegel.dkim.verify")  # the package exports a verify function

_WSP = " \t\r\n"
_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_BAD_VALUE_CHAR = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def reference_parse_tag_list(text: str) -> dict[str, str]:
    text = text.strip(_WSP)
    flat = text.replace("\r\n", "\n").replace("\n ", " ").replace("\n\t", " ")
    if "\r" in flat or "\n" in flat:
        raise TagListError("line break without folding whitespace in tag-list")
    if _BAD_VALUE_CHAR.search(text):
        raise TagListError("control character in tag-list")
    tags: dict[str, str] = {}
    specs = text.split(";")
    for index, spec in enumerate(specs):
        name, equals, value = spec.partition("=")
        name = name.strip(_WSP)
        if not equals:
            if not name and index == len(specs) - 1 and index > 0:
                break
            raise TagListError("empty tag or no '='")
        if not _TAG_NAME.match(name):
            raise TagListError("invalid tag name")
        if name in tags:
            raise TagListError("duplicate tag")
        tags[name] = value.strip(_WSP)
    return tags


def _outcome(function, *args):  # type: ignore[no-untyped-def]
    try:
        return function(*args)
    except (TagListError, dkim_verify.SignatureError, canon.MessageFormatError) as exc:
        return type(exc)


AWKWARD_TAG_LISTS = [
    "v=1; a=rsa-sha256; b=abc\r\n def",
    "v=1;\r\n\ta=rsa-sha256",  # tab fold: the slow check
    "v=1;\r\n a=x;",
    "a=1\r\nb=2",  # line break without fold
    "a=1\rb=2",
    "a=1\n b=2",  # bare LF fold
    "a=\x01",
    "a=\x7f",
    "a=\x0b x",
    "a=caf\u00e9",
    "a=\u0085",
    "a=1; a=2",
    "a=; b=",
    "a=1;;b=2",
    ";",
    "",
    " ; ",
    "a=1 ;",
    "a = 1 ; b\t=\t2 ;",
    "a=b=c; d==",
    "1a=2",
    "a b=2",
    "a=1\r\n \r\n ",
    "a=1\r\n",
]


@pytest.mark.parametrize("text", AWKWARD_TAG_LISTS)
def test_tag_list_equals_reference(text: str) -> None:
    assert _outcome(parse_tag_list, text) == _outcome(reference_parse_tag_list, text)


tag_text = st.lists(
    st.sampled_from(["a", "b", "v", "=", ";", " ", "\t", "\r\n ", "\r\n\t", "\r\n", "\r", "\n", "x1", "\x00", "\x7f",
                     "\u00e9", "\u0085", "\x0c", "=="]),
    max_size=25,
).map("".join)


@given(tag_text)
@settings(max_examples=500, deadline=None)
def test_tag_list_property(text: str) -> None:
    assert _outcome(parse_tag_list, text) == _outcome(reference_parse_tag_list, text)


# -- signature_field_input: b= cut from the end first ------------------------------------------

def reference_signature_field_input(raw_field: bytes, method: str) -> bytes:
    field = raw_field[:-2] if raw_field.endswith(b"\r\n") else raw_field
    colon = field.find(b":")
    head, parts = field[: colon + 1], field[colon + 1 :].split(b";")
    for index in range(len(parts) - 1, -1, -1):
        name, equals, _ = parts[index].partition(b"=")
        if equals and name.strip(b" \t\r\n") == b"b":
            parts[index] = name + b"="
            break
    stripped = head + b";".join(parts)
    if method == "simple":
        return stripped
    name, _, value = stripped.partition(b":")
    value = re.sub(rb"[ \t]+", b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.rstrip(b" \t").lower() + b":" + value


SIGNATURE_FIELDS = [
    b"DKIM-Signature: v=1; bh=xy=; b=abc\r\n def\r\n",
    b"DKIM-Signature: v=1; b=abc; bh=xy=\r\n",  # b= in the middle
    b"DKIM-Signature: v=1; b=abc;\r\n",  # trailing ;
    b"DKIM-Signature: v=1; b =abc\r\n",
    b"DKIM-Signature: v=1;\r\n\tb\r\n =abc  \r\n",
    b"DKIM-Signature: b=abc\r\n",
    b"DKIM-Signature:b=abc",
    b"DKIM-Signature \t: v=1;  b=a\tb ;\r\n",
    b"X;Y: b=1; c=2\r\n",  # ';' in the name
    b"X;Y: c=2\r\n",
    b"no colon; b=1",
    b"DKIM-Signature: v=1; bb=1; xb=2\r\n",
    b"DKIM-Signature: v=1; b=\xc3\xa9\r\n",
    b"DKIM-Signature: v=1;\r\n b=abc\r def\r\n",  # bare CR
]


@pytest.mark.parametrize("field", SIGNATURE_FIELDS)
@pytest.mark.parametrize("method", ["simple", "relaxed"])
def test_signature_field_input_equals_reference(field: bytes, method: str) -> None:
    assert canon.signature_field_input(field, method) == reference_signature_field_input(field, method)


field_pieces = st.lists(
    st.sampled_from([b"b", b"bh", b"=", b";", b" ", b"\t", b"\r\n ", b"x", b"  ", b"\r", b":", b"\xc3\xa9"]), max_size=25
).map(b"".join)


@given(st.sampled_from([b"DKIM-Signature", b"a;b", b"X"]), st.sampled_from([b":", b" :", b"\t:"]), field_pieces,
       st.booleans())
@settings(max_examples=500, deadline=None)
def test_signature_field_input_property(name: bytes, colon: bytes, value: bytes, crlf: bool) -> None:
    field = name + colon + value + (b"\r\n" if crlf else b"")
    for method in ("simple", "relaxed"):
        assert canon.signature_field_input(field, method) == reference_signature_field_input(field, method)


# -- body_hash: the usual simple body is hashed as it is ----------------------------------------

body_pieces = st.lists(st.sampled_from([b"a", b" ", b"\t", b"\r\n", b"\r", b"\n", b"\r\n\r\n", b"\xff"]), max_size=30).map(
    b"".join
)


@given(body_pieces, st.one_of(st.none(), st.integers(min_value=0, max_value=40)))
@settings(max_examples=500, deadline=None)
def test_simple_body_hash_equals_canonical_form(body: bytes, limit: int | None) -> None:
    for data in (body, body + b"text\r\n", b"x\r\n" + body + b"\r\n"):
        whole = canon.canonicalize_body(data, "simple", unix_newlines=False)
        expected = hashlib.sha256(whole if limit is None else whole[:limit]).digest()
        for given_body in (data, memoryview(data)):
            result = canon.body_hash(given_body, "simple", limit=limit, unix_newlines=False)
            assert (result.digest, result.length) == (expected, len(whole))


# -- parse_message ------------------------------------------------------------------------------

def reference_parse_message(raw: bytes) -> tuple[tuple[tuple[str, bytes], ...], bytes, bool, bool, bool]:
    view = memoryview(raw)
    if not raw:
        return (), b"", False, False, False
    if raw.startswith(b"\r\n"):
        return (), raw[2:], True, False, False
    if raw.startswith(b"\n"):
        return (), raw[1:], True, False, True
    match = re.search(rb"\n\r?\n", raw)
    if match is not None:
        header_bytes, body, has_separator = raw[: match.start() + 1], bytes(view[match.end():]), True
    else:
        header_bytes, body, has_separator = raw, b"", False
    converted = header_bytes
    if header_bytes.count(b"\n") != header_bytes.count(b"\r\n"):
        converted = re.sub(rb"(?<!\r)\n", b"\r\n", header_bytes)
    unix = converted is not header_bytes
    header_bytes = converted if converted.endswith(b"\r\n") else converted + b"\r\n"
    start, skipped = 0, False
    if header_bytes.startswith(b"From "):
        end = header_bytes.find(b"\r\n") + 2
        if not re.match(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:", header_bytes[:end]):
            start, skipped = end, True
    fields = []
    position = start
    field_re = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:[^\n]*\n(?:[ \t][^\n]*\n)*")
    while position < len(header_bytes):
        found = field_re.match(header_bytes, position)
        if found is None:
            raise canon.MessageFormatError("not a header field")
        fields.append((found.group(1).decode("ascii").lower(), found.group(0)))
        position = found.end()
    return tuple(fields), body, has_separator, skipped, unix


def _parsed(raw: bytes) -> object:
    try:
        message = canon.parse_message(raw)
    except canon.MessageFormatError:
        return canon.MessageFormatError
    return (tuple((f.name, f.raw) for f in message.headers), bytes(message.body), message.has_separator,
            message.skipped_mbox_line, message.unix_newlines)


MESSAGES = [
    b"",
    b"\r\nbody",
    b"\nbody",
    b"From: a\r\nTO : b\r\n\r\nbody\r\n",
    b"From: a\nSubject: x\n folded\n\nbody\n",
    b"From: a\r\nX: y\n\r\nbody",  # mixed line ends
    b"From someone Mon Jan 1\nFrom: a\n\nbody",
    b"From someone\r\n",
    b"From: a\r\nnot a field\r\n\r\n",
    b"From: a",
    b"Subject: caf\xc3\xa9\r\n\tx \r\n\r\n",
    b"X-A\t:\t1\r\nx-a: 2\r\n\r\n",
    b"A: 1\r\rB: 2\r\n\r\n",  # bare CR inside a field
    b"A;B: 1\r\n\r\n",
]


@pytest.mark.parametrize("raw", MESSAGES)
def test_parse_message_equals_reference(raw: bytes) -> None:
    expected = _outcome(reference_parse_message, raw)
    assert _parsed(raw) == expected
    if not isinstance(expected, type):
        assert all(type(f) is canon.HeaderField for f in canon.parse_message(raw).headers)


message_pieces = st.lists(
    st.sampled_from([b"From", b" ", b"\t", b":", b"X-Y", b"a", b"\r\n", b"\n", b"\r", b"\r\n ", b"\xc3\xa9", b"From: a\r\n"]),
    max_size=30,
).map(b"".join)


@given(message_pieces)
@settings(max_examples=500, deadline=None)
def test_parse_message_property(raw: bytes) -> None:
    assert _parsed(raw) == _outcome(reference_parse_message, raw)


# -- select_headers -----------------------------------------------------------------------------

@given(st.lists(st.sampled_from(["from", "to", "x"]), max_size=8), st.lists(st.sampled_from(["From", "TO", "x", "y"]),
                                                                           max_size=8))
@settings(max_examples=300, deadline=None)
def test_select_headers_bottom_up(present: list[str], names: list[str]) -> None:
    headers = [canon.HeaderField(name, f"{name}: {index}\r\n".encode()) for index, name in enumerate(present)]
    expected: list[canon.HeaderField | None] = []
    used: set[int] = set()
    for name in names:
        hits = [i for i, field in enumerate(headers) if field.name == name.lower() and i not in used]
        expected.append(headers[hits[-1]] if hits else None)
        if hits:
            used.add(hits[-1])
    assert canon.select_headers(headers, names) == expected


# -- parse_signature: memoized checks of the stable tags ------------------------------------------

BASE_TAGS = {"v": "1", "a": "rsa-sha256", "b": "YWJj", "bh": "eHl6", "d": "example.com", "h": "from:to", "s": "sel"}
VARIANTS = [
    {},
    {"c": "relaxed"},
    {"c": "Relaxed/Relaxed"},
    {"c": "bogus/simple", "b": "!!"},  # b= comes before c= in the order of checks
    {"c": "bogus"},
    {"v": "2", "b": "!!"},
    {"a": "rsa-sha1"},
    {"a": "x"},
    {"b": ""},
    {"b": "YW\r\n Jj"},
    {"bh": "!!"},
    {"d": "exa mple.com"},
    {"d": "caf\u00e9.example"},
    {"s": ""},
    {"h": "to"},
    {"h": "From : To"},
    {"h": "from::to"},
    {"q": "dns/txt"},
    {"q": "http"},
    {"q": "dns/txt:"},
    {"i": "joe@sub.example.com"},
    {"i": "joe@other.com"},
    {"i": "joe=40x@example.com"},
    {"i": "noat"},
    {"i": "a@b=4"},
    {"z": "From:a|To:b"},
    {"z": "bad"},
    {"t": "10", "x": "5"},
    {"l": "12", "t": "1", "x": "2"},
    {"l": "x"},
    {"t": "1" * 13},
]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("missing", [None, "v", "h"])
def test_parse_signature_memo_equals_plain(variant: dict[str, str], missing: str | None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    tags = {**BASE_TAGS, **variant}
    if missing:
        del tags[missing]
    field = canon.HeaderField("dkim-signature", b"DKIM-Signature: x\r\n")

    def run() -> object:
        try:
            return dkim_verify.parse_signature(field, dict(tags))
        except dkim_verify.SignatureError as exc:
            return str(exc)

    dkim_verify._stable_checks.cache_clear()
    memoized = [run(), run()]  # a miss, then a hit
    monkeypatch.setattr(dkim_verify, "_MEMO_FIELD_BYTES", -1)  # the plain, in-order path
    assert memoized == [run(), run()]


# -- check_signature: RSA key classes remembered instead of an ABC check per call -----------------

def test_check_signature_key_class_memo() -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    from zegel.dkim.keys import check_signature, sign_bytes

    rsa_key = rsa.generate_private_key(65537, 1024)
    ed_key = ed25519.Ed25519PrivateKey.generate()
    data = b"header hash input"
    rsa_sig = sign_bytes(rsa_key, "rsa-sha256", data)
    ed_sig = sign_bytes(ed_key, "ed25519-sha256", data)
    for _ in range(2):  # the first round fills the memo, the second uses it
        assert check_signature(rsa_key.public_key(), "rsa-sha256", data, rsa_sig)
        assert not check_signature(rsa_key.public_key(), "rsa-sha256", data + b"x", rsa_sig)
        assert not check_signature(ed_key.public_key(), "rsa-sha256", data, rsa_sig)
        assert not check_signature(rsa_key.public_key(), "ed25519-sha256", data, ed_sig)
        assert check_signature(ed_key.public_key(), "ed25519-sha256", data, ed_sig)


# -- signed_header_data: the signature field relaxed in the same block as the signed fields -------

SIGNATURE_FIELDS = [
    b"DKIM-Signature: v=1; h=from; b=abc\r\n def\r\n",
    b"DKIM-Signature: v=1; b=abc; h=from\r\n",  # b= not last
    b"DKIM-Signature: v=1; b = abc ;\r\n",
    b"dkim-signature \t:\t v=1;\r\n\tb=\t a b  c \r\n",
    b"DKIM-Signature:v=1;  bh=x;b=\r\n",
    b"DKIM-Signature: v=1; bh=abc\r\n",  # no b= at all
    b"DKIM-Signature: v=1; b=x \r\n \r\n",
    b"DKIM-Signature: v=1;\r\n b\r\n =abc  \r\n",
    b"DKIM-Signature: v=1; b=x",  # no final CRLF
    b"DKIM-Signature: v=1; x=caf\xc3\xa9  ; b=y\r\n",
]
HEADER_BLOCKS = [
    b"From: a\r\nTo: b\r\n",
    b"FROM : a  b \r\n\tc\r\nTo:\tb\r\nfrom: second\r\n",
    b"From:\r\n x\r\nSubject: \r\n",
    b"X: 1\r\n",
]


def _field(raw: bytes) -> canon.HeaderField:
    return canon.HeaderField(raw.split(b":")[0].rstrip(b" \t").decode().lower(), raw)


@pytest.mark.parametrize("signature", SIGNATURE_FIELDS)
@pytest.mark.parametrize("block", HEADER_BLOCKS)
@pytest.mark.parametrize("method", ["relaxed", "simple"])
def test_signed_header_data_equals_parts(signature: bytes, block: bytes, method: str) -> None:
    headers = canon.parse_message(block + signature + b"\r\n").headers if signature.endswith(b"\r\n") else ()
    sig = _field(signature)
    for names in (["from"], ["from", "to", "from", "subject"], ["x", "dkim-signature"], []):
        expected = canon.headers_hash_input(headers, names, method) + canon.signature_field_input(sig.raw, method)
        assert canon.signed_header_data(headers, names, method, sig) == expected


header_values = st.lists(
    st.sampled_from([b"a", b" ", b"  ", b"\t", b"\r\n ", b"\r\n\t", b";", b"=", b"b=", b" b =", b"\xc3\xa9"]),
    max_size=12,
).map(b"".join)


@given(header_values, header_values, st.sampled_from([b"DKIM-Signature", b"dkim-signature \t"]))
@settings(max_examples=400, deadline=None)
def test_signed_header_data_property(value: bytes, sig_value: bytes, name: bytes) -> None:
    headers = (canon.HeaderField("from", b"From:" + value + b"\r\n"), canon.HeaderField("to", b"To :" + value + b"\r\n"))
    sig = canon.HeaderField("dkim-signature", name + b":" + sig_value + b"\r\n")
    for method in ("relaxed", "simple"):
        expected = canon.headers_hash_input(headers, ["from", "to"], method) + canon.signature_field_input(
            sig.raw, method
        )
        assert canon.signed_header_data(headers, ["from", "to"], method, sig) == expected


# -- DkimVerifier: the all-cached path without coroutines equals the full path --------------------

def test_verify_now_equals_full_path(signing_keys, key_dns) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from zegel.dkim.keys import KeyCache
    from zegel.dkim.sign import sign

    resolver, _ = key_dns({"bad._domainkey.example.com": "v=DKIM1; p="})
    base = b"From: a@example.com\r\nTo: b@example.net\r\nSubject: s\r\n\r\nbody\r\n"

    def signed(message: bytes, selector: str = "rsa", key: object = None, **options: object) -> bytes:
        private = key if key is not None else (signing_keys.rsa if selector != "ed" else signing_keys.ed25519)
        return sign(message, domain="example.com", selector=selector, private_key=private, **options) + message

    one = signed(base)
    messages = [
        base,  # unsigned
        one,
        signed(one, "ed"),  # two signatures, two keys
        signed(one),  # two signatures, one key
        signed(base, "bad"),  # revoked key
        signed(base, "missing"),  # no key (uncached at first)
        one.replace(b"body", b"bodx"),  # body hash mismatch
        b"DKIM-Signature: v=1; a=rsa-sha256; b=; bh=; d=x; h=from; s=y\r\n" + base,  # malformed signature
        b"DKIM-Signature: v=1\r\nnot a field\r\n\r\nbody",  # malformed message
        signed(base, canonicalization=("simple", "simple"), body_length=True) + b"",
        signed(base.replace(b"\r\n", b"\n")),  # bare LF
        signed(signed(signed(one))),  # over max_signatures below
    ]

    async def run() -> None:
        cache = KeyCache()
        verifier = dkim_verify.DkimVerifier(resolver, key_cache=cache, max_signatures=3, now=1.9e9)
        for message in messages:
            full = await verifier._verify(message)
            fast = verifier._verify_now(message)  # after _verify: the keys are cached
            public = await verifier.verify(message)
            module = await dkim_verify.verify(message, resolver=resolver, key_cache=cache, max_signatures=3, now=1.9e9)
            assert public == full == module
            assert fast is None or fast == full
        assert verifier._verify_now(messages[1]) is not None  # the usual case does take the fast path
        assert dkim_verify.DkimVerifier(resolver, key_cache=KeyCache())._verify_now(messages[1]) is None  # uncached

    asyncio.run(run())
