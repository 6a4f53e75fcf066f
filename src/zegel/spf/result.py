"""The outcome of an SPF check (RFC 7208 section 2.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["RESULTS", "SpfResult"]

# RFC 7208 2.6: the seven results.
RESULTS = ("none", "neutral", "pass", "fail", "softfail", "temperror", "permerror")


@dataclass(frozen=True, slots=True)
class SpfResult:
    """Result of check_host() for one identity.

    ``mechanism``: the term that decided the result (the matching directive, the term that
    raised an error, ``None`` when nothing matched). ``lookups``: DNS-querying terms used
    (limit 10, RFC 7208 4.6.4); ``void_lookups``: lookups that found nothing (limit 2 by
    default). ``trace``: one line per step, indented by include/redirect depth.
    """

    result: str
    explanation: str | None
    mechanism: str | None
    lookups: int
    void_lookups: int
    trace: tuple[str, ...]
    domain: str = ""
    identity: str = "mailfrom"  # "mailfrom" or "helo"
    sender: str = ""
    ip: str = ""
    reason: str = ""  # why evaluation stopped, in words

    def to_dict(self) -> dict[str, Any]:
        """The JSON form used by ``zegel spf --json`` (exactly these keys)."""
        return {
            "result": self.result,
            "explanation": self.explanation,
            "mechanism": self.mechanism,
            "lookups": self.lookups,
            "void_lookups": self.void_lookups,
            "trace": list(self.trace),
        }
