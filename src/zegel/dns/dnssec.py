"""DNSSEC state of one (name, type) as a validating resolver reports it.

zegel does not validate signatures itself: it asks the configured resolver (which must be a
validating one, such as unbound or a public validating resolver) with the DO and AD bits set
(RFC 4035 3.2.1, RFC 6840 5.7) and reads its answer:

- AD set: **secure** (the resolver validated the chain from its trust anchor);
- SERVFAIL, but an answer when asked again with CD set (checking disabled, RFC 4035 3.2.2):
  **bogus** (signatures exist but do not validate);
- an answer without AD: **insecure** (no chain of trust: unsigned, or a resolver that does
  not validate);
- no answer at all: **error**.

The records and RRSIGs in the answer come along, so a report can show the chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype

SECURE_SUFFIX = "+DNSSEC"
QUERY_TIMEOUT = 3.0


@dataclass(frozen=True, slots=True)
class Security:
    """``state``: secure | insecure | bogus | error | draft (answered from a zone file)."""

    state: str
    rcode: str = "NOERROR"
    records: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()  # "RRSIG <type> alg <n> key tag <k> by <signer>"
    reason: str = ""


def _summarise(response: dns.message.Message, qname: dns.name.Name, rdtype: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    records: list[str] = []
    signatures: list[str] = []
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.RRSIG:
            for sig in rrset:
                signatures.append(f"RRSIG {dns.rdatatype.to_text(sig.type_covered)} alg {sig.algorithm} "
                                  f"key tag {sig.key_tag} by {sig.signer.to_text(omit_final_dot=True)}")
        elif rrset.rdtype == rdtype:
            records.extend(rd.to_text()[:200] for rd in rrset)
    return tuple(records[:20]), tuple(signatures[:20])


async def _ask(qname: dns.name.Name, rdtype: int, server: tuple[str, int], *, cd: bool,
               wait: float) -> dns.message.Message:
    query = dns.message.make_query(qname, dns.rdatatype.RdataType.make(rdtype), want_dnssec=True)
    query.flags |= dns.flags.AD
    if cd:
        query.flags |= dns.flags.CD
    response, _ = await dns.asyncquery.udp_with_fallback(query, server[0], timeout=wait, port=server[1])
    return response


async def security(name: str, rdtype: str, servers: list[tuple[str, int]],
                   wait: float = QUERY_TIMEOUT) -> tuple[Security, int]:
    """(the state, a TTL to cache it for)."""
    qname = dns.name.from_text(name, origin=dns.name.root)
    code = dns.rdatatype.from_text(rdtype)
    last = "no nameserver"
    for server in servers:
        try:
            response = await _ask(qname, code, server, cd=False, wait=wait)
        except (dns.exception.DNSException, OSError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"[:200]
            continue
        rcode = response.rcode()
        if rcode == dns.rcode.SERVFAIL:
            try:
                unchecked = await _ask(qname, code, server, cd=True, wait=wait)
            except (dns.exception.DNSException, OSError, ValueError) as exc:
                return Security("error", "SERVFAIL", reason=f"SERVFAIL ({type(exc).__name__})"), 0
            if unchecked.rcode() in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                records, signatures = _summarise(unchecked, qname, code)
                return Security("bogus", "SERVFAIL", records, signatures,
                                "the resolver rejects the signatures (answer only with checking disabled)"), 60
            return Security("error", "SERVFAIL", reason="SERVFAIL"), 0
        if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            last = dns.rcode.to_text(rcode)
            continue
        records, signatures = _summarise(response, qname, code)
        ttl = min((rrset.ttl for rrset in response.answer), default=60)
        state = "secure" if response.flags & dns.flags.AD else "insecure"
        return Security(state, dns.rcode.to_text(rcode), records, signatures), int(ttl)
    return Security("error", reason=last), 0


__all__ = ["SECURE_SUFFIX", "Security", "security"]
