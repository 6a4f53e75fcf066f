"""zegel.dmarc — DMARC (RFC 9989, with an RFC 7489 mode): records, policy discovery, alignment,
evaluation and report-address authorization."""

from zegel.dmarc.alignment import Alignment, check_alignment
from zegel.dmarc.author import AuthorDomains, author_domains
from zegel.dmarc.discovery import (
    MAX_TREE_WALK_QUERIES,
    DmarcLookup,
    Mode,
    OrgDomain,
    PolicyDiscovery,
    discover_policy,
    domain_exists,
    fetch_dmarc,
    load_psl,
    normalize_domain,
    organizational_domain,
    tree_walk_names,
)
from zegel.dmarc.evaluate import (
    DkimLike,
    DmarcResult,
    SpfLike,
    evaluate,
    evaluate_message,
    strictest,
)
from zegel.dmarc.record import (
    POLICIES,
    DmarcRecord,
    DmarcRecordError,
    RecordIssue,
    ReportUri,
    is_dmarc_record,
    parse_record,
    parse_report_uri,
)
from zegel.dmarc.report import ReportAuthorization, check_report_authorization

__all__ = [
    "MAX_TREE_WALK_QUERIES",
    "POLICIES",
    "Alignment",
    "AuthorDomains",
    "DkimLike",
    "DmarcLookup",
    "DmarcRecord",
    "DmarcRecordError",
    "DmarcResult",
    "Mode",
    "OrgDomain",
    "PolicyDiscovery",
    "RecordIssue",
    "ReportAuthorization",
    "ReportUri",
    "SpfLike",
    "author_domains",
    "check_alignment",
    "check_report_authorization",
    "discover_policy",
    "domain_exists",
    "evaluate",
    "evaluate_message",
    "fetch_dmarc",
    "is_dmarc_record",
    "load_psl",
    "normalize_domain",
    "organizational_domain",
    "parse_record",
    "parse_report_uri",
    "strictest",
    "tree_walk_names",
]
