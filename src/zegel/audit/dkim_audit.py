"""DKIM audit: key records for the given selectors, or for widely used selector names.

Key records are parsed by zegel.dkim.keys.parse_key_record; this module judges them
(RFC 8301 key sizes, RFC 6376 3.6.1 flags, RFC 8463 dual signing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from zegel import aio
from zegel.audit.findings import Finding, Texts
from zegel.dkim.keys import KeyRecordError, key_name, parse_key_record
from zegel.dns import Resolver, Status

# Selector names that large providers and common mail software use: Microsoft 365 (selector1,
# selector2), Google Workspace (google), Mailchimp/Mandrill (k1), SendGrid (s1, s2), cPanel,
# Plesk, Synology and many others (default), and generic names people pick (dkim, mail, smtp).
# Short on purpose: every name costs a query per domain; --selector checks any other name.
COMMON_SELECTORS: tuple[str, ...] = (
    "default", "selector1", "selector2", "google", "k1", "s1", "s2", "dkim", "mail", "smtp",
)
MIN_RSA_BITS = 1024  # RFC 8301 3.2: verifiers MUST NOT accept smaller RSA keys
GOOD_RSA_BITS = 2048  # RFC 8301 3.2: signers SHOULD use at least 2048
# A TXT record found while probing that does not even look like a key record (for example a
# wildcard TXT) is someone else's record, not a broken key.
_LOOKS_LIKE_KEY = re.compile(r"(?:^|;)\s*(?:v\s*=\s*DKIM1|p\s*=|k\s*=)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class DkimKey:
    selector: str
    key_type: str
    bits: int
    revoked: bool
    testing: bool


@dataclass(frozen=True, slots=True)
class DkimAudit:
    findings: tuple[Finding, ...]
    keys: tuple[DkimKey, ...] = ()
    probed: bool = False  # True: selectors were guessed, not given


async def _selector(domain: str, selector: str, resolver: Resolver, texts: Texts,
                    probing: bool) -> tuple[list[Finding], DkimKey | None]:
    name = key_name(selector, domain)
    answer = await resolver.txt(name)
    if answer.is_tempfail:
        return [texts.finding("dkim.dns-error", name=name, reason=answer.reason)], None
    candidates = list(answer.records) if answer.ok else []
    if probing:
        candidates = [text for text in candidates if _LOOKS_LIKE_KEY.search(text)]
    if not candidates:
        if probing:
            return [], None
        return [texts.finding("dkim.selector-missing", name=name, selector=selector)], None
    findings: list[Finding] = []
    if len(candidates) > 1:
        findings.append(texts.finding("dkim.multiple-records", name=name, count=len(candidates)))
    try:
        record = parse_key_record(candidates[0])
    except KeyRecordError as exc:
        findings.append(texts.finding("dkim.syntax", name=name, reason=str(exc)))
        return findings, None
    key = DkimKey(selector, record.key_type, record.key_bits, record.revoked, record.testing)
    if record.revoked:
        findings.append(texts.finding("dkim.revoked", name=name, selector=selector))
        return findings, key
    bits = f", {record.key_bits} bits" if record.key_type == "rsa" else ""
    findings.append(texts.finding("dkim.key", name=name, key_type=record.key_type.upper()
                                  if record.key_type == "rsa" else "Ed25519", bits=bits))
    if record.key_type == "rsa":
        if record.key_bits < MIN_RSA_BITS:
            findings.append(texts.finding("dkim.key-too-small", name=name, bits=record.key_bits))
        elif record.key_bits < GOOD_RSA_BITS:
            findings.append(texts.finding("dkim.key-1024", name=name, bits=record.key_bits))
    if record.testing:
        findings.append(texts.finding("dkim.testing", name=name))
    return findings, key


async def audit_dkim(domain: str, resolver: Resolver, texts: Texts,
                     selectors: Sequence[str] = (), *, drafted: Sequence[str] = ()) -> DkimAudit:
    """Check the given selectors of ``domain``, or probe COMMON_SELECTORS concurrently.
    ``drafted``: selectors a --zone draft holds, checked too (probed with the common names)."""
    probing = not selectors
    if probing:
        # RFC 8020: NXDOMAIN for _domainkey.DOMAIN means nothing exists below it, so no
        # selector can exist; one query instead of a probe per name.
        base = await resolver.txt(f"_domainkey.{domain}")
        if base.status is Status.NXDOMAIN:
            return DkimAudit((texts.finding("dkim.none-found", domain=domain, count=len(COMMON_SELECTORS)),),
                             probed=True)
        if base.is_tempfail:
            return DkimAudit((texts.finding("dkim.dns-error", name=f"_domainkey.{domain}", reason=base.reason),),
                             probed=True)
    chosen = list(selectors) if selectors else [*COMMON_SELECTORS, *drafted]
    names = list(dict.fromkeys(s.strip().lower() for s in chosen if s.strip()))
    results = await aio.gather(*(_selector(domain, s, resolver, texts, probing) for s in names))
    findings = [f for found, _ in results for f in found]
    if probing:
        # One DNS failure while guessing names says all there is to say; not one per name.
        failures = [f for f in findings if f.code == "dkim.dns-error"]
        findings = [f for f in findings if f.code != "dkim.dns-error"] + failures[:1]
    keys = tuple(key for _, key in results if key is not None)
    live = [key for key in keys if not key.revoked]
    if probing and not keys and not any(f.code == "dkim.dns-error" for f in findings):
        findings.append(texts.finding("dkim.none-found", domain=domain, count=len(names)))
    if live and all(key.key_type == "ed25519" for key in live):
        findings.append(texts.finding("dkim.ed25519-only", domain=domain))
    return DkimAudit(tuple(findings), keys, probing)


__all__ = ["COMMON_SELECTORS", "DkimAudit", "DkimKey", "audit_dkim"]
