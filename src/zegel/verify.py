"""The receiver pipeline: what a receiving mail server decides about one message.

SPF (RFC 7208), DKIM (RFC 6376) and ARC (RFC 8617) are independent, so they run
concurrently; DMARC (RFC 9989 / RFC 7489) needs the SPF and DKIM results and runs after
them. ARC is an optional stage DMARC does not depend on: its result only feeds the local
policy (trusted forwarders). The Authentication-Results header (RFC 8601) records it all,
and the local policy (:mod:`zegel.policy`) turns the results into an :class:`Action`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from zegel import aio
from zegel.arc import validate as arc_validate
from zegel.arc.result import ArcResult
from zegel.arc.validate import NO_ARC_FIELDS, has_arc_fields
from zegel.authres import build
from zegel.authres import parse as parse_authres
from zegel.authres.build import reuse_lines_of
from zegel.dkim import verify as dkim_verify
from zegel.dkim.keys import KeyCache
from zegel.dmarc import AuthorDomains, author_domains, evaluate_message, load_psl
from zegel.dmarc.evaluate import DmarcResult
from zegel.dns import Resolver
from zegel.policy import Action, ActionKind, Override, Policy, PolicyError
from zegel.rfc5322 import first_blank_line
from zegel.spf import SpfChecker
from zegel.spf.result import SpfResult

__all__ = [
    "Action",
    "ActionKind",
    "ArcOutcome",
    "DkimOutcome",
    "DmarcOutcome",
    "OutcomeSink",
    "Override",
    "Policy",
    "PolicyError",
    "SpfOutcome",
    "Verdict",
    "Verifier",
    "verify_message",
]


# -- the engines' result types, as the pipeline sees them (docs/interfaces.md) ----------------


class SpfOutcome(Protocol):
    """zegel.spf.SpfResult."""

    @property
    def result(self) -> str: ...
    @property
    def explanation(self) -> str | None: ...
    @property
    def domain(self) -> str: ...
    @property
    def identity(self) -> str: ...


class DkimOutcome(Protocol):
    """zegel.dkim.DkimResult."""

    @property
    def result(self) -> str: ...
    @property
    def domain(self) -> str: ...
    @property
    def selector(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def header_b(self) -> str: ...


class ArcOutcome(Protocol):
    """zegel.arc.ArcResult."""

    @property
    def cv(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def hops(self) -> Sequence[Any]: ...


class DmarcOutcome(Protocol):
    """zegel.dmarc.DmarcResult."""

    @property
    def result(self) -> str: ...
    @property
    def policy(self) -> str | None: ...
    @property
    def disposition(self) -> str: ...
    @property
    def from_domain(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True)
class Verdict:
    """Everything the receiver concluded about one message.

    ``authentication_results`` is the header value (RFC 8601), without ``Authentication-Results:``.
    ``notes`` says what could not be checked and why (bad input, a stage that failed).
    """

    spf: SpfOutcome
    dkim: tuple[DkimOutcome, ...]
    arc: ArcOutcome
    dmarc: DmarcOutcome
    authentication_results: str
    action: Action
    from_domain: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: keys spf, dkim, arc, dmarc, authentication_results, action."""
        return {
            "spf": _fields(self.spf, ("result", "domain", "identity", "sender", "mechanism", "explanation", "reason")),
            "dkim": [_fields(d, ("result", "domain", "selector", "algorithm", "identity", "header_b", "reason"))
                     for d in self.dkim],
            "arc": _arc_dict(self.arc),
            "dmarc": _fields(self.dmarc, ("result", "policy", "disposition", "from_domain", "policy_domain",
                                          "spf_aligned", "dkim_aligned", "mode", "reason")),
            "authentication_results": self.authentication_results,
            "action": asdict(self.action),
        }


def _fields(obj: object, names: Sequence[str]) -> dict[str, Any] | None:
    if obj is None:
        return None
    return {name: getattr(obj, name) for name in names if hasattr(obj, name)}


def _arc_dict(arc: ArcOutcome) -> dict[str, Any]:
    to_dict = getattr(arc, "to_dict", None)
    if callable(to_dict):
        data: dict[str, Any] = to_dict()
        return data
    return {"cv": arc.cv, "reason": arc.reason, "hops": []}


@runtime_checkable
class OutcomeSink(Protocol):
    """Receives each verdict (for DMARC aggregate reports). Must not block: enqueue only."""

    def record(self, verdict: Verdict, *, ip: str, helo: str, mail_from: str) -> None: ...


# Never changed once made (frozen, slotted) and reused across messages: their A-R lines too.
reuse_lines_of(SpfResult, DmarcResult, ArcResult)

# RFC 5322 sets no limit on the header section; MTAs do (Postfix header_size_limit is 100 KiB).
# Beyond these bounds DKIM and ARC are not evaluated (a defined outcome with a reason), so a
# hostile header block cannot cost unbounded time in every engine.
MAX_HEADER_BYTES = 1024 * 1024
MAX_HEADER_FIELDS = 10_000


# -- stand-ins for a stage that could not run: each says why, in the engine's own shape -------


@dataclass(frozen=True)
class UncheckedSpf:
    result: str
    reason: str
    domain: str = ""
    sender: str = ""
    identity: str = "mailfrom"
    explanation: str | None = None
    mechanism: str | None = None


@dataclass(frozen=True)
class UncheckedDkim:
    result: str
    reason: str
    domain: str = ""
    selector: str = ""
    header_b: str = ""


@dataclass(frozen=True)
class UncheckedArc:
    cv: str
    reason: str
    hops: tuple[Any, ...] = ()


@dataclass(frozen=True)
class UncheckedDmarc:
    result: str
    reason: str
    from_domain: str | None = None
    policy: str | None = None
    disposition: str = "none"


# RFC 5322 section 3.6.8: a field name is one or more printable US-ASCII characters (33-126).
_FIELD_NAME = re.compile(rb"[\x21-\x7e]+")


def header_problem(message: bytes) -> str | None:
    """Why ``message`` has no usable header section or is beyond the limits, or None."""
    malformed, over_limits = header_findings(message)
    return malformed or over_limits


def header_findings(message: bytes) -> tuple[str | None, str | None]:
    """``(malformed, over_limits)``: why ``message`` has no usable header section, and why its
    header section is beyond :data:`MAX_HEADER_BYTES` / :data:`MAX_HEADER_FIELDS` (None when not).

    RFC 5322 section 2.1: header fields, then an empty line, then the body; section 3.6.8:
    a field name is printable US-ASCII except the colon. A section beyond the limits is still
    read for its From field (linear time); only DKIM and ARC are skipped.
    """
    # Searched in place (a slice of the first MiB would copy the whole of a usual message).
    end = first_blank_line(message, MAX_HEADER_BYTES + 4)
    over_limits = None
    if end != -1:
        head = message[:end]
    else:
        head = message[: MAX_HEADER_BYTES + 4]
        if len(message) > MAX_HEADER_BYTES:
            over_limits = f"header section larger than {MAX_HEADER_BYTES} bytes"
    # A head starting with a non-blank byte is not blank: no stripped copy to find that out.
    if (not head or head[:1].isspace()) and not head.strip():
        return "not an RFC 5322 message: no header section", over_limits
    newline = head.find(b"\n")
    name, colon, _ = (head if newline == -1 else head[:newline]).partition(b":")
    name = name.rstrip(b" \t")
    if not colon or not _FIELD_NAME.fullmatch(name):
        return "not an RFC 5322 message: it does not start with a header field", over_limits
    # fields <= line feeds + 1 <= len(head) + 1: a shorter head cannot be over the limit.
    if over_limits is None and len(head) >= MAX_HEADER_FIELDS:
        fields = head.count(b"\n") + 1 - head.count(b"\n ") - head.count(b"\n\t")
        if fields > MAX_HEADER_FIELDS:
            over_limits = f"header section has {fields} fields (limit {MAX_HEADER_FIELDS})"
    return None, over_limits


class Verifier:
    """The pipeline bound to a resolver and a policy, keeping parse caches across messages.

    A long-running receiver (the milter) keeps one; :func:`verify_message` makes one per call.
    The caches (SPF records, DKIM/ARC key records, the Public Suffix List for RFC 7489 mode)
    belong to this object, not to the process.
    """

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        authserv_id: str,
        policy: Policy | None = None,
        recorder: OutcomeSink | None = None,
        psl: Any = None,
    ) -> None:
        if not authserv_id.strip():
            raise ValueError("authserv_id must not be empty")
        self.resolver = resolver if resolver is not None else Resolver()
        self.authserv_id = authserv_id
        self.policy = policy if policy is not None else Policy.default()
        self.recorder = recorder
        self._psl = psl
        self._spf_checker = SpfChecker(self.resolver, receiver=authserv_id)
        self._key_cache = KeyCache()

    @property
    def psl(self) -> Any:
        if self._psl is None and self.policy.dmarc_mode == "rfc7489":
            self._psl = load_psl()
        return self._psl

    async def verify(self, message: bytes, *, ip: str, helo: str, mail_from: str) -> Verdict:
        """Authenticate ``message`` as received from ``ip`` (HELO ``helo``, MAIL FROM ``mail_from``).

        Never raises for bad input: a message that is not RFC 5322, an engine that fails or a
        DNS failure all give results with a reason (see ``Verdict.notes``).
        """
        notes: list[str] = []
        malformed, over_limits = header_findings(message)
        spf_stage = self._spf(ip, mail_from, helo, notes)
        dkim: tuple[DkimOutcome, ...]
        arc: ArcOutcome
        dmarc: DmarcOutcome
        faults: list[str] = []
        if malformed:
            notes.append(malformed)
            spf = await spf_stage
            dkim, arc = (), UncheckedArc("none", f"not checked: {malformed}")
            dmarc = UncheckedDmarc("permerror", f"no From domain: {malformed}")
            faults.append("author_unknown")
        elif over_limits:
            # Limits bound the work, never the decision: DKIM and ARC are skipped, the From
            # domain is still found and DMARC evaluated (it can only fail without DKIM).
            notes.append(f"{over_limits}: DKIM and ARC not verified")
            faults.append("header_limits")
            dkim = (UncheckedDkim("none", f"not verified: {over_limits}"),)
            arc = UncheckedArc("none", f"not checked: {over_limits}")
            spf = await spf_stage
            dmarc = await self._dmarc(message, spf, (), notes)
        else:
            # SPF, DKIM and ARC are independent: run them (and their DNS lookups) concurrently.
            if has_arc_fields(message):
                spf, dkim, arc = await aio.gather(spf_stage, self._dkim(message, notes), self._arc(message, notes))
            else:
                # What the ARC stage answers for a message without ARC fields, without running it.
                spf, dkim = await aio.gather(spf_stage, self._dkim(message, notes))
                arc = NO_ARC_FIELDS
            dmarc = await self._dmarc(message, spf, dkim, notes)
        unknown_author = None if malformed else _author_unknown(message, dmarc)
        if unknown_author is not None:
            # RFC 7489 section 6.6.1: no single, well-formed author domain.
            notes.append(f"author unknown: {unknown_author}")
            faults.append("author_unknown")
        from_domain = dmarc.from_domain
        forwarder = trusted_forwarder(arc, from_domain, self.policy)
        action = self.policy.decide(spf, dkim, dmarc, arc_cv=arc.cv, trusted_forwarder=forwarder, faults=faults)
        try:
            results = build(self.authserv_id, [spf, *dkim, dmarc, arc])
        except (TypeError, ValueError) as exc:  # cannot happen for our own results; be safe
            notes.append(f"Authentication-Results not built: {exc}")
            results = f"{self.authserv_id}; none"
        verdict = Verdict(spf, dkim, arc, dmarc, results, action, from_domain, tuple(notes))
        if self.recorder is not None:
            try:
                self.recorder.record(verdict, ip=ip, helo=helo, mail_from=mail_from)
            except Exception as exc:  # reporting must never cost the verdict
                verdict = Verdict(spf, dkim, arc, dmarc, results, action, from_domain,
                                  (*notes, f"recording the outcome failed: {type(exc).__name__}: {exc}"))
        return verdict

    async def _spf(self, ip: str, mail_from: str, helo: str, notes: list[str]) -> SpfOutcome:
        try:
            # RFC 7208 section 2.3/2.4: MAIL FROM, or postmaster@HELO for the null sender.
            return await self._spf_checker.check(ip, mail_from, helo)
        except ValueError as exc:  # the only documented raise: a client address that is not one
            notes.append(f"SPF not checked: {exc}")
            return UncheckedSpf("permerror", f"not checked: {exc}", sender=mail_from)
        except Exception as exc:
            notes.append(f"SPF stage failed: {type(exc).__name__}: {exc}")
            return UncheckedSpf("temperror", f"SPF stage failed: {exc}", sender=mail_from)

    async def _dkim(self, message: bytes, notes: list[str]) -> tuple[DkimOutcome, ...]:
        try:
            # RFC 8601 2.7.1: l= shorter than the body is dkim=policy unless the policy says pass.
            return tuple(await dkim_verify(message, resolver=self.resolver, key_cache=self._key_cache,
                                           fail_partial_body=self.policy.dkim_partial_body == "policy"))
        except Exception as exc:
            notes.append(f"DKIM stage failed: {type(exc).__name__}: {exc}")
            return (UncheckedDkim("permerror", f"DKIM stage failed: {exc}"),)

    async def _arc(self, message: bytes, notes: list[str]) -> ArcOutcome:
        try:
            return await arc_validate(message, resolver=self.resolver, key_cache=self._key_cache)
        except Exception as exc:
            notes.append(f"ARC stage failed: {type(exc).__name__}: {exc}")
            return UncheckedArc("fail", f"ARC stage failed: {exc}")

    async def _dmarc(
        self, message: bytes, spf: SpfOutcome, dkim: tuple[DkimOutcome, ...], notes: list[str]
    ) -> DmarcOutcome:
        try:
            # RFC 7489 section 6.6.1: zegel.dmarc extracts the From domain(s) and, with several,
            # applies the strictest result (the choices are in docs/dmarc.md).
            return await evaluate_message(message, spf=spf, dkim=dkim, resolver=self.resolver,
                                          mode=self.policy.dmarc_mode, psl=self.psl)
        except Exception as exc:
            notes.append(f"DMARC stage failed: {type(exc).__name__}: {exc}")
            return UncheckedDmarc("temperror", f"DMARC stage failed: {exc}")


async def verify_message(
    message: bytes,
    *,
    ip: str,
    helo: str,
    mail_from: str,
    resolver: Resolver | None = None,
    authserv_id: str,
    policy: Policy | None = None,
    recorder: OutcomeSink | None = None,
    psl: Any = None,
) -> Verdict:
    """Authenticate ``message`` as a receiving server: SPF, DKIM, ARC, DMARC, local policy.

    ``psl``: a Public Suffix List (``zegel.dmarc.load_psl()``) for RFC 7489 mode, so callers
    load it once. Keep a :class:`Verifier` instead to reuse parse caches across messages.
    """
    verifier = Verifier(resolver, authserv_id=authserv_id, policy=policy, recorder=recorder, psl=psl)
    return await verifier.verify(message, ip=ip, helo=helo, mail_from=mail_from)


def _author_unknown(message: bytes, dmarc: DmarcOutcome) -> str | None:
    """Why the message has no single, cleanly parsed author domain, or None."""
    author = getattr(dmarc, "author", None)
    if not isinstance(author, AuthorDomains):
        author = author_domains(message)  # the DMARC stage failed before finding it
    if not author.unknown:
        return None
    return "; ".join(author.problems[:5]) or "no single author domain"


def trusted_forwarder(arc: ArcOutcome | None, from_domain: str | None, policy: Policy) -> str | None:
    """The listed forwarder whose validated ARC chain vouches for ``from_domain``, if any.

    RFC 8617 section 7.2: a receiver may use the ARC-Authentication-Results of intermediaries
    it trusts. Only a validating chain (cv=pass) counts. Walking from the newest ARC set (the
    intermediary that handed us the message) down while the sealers are listed, a hop whose
    recorded results say DMARC passed for the From domain vouches for it.
    """
    if arc is None or arc.cv != "pass" or not from_domain or not policy.trusted_forwarders:
        return None
    for hop in reversed(tuple(arc.hops)):
        sealer = str(getattr(hop, "domain", "")).lower().rstrip(".")
        if not any(sealer == d or sealer.endswith("." + d) for d in policy.trusted_forwarders):
            return None
        if _vouches(str(getattr(hop, "authserv_id", "")), str(getattr(hop, "results", "")), from_domain):
            return sealer
    return None


def _vouches(authserv_id: str, results: str, from_domain: str) -> bool:
    parsed = parse_authres(f"{authserv_id or 'unknown'}; {results}")
    for info in parsed.results:
        if info.method == "dmarc" and info.result == "pass":
            header_from = (info.get("header.from") or from_domain).lower().rstrip(".")
            if header_from == from_domain:
                return True
    return False
