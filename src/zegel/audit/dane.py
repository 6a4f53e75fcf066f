"""DANE for SMTP (RFC 7672, RFC 7671): the TLSA records at ``_25._tcp.MX`` — their syntax,
usage, selector and matching type — and (pure) whether one matches a server's certificate."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from zegel import aio
from zegel.audit.findings import Finding, Texts
from zegel.dns import Resolver, Status

_HASH_HEX = {1: 64, 2: 128}  # RFC 6698 2.1.3: SHA2-256, SHA2-512


@dataclass(frozen=True, slots=True)
class Tlsa:
    usage: int
    selector: int
    matching: int
    data: bytes


def parse_tlsa(text: str) -> Tlsa:
    """``usage selector matching-type hex`` (RFC 6698 2.2); ValueError with the reason."""
    parts = text.split()
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        raise ValueError(f"'{text[:60]}' is not 'usage selector matching-type data'")
    usage, selector, matching = (int(p) for p in parts[:3])
    hex_text = "".join(parts[3:])
    if len(hex_text) > 4096:
        raise ValueError("association data too long")
    try:
        data = bytes.fromhex(hex_text)
    except ValueError:
        raise ValueError("the association data is not hexadecimal") from None
    if usage > 3 or selector > 1 or matching > 2:
        raise ValueError(f"unknown parameters {usage} {selector} {matching}")
    expected = _HASH_HEX.get(matching)
    if expected is not None and len(hex_text) != expected:
        raise ValueError(f"matching type {matching} needs {expected} hex digits, not {len(hex_text)}")
    return Tlsa(usage, selector, matching, data)


def association(cert_der: bytes, selector: int, matching: int) -> bytes:
    """RFC 6698 2.1.2/2.1.3: the full certificate or its SubjectPublicKeyInfo, hashed or not."""
    if selector == 1:
        cert = x509.load_der_x509_certificate(cert_der)
        content = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    else:
        content = cert_der
    if matching == 1:
        return hashlib.sha256(content).digest()
    if matching == 2:
        return hashlib.sha512(content).digest()
    return content


def matches(record: Tlsa, leaf_der: bytes) -> bool:
    """Does ``record`` match the server's end-entity certificate? DANE-EE (3) and PKIX-EE (1)
    name the leaf; trust-anchor usages need the chain, which a leaf alone cannot prove."""
    if record.usage not in (1, 3):
        return False
    return association(leaf_der, record.selector, record.matching) == record.data


def tlsa_record(cert_der: bytes) -> str:
    """The recommended "3 1 1" record for a certificate (RFC 7671 10.1.2, RFC 7672 3.1.1)."""
    return f"3 1 1 {association(cert_der, 1, 1).hex()}"


@dataclass(frozen=True, slots=True)
class DaneAudit:
    findings: tuple[Finding, ...]
    records: tuple[tuple[str, tuple[Tlsa, ...]], ...] = ()  # (MX host, its usable TLSA records)

    def for_host(self, host: str) -> tuple[Tlsa, ...]:
        return dict(self.records).get(host, ())


async def _host(host: str, state: str, resolver: Resolver, texts: Texts) -> tuple[list[Finding], tuple[Tlsa, ...]]:
    name = f"_25._tcp.{host}"
    answer = await resolver.query(name, "TLSA")
    if answer.is_tempfail:
        return [texts.finding("dane.dns-error", name=name, reason=answer.reason)], ()
    if answer.status is not Status.ANSWER:
        code = "dane.none" if state == "secure" else "dane.none-unsigned"
        return [texts.finding(code, host=host, name=name)], ()
    findings: list[Finding] = []
    usable: list[Tlsa] = []
    for text in answer.records:
        try:
            record = parse_tlsa(str(text))
        except ValueError as exc:
            findings.append(texts.finding("dane.syntax", name=name, reason=str(exc)))
            continue
        if record.usage in (0, 1):
            # RFC 7672 3.1.3: PKIX-TA and PKIX-EE are not for SMTP; clients treat them as unusable.
            findings.append(texts.finding("dane.usage", name=name, usage=record.usage))
            continue
        if record.matching == 0 or record.selector == 0:
            # RFC 7671 10.1.2: "3 1 1" or "2 1 1" survive certificate renewal with the same key.
            findings.append(texts.finding("dane.parameters", name=name, params=f"{record.usage} {record.selector} {record.matching}"))
        usable.append(record)
    if usable and state == "draft":
        pass  # answered from zone files: DNSSEC cannot be judged (dnssec.draft says so)
    elif usable and state != "secure":
        # RFC 7672 2.2: TLSA records count only when DNSSEC validates them.
        findings.append(texts.finding("dane.insecure", name=name, host=host, state=state))
    elif usable:
        findings.append(texts.finding("dane.ok", name=name, count=len(usable)))
    return findings, tuple(usable)


async def audit_dane(mx_hosts: Sequence[str], host_states: Sequence[str], resolver: Resolver,
                     texts: Texts) -> DaneAudit:
    results = await aio.gather(*(_host(h, s, resolver, texts) for h, s in zip(mx_hosts, host_states, strict=True)))
    findings = [f for found, _ in results for f in found]
    return DaneAudit(tuple(findings), tuple((h, usable) for h, (_, usable) in zip(mx_hosts, results, strict=True)))


__all__ = ["DaneAudit", "Tlsa", "association", "audit_dane", "matches", "parse_tlsa", "tlsa_record"]
