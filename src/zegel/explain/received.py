"""Reading a received message's headers for a recipient or helpdesk (``zegel explain``).

RFC 8601 sections 5 and 7.1: only Authentication-Results written inside the recipient's own
domain can be trusted; any other could have been written by the sender. Which ones those are
is read from the Received chain (:mod:`zegel.explain.chain`): a field counts when it sits above,
or right at, the Received field of the hop that took the message from the internet, and its
authserv-id belongs to that receiving organisation or to the recognised provider that received
it (Microsoft 365 writes none). ``trusted_ids`` (``--trust``) names your servers instead.

The answer comes first: ``verdict`` (genuine, suspicious, phishing, unknown) with ``reasons``;
the causes of a failure come from the same catalogue as ``zegel verify --explain``
(:func:`zegel.explain.causes.diagnose`), fed with the results read from the headers.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from zegel.authres import AuthResults, ResInfo, parse
from zegel.explain import providers
from zegel.explain.author import MAX_FROM_VALUE, author_domain, from_mailboxes
from zegel.explain.causes import Cause, diagnose, related
from zegel.explain.chain import Chain, organisation, provider_named, read_chain
from zegel.explain.headers import MAX_HEADER_BYTES, Field, NotAMessage, read_fields, read_header
from zegel.explain.lookalike import Lookalike, LookalikeDetector, default_detector, to_unicode
from zegel.explain.texts import text
from zegel.explain.verdict import render_cause

MAX_HOPS = 100
VerdictCode = Literal["genuine", "suspicious", "phishing", "unknown"]
_AR = "authentication-results"
_AAR = "arc-authentication-results"
_SOURCES = {_AR: "Authentication-Results", _AAR: "ARC-Authentication-Results"}
_METHODS = ("spf", "dkim", "dmarc", "arc", "compauth")
_MICROSOFT = "Microsoft 365"  # Microsoft's Authentication-Results carry no authserv-id


@dataclass(frozen=True)
class Hop:
    """One server's recorded conclusions, in arrival order (``n`` 1 is the oldest)."""

    n: int
    source: str  # "Authentication-Results" or "ARC-Authentication-Results"
    server: str  # the authserv-id (empty for Microsoft 365's)
    instance: int | None  # ARC instance (i=) for ARC-Authentication-Results
    results: tuple[ResInfo, ...]
    trusted: bool
    warnings: tuple[str, ...] = ()
    index: int = 0  # position in the header section, top (0) to bottom
    sealed: bool = False  # an ARC record the trusted receiver found intact (arc=pass)

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "source": self.source,
            "instance": self.instance,
            "trusted": self.trusted,
            "sealed": self.sealed,
            "results": [
                {"method": r.method, "result": r.result, "reason": r.reason,
                 "properties": {p.key: p.value for p in r.properties}}
                for r in self.results
            ],
        }

    def summary(self) -> str:
        return " ".join(f"{r.method}={r.result}" + _identity(r) for r in self.results) or "none"


def _identity(result: ResInfo) -> str:
    if result.method == "compauth" and result.reason:
        return f" (reason={result.reason})"
    for key in ("header.from", "header.d", "smtp.mailfrom", "header.i", "smtp.helo"):
        value = result.get(key)
        if value:
            return f" ({key}={value})"
    domain = providers.spf_domain(result) if result.method == "spf" else ""
    return f" ({domain})" if domain else ""


@dataclass(frozen=True)
class Reason:
    """One reason behind the verdict: a text key and its fields, or a diagnosed cause."""

    code: str
    fields: tuple[tuple[str, str], ...] = ()
    cause: Cause | None = None
    lookalike: Lookalike | None = None

    def render(self, lang: str) -> str:
        if self.cause is not None:
            return render_cause(self.cause, lang)
        if self.lookalike is not None:
            return self.lookalike.reason(lang)
        fields = dict(self.fields)
        if self.code == "not_message":
            fields["what"] = text(lang, f"not_message.{fields.get('what', 'no_header')}")
        return text(lang, f"reason.{self.code}", **fields)


@dataclass(frozen=True)
class ReceivedReport:
    from_domain: str | None
    authenticated: bool | None
    deciding_server: str | None
    hops: tuple[Hop, ...]
    lookalike: Lookalike | None
    verdict: VerdictCode = "unknown"
    reasons: tuple[Reason, ...] = ()
    chain: Chain | None = None
    next_step: str | None = None
    provider: str | None = None
    headline_fields: tuple[tuple[str, str], ...] = field(default=())
    headline_key: str = ""

    def _headline_reason(self) -> int | None:
        """The index of the reason an "unknown" headline quotes: said once, not again under Why."""
        if self.verdict != "unknown":
            return None
        return next((i for i, r in enumerate(self.reasons) if r.code not in ("untrusted", "next_step")), None)

    def headline(self, lang: str = "en") -> str:
        fields = dict(self.headline_fields)
        if self.verdict == "unknown":
            quoted = self._headline_reason()
            first = self.reasons[quoted] if quoted is not None else None
            fields["why"] = (first.render(lang) if first else text(lang, "reason.no_results", receiver="?")).rstrip(".")
        return text(lang, f"verdict.{self.headline_key or self.verdict}", **fields)

    def to_dict(self, lang: str = "en") -> dict[str, Any]:
        entry = self.chain.entry if self.chain is not None else None
        quoted = self._headline_reason()
        return {
            "verdict": self.verdict,
            "headline": self.headline(lang),
            # in_headline: the headline already says it (pages list the others under "why").
            "reasons": [{"code": r.code, "text": r.render(lang), "in_headline": i == quoted}
                        for i, r in enumerate(self.reasons)],
            "from_domain": self.from_domain,
            "authenticated": self.authenticated,
            "deciding_server": self.deciding_server,
            "provider": self.provider,
            "received_from_internet": entry.to_dict() if entry is not None else None,
            "next_step": self.next_step,
            "hops": [hop.to_dict() for hop in self.hops],
            "lookalike": None if self.lookalike is None else {
                "imitates": self.lookalike.imitates,
                "reason": self.lookalike.reason(lang),
                "kind": self.lookalike.kind,
            },
        }

    def render(self, lang: str = "en") -> str:
        lines = [self.headline(lang)]
        quoted = self._headline_reason()
        shown_reasons = [r for i, r in enumerate(self.reasons) if i != quoted]
        if shown_reasons:
            lines.append(text(lang, "label.why"))
            lines.extend(f"  - {reason.render(lang)}" for reason in shown_reasons)
        lines.append("")
        shown = self.from_domain
        if shown and "xn--" in shown and to_unicode(shown) != shown:
            shown = f"{shown} ({to_unicode(shown)})"  # IDN: show what the mail program shows too
        lines.append(text(lang, "received.from", domain=shown) if shown else text(lang, "received.no_from"))
        state = {True: "true", False: "false", None: "none"}[self.authenticated]
        if not self.from_domain:
            state = "no_domain"  # no "?" where a domain belongs: there is none to vouch for
        elif self.authenticated is False and self.verdict in ("genuine", "phishing") and any(
                r.code == "arc_vouches" or r.code == "compauth_130" for r in self.reasons):
            state = "arc"  # DMARC failed on the way, a forwarder's ARC record vouches for it
        lines.append(text(lang, f"received.authenticated.{state}", domain=self.from_domain or "",
                          server=self.deciding_server or "?"))
        if self.provider:
            lines.append(text(lang, "received.provider", provider=self.provider))
        lines.append(text(lang, "lookalike.title") + ": " + (
            self.lookalike.reason(lang) if self.lookalike else text(lang, "lookalike.none")))
        if self.hops:
            lines.append(text(lang, "received.hops"))
            for hop in self.hops:
                source = hop.source + (f" i={hop.instance}" if hop.instance is not None else "")
                line = text(lang, "received.hop", n=hop.n, server=hop.server or text(lang, "received.no_id"),
                            source=source, results=hop.summary())
                if hop.trusted:
                    line += text(lang, "received.hop.trusted")
                elif hop.sealed:
                    line += text(lang, "received.hop.sealed")
                else:
                    line += text(lang, "received.hop.untrusted")
                lines.append("  " + line)
        else:
            lines.append(text(lang, "received.no_hops"))
        if self.next_step:
            lines.append("")
            lines.append(text(lang, "label.next_step"))
            lines.append(f"  {self.next_step}")
        return "\n".join(lines)


def _instance(value: str) -> tuple[int | None, str]:
    """``i=N;`` and the rest of an ARC-Authentication-Results value (RFC 8617 4.1.1)."""
    tag, _, rest = value.partition(";")
    key, _, number = tag.strip().partition("=")
    number = number.strip()
    # Only ASCII digits are digits (a superscript 2 is not an instance number).
    if key.strip().lower() == "i" and number and len(number) <= 9 and number.isascii() and number.isdigit():
        return int(number), rest
    return None, value


def _read_results(fields: list[Field]) -> list[tuple[int, str, int | None, AuthResults]]:
    raw: list[tuple[int, str, int | None, AuthResults]] = []
    for index, item in enumerate(fields):
        if item.name not in _SOURCES:
            continue
        instance: int | None = None
        value = item.value
        if item.name == _AAR:
            instance, value = _instance(value)
        if " action=" in value:
            # Microsoft's "dmarc=fail action=oreject" is no ptype.property; keep it readable.
            value = value.replace(" action=", " policy.action=")
        raw.append((index, _SOURCES[item.name], instance, parse(value)))
        if len(raw) >= MAX_HOPS:
            break
    return raw


def _trusted(source: str, parsed: AuthResults, index: int, chain: Chain, trusted_ids: set[str]) -> bool:
    server = parsed.authserv_id.lower()
    if trusted_ids:
        return server in trusted_ids
    if chain.entry is None or index >= chain.zone_end:
        return False
    if index > chain.entry.index:
        # Right at the entry hop (below its Received field) is where a sender's own fields
        # sit too: only receivers known to write their results there count.
        provider = provider_named(organisation(server)) if server else None
        return provider is not None and provider.results_below and provider.key in chain.receivers
    if not server:
        # Microsoft 365 writes no authserv-id; only Microsoft's own receivers do that.
        return "microsoft" in chain.receivers and any(r.method in _METHODS for r in parsed.results)
    return organisation(server) in chain.receivers


def read_hops(message: bytes, trusted_ids: Iterable[str] = ()) -> list[Hop]:
    """Every Authentication-Results / ARC-Authentication-Results field, oldest first."""
    try:
        fields = read_fields(message)
    except NotAMessage:
        return []
    return _hops(fields, _chain(fields), {t.lower() for t in trusted_ids})


def _chain(fields: list[Field]) -> Chain:
    return read_chain([(i, f.value) for i, f in enumerate(fields) if f.name == "received"], len(fields))


def _hops(fields: list[Field], chain: Chain, trusted_ids: set[str]) -> list[Hop]:
    raw = _read_results(fields)
    trusted_servers = {p.authserv_id.lower() for i, s, _, p in raw
                       if s == "Authentication-Results" and _trusted(s, p, i, chain, trusted_ids)}
    hops = []
    for n, (index, source, instance, parsed) in enumerate(reversed(raw), 1):
        if source == "Authentication-Results":
            is_trusted = _trusted(source, parsed, index, chain, trusted_ids)
        else:
            # The receiver's own ARC-Authentication-Results are as trustworthy as its A-R.
            is_trusted = (parsed.authserv_id.lower() in trusted_servers and (
                bool(trusted_ids) or index < chain.zone_end)) or (
                not trusted_ids and bool(parsed.authserv_id) and _trusted(source, parsed, index, chain, trusted_ids))
        hops.append(Hop(n, source, parsed.authserv_id, instance, parsed.results, is_trusted, parsed.warnings, index))
    return hops


@dataclass(frozen=True)
class _Reading:
    """The deciding results, merged per method from the trusted fields (newest first)."""

    server: str
    spf: ResInfo | None
    dkim: tuple[ResInfo, ...]
    dmarc: ResInfo | None
    arc: ResInfo | None
    compauth: ResInfo | None

    @property
    def any(self) -> bool:
        return bool(self.spf or self.dkim or self.dmarc or self.compauth)


def _reading(hops: list[Hop], chain: Chain) -> _Reading | None:
    trusted = [hop for hop in reversed(hops) if hop.trusted and hop.source == "Authentication-Results"]
    # Only fields that say something about the sender decide ("auth=pass smtp.auth=..." from a
    # gateway that relayed the sender's own outbound mail does not).
    trusted = [hop for hop in trusted if any(r.method in _METHODS for r in hop.results)] or trusted
    if not trusted:
        return None
    # With a gateway in front, the server that took the message from the internet saw the
    # sender; a mailbox server behind it only sees the gateway. Its results decide.
    entry_org = organisation(chain.entry.by) if chain.entry is not None and chain.entry.by else ""
    first_seen = [hop for hop in trusted if organisation(hop.server) == entry_org] if entry_org else []
    deciding = first_seen or [hop for hop in trusted if organisation(hop.server) == organisation(trusted[0].server)]
    spf = dmarc = arc = compauth = None
    dkim: list[ResInfo] = []
    for hop in deciding:
        for result in hop.results:
            if result.method == "spf" and spf is None:
                spf = result
            elif result.method == "dmarc" and dmarc is None:
                dmarc = result
            elif result.method == "arc" and arc is None:
                arc = result
            elif result.method == "compauth" and compauth is None:
                compauth = result
            elif result.method == "dkim":
                dkim.append(result)
    server = deciding[0].server or _MICROSOFT
    return _Reading(server, spf, tuple(dkim), dmarc, arc, compauth)


def authenticated(hops: list[Hop], from_domain: str | None) -> tuple[bool | None, str | None]:
    """Whether the trusted receiver authenticated ``from_domain``, and which server said so."""
    reading = _reading(hops, Chain((), None, 0, frozenset()))
    if reading is None or not from_domain:
        return None, None
    return _authenticates(reading, from_domain), reading.server


def _authenticates(reading: _Reading, from_domain: str) -> bool | None:
    """DMARC pass for the From domain is authentication, DMARC fail is not; without DMARC, a
    DKIM or SPF pass for the From domain's organisation counts (DMARC's alignment, read from
    the header); other results mean not authenticated; no results at all: None."""
    dmarc = reading.dmarc
    if dmarc is not None and dmarc.result in ("pass", "bestguesspass", "fail"):
        header_from = (dmarc.get("header.from") or from_domain).lower().rstrip(".")
        if header_from == from_domain:
            return dmarc.result != "fail"
    for result in reading.dkim:
        if result.result == "pass" and related(providers.dkim_domain(result), from_domain):
            return True
    spf = reading.spf
    if spf is not None and spf.result == "pass" and related(providers.spf_domain(spf), from_domain):
        return True
    return False if reading.any else None


class _HeaderVerdict:
    """The results read from the headers, shaped as :func:`diagnose` reads a Verdict."""

    def __init__(self, reading: _Reading, from_domain: str, hops: list[Hop]) -> None:
        spf = reading.spf
        spf_domain = providers.spf_domain(spf) if spf is not None else ""
        self.spf = _Obj(result=spf.result if spf is not None else "none", domain=spf_domain,
                        reason=spf.reason if spf is not None else "")
        self.dkim = tuple(_Obj(domain=providers.dkim_domain(r), result=r.result, selector=r.get("header.s") or "",
                               reason=r.reason or " ".join(r.comments)) for r in reading.dkim)
        sealers = [h for h in hops if h.source == "ARC-Authentication-Results" and h.sealed]
        self.arc = None
        if reading.arc is not None:
            self.arc = _Obj(cv=reading.arc.result, reason=reading.arc.reason or "", hops=tuple(
                _Obj(domain=h.server, authserv_id=h.server, instance=h.instance,
                     results="; ".join(_format(r) for r in h.results)) for h in sealers))
        dmarc = reading.dmarc
        dkim_domains = tuple(d.domain for d in self.dkim if d.result == "pass" and related(d.domain, from_domain))
        spf_aligned = spf is not None and spf.result == "pass" and related(spf_domain, from_domain)
        result = dmarc.result if dmarc is not None else ("pass" if (dkim_domains or spf_aligned) else "fail")
        if result == "bestguesspass":
            result = "pass"
        self.dmarc = _Obj(result=result, from_domain=from_domain, policy=providers.dmarc_policy(dmarc),
                          spf_aligned=spf_aligned, dkim_domains=dkim_domains, spf_domain=spf_domain,
                          alignments=(), record=None, reason="")


class _Obj:
    """Attribute bag with the names a zegel.verify result object has (duck-typed for diagnose)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(name)


def _format(result: ResInfo) -> str:
    return " ".join([f"{result.method}={result.result}", *(str(p) for p in result.properties)])


def _seal(hops: list[Hop], reading: _Reading | None) -> list[Hop]:
    """Mark the ARC-Authentication-Results a trusted ``arc=pass`` found intact."""
    if reading is None or reading.arc is None or reading.arc.result != "pass":
        return hops
    return [Hop(h.n, h.source, h.server, h.instance, h.results, h.trusted, h.warnings, h.index,
                sealed=h.source == "ARC-Authentication-Results" and not h.trusted) for h in hops]


def _arc_vouches(hops: list[Hop], from_domain: str) -> Hop | None:
    """The sealed ARC record (oldest first: the one that saw the original) that authenticated
    the From domain."""
    for hop in hops:
        if not hop.sealed:
            continue
        for result in hop.results:
            if result.method == "dmarc" and result.result == "pass" and (
                    (result.get("header.from") or "").lower() == from_domain):
                return hop
            if result.method == "dkim" and result.result == "pass" and related(
                    providers.dkim_domain(result), from_domain):
                return hop
    return None


def _next_step(chain: Chain, fields: list[Field], source: str) -> str | None:
    entry = chain.entry
    if entry is None or not entry.ip:
        return None
    return_path = next((f.value for f in fields if f.name == "return-path"), None)
    if return_path is None:
        # No envelope sender recorded: the From address is the likeliest (direct mail).
        from_value = next((f.value for f in fields if f.name == "from"), "")
        return_path = next(iter(from_mailboxes(from_value[:MAX_FROM_VALUE])), "")
    mail_from = return_path.strip().strip("<>").strip()
    if len(mail_from) > 254 or any(c.isspace() for c in mail_from):
        mail_from = ""
    helo = entry.helo or entry.rdns or entry.ip
    return " ".join(shlex.quote(part) for part in (
        "zegel", "verify", source, "--ip", entry.ip, "--helo", helo, "--mail-from", mail_from or "<>"))


def explain_received(
    message: bytes,
    *,
    trusted_ids: Iterable[str] = (),
    detector: LookalikeDetector | None = None,
    source: str = "message.eml",
) -> ReceivedReport:
    """What the headers of a received message say about it (never raises for bad input;
    input that is not a message gives verdict ``unknown`` with reason ``not_message``)."""
    try:
        return explain_header_section(message, trusted_ids=trusted_ids, detector=detector, source=source)
    except NotAMessage as exc:
        return ReceivedReport(None, None, None, (), None, "unknown", (Reason("not_message", (("what", exc.code),)),))


def explain_header_section(
    message: bytes,
    *,
    trusted_ids: Iterable[str] = (),
    detector: LookalikeDetector | None = None,
    source: str = "message.eml",
) -> ReceivedReport:
    """:func:`explain_fields` over the header section read from ``message`` (up to its read
    limit); raises :class:`NotAMessage` for input that is not a message."""
    header = read_header(message)
    return explain_fields(list(header.fields), trusted_ids=trusted_ids, detector=detector, source=source,
                          header_cut=header.cut)


def explain_fields(
    fields: list[Field],
    *,
    trusted_ids: Iterable[str] = (),
    detector: LookalikeDetector | None = None,
    source: str = "message.eml",
    header_cut: bool = False,
) -> ReceivedReport:
    """``header_cut``: the fields are the top of a header section too large to read whole."""
    trusted = {t.lower().strip() for t in trusted_ids if t.strip()}
    from_domain, from_problem = author_domain([f.value for f in fields if f.name == "from"])
    chain = _chain(fields)
    hops = _hops(fields, chain, trusted)
    reading = _reading(hops, chain)
    hops = _seal(hops, reading)
    lookalike = (detector or default_detector()).check(from_domain) if from_domain else None
    provider = next((p.name for p in chain.providers if not p.gateway), None) or next(
        (p.name for p in chain.providers), None)
    receiver = chain.entry.by if chain.entry is not None and chain.entry.by else "?"

    reasons: list[Reason] = []
    state: bool | None = None
    server = reading.server if reading is not None else None
    verdict: VerdictCode = "unknown"
    headline: dict[str, str] = {"domain": from_domain or "?", "server": server or "?"}
    headline_key = ""
    if from_domain is None:
        if header_cut and from_problem == "no_from":
            # The From field may lie below what was read: say so, not "no From field".
            reasons.append(Reason("no_from_cut", (("limit", f"{MAX_HEADER_BYTES // 1024} KB"),)))
        else:
            reasons.append(Reason(from_problem or "bad_from"))
    elif reading is None or not reading.any:
        below = next((h for h in hops if not h.trusted and h.server and organisation(h.server) in chain.receivers), None)
        if not chain.received and not trusted:
            reasons.append(Reason("no_received"))
        elif below is not None and not trusted:
            reasons.append(Reason("results_below", (("receiver", receiver), ("server", below.server))))
        else:
            reasons.append(Reason("no_results", (("receiver", receiver),)))
    else:
        state = _authenticates(reading, from_domain)
        reasons.extend(_why(reading, from_domain, hops, chain, fields, state))
        vouching = _arc_vouches(hops, from_domain) if state is False else None
        # Microsoft: compauth=pass reason=130 is its ARC override of a DMARC failure.
        arc_override = state is False and reading.compauth is not None and (
            reading.compauth.result == "pass" and (reading.compauth.reason or "") == "130")
        if vouching is not None or arc_override:
            # Said once, first: the ARC record vouches (not "not authenticated", not twice).
            reasons = [r for r in reasons if r.code not in ("not_authenticated", "cause_forwarding_arc")]
        if arc_override:
            reasons.sort(key=lambda r: not r.code.startswith("compauth_"))
        if vouching is not None:
            reasons.insert(0, Reason("arc_vouches", (("servers", vouching.server), ("domain", from_domain))))
            headline_key = "genuine_arc" if state is False else ""
            headline["forwarder"] = vouching.server
        elif arc_override:
            headline_key = "genuine_arc"
            sealers = [h.server for h in hops if h.source == "ARC-Authentication-Results" and not h.trusted and h.server]
            headline["forwarder"] = sealers[0] if sealers else "ARC"
        if state is True or vouching is not None or arc_override:
            verdict = "genuine"
            headline["server"] = reading.server
        elif state is False:
            verdict = "suspicious"

    untrusted = [h for h in hops if not h.trusted and not h.sealed]
    if from_domain and untrusted:
        sender_org = organisation(from_domain)
        self_vouching = next((h for h in untrusted if h.server and organisation(h.server) == sender_org
                              and provider_named(sender_org) is None and _claims_pass(h, from_domain)), None)
        if self_vouching is not None and verdict == "unknown" and not chain_has_sender(chain, from_domain):
            # The sender's own organisation "authenticated" it, below the receiver's Received
            # field: a receiver does not write results for mail it sends, so this is forged.
            verdict = "suspicious"
            headline_key = "suspicious_forged"
            headline["server"] = self_vouching.server
            reasons.insert(0, Reason("self_vouching", (("server", self_vouching.server), ("domain", from_domain),
                                                       ("receiver", receiver))))
        elif any(_claims_pass(h, from_domain) for h in untrusted) and verdict != "genuine":
            reasons.append(Reason("untrusted", (("count", str(len(untrusted))), ("receiver", receiver))))
    if lookalike is not None:
        verdict = "phishing"
        headline["imitates"] = lookalike.imitates
        reasons.insert(0, Reason("lookalike", lookalike=lookalike))
    next_step = _next_step(chain, fields, source) if verdict == "unknown" else None
    return ReceivedReport(from_domain, state, server, tuple(hops), lookalike, verdict, tuple(reasons), chain,
                          next_step, provider, tuple(headline.items()), headline_key or verdict)


def chain_has_sender(chain: Chain, domain: str) -> bool:
    """Whether the sender's organisation is itself among the receivers (mail inside one company)."""
    return organisation(domain) in chain.receivers


def _claims_pass(hop: Hop, from_domain: str) -> bool:
    for result in hop.results:
        if result.result not in ("pass", "bestguesspass"):
            continue
        if result.method == "dmarc" and (result.get("header.from") or from_domain).lower() == from_domain:
            return True
        if result.method == "dkim" and related(providers.dkim_domain(result), from_domain):
            return True
    return False


def _why(reading: _Reading, from_domain: str, hops: list[Hop], chain: Chain, fields: list[Field],
         state: bool | None) -> list[Reason]:
    reasons: list[Reason] = []
    server = reading.server
    if state is True:
        how = "dmarc" if reading.dmarc is not None and reading.dmarc.result in ("pass", "bestguesspass") else (
            "dkim" if any(r.result == "pass" and related(providers.dkim_domain(r), from_domain) for r in reading.dkim)
            else "spf")
        reasons.append(Reason(f"authenticated_{how}", (("domain", from_domain), ("server", server))))
    header_verdict = _HeaderVerdict(reading, from_domain, hops)
    if state is False:
        reasons.append(Reason("not_authenticated", (("domain", from_domain), ("server", server))))
        ip = chain.entry.ip if chain.entry is not None and chain.entry.ip else "?"
        head = "\r\n".join(f"{f.name}: {f.value}" for f in fields if f.name == "list-id").encode("utf-8", "replace")
        causes = diagnose(header_verdict, ip=ip, message=head + b"\r\n\r\n" if head else None)
        reasons.extend(Reason(f"cause_{c.code}", cause=c) for c in causes)
    policy = providers.dmarc_policy(reading.dmarc)
    dmarc_result = reading.dmarc.result if reading.dmarc is not None else ""
    if dmarc_result == "none" or providers.no_dmarc_record(reading.dmarc):
        reasons.append(Reason("no_dmarc", (("domain", from_domain),)))
    elif policy == "none":
        reasons.append(Reason("policy_none", (("domain", from_domain),)))
    if reading.compauth is not None:
        code, fields_ = providers.compauth(reading.compauth)
        reasons.append(Reason(code, fields_))
    return reasons
