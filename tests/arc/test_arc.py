"""zegel.arc beyond the public suite: round trips, oldest passing AMS, broken structures,
garbage, the 50-set cap and DNS failures. Keys are served by TestDnsServer on loopback."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zegel.arc import ArcResult, ArcSealError, collect_auth_results, seal, validate
from zegel.dkim.keys import public_key_record
from zegel.dns import Resolver
from zegel.dns.testserver import TestDnsServer

Factory = Callable[..., TestDnsServer]

MESSAGE = (
    b"From: Alice <alice@sender.example>\r\n"
    b"To: list@lists.example\r\n"
    b"Subject: Plans for Friday\r\n"
    b"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n"
    b"Message-ID: <1@sender.example>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"\r\n"
    b"Shall we meet at noon?\r\n"
)


def _pem(key: Any) -> bytes:
    return bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "hop1": rsa.generate_private_key(public_exponent=65537, key_size=1024),
        "hop2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "hop3": ed25519.Ed25519PrivateKey.generate(),
    }


HOPS = {  # name -> (domain, selector)
    "hop1": ("forwarder.example", "arc1"),
    "hop2": ("lists.example", "s2026"),
    "hop3": ("relay.example", "ed"),
}


@pytest.fixture
def dns(dns_server: Factory, keys: dict[str, Any]) -> Iterator[Resolver]:
    records = {f"{sel}._domainkey.{dom}": [("TXT", public_key_record(keys[hop]))] for hop, (dom, sel) in HOPS.items()}
    server = dns_server(records)
    yield Resolver([server.address], timeout=1.0, lifetime=2.0)


def check(message: bytes, resolver: Resolver) -> ArcResult:
    return asyncio.run(validate(message, resolver=resolver))


def add_set(message: bytes, keys: dict[str, Any], hop: str, results: str = "spf=pass smtp.mailfrom=sender.example",
            **options: Any) -> bytes:
    domain, selector = HOPS[hop]
    fields = seal(message, domain=domain, selector=selector, private_key=_pem(keys[hop]) if hop != "hop3"
                  else keys[hop], authserv_id=f"mx.{domain}", auth_results=results, timestamp=1_790_000_000,
                  **options)
    return b"".join(fields) + message


# -- round trips ---------------------------------------------------------------------------


def test_no_arc_sets_is_none(dns: Resolver) -> None:
    result = check(MESSAGE, dns)
    assert (result.cv, result.hops, result.oldest_pass) == ("none", (), None)
    assert "no ARC" in result.reason


def test_seal_once_then_validate(dns: Resolver, keys: dict[str, Any]) -> None:
    fields = seal(MESSAGE, domain="forwarder.example", selector="arc1", private_key=_pem(keys["hop1"]),
                  authserv_id="mx.forwarder.example", auth_results="spf=pass smtp.mailfrom=sender.example",
                  timestamp=1_790_000_000)
    assert [f.split(b":")[0] for f in fields] == [b"ARC-Seal", b"ARC-Message-Signature",
                                                  b"ARC-Authentication-Results"]
    assert b"cv=none" in fields[0] and b"i=1;" in fields[0] and b"t=1790000000" in fields[0]
    aar = re.sub(rb"\r\n[ \t]+", b" ", fields[2])
    assert aar == b"ARC-Authentication-Results: i=1; mx.forwarder.example; spf=pass smtp.mailfrom=sender.example\r\n"
    assert all(len(line) <= 998 for f in fields for line in f.split(b"\r\n"))
    result = check(b"".join(fields) + MESSAGE, dns)
    assert result.cv == "pass", result.reason
    assert result.oldest_pass == 1 and result.ams_oldest_pass == 0
    (hop,) = result.hops
    assert (hop.instance, hop.domain, hop.selector, hop.cv) == (1, "forwarder.example", "arc1", "none")
    assert hop.authserv_id == "mx.forwarder.example"
    assert hop.results == "mx.forwarder.example; spf=pass smtp.mailfrom=sender.example"
    assert hop.ams_valid and hop.seal_valid


def test_second_hop_over_modified_message_and_oldest_pass(dns: Resolver, keys: dict[str, Any]) -> None:
    first = add_set(MESSAGE, keys, "hop1")
    # The list tags the subject and appends a footer: AMS 1 no longer verifies, the chain does.
    modified = first.replace(b"Subject: Plans", b"Subject: [list] Plans") + b"-- \r\nlist footer\r\n"
    assert check(modified, dns).cv == "fail"  # before the list seals, the broken AMS is the newest
    second = add_set(modified, keys, "hop2", results="arc=pass; dkim=fail header.d=sender.example")
    assert b"cv=pass" in second.split(b"ARC-Message-Signature", 1)[0]
    result = check(second, dns)
    assert result.cv == "pass", result.reason
    assert result.oldest_pass == 2 and result.ams_oldest_pass == 2
    assert [h.ams_valid for h in result.hops] == [False, True]
    assert [h.seal_valid for h in result.hops] == [True, True]
    assert result.hops[0].results.endswith("spf=pass smtp.mailfrom=sender.example")
    assert "arc=pass" in result.hops[1].results

    # A third, Ed25519, hop that changes nothing: the oldest pass stays 2.
    third = add_set(second, keys, "hop3", cv="pass")
    result = check(third, dns)
    assert result.cv == "pass" and result.oldest_pass == 2
    assert [h.instance for h in result.hops] == [1, 2, 3]


def test_unmodified_chain_oldest_pass_is_one(dns: Resolver, keys: dict[str, Any]) -> None:
    message = add_set(add_set(MESSAGE, keys, "hop1"), keys, "hop2", cv="pass")
    result = check(message, dns)
    assert (result.cv, result.oldest_pass, result.ams_oldest_pass) == ("pass", 1, 0)


def test_newest_ams_broken_fails(dns: Resolver, keys: dict[str, Any]) -> None:
    message = add_set(MESSAGE, keys, "hop1") + b"appended after sealing\r\n"
    result = check(message, dns)
    assert result.cv == "fail" and "body hash" in result.reason and result.hops[0].ams_valid is False


def test_modified_aar_breaks_the_seal(dns: Resolver, keys: dict[str, Any]) -> None:
    message = add_set(MESSAGE, keys, "hop1").replace(b"spf=pass", b"spf=fail", 1)
    result = check(message, dns)
    assert result.cv == "fail" and result.reason.startswith("ARC-Seal i=1")


def test_failed_chain_seal_and_no_extension(dns: Resolver, keys: dict[str, Any]) -> None:
    first = add_set(MESSAGE, keys, "hop1") + b"tampered\r\n"
    failed = add_set(first, keys, "hop2", results="arc=fail")
    assert b"cv=fail" in failed
    result = check(failed, dns)
    assert result.cv == "fail" and "cv=fail" in result.reason
    # RFC 8617: a chain that ended in cv=fail is not extended.
    assert seal(failed, domain="relay.example", selector="ed", private_key=keys["hop3"],
                authserv_id="mx.relay.example", auth_results="arc=pass") == []


def test_cv_from_auth_results_or_explicit(keys: dict[str, Any]) -> None:
    first = add_set(MESSAGE, keys, "hop1")
    with pytest.raises(ArcSealError, match="arc= result"):
        add_set(first, keys, "hop2", results="spf=pass smtp.mailfrom=x.example")
    with pytest.raises(ArcSealError, match="must be none"):
        add_set(MESSAGE, keys, "hop1", cv="pass")
    with pytest.raises(ArcSealError, match="must be pass or fail"):
        add_set(first, keys, "hop2", cv="none")
    assert b"cv=fail" in add_set(first, keys, "hop2", results="spf=pass", cv="fail")


def test_seal_arguments_are_checked(keys: dict[str, Any]) -> None:
    pem = _pem(keys["hop1"])
    base = {"domain": "forwarder.example", "selector": "arc1", "private_key": pem,
            "authserv_id": "mx.example", "auth_results": "spf=pass"}
    with pytest.raises(ArcSealError, match="must not sign"):
        seal(MESSAGE, **{**base, "headers": ["from", "ARC-Seal"]})
    with pytest.raises(ArcSealError, match="authserv-id"):
        seal(MESSAGE, **{**base, "authserv_id": "bad id; x"})
    with pytest.raises(ArcSealError, match="domain"):
        seal(MESSAGE, **{**base, "domain": "bad..example"})
    with pytest.raises(ArcSealError, match="private key"):
        seal(MESSAGE, **{**base, "private_key": b"not a key"})
    with pytest.raises(ArcSealError, match="not a message"):
        seal(b"\x00\x01 junk\r\nmore junk\r\n\r\n", **base)


def test_line_breaks_in_results_cannot_inject_fields(dns: Resolver, keys: dict[str, Any]) -> None:
    message = add_set(MESSAGE, keys, "hop1", results="spf=pass\r\nX-Injected: yes;\n dkim=none")
    assert b"\r\nX-Injected" not in message.split(b"\r\n\r\n")[0].split(b"ARC-Message-Signature")[0]
    result = check(message, dns)
    assert result.cv == "pass" and "X-Injected: yes" in result.hops[0].results


def test_explicit_signed_headers(dns: Resolver, keys: dict[str, Any]) -> None:
    message = add_set(MESSAGE, keys, "hop1", headers=["from", "subject", "x-absent"])
    assert b"h=from:subject:x-absent;" in message
    assert check(message, dns).cv == "pass"
    # Over-signing x-absent: adding that field later breaks the AMS.
    assert check(b"X-Absent: now here\r\n" + message, dns).cv == "fail"


def test_collect_auth_results_consolidates_our_fields() -> None:
    message = (
        b"Authentication-Results: mx.example.org; arc=none;\r\n  spf=pass smtp.mailfrom=a.example\r\n"
        b"Authentication-Results: other.example; dkim=fail\r\n"
        b"Authentication-Results: MX.example.org 1; dkim=pass (good; 2048-bit) header.d=a.example\r\n"
        + MESSAGE
    )
    assert collect_auth_results(message, "mx.example.org") == (
        "arc=none; spf=pass smtp.mailfrom=a.example; dkim=pass (good; 2048-bit) header.d=a.example"
    )
    assert collect_auth_results(MESSAGE, "mx.example.org") == ""


# -- broken structures ------------------------------------------------------------------------


def _two_hops(keys: dict[str, Any]) -> bytes:
    return add_set(add_set(MESSAGE, keys, "hop1"), keys, "hop2", cv="pass")


def _field_lines(message: bytes) -> list[bytes]:
    head, _, _ = message.partition(b"\r\n\r\n")
    return re.split(rb"\r\n(?![ \t])", head)


def _rewrite(message: bytes, transform: Callable[[list[bytes]], list[bytes]]) -> bytes:
    body = message.partition(b"\r\n\r\n")[2]
    return b"\r\n".join(transform(_field_lines(message))) + b"\r\n\r\n" + body


def _arc(fields: list[bytes], name: bytes, instance: int) -> int:
    for index, field in enumerate(fields):
        if field.lower().startswith(name.lower() + b":") and re.search(rb"\bi=%d;" % instance, field):
            return index
    raise AssertionError(f"no {name!r} i={instance}")


@pytest.mark.parametrize(
    ("mutation", "reason"),
    [
        ("duplicate_aar", "more than one ARC-Authentication-Results with i=1"),
        ("duplicate_seal", "more than one ARC-Seal with i=2"),
        ("missing_ams", "has no ARC-Message-Signature"),
        ("missing_seal", "has no ARC-Seal"),
        ("gap", "ARC set i=2 is missing"),
        ("instance_zero", "out of range"),
        ("instance_51", "i=51"),
        ("instance_letters", "invalid instance"),
        ("instance_absent", "has no i= tag"),
        ("aar_not_prefixed", "does not start with 'i=N;'"),
        ("first_cv_pass", "must say cv=none"),
        ("second_cv_none", "must say cv=pass"),
        ("cv_unknown", "invalid cv="),
        ("seal_h_tag", "h= tag"),
        ("ams_signs_seal", "signs ARC-Seal"),
        ("seal_tag_garbage", "ARC-Seal"),
        ("sha1", "unsupported algorithm"),
    ],
)
def test_structure_errors_fail_with_reason(dns: Resolver, keys: dict[str, Any], mutation: str, reason: str) -> None:
    message = _two_hops(keys)

    def mutate(fields: list[bytes]) -> list[bytes]:
        aar1, ams1, as1 = (_arc(fields, n, 1) for n in (b"ARC-Authentication-Results", b"ARC-Message-Signature",
                                                       b"ARC-Seal"))
        as2, ams2 = _arc(fields, b"ARC-Seal", 2), _arc(fields, b"ARC-Message-Signature", 2)
        if mutation == "duplicate_aar":
            fields.insert(aar1, fields[aar1])
        elif mutation == "duplicate_seal":
            fields.insert(0, fields[as2])
        elif mutation == "missing_ams":
            del fields[ams1]
        elif mutation == "missing_seal":
            del fields[as1]
        elif mutation == "gap":
            fields = [re.sub(rb"\bi=2;", b"i=3;", f) if f.lower().startswith(b"arc-") else f for f in fields]
        elif mutation == "instance_zero":
            fields[as1] = fields[as1].replace(b"i=1;", b"i=0;")
        elif mutation == "instance_51":
            fields[as1] = fields[as1].replace(b"i=1;", b"i=51;")
        elif mutation == "instance_letters":
            fields[ams1] = fields[ams1].replace(b"i=1;", b"i=one;")
        elif mutation == "instance_absent":
            fields[ams1] = fields[ams1].replace(b"i=1;", b"x=1;")
        elif mutation == "aar_not_prefixed":
            fields[aar1] = fields[aar1].replace(b": i=1; mx.forwarder.example;", b": mx.forwarder.example; i=1;")
        elif mutation == "first_cv_pass":
            fields[as1] = fields[as1].replace(b"cv=none", b"cv=pass")
        elif mutation == "second_cv_none":
            fields[as2] = fields[as2].replace(b"cv=pass", b"cv=none")
        elif mutation == "cv_unknown":
            fields[as2] = fields[as2].replace(b"cv=pass", b"cv=maybe")
        elif mutation == "seal_h_tag":
            fields[as1] = fields[as1].replace(b"cv=none;", b"cv=none; h=from;")
        elif mutation == "ams_signs_seal":
            fields[ams2] = fields[ams2].replace(b"h=from:", b"h=arc-seal:from:")
        elif mutation == "seal_tag_garbage":
            fields[as1] = fields[as1].replace(b"cv=none;", b"cv=none; ;; ==;")
        elif mutation == "sha1":
            fields[as1] = fields[as1].replace(b"a=rsa-sha256", b"a=rsa-sha1")
        return fields

    result = check(_rewrite(message, mutate), dns)
    assert result.cv == "fail"
    assert reason in result.reason, result.reason


def test_garbage_arc_fields(dns: Resolver) -> None:
    cases = [
        b"ARC-Seal: \x00\xff\xfe garbage\r\n",
        b"ARC-Seal:\r\n",
        b"ARC-Message-Signature: i=1; a=rsa-sha256; b=!!!; bh=???; d=x; s=y; h=from\r\n",
        b"ARC-Authentication-Results: i=99999999999999999999; x\r\n",
        b"arc-seal : i=1; cv=none\r\n",
    ]
    for prefix in cases:
        result = check(prefix + MESSAGE, dns)
        assert result.cv == "fail" and result.reason, prefix


def test_not_a_message(dns: Resolver) -> None:
    assert check(b"", dns).cv == "none"
    assert check(b"\x00\x01\x02 binary junk without structure", dns).cv == "none"
    result = check(b"this is not a header\r\nARC-Seal: i=1\r\n\r\nbody", dns)
    assert result.cv == "fail" and "malformed" in result.reason


def test_more_than_fifty_sets_is_capped(dns: Resolver, keys: dict[str, Any]) -> None:
    one = add_set(MESSAGE, keys, "hop1")
    arc_fields = [f for f in _field_lines(one) if f.lower().startswith(b"arc-")]
    extra = b"".join(re.sub(rb"\bi=1;", b"i=%d;" % n, f) + b"\r\n" for n in range(120, 1, -1) for f in arc_fields)
    result = check(extra + one, dns)
    assert result.cv == "fail" and "more than 50 ARC sets" in result.reason
    # A flood of ARC-Seal fields is cut off early, not parsed in full.
    flood = b"ARC-Seal: i=1; cv=none\r\n" * 100_000 + MESSAGE
    result = check(flood, dns)
    assert result.cv == "fail" and "more than 50" in result.reason


def test_fifty_sets_validate_and_the_fifty_first_is_refused(dns: Resolver, keys: dict[str, Any]) -> None:
    message = MESSAGE
    for n in range(50):
        message = add_set(message, keys, "hop1", **({"cv": "pass"} if n else {}))
    result = check(message, dns)
    assert result.cv == "pass" and len(result.hops) == 50 and result.oldest_pass == 1
    assert seal(message, domain="forwarder.example", selector="arc1", private_key=_pem(keys["hop1"]),
                authserv_id="mx.forwarder.example", auth_results="arc=pass") == []


# -- DNS ------------------------------------------------------------------------------------


def test_dns_failure_is_temperror(dns_server: Factory, keys: dict[str, Any]) -> None:
    message = add_set(MESSAGE, keys, "hop1")
    server = dns_server({}, servfail=["arc1._domainkey.forwarder.example"])
    result = check(message, Resolver([server.address]))
    assert result.cv == "fail" and result.temperror
    assert "arc1._domainkey.forwarder.example" in result.reason and "failed" in result.reason


def test_missing_and_revoked_keys(dns_server: Factory, keys: dict[str, Any]) -> None:
    message = add_set(MESSAGE, keys, "hop1")
    result = check(message, Resolver([dns_server({}).address]))
    assert result.cv == "fail" and not result.temperror and "no key published" in result.reason
    revoked = dns_server({"arc1._domainkey.forwarder.example": [("TXT", "v=DKIM1; k=rsa; p=")]})
    result = check(message, Resolver([revoked.address]))
    assert result.cv == "fail" and "revoked" in result.reason


# -- never a traceback ----------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_chains_give_a_result(dns: Resolver, keys: dict[str, Any], data: st.DataObject) -> None:
    message = bytearray(_two_hops(keys))
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, len(message) - 1))
        action = data.draw(st.sampled_from(["flip", "delete", "insert"]))
        if action == "flip":
            message[position] = data.draw(st.integers(0, 255))
        elif action == "delete":
            del message[position : position + data.draw(st.integers(1, 40))]
        else:
            message[position:position] = data.draw(st.sampled_from(
                [b";", b"=", b"\r\n", b"\r\n ", b"i=1;", b"ARC-Seal: i=2; cv=pass\r\n", b"\x00", b":"]))
    result = check(bytes(message), dns)
    assert result.cv in ("none", "pass", "fail") and result.reason


# -- interoperability with a real peer (dkimpy's ARC) --------------------------------------


def _dkimpy_dns(resolver: Resolver) -> Callable[..., bytes | None]:
    """dkimpy's TXT lookup hook, answered through zegel's resolver from the test DNS server."""

    def lookup(name: bytes | str, timeout: int = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        answer = asyncio.run(resolver.txt(text.rstrip(".")))
        return answer.records[0].encode() if answer.ok else None

    return lookup


def test_dkimpy_validates_zegel_chains(dns: Resolver, keys: dict[str, Any]) -> None:
    import dkim  # dkimpy, a dev dependency (pyproject.toml)
    first = add_set(MESSAGE, keys, "hop1")
    modified = first.replace(b"Subject: Plans", b"Subject: [list] Plans")
    second = add_set(modified, keys, "hop2", results="arc=pass")
    cv, _, reason = dkim.arc_verify(second, dnsfunc=_dkimpy_dns(dns))
    assert cv == b"pass", reason


def test_zegel_validates_dkimpy_chains(dns: Resolver, keys: dict[str, Any]) -> None:
    import dkim  # dkimpy, a dev dependency (pyproject.toml)
    pem = keys["hop1"].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption())
    message = b"Authentication-Results: mx.forwarder.example; spf=pass smtp.mailfrom=sender.example\r\n" + MESSAGE
    fields = dkim.arc_sign(message, b"arc1", b"forwarder.example", pem, b"mx.forwarder.example",
                           include_headers=[b"from", b"to", b"subject", b"date"])
    sealed = b"".join(fields) + message
    result = check(sealed, dns)
    assert result.cv == "pass", result.reason
    assert result.hops[0].authserv_id == "mx.forwarder.example"
    # zegel seals on top of dkimpy's set; dkimpy accepts the result.
    second = add_set(sealed, keys, "hop2", results="arc=pass")
    assert check(second, dns).cv == "pass"
    cv, _, reason = dkim.arc_verify(second, dnsfunc=_dkimpy_dns(dns))
    assert cv == b"pass", reason


def test_large_body_and_huge_header_block(dns: Resolver, keys: dict[str, Any]) -> None:
    body = b"A line of body text,   with  some spaces \t\r\n" * 300_000  # ~13 MB, streamed
    big = MESSAGE + body
    assert check(add_set(big, keys, "hop1"), dns).cv == "pass"
    junk = b"X-Junk: " + b"y" * 20 + b"\r\n"
    result = check(junk * 100_000 + MESSAGE, dns)
    assert result.cv == "none"
    result = check(junk * 100_000 + add_set(MESSAGE, keys, "hop1"), dns)
    assert result.cv == "pass"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_seal_never_raises_anything_but_arc_seal_error(keys: dict[str, Any], data: st.DataObject) -> None:
    message = bytearray(_two_hops(keys))
    for _ in range(data.draw(st.integers(0, 5))):
        position = data.draw(st.integers(0, len(message) - 1))
        if data.draw(st.booleans()):
            del message[position : position + data.draw(st.integers(1, 60))]
        else:
            message[position:position] = data.draw(st.sampled_from(
                [b";", b"\r\n", b"\r\nARC-Seal: i=3; cv=fail\r\n", b"\xff", b"i=9;", b"\r\n\r\n"]))
    try:
        fields = seal(bytes(message), domain="relay.example", selector="ed", private_key=keys["hop3"],
                      authserv_id="mx.relay.example", auth_results="arc=pass")
    except ArcSealError as exc:
        assert str(exc)
    else:
        assert fields == [] or len(fields) == 3
