"""DKIM verification: the RFC 8463 vector, results and reasons per RFC 6376 / RFC 8301, key
record handling, and bad input. DNS goes through TestDnsServer or zone files."""

from __future__ import annotations

import asyncio
import base64
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from zegel.dkim import DkimResult, DkimVerifier, sign, verify
from zegel.dkim.keys import public_key_record
from zegel.dns import Resolver, nodes_from_zone_text
from zegel.dns.testserver import TestDnsServer

from .conftest import DOMAIN, SigningKeys

MESSAGE = (
    b"From: Joe <joe@example.com>\r\n"
    b"To: Suzie <suzie@example.net>\r\n"
    b"Subject: Is dinner ready?\r\n"
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700\r\n"
    b"Message-ID: <1@example.com>\r\n"
    b"\r\n"
    b"Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n"
)

KeyDns = Callable[..., tuple[Resolver, TestDnsServer]]


def run_verify(message: bytes, resolver: Resolver, **options: Any) -> list[DkimResult]:
    return asyncio.run(verify(message, resolver=resolver, **options))


def signed(keys: SigningKeys, kind: str = "rsa", message: bytes = MESSAGE, **options: Any) -> bytes:
    selector = options.pop("selector", "rsa" if kind == "rsa" else "ed")
    private_key = keys.rsa if kind == "rsa" else keys.ed25519
    return sign(message, domain=DOMAIN, selector=selector, private_key=private_key, **options) + message


def replace_tag(message: bytes, old: bytes, new: bytes) -> bytes:
    head, sep, rest = message.partition(b"\r\nFrom:")
    assert old in head, (old, head)
    return head.replace(old, new, 1) + sep + rest


# -- RFC 8463 Appendix A --------------------------------------------------------------------

def _rfc8463(conformance_dir: Path) -> tuple[bytes, str]:
    folder = conformance_dir / "dkim"
    return (folder / "rfc8463-signed.eml").read_bytes(), "$TTL 300\n" + (folder / "rfc8463-dns.txt").read_text()


def test_rfc8463_example_from_zone_data(conformance_dir: Path) -> None:
    message, zone = _rfc8463(conformance_dir)
    resolver = Resolver(zone_nodes=nodes_from_zone_text(zone), offline=True)
    results = run_verify(message, resolver, check_times=False)
    assert [(r.result, r.algorithm, r.selector, r.key_bits) for r in results] == [
        ("pass", "ed25519-sha256", "brisbane", 256),
        ("pass", "rsa-sha256", "test", 1024),
    ]
    assert results[0].header_b == "/gCrinpc" and results[0].identity == "@football.example.com"


def test_rfc8463_example_over_the_network(conformance_dir: Path, dns_server: Callable[..., TestDnsServer]) -> None:
    message, zone = _rfc8463(conformance_dir)
    server = dns_server(zone_text=zone)
    fixed_now = 1528637909 + 3600  # an hour after signing; the vector has no x=
    results = run_verify(message, Resolver([server.address]), now=fixed_now)
    assert [r.result for r in results] == ["pass", "pass"]
    # with a bare-LF copy (a Unix .eml file) the result is the same
    lf = message.replace(b"\r\n", b"\n")
    assert [r.result for r in run_verify(lf, Resolver([server.address]), now=fixed_now)] == ["pass", "pass"]
    # one changed body octet: both fail on the body hash
    tampered = message.replace(b"We lost", b"We won!")
    assert {r.reason.split(":")[0] for r in run_verify(tampered, Resolver([server.address]), now=fixed_now)} == {
        "body hash mismatch"
    }


# -- sign and verify -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
@pytest.mark.parametrize("canon", [("simple", "simple"), ("simple", "relaxed"), ("relaxed", "simple"), ("relaxed", "relaxed")])
def test_round_trip(signing_keys: SigningKeys, key_dns: KeyDns, kind: str, canon: tuple[str, str]) -> None:
    resolver, _ = key_dns()
    message = signed(signing_keys, kind, canonicalization=canon)
    [result] = run_verify(message, resolver)
    assert result.result == "pass", result.reason
    assert result.canonicalization == "/".join(canon)
    assert result.algorithm == ("rsa-sha256" if kind == "rsa" else "ed25519-sha256")
    header_tampered = message.replace(b"Subject: Is dinner", b"Subject: Is lunch")
    assert run_verify(header_tampered, resolver)[0].reason.startswith("signature mismatch")
    body_tampered = message.replace(b"hungry", b"Hungry")
    assert run_verify(body_tampered, resolver)[0].reason.startswith("body hash mismatch")


def test_oversigned_from_blocks_added_from(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    message = signed(signing_keys)
    assert run_verify(b"From: evil@example.org\r\n" + message, resolver)[0].result == "fail"
    assert run_verify(b"Received: from relay\r\n" + message, resolver)[0].result == "pass"


def test_every_signature_reported_and_capped(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    message = signed(signing_keys, "rsa")
    message = sign(message, domain=DOMAIN, selector="ed", private_key=signing_keys.ed25519) + message
    message = b"DKIM-Signature: v=1; garbage\r\n" + message
    results = run_verify(message, resolver)
    assert [r.result for r in results] == ["permerror", "pass", "pass"]
    capped = run_verify(message, resolver, max_signatures=2)
    assert [r.result for r in capped] == ["permerror", "pass", "neutral"]
    assert "1 more" in capped[2].reason


def test_unsigned_is_none(key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    [result] = run_verify(MESSAGE, resolver)
    assert result.result == "none"


# -- signature tags (RFC 6376 3.5, 6.1.1) ---------------------------------------------------

@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        (b"v=1;", b"v=2;", "unsupported version"),
        (b"v=1;", b"v=1; v=1;", "duplicate tag v="),
        (b"a=rsa-sha256", b"a=rsa-sha1", "rsa-sha1 is not accepted (RFC 8301"),
        (b"a=rsa-sha256", b"a=rsa-md5", "unknown algorithm"),
        (b"c=relaxed/relaxed", b"c=relaxed/fancy", "unknown canonicalization"),
        (b"d=example.com;", b"d=example.com; i=joe@evil.example;", "i= domain evil.example is not within d=example.com"),
        (b"h=from: from:", b"h=", "From is not signed"),
        (b"s=rsa;", b"", "required tag s= is missing"),
        (b"b=", b"b=!!", "b= invalid base64"),
        (b"d=example.com;", b"d=example.com; q=http/well-known;", "no supported query method"),
        (b"d=example.com;", b"d=example.com; l=12x;", "l= is not a number"),
        (b"t=", b"x=1; t=", "x= is earlier than t="),
        (b"d=example.com;", b"d=example.com; z=From:joe|To=3Ax;", "z= holds a malformed header copy"),
        (b"d=example.com;", b"d=example.com; z=From:joe=4G;", "z= invalid quoted-printable"),
    ],
)
def test_broken_signature_is_permerror(
    signing_keys: SigningKeys, key_dns: KeyDns, old: bytes, new: bytes, reason: str
) -> None:
    resolver, _ = key_dns()
    message = replace_tag(signed(signing_keys), old, new)
    [result] = run_verify(message, resolver)
    assert result.result == "permerror"
    assert reason in result.reason


def test_valid_copied_headers_are_accepted(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    z = b"z=From:Joe=20<joe=40example.com>|Subject:Is=20dinner=20ready?;"
    message = replace_tag(signed(signing_keys), b"d=example.com;", b"d=example.com; " + z)
    [result] = run_verify(message, resolver)
    # z= parses; the signature fails only because z= was added after signing
    assert (result.result, result.reason.split(":")[0]) == ("fail", "signature mismatch")


def test_subdomain_identity_passes(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    message = signed(signing_keys, identity="joe@mail.example.com")
    [result] = run_verify(message, resolver)
    assert (result.result, result.identity) == ("pass", "joe@mail.example.com")


def test_expiry_and_future_timestamp(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    now = int(time.time())
    old = signed(signing_keys, timestamp=now - 7200, expire_in=3600)
    [result] = run_verify(old, resolver)
    assert result.result == "permerror" and "expired" in result.reason
    assert run_verify(old, resolver, check_times=False)[0].result == "pass"
    # within the clock-skew allowance
    assert run_verify(old, resolver, now=now - 3600 + 100)[0].result == "pass"
    future = signed(signing_keys, timestamp=now + 86400)
    assert "future" in run_verify(future, resolver)[0].reason
    # a signer whose clock runs ten minutes fast is not "far in the future"
    assert run_verify(signed(signing_keys, timestamp=now + 600), resolver)[0].result == "pass"


def test_body_length_limit(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    message = signed(signing_keys, body_length=True)
    [result] = run_verify(message, resolver)
    assert result.result == "pass" and result.body_length == result.body_total
    appended = message + b"Buy cheap watches!\r\n"
    [partial] = run_verify(appended, resolver)
    assert partial.result == "pass" and "signs only" in partial.reason
    assert partial.body_total is not None and partial.body_length is not None
    assert partial.body_total > partial.body_length
    assert run_verify(appended, resolver, fail_partial_body=True)[0].result == "policy"
    truncated = message[: -len(b"Joe.\r\n")]
    [short] = run_verify(truncated, resolver)
    assert short.result == "fail" and "longer than the body" in short.reason


# -- keys (RFC 6376 3.6.1, 6.1.2; RFC 8301 3.2) ---------------------------------------------

def _tiny_rsa_record() -> str:
    public = rsa.RSAPublicNumbers(65537, (1 << 511) | 0x3039).public_key()
    der = public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


@pytest.mark.parametrize(
    ("record", "result", "reason"),
    [
        ("v=DKIM1; k=rsa; p=", "permerror", "key revoked"),
        ("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", "permerror", "does not match a=rsa-sha256"),
        ("RSA_H_SHA1", "permerror", "does not allow sha256"),
        ("RSA_S_OTHER", "permerror", "s= does not include email"),
        ("RSA_STRICT", "permerror", "t=s"),
        ("RSA_TESTING", "pass", "testing mode"),
        ("TINY", "fail", "512 bits is under 1024"),
        ("v=DKIM1; p=%%%", "permerror", "invalid base64"),
        ("v=DKIM1; k=rsa; p=aGVsbG8=", "permerror", "parsable RSA public key"),
        ("v=spf1 -all", "permerror", "unsupported key record version"),
    ],
)
def test_key_record_problems(
    signing_keys: SigningKeys, key_dns: KeyDns, record: str, result: str, reason: str
) -> None:
    good = public_key_record(signing_keys.rsa)
    record = {
        "RSA_H_SHA1": good.replace("k=rsa;", "k=rsa; h=sha1;"),
        "RSA_S_OTHER": good.replace("k=rsa;", "k=rsa; s=other;"),
        "RSA_STRICT": good.replace("k=rsa;", "k=rsa; t=s;"),
        "RSA_TESTING": good.replace("k=rsa;", "k=rsa; t=y;"),
        "TINY": _tiny_rsa_record(),
    }.get(record, record)
    resolver, _ = key_dns({f"odd._domainkey.{DOMAIN}": record})
    message = signed(signing_keys, selector="odd", identity="joe@sub.example.com")
    [outcome] = run_verify(message, resolver)
    assert outcome.result == result
    assert reason in outcome.reason


def test_dns_failures(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns(servfail=[f"rsa._domainkey.{DOMAIN}"])
    [temp] = run_verify(signed(signing_keys), resolver)
    assert temp.result == "temperror" and "failed" in temp.reason
    [missing] = run_verify(signed(signing_keys, selector="nokey"), resolver)
    assert missing.result == "permerror" and "no key published at nokey._domainkey.example.com" in missing.reason


def test_keys_are_cached_by_the_verifier(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, server = key_dns()
    verifier = DkimVerifier(resolver)
    message = signed(signing_keys)

    async def twice() -> list[str]:
        return [(await verifier.verify(message))[0].result for _ in range(3)]

    assert asyncio.run(twice()) == ["pass"] * 3
    assert server.stats.queries == 1 and len(verifier.key_cache) == 1


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("message", "result", "reason"),
    [
        (b"DKIM-Signature: \x00\xff\xfe;;==\r\nFrom: a@b\r\n\r\nx", "permerror", "signature syntax"),
        (b"DKIM-Signature: v=1; a=rsa-sha256; b=" + b"A" * 1_000_000 + b"\r\nFrom: a@b\r\n\r\n", "permerror", "required tag"),
        (b"X-Junk: " + b"x" * 1_000_000 + b"\r\nFrom: a@b\r\n\r\n", "none", "not signed"),
        (b"DKIM-Signature: v=1\r\nnot a header line\r\n\r\nbody", "permerror", "malformed message"),
        (b"\x00\x01\x02 binary garbage", "none", "malformed"),
        (b"", "none", "not signed"),
    ],
)
def test_bad_input_defined_result(key_dns: KeyDns, message: bytes, result: str, reason: str) -> None:
    resolver, _ = key_dns()
    results = run_verify(message, resolver)
    assert results[0].result == result
    assert reason in results[0].reason


def test_huge_header_sections_are_refused_in_bounded_memory(key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    many_fields = b"DKIM-Signature: v=1\r\n" + b"X: y\r\n" * 2_000_000 + b"\r\nbody"
    no_separator = b"From: a@b\r\n" + b"x" * (50 * 1024 * 1024)
    tracemalloc.start()
    try:
        [lines] = run_verify(many_fields, resolver)
        [giant] = run_verify(no_separator, resolver)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (lines.result, giant.result) == ("permerror", "none")
    assert "more than 200000 lines" in lines.reason and "larger than 16 MiB" in giant.reason
    assert peak < 16 * 1024 * 1024


def test_no_header_body_separator(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    headers_only = MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n"
    message = signed(signing_keys, message=headers_only)
    [result] = run_verify(message, resolver)
    assert result.result == "pass" and "no header/body separator" in result.reason


def test_fifty_megabyte_body_bounded_memory(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    resolver, _ = key_dns()
    body = (b"A line of text with  some   spaces \t\r\n" * 1_400_000)[: 50 * 1024 * 1024]
    message = signed(signing_keys, message=MESSAGE.split(b"\r\n\r\n")[0] + b"\r\n\r\n" + body)
    tracemalloc.start()
    try:
        [result] = run_verify(message, resolver)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.result == "pass"
    assert peak < 16 * 1024 * 1024  # a few chunks, not copies of the 50 MB body


def test_result_fields_by_name(signing_keys: SigningKeys, key_dns: KeyDns) -> None:
    """Every DkimResult field holds what its name says (results are built positionally)."""
    resolver, _ = key_dns()
    message = signed(signing_keys, "rsa", canonicalization=("relaxed", "simple"), identity="joe@example.com")
    [result] = run_verify(message, resolver)
    b_value = message.split(b"b=")[-1].split(b"\r\nFrom:")[0].replace(b"\r\n", b"").replace(b" ", b"")
    assert result == DkimResult(
        result="pass", domain=DOMAIN, selector="rsa", algorithm="rsa-sha256", reason="verified",
        header_b=b_value[:8].decode(), identity="joe@example.com", canonicalization="relaxed/simple",
        body_length=None, body_total=len(MESSAGE.split(b"\r\n\r\n", 1)[1]), testing=False, key_bits=2048,
        signed_headers=result.signed_headers,
    )
    assert "from" in result.signed_headers
    [failed] = run_verify(message.replace(b"hungry", b"Hungry"), resolver)
    assert (failed.result, failed.key_bits, failed.body_total, failed.testing) == ("fail", 2048, result.body_total, False)
