"""Typed DNS answers: the four outcomes the mail-authentication RFCs tell apart."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

T = TypeVar("T")


class Status(StrEnum):
    """What a lookup found.

    RFC 7208 section 4.4 / 5 and RFC 6376 section 6.1.2 treat these differently: NODATA and
    NXDOMAIN are both "no record" (and both count as a void lookup, RFC 7208 4.6.4), while a
    timeout or SERVFAIL is a temporary error.
    """

    ANSWER = "answer"
    NODATA = "nodata"
    NXDOMAIN = "nxdomain"
    TEMPFAIL = "tempfail"


@dataclass(frozen=True, slots=True)
class MxRecord:
    preference: int
    exchange: str  # lower-case, no trailing dot; "" for the null MX "." (RFC 7505)


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    """The outcome of one query. ``records`` is empty unless ``status`` is ANSWER."""

    name: str
    rdtype: str
    status: Status
    records: tuple[T, ...] = ()
    ttl: int = 0
    reason: str = ""
    # For TXT only: each record's character-strings as published (before joining),
    # so an audit can see how a record was split.
    txt_strings: tuple[tuple[bytes, ...], ...] = ()
    # The AD bit of the response (RFC 4035 3.2.3): a validating resolver vouches for the data.
    # Meaningful only when the configured resolver validates; False from zone files.
    authenticated: bool = False
    # The name the records belong to when the queried name was an alias (CNAME), else "".
    canonical: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.ANSWER

    @property
    def is_void(self) -> bool:
        """No usable answer: NODATA or NXDOMAIN (RFC 7208 section 4.6.4)."""
        return self.status is Status.NODATA or self.status is Status.NXDOMAIN

    @property
    def is_tempfail(self) -> bool:
        return self.status is Status.TEMPFAIL
