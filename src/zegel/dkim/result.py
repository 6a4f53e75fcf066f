"""The per-signature verification result."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RESULTS", "DkimResult"]

# RFC 8601 section 2.7.1 result names for DKIM.
RESULTS = ("pass", "fail", "neutral", "policy", "temperror", "permerror", "none")


@dataclass(frozen=True, slots=True)
class DkimResult:
    """The outcome of verifying one DKIM-Signature field (or ``none`` for an unsigned message).

    ``result``: pass | fail | neutral | policy | temperror | permerror | none (RFC 8601 2.7.1).
    ``domain`` (d=), ``selector`` (s=), ``algorithm`` (a=), ``identity`` (i=, decoded),
    ``header_b`` the first 8 characters of b= (RFC 6008, for Authentication-Results),
    ``reason`` why, in one line. ``body_length`` is l= when present, ``body_total`` the
    canonical body length it was compared with (so partial-body signatures can be shown),
    ``testing`` the key's t=y flag, ``key_bits`` the key size, ``canonicalization`` the c=
    pair as ``header/body``, ``signed_headers`` the h= names (lower-case).
    """

    result: str
    domain: str = ""
    selector: str = ""
    algorithm: str = ""
    reason: str = ""
    header_b: str = ""
    identity: str = ""
    canonicalization: str = ""
    body_length: int | None = None
    body_total: int | None = None
    testing: bool = False
    key_bits: int = 0
    signed_headers: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.result == "pass"

    def to_dict(self) -> dict[str, object]:
        """The fields scripts rely on (``zegel dkim verify --json``), plus the extras."""
        return {
            "result": self.result,
            "domain": self.domain,
            "selector": self.selector,
            "algorithm": self.algorithm,
            "reason": self.reason,
            "header_b": self.header_b,
            "identity": self.identity,
            "canonicalization": self.canonicalization,
            "body_length": self.body_length,
            "testing": self.testing,
            "key_bits": self.key_bits,
        }
