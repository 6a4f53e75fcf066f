"""zegel.authres — Authentication-Results header fields (RFC 8601): build, parse, strip."""

from zegel.authres.build import (
    arc_result,
    build,
    build_field,
    dkim_result,
    dmarc_result,
    format_resinfo,
    spf_result,
    to_resinfo,
)
from zegel.authres.model import AuthProperty, AuthResults, ResInfo
from zegel.authres.parse import parse
from zegel.authres.strip import strip_ours

__all__ = [
    "AuthProperty",
    "AuthResults",
    "ResInfo",
    "arc_result",
    "build",
    "build_field",
    "dkim_result",
    "dmarc_result",
    "format_resinfo",
    "parse",
    "spf_result",
    "strip_ours",
    "to_resinfo",
]
