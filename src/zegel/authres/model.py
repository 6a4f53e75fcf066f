"""The typed form of an Authentication-Results header field (RFC 8601 section 2.2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuthProperty:
    """One ``ptype.property=value`` (RFC 8601 2.3), e.g. ``header.d=example.com``."""

    ptype: str  # lower-case: smtp, header, body, policy, ...
    name: str  # lower-case property name: mailfrom, d, from, ...
    value: str

    @property
    def key(self) -> str:
        return f"{self.ptype}.{self.name}"

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


@dataclass(frozen=True, slots=True)
class ResInfo:
    """One method result (RFC 8601 2.2 ``resinfo``): ``method=result`` with an optional method
    version, reason, properties and the comments that accompanied it."""

    method: str  # lower-case: spf, dkim, dmarc, arc, iprev, auth, ...
    result: str  # lower-case: pass, fail, none, ...
    properties: tuple[AuthProperty, ...] = ()
    reason: str | None = None
    comments: tuple[str, ...] = ()
    version: str | None = None  # method version (``dkim/1=pass``)

    def get(self, key: str) -> str | None:
        """The first value of ``ptype.property`` (case-insensitive), e.g. ``get("header.d")``."""
        wanted = key.lower()
        return next((prop.value for prop in self.properties if prop.key == wanted), None)

    def get_all(self, key: str) -> tuple[str, ...]:
        wanted = key.lower()
        return tuple(prop.value for prop in self.properties if prop.key == wanted)


@dataclass(frozen=True, slots=True)
class AuthResults:
    """A parsed Authentication-Results header field.

    ``authserv_id`` is empty when the value could not even give one (then ``valid`` is False);
    ``warnings`` says what the parser skipped in a sloppy header.
    """

    authserv_id: str
    results: tuple[ResInfo, ...] = ()
    version: int | None = None
    authserv_comments: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return bool(self.authserv_id)

    def find(self, method: str) -> tuple[ResInfo, ...]:
        """Every result for ``method`` (case-insensitive), in header order."""
        wanted = method.lower()
        return tuple(r for r in self.results if r.method == wanted)

    def first(self, method: str) -> ResInfo | None:
        found = self.find(method)
        return found[0] if found else None
