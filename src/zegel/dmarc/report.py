"""External report-address authorization (RFC 7489 section 7.1; RFC 9989 section 11.6 and the
aggregate-reporting RFC 9990 keep the same check).

A DMARC record for ``example.com`` may ask for reports at ``mailto:dmarc@reports.example.net``.
Before sending there, a reporter checks that ``reports.example.net`` agreed: a TXT record at
``example.com._report._dmarc.reports.example.net`` that starts with ``v=DMARC1``. No check is
needed when both domains have the same Organizational Domain.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from zegel.dmarc.discovery import Mode, normalize_domain, organizational_domain
from zegel.dmarc.record import (
    DmarcRecordError,
    ReportUri,
    is_dmarc_record,
    parse_record,
    parse_report_uri,
)
from zegel.dns import Resolver, Status


@dataclass(frozen=True, slots=True)
class ReportAuthorization:
    """``authorized``: True / False, or None when DNS failed (try again later)."""

    policy_domain: str
    target_domain: str
    authorized: bool | None
    query_name: str | None  # the TXT name asked, None when no query was needed
    reason: str
    # RFC 7489 7.1: the authorizing record may name other addresses (rua=/ruf=) to use instead.
    rua_override: tuple[ReportUri, ...] = ()
    ruf_override: tuple[ReportUri, ...] = ()


async def check_report_authorization(
    policy_domain: str,
    target: str | ReportUri,
    resolver: Resolver,
    *,
    mode: Mode = "rfc9989",
    psl: PublicSuffixList | None = None,
) -> ReportAuthorization:
    """May reports about ``policy_domain`` be sent to ``target`` (a domain, a mailto: URI text or a
    ReportUri from a record's rua/ruf)?"""
    if isinstance(target, ReportUri):
        target_host = target.domain or ""
    elif ":" in target:
        try:
            target_host = parse_report_uri(target).domain or ""
        except ValueError as exc:
            return ReportAuthorization(policy_domain, target, False, None, f"invalid report URI: {exc}")
    else:
        target_host = target
    policy = normalize_domain(policy_domain)
    host = normalize_domain(target_host)
    if policy is None or host is None:
        return ReportAuthorization(policy_domain, target_host, False, None,
                                   "policy or report domain is not a valid domain name")
    if host == policy or host.endswith("." + policy):
        return ReportAuthorization(policy, host, True, None, "report domain is within the policy domain")
    orgs = await asyncio.gather(*(organizational_domain(name, resolver, mode=mode, psl=psl) for name in (policy, host)))
    if all(org.status == "ok" for org in orgs) and orgs[0].org_domain == orgs[1].org_domain:
        return ReportAuthorization(policy, host, True, None,
                                   f"same organizational domain {orgs[0].org_domain}")
    query = f"{policy}._report._dmarc.{host}"
    answer = await resolver.txt(query)
    if answer.status is Status.TEMPFAIL:
        return ReportAuthorization(policy, host, None, query, f"DNS failure: {answer.reason}")
    records = [text for text in answer.records if is_dmarc_record(text)] if answer.status is Status.ANSWER else []
    if records:
        try:
            grant = parse_record(records[0])
        except DmarcRecordError:
            grant = None  # "v=DMARC1" alone is the usual form; a broken rest still authorizes
        return ReportAuthorization(policy, host, True, query, f"{query} authorizes reports",
                                   rua_override=grant.rua if grant else (),
                                   ruf_override=grant.ruf if grant else ())
    return ReportAuthorization(policy, host, False, query,
                               f"no v=DMARC1 record at {query}: {host} has not agreed to receive reports "
                               f"for {policy}")
