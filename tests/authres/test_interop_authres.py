"""Interop with the authres library that authheaders (a real peer) parses with: on headers it
accepts, both parsers find the same authserv-id, version, methods, results, reasons, properties;
and it parses what zegel builds."""

from __future__ import annotations

import pytest

from zegel.authres import build, dkim_result, dmarc_result, parse, spf_result

peer = pytest.importorskip("authres")

HEADERS = [
    "example.org 1; none",
    "example.com; spf=pass smtp.mailfrom=example.net",
    "example.com; dkim=pass (good signature) header.d=mail-router.example.net; "
    "dkim=fail (bad signature) header.d=newyork.example.com",
    "example.com; auth=pass (cram-md5) smtp.auth=sender@example.net; spf=pass smtp.mailfrom=example.net",
    "mx.example.org; spf=fail reason=\"not permitted\" smtp.mailfrom=a@b.example",
    "mail-router.example.net; dkim=pass (good signature) header.d=newyork.example.com "
    "header.b=oINEO8hg; dkim=fail (bad signature) header.d=mail-router.example.net",
    "mx.google.com; dkim=pass header.i=@icloud.com header.s=04042017 header.b=nArKnccN; "
    "spf=pass (google.com: domain of x@icloud.com designates 17.164.72.58 as permitted sender) "
    "smtp.mailfrom=x@icloud.com; dmarc=pass (p=QUARANTINE sp=QUARANTINE dis=NONE) header.from=icloud.com",
    "mail.iss.as9143.net; spf=pass (17.164.72.57;mijnbank.nl); dkim=pass header.d=mijnbank.nl; "
    "dmarc=pass header.from=mijnbank.nl (p=quarantine sp=quarantine dis=pass)",
]


def _ours(value: str) -> tuple[object, ...]:
    parsed = parse(value)
    return (parsed.authserv_id, parsed.version,
            [(r.method, r.result, r.reason, [(p.ptype, p.name, p.value) for p in r.properties])
             for r in parsed.results])


def _theirs(value: str) -> tuple[object, ...]:
    header = peer.AuthenticationResultsHeader.parse("Authentication-Results: " + value)
    version = int(header.version) if header.version is not None else None
    return (header.authserv_id, version,
            [(r.method.lower(), r.result.lower(), r.reason,
              [(p.type.lower(), p.name.lower(), p.value) for p in r.properties]) for r in header.results])


@pytest.mark.parametrize("value", HEADERS)
def test_parse_agrees_with_authres(value: str) -> None:
    assert _ours(value) == _theirs(value)


def test_peer_parses_what_we_build() -> None:
    value = build("mx.receiver.example", [
        spf_result("pass", mailfrom="bounce@mail.example.com"),
        dkim_result("fail", d="example.com", s="sel", b="AbCdEfGh", reason="body hash mismatch"),
        dmarc_result("fail", header_from="example.com", p="reject", disposition="reject"),
    ])
    assert _theirs(value) == _ours(value)
