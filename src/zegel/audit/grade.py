"""One grade per domain, and the one-sentence answer to "can this domain be spoofed in From?".

Protection against spoofing of the From domain is DMARC's job (RFC 9989): only an enforced
policy (quarantine or reject, applied to all failing mail) stops it. SPF and DKIM alone
authenticate other identities and do not protect the From address.

Grades (documented in docs/check.md):

- A: enforced p=reject, no errors and no warnings;
- B: enforced (reject or quarantine), no errors;
- C: enforced but with errors, or a DMARC record that does not enforce (p=none, t=y down to
  none, pct below 100, an SPF record that passes any server) and no errors;
- D: a non-enforcing DMARC record with errors, or no DMARC but a working SPF record;
- F: no DMARC and no working SPF, or the domain could not be checked at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from zegel.audit.findings import Finding, Texts

GRADES = ("A", "B", "C", "D", "F")
# Findings that mean nothing about the records could be judged.
FATAL_CODES = frozenset({"domain.invalid", "domain.not-found", "domain.dns-error", "domain.timeout"})


@dataclass(frozen=True, slots=True)
class Protection:
    protected: bool
    verdict_key: str  # a PHRASES key: verdict.reject / quarantine / monitor / none / weakened / unknown
    why: str = ""


def protection(dmarc_status: str | None, effective: str | None, pct: int, testing_from: str | None,
               *, spf_passes_anyone: bool = False) -> Protection:
    """From the DMARC audit: is the From domain protected?

    ``effective``: the policy receivers apply (after t=y); ``pct``: the RFC 7489 sampling rate;
    ``testing_from``: the requested policy when t=y lowered it, else None;
    ``spf_passes_anyone``: SPF passes a client no real sender uses ('+all', or a range such as
    0.0.0.0/1 or ::/0), so a forger passes SPF with a MAIL FROM in the domain, aligned, and DMARC with
    it (RFC 9989 4.4): no policy protects the From domain then.
    """
    if dmarc_status == "tempfail":
        return Protection(False, "verdict.unknown", "DMARC lookup failed")
    if dmarc_status != "found" or effective is None:
        return Protection(False, "verdict.none")
    if effective == "none":
        if testing_from is not None and testing_from != "none":
            return Protection(False, "verdict.weakened", f"t=y lowers p={testing_from} to none")
        return Protection(False, "verdict.monitor")
    if pct < 100:
        # RFC 7489 receivers still sample; part of the forged mail passes there.
        return Protection(False, "verdict.weakened", f"pct={pct}")
    if spf_passes_anyone:
        return Protection(False, "verdict.spf-open")
    return Protection(True, "verdict.reject" if effective == "reject" else "verdict.quarantine")


def grade(findings: Iterable[Finding], guard: Protection, *, dmarc_found: bool, spf_ok: bool) -> str:
    items = list(findings)
    if any(f.code in FATAL_CODES for f in items):
        return "F"
    errors = any(f.severity == "error" for f in items)
    warnings = any(f.severity == "warning" for f in items)
    if guard.protected:
        if errors:
            return "C"
        if guard.verdict_key == "verdict.reject" and not warnings:
            return "A"
        return "B"
    if dmarc_found:
        return "D" if errors else "C"
    return "D" if spf_ok else "F"


def verdict(texts: Texts, domain: str, guard: Protection) -> str:
    return texts.phrase(guard.verdict_key, domain=domain, why=guard.why)


__all__ = ["FATAL_CODES", "GRADES", "Protection", "grade", "protection", "verdict"]
