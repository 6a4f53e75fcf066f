"""Reading a received message's Authentication-Results and ARC headers (``zegel explain``).

For a recipient or helpdesk judging a message without re-verifying it. RFC 8601 section 5
and 7.1: only Authentication-Results added inside your own domain can be trusted; any other
could have been written by the sender. By default the topmost Authentication-Results field
(added last, by the server that delivered the message to you) is trusted, together with every
field carrying the same authserv-id; ``trusted_ids`` names your servers explicitly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from zegel.authres import AuthResults, ResInfo, parse
from zegel.dmarc import author_domains
from zegel.explain.causes import related
from zegel.explain.lookalike import Lookalike, LookalikeDetector, to_unicode
from zegel.explain.texts import text

# A header block this large is not a real message; reading stops there (bounded work).
MAX_HEADER_BYTES = 1024 * 1024
MAX_HOPS = 100
_WANTED = {b"authentication-results": "Authentication-Results", b"arc-authentication-results": "ARC-Authentication-Results"}


@dataclass(frozen=True)
class Hop:
    """One server's recorded conclusions, in arrival order (``n`` 1 is the oldest)."""

    n: int
    source: str  # "Authentication-Results" or "ARC-Authentication-Results"
    server: str  # the authserv-id
    instance: int | None  # ARC instance (i=) for ARC-Authentication-Results
    results: tuple[ResInfo, ...]
    trusted: bool
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "source": self.source,
            "instance": self.instance,
            "trusted": self.trusted,
            "results": [
                {"method": r.method, "result": r.result, "reason": r.reason,
                 "properties": {p.key: p.value for p in r.properties}}
                for r in self.results
            ],
        }

    def summary(self) -> str:
        return " ".join(f"{r.method}={r.result}" + _identity(r) for r in self.results) or "none"


def _identity(result: ResInfo) -> str:
    for key in ("header.from", "header.d", "smtp.mailfrom", "smtp.helo"):
        value = result.get(key)
        if value:
            return f" ({key}={value})"
    return ""


@dataclass(frozen=True)
class ReceivedReport:
    from_domain: str | None
    authenticated: bool | None
    deciding_server: str | None
    hops: tuple[Hop, ...]
    lookalike: Lookalike | None

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        return {
            "from_domain": self.from_domain,
            "authenticated": self.authenticated,
            "hops": [hop.to_dict() for hop in self.hops],
            "lookalike": None if self.lookalike is None else {
                "imitates": self.lookalike.imitates,
                "reason": self.lookalike.reason(lang),
                "kind": self.lookalike.kind,
            },
        }

    def render(self, lang: str = "en") -> str:
        shown = self.from_domain
        if shown and "xn--" in shown and to_unicode(shown) != shown:
            shown = f"{shown} ({to_unicode(shown)})"  # IDN: show what the mail program shows too
        lines = [text(lang, "received.from", domain=shown) if shown else text(lang, "received.no_from")]
        domain = self.from_domain or "?"
        state = {True: "true", False: "false", None: "none"}[self.authenticated]
        lines.append(text(lang, f"received.authenticated.{state}", domain=domain, server=self.deciding_server or "?"))
        lines.append(text(lang, "lookalike.title") + ": " + (
            self.lookalike.reason(lang) if self.lookalike else text(lang, "lookalike.none")))
        if self.hops:
            lines.append(text(lang, "received.hops"))
            for hop in self.hops:
                source = hop.source + (f" i={hop.instance}" if hop.instance is not None else "")
                line = text(lang, "received.hop", n=hop.n, server=hop.server or "?", source=source,
                            results=hop.summary())
                if not hop.trusted:
                    line += text(lang, "received.hop.untrusted")
                lines.append("  " + line)
        else:
            lines.append(text(lang, "received.no_hops"))
        return "\n".join(lines)


def header_fields(message: bytes) -> list[tuple[bytes, bytes]]:
    """(lower-case name, unfolded value) of each header field, top to bottom, bounded."""
    head = message[:MAX_HEADER_BYTES]
    ends = [i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i != -1]
    if ends:
        head = head[: min(ends)]
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n"):
        line = line.rstrip(b"\r")
        if line[:1] in (b" ", b"\t"):
            if fields:
                name, value = fields[-1]
                fields[-1] = (name, value + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if colon:
            fields.append((name.strip().lower(), value.strip()))
    return fields


def read_hops(message: bytes, trusted_ids: Iterable[str] = ()) -> list[Hop]:
    """Every Authentication-Results / ARC-Authentication-Results field, oldest first."""
    raw: list[tuple[str, int | None, AuthResults]] = []
    for name, value in header_fields(message):
        source = _WANTED.get(name)
        if source is None:
            continue
        instance: int | None = None
        text_value = value.decode("utf-8", "replace")
        if source == "ARC-Authentication-Results":
            # RFC 8617 section 4.1.1: "i=N;" then the Authentication-Results payload.
            tag, _, rest = text_value.partition(";")
            key, _, number = tag.strip().partition("=")
            if key.strip().lower() == "i" and number.strip().isdigit():
                instance = int(number.strip())
                text_value = rest
        raw.append((source, instance, parse(text_value)))
        if len(raw) >= MAX_HOPS:
            break
    trusted = {t.lower() for t in trusted_ids}
    if not trusted:
        topmost = next((r for s, _, r in raw if s == "Authentication-Results" and r.authserv_id), None)
        if topmost is not None:
            trusted = {topmost.authserv_id.lower()}
    hops = []
    for n, (source, instance, parsed) in enumerate(reversed(raw), 1):
        is_trusted = source == "Authentication-Results" and parsed.authserv_id.lower() in trusted
        hops.append(Hop(n, source, parsed.authserv_id, instance, parsed.results, is_trusted, parsed.warnings))
    return hops


def authenticated(hops: list[Hop], from_domain: str | None) -> tuple[bool | None, str | None]:
    """Whether the newest trusted hop authenticated ``from_domain``, and which server said so.

    DMARC pass for the From domain is authentication; a DMARC fail is not. Without a DMARC
    result, a DKIM or SPF pass for the From domain's organization counts (DMARC's alignment
    idea, read from the header); other results mean not authenticated; no trusted hop: None.
    """
    trusted = [hop for hop in hops if hop.trusted]
    if not trusted or not from_domain:
        return None, None
    hop = trusted[-1]
    server = hop.server
    for result in hop.results:
        if result.method == "dmarc" and result.result in ("pass", "fail"):
            header_from = (result.get("header.from") or from_domain).lower()
            if header_from == from_domain:
                return result.result == "pass", server
    for result in hop.results:
        if result.result != "pass":
            continue
        if result.method == "dkim" and related(result.get("header.d") or "", from_domain):
            return True, server
        if result.method == "spf":
            mailfrom = (result.get("smtp.mailfrom") or "").rpartition("@")[2]
            if related(mailfrom, from_domain):
                return True, server
    methods = [r for r in hop.results if r.method in ("spf", "dkim", "dmarc")]
    return (False, server) if methods else (None, server)


def explain_received(
    message: bytes,
    *,
    trusted_ids: Iterable[str] = (),
    detector: LookalikeDetector | None = None,
) -> ReceivedReport:
    """What the headers of a received message say about it (never raises for bad input)."""
    authors = author_domains(message)
    from_domain = authors.domains[0] if authors.domains else None
    hops = read_hops(message, trusted_ids)
    verdict, server = authenticated(hops, from_domain)
    lookalike = None
    if from_domain:
        lookalike = (detector or LookalikeDetector()).check(from_domain)
    return ReceivedReport(from_domain, verdict, server, tuple(hops), lookalike)
