"""zegel.dns — the async resolver, its cache, the zone-file overlay and a test DNS server."""

from zegel.dns.answer import Answer, MxRecord, Status
from zegel.dns.dnssec import Security
from zegel.dns.names import InvalidName, normalize, reverse_name
from zegel.dns.records import RecordSpec, ZoneError, nodes_from_spec, nodes_from_zone_text
from zegel.dns.resolver import Resolver, parse_nameserver

__all__ = [
    "Answer",
    "InvalidName",
    "MxRecord",
    "RecordSpec",
    "Resolver",
    "Security",
    "Status",
    "ZoneError",
    "nodes_from_spec",
    "nodes_from_zone_text",
    "normalize",
    "parse_nameserver",
    "reverse_name",
]
