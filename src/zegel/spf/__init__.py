"""zegel.spf — Sender Policy Framework, all of RFC 7208.

``check_host()`` / ``check()`` evaluate a client IP against a domain's record and return an
:class:`SpfResult` with a trace; ``parse_record()`` gives the typed AST or raises
:class:`SpfSyntaxError` with the position and reason. :class:`SpfChecker` keeps a parse cache
for repeated checks on one resolver.
"""

from zegel.spf.evaluate import (
    DEFAULT_LOOKUP_LIMIT,
    DEFAULT_VOID_LOOKUP_LIMIT,
    SpfChecker,
    check,
    check_host,
    parse_ip,
)
from zegel.spf.macros import MacroContext, expand
from zegel.spf.parser import (
    MacroString,
    SpfRecord,
    SpfSyntaxError,
    is_spf_record,
    parse_domain_spec,
    parse_macro_string,
    parse_record,
)
from zegel.spf.result import RESULTS, SpfResult

__all__ = [
    "DEFAULT_LOOKUP_LIMIT",
    "DEFAULT_VOID_LOOKUP_LIMIT",
    "RESULTS",
    "MacroContext",
    "MacroString",
    "SpfChecker",
    "SpfRecord",
    "SpfResult",
    "SpfSyntaxError",
    "check",
    "check_host",
    "expand",
    "is_spf_record",
    "parse_domain_spec",
    "parse_ip",
    "parse_macro_string",
    "parse_record",
]
