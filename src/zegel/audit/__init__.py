"""zegel.audit — `zegel check`: what is wrong with a domain's SPF, DKIM, DMARC and MX records,
and how to fix it.

``await audit_domain(domain, resolver, CheckOptions(...))`` -> :class:`DomainReport`;
``check_domain`` adds a per-domain deadline; ``check_domains`` runs many with bounded
concurrency on one shared resolver. Findings carry stable dotted codes (docs/check.md).
"""

from zegel.audit.findings import LANGUAGES, Finding, Lang, Severity, Texts, parse_lang
from zegel.audit.runner import (
    DEFAULT_CONCURRENCY,
    DEFAULT_DOMAIN_TIMEOUT,
    CheckOptions,
    DomainReport,
    audit_domain,
    check_domain,
    check_domains,
    mail_domain,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DOMAIN_TIMEOUT",
    "LANGUAGES",
    "CheckOptions",
    "DomainReport",
    "Finding",
    "Lang",
    "Severity",
    "Texts",
    "audit_domain",
    "check_domain",
    "check_domains",
    "mail_domain",
    "parse_lang",
]
