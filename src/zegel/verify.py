"""The receiver pipeline: what a receiving mail server decides about one message.

SPF (RFC 7208), DKIM (RFC 6376) and ARC (RFC 8617) are independent, so they run
concurrently; DMARC (RFC 9989 / RFC 7489) needs the SPF and DKIM results and runs after
them. ARC is an optional stage DMARC does not depend on: its result only feeds the local
policy (trusted forwarders). The Authentication-Results header (RFC 8601) records it all,
and the local policy (:mod:`zegel.policy`) turns the results into an :class:`Action`.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from zegel.dns import Resolver
from zegel.policy import Action, ActionKind, Override, Policy, PolicyError

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

    spf: SpfOutcome | None
    dkim: tuple[DkimOutcome, ...]
    arc: ArcOutcome | None
    dmarc: DmarcOutcome | None
    authentication_results: str
    action: Action
    from_domain: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class OutcomeSink(Protocol):
    """Receives each verdict (for DMARC aggregate reports). Must not block: enqueue only."""

    def record(self, verdict: Verdict, *, ip: str, helo: str, mail_from: str) -> None: ...


# RFC 5322 sets no limit on the header section; MTAs do (Postfix header_size_limit is 100 KiB).
# Beyond these bounds the signatures are not evaluated (a defined "permerror"-like outcome
# with a reason) so a hostile header block cannot cost unbounded time in every engine.
MAX_HEADER_BYTES = 1024 * 1024
MAX_HEADER_FIELDS = 10_000


def _engine(module: str) -> Any:
    """The engine module, or None while it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


@dataclass(frozen=True)
class _Unchecked:
    """Stands in for an engine result when a stage could not run; carries why."""

    result: str
    reason: str
    explanation: str | None = None
    domain: str = ""
    identity: str = ""
    selector: str = ""
    header_b: str = ""
    policy: str | None = None
    disposition: str = "none"
    from_domain: str | None = None
    cv: str = "none"
    hops: tuple[Any, ...] = ()


def header_section(message: bytes) -> tuple[bytes, int, str | None]:
    """The header section, its field count, and why it is unusable (None when it is fine).

    RFC 5322 section 2.1: header fields, then an empty line, then the body. A message that
    starts with something other than a field (``name:``) has no header section.
    """
    end = -1
    for separator in (b"\r\n\r\n", b"\n\n"):
        found = message.find(separator, 0, MAX_HEADER_BYTES + 4)
        if found != -1 and (end == -1 or found < end):
            end = found
    if end == -1:
        if len(message) > MAX_HEADER_BYTES:
            return b"", 0, f"header section larger than {MAX_HEADER_BYTES} bytes"
        end = len(message)
    head = message[:end]
    first_line = head.split(b"\n", 1)[0]
    name, colon, _ = first_line.partition(b":")
    # RFC 5322 section 3.6.8: field-name = 1*ftext (printable US-ASCII except colon).
    if not colon or not name or any(c < 33 or c > 126 for c in name):
        return head, 0, "not an RFC 5322 message: it does not start with a header field"
    fields = sum(1 for line in head.split(b"\n") if line[:1] not in (b" ", b"\t"))
    if fields > MAX_HEADER_FIELDS:
        return head, fields, f"header section has {fields} fields (limit {MAX_HEADER_FIELDS})"
    return head, fields, None


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
) -> Verdict:
    """Authenticate ``message`` as received from ``ip`` (HELO ``helo``, MAIL FROM ``mail_from``).

    Never raises for bad input: a message that is not RFC 5322, an engine that cannot run,
    or a DNS failure all give results with a reason (``Verdict.notes``).
    """
    policy = policy or Policy.default()
    resolver = resolver or Resolver()
    notes: list[str] = []
    _, _, problem = header_section(message)
    if problem:
        notes.append(problem)

    spf_task = _run_spf(ip, mail_from, helo, resolver, notes)
    if problem:
        spf = await spf_task
        dkim: tuple[DkimOutcome, ...] = ()
        arc: ArcOutcome | None = _Unchecked("none", f"not checked: {problem}")
    else:
        spf, dkim, arc = await asyncio.gather(
            spf_task, _run_dkim(message, resolver, notes), _run_arc(message, resolver, notes)
        )
    from_domain, from_problem = _from_domain(message, problem)
    if from_problem:
        notes.append(from_problem)
    dmarc = await _run_dmarc(from_domain, spf, dkim, resolver, policy, notes, from_problem)

    trusted = trusted_forwarder(arc, from_domain, policy)
    action = policy.decide(spf, dkim, dmarc, arc_cv=arc.cv if arc is not None else None,
                           trusted_forwarder=trusted)
    results = _build_authentication_results(authserv_id, spf, dkim, dmarc, arc, mail_from, helo,
                                            from_domain, notes)
    verdict = Verdict(spf, dkim, arc, dmarc, results, action, from_domain, tuple(notes))
    if recorder is not None:
        try:
            recorder.record(verdict, ip=ip, helo=helo, mail_from=mail_from)
        except Exception as exc:  # reporting must never cost the verdict
            verdict = Verdict(spf, dkim, arc, dmarc, results, action, from_domain,
                              (*notes, f"recording the outcome failed: {type(exc).__name__}: {exc}"))
    return verdict


async def _run_spf(ip: str, mail_from: str, helo: str, resolver: Resolver, notes: list[str]) -> SpfOutcome | None:
    spf = _engine("zegel.spf")
    if spf is None:
        notes.append("SPF not checked: zegel.spf is not available")
        return None
    try:
        # RFC 7208 section 2.3/2.4: MAIL FROM, or postmaster@HELO for the null sender.
        return await spf.check(ip, mail_from, helo, resolver=resolver)  # type: ignore[no-any-return]
    except Exception as exc:
        notes.append(f"SPF stage failed: {type(exc).__name__}: {exc}")
        return _Unchecked("temperror", f"SPF stage failed: {exc}")


async def _run_dkim(message: bytes, resolver: Resolver, notes: list[str]) -> tuple[DkimOutcome, ...]:
    dkim = _engine("zegel.dkim")
    if dkim is None:
        notes.append("DKIM not checked: zegel.dkim is not available")
        return ()
    try:
        return tuple(await dkim.verify(message, resolver=resolver))
    except Exception as exc:
        notes.append(f"DKIM stage failed: {type(exc).__name__}: {exc}")
        return (_Unchecked("permerror", f"DKIM stage failed: {exc}"),)


async def _run_arc(message: bytes, resolver: Resolver, notes: list[str]) -> ArcOutcome | None:
    arc = _engine("zegel.arc")
    if arc is None:
        notes.append("ARC not checked: zegel.arc is not available")
        return None
    try:
        return await arc.validate(message, resolver=resolver)  # type: ignore[no-any-return]
    except Exception as exc:
        notes.append(f"ARC stage failed: {type(exc).__name__}: {exc}")
        return _Unchecked("fail", f"ARC stage failed: {exc}", cv="fail")


def _from_domain(message: bytes, problem: str | None) -> tuple[str | None, str | None]:
    """The RFC5322.From domain DMARC evaluates, or None and why (zegel.dmarc decides the rules)."""
    if problem:
        return None, None
    dmarc = _engine("zegel.dmarc")
    extract = getattr(dmarc, "from_domain", None) if dmarc is not None else None
    if extract is None:
        return None, "From domain not extracted: zegel.dmarc is not available"
    try:
        found = extract(message)
    except Exception as exc:
        return None, f"From domain not found: {exc}"
    if isinstance(found, tuple):  # (domain, reason)
        return found[0], found[1] if len(found) > 1 else None
    return (found or None), (None if found else "message has no usable From domain")


async def _run_dmarc(
    from_domain: str | None,
    spf: SpfOutcome | None,
    dkim: tuple[DkimOutcome, ...],
    resolver: Resolver,
    policy: Policy,
    notes: list[str],
    from_problem: str | None,
) -> DmarcOutcome | None:
    dmarc = _engine("zegel.dmarc")
    if dmarc is None:
        notes.append("DMARC not checked: zegel.dmarc is not available")
        return None
    if from_domain is None:
        # RFC 7489 section 6.6.1: without a single From domain DMARC cannot be applied.
        return _Unchecked("none", from_problem or "no From domain", from_domain=None)
    try:
        return await dmarc.evaluate(  # type: ignore[no-any-return]
            from_domain, spf=spf, dkim=list(dkim), resolver=resolver, mode=policy.dmarc_mode
        )
    except Exception as exc:
        notes.append(f"DMARC stage failed: {type(exc).__name__}: {exc}")
        return _Unchecked("temperror", f"DMARC stage failed: {exc}", from_domain=from_domain)


def trusted_forwarder(arc: ArcOutcome | None, from_domain: str | None, policy: Policy) -> str | None:
    """The listed forwarder whose validated ARC chain authenticates ``from_domain``, if any.

    RFC 8617 section 7.2: a receiver may use the ARC-Authentication-Results of intermediaries
    it trusts. We accept the chain only when it validates (cv=pass); walking from the newest
    set (the one that handed us the message) down while the sealers are trusted, a hop whose
    recorded results show DMARC passing for the From domain vouches for it.
    """
    if arc is None or arc.cv != "pass" or not from_domain or not policy.trusted_forwarders:
        return None
    authres = _engine("zegel.authres")
    if authres is None:
        return None
    for hop in reversed(tuple(arc.hops)):
        sealer = str(getattr(hop, "domain", "")).lower().rstrip(".")
        if not _in_domains(sealer, policy.trusted_forwarders):
            return None
        if _results_authenticate(authres, str(getattr(hop, "results", "")), getattr(hop, "authserv_id", ""), from_domain):
            return sealer
    return None


def _in_domains(domain: str, listed: frozenset[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in listed)


def _results_authenticate(authres: Any, text: str, authserv_id: str, from_domain: str) -> bool:
    try:
        parsed = authres.parse(f"{authserv_id}; {text}" if authserv_id and not text.startswith(authserv_id) else text)
    except Exception:
        return False
    for result in getattr(parsed, "results", ()):
        method = str(getattr(result, "method", "")).lower()
        value = str(getattr(result, "result", "")).lower()
        props = _properties(result)
        if method == "dmarc" and value == "pass" and props.get("header.from", from_domain).lower() == from_domain:
            return True
    return False


def _properties(result: Any) -> dict[str, str]:
    props = getattr(result, "properties", {})
    if isinstance(props, dict):
        return {str(k).lower(): str(v) for k, v in props.items()}
    out: dict[str, str] = {}
    for item in props:
        ptype, name, value = (getattr(item, "ptype", ""), getattr(item, "name", ""), getattr(item, "value", ""))
        out[f"{ptype}.{name}".lower()] = str(value)
    return out


def _build_authentication_results(
    authserv_id: str,
    spf: SpfOutcome | None,
    dkim: tuple[DkimOutcome, ...],
    dmarc: DmarcOutcome | None,
    arc: ArcOutcome | None,
    mail_from: str,
    helo: str,
    from_domain: str | None,
    notes: list[str],
) -> str:
    authres = _engine("zegel.authres")
    if authres is None:
        notes.append("Authentication-Results not built: zegel.authres is not available")
        return f"{authserv_id}; none"
    try:
        return str(authres.build(authserv_id, {"spf": spf, "dkim": list(dkim), "dmarc": dmarc, "arc": arc,
                                              "mail_from": mail_from, "helo": helo, "from_domain": from_domain}))
    except Exception as exc:
        notes.append(f"Authentication-Results not built: {type(exc).__name__}: {exc}")
        return f"{authserv_id}; none"
