"""check_host() (RFC 7208 sections 4, 5, 6), with the processing limits of 4.6.4.

Terms are evaluated strictly in order and the limits are counted exactly as the RFC says. For
speed on a cold cache, the independent DNS lookups of a record (targets that need no %{p}) are
started concurrently as soon as the record is parsed; the evaluation then awaits those answers
in order. A prefetched lookup is only a head start: it never counts against a limit and never
changes a result, because counting happens where the evaluation reaches the term.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import re
import socket
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from zegel.dns import Answer, InvalidName, Resolver, normalize
from zegel.spf.macros import MacroContext, expand, expand_domain
from zegel.spf.parser import (
    A,
    All,
    DnsMechanism,
    Exists,
    Include,
    Ip4,
    Ip6,
    Mechanism,
    Mx,
    Ptr,
    SpfRecord,
    SpfSyntaxError,
    is_spf_record,
    parse_macro_string,
    parse_record,
)
from zegel.spf.result import SpfResult

__all__ = [
    "DEFAULT_LOOKUP_LIMIT",
    "DEFAULT_VOID_LOOKUP_LIMIT",
    "SpfChecker",
    "check",
    "check_host",
]

DEFAULT_LOOKUP_LIMIT = 10  # RFC 7208 4.6.4: DNS-querying terms per check
DEFAULT_VOID_LOOKUP_LIMIT = 2  # RFC 7208 4.6.4: "SHOULD limit void lookups to two"
MAX_MX_NAMES = 10  # RFC 7208 4.6.4: per mx term
MAX_PTR_NAMES = 10  # RFC 7208 4.6.4: per ptr term / %{p}
MAX_TRACE_RECORD = 300  # characters of a record shown in the trace

_SIMPLE_NAME = re.compile(r"[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*\.?")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_T = TypeVar("_T")


class _Stop(Exception):
    """Evaluation ends with temperror or permerror (RFC 7208 2.6.6, 2.6.7)."""

    def __init__(self, result: str, reason: str, term: str | None = None) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason
        self.term = term


@dataclass(slots=True)  # private and never changed: not frozen, whose __init__ costs more
class _Outcome:
    """What one record (after redirects) decided; ``record``/``domain`` give the exp= to use."""

    result: str
    mechanism: str | None
    record: SpfRecord | None
    domain: str
    reason: str


def _cache_key(name: str) -> str | None:
    """The resolver's cache key for a plain LDH name without the cost of a full IDNA parse."""
    if len(name) <= 253 and _SIMPLE_NAME.fullmatch(name):
        return name.lower().rstrip(".")
    return None


def _address_int(text: str, family: int) -> int | None:
    try:
        return int.from_bytes(socket.inet_pton(family, text), "big")
    except (OSError, ValueError):
        return None


# parse_record is pure and its AST immutable (frozen dataclasses, tuples): memoized by record
# text, bounded, so a checker made per message (verify_message) does not parse the same
# published record again. Syntax errors are not memoized here (SpfChecker keeps them).
_parse_memoized = functools.lru_cache(maxsize=4096)(parse_record)


def parse_ip(ip: str | IpAddress) -> IpAddress:
    """The client address; IPv4-mapped IPv6 addresses count as IPv4 (RFC 7208 5)."""
    if type(ip) is str and len(ip) <= _MEMO_IP_CHARS:
        return _parse_ip_text(ip)
    return _parse_ip(ip)


# Longer than any textual address ("[IPv6:" + 45 characters + "]"): longer text is parsed afresh.
_MEMO_IP_CHARS = 64


def _parse_ip(ip: str | IpAddress) -> IpAddress:
    address = ip if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address) else None
    if address is None and isinstance(ip, str) and ip.isascii() and "." in ip and ":" not in ip:
        with contextlib.suppress(OSError):  # fast path for the common dotted quad
            address = ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, ip))
    if address is None:
        text = str(ip).strip()
        if text.startswith("[") and text.endswith("]"):
            text = text[1:-1]
        if text.lower().startswith("ipv6:"):
            text = text[5:]
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise ValueError(f"not an IP address: {str(ip)[:80]!r}") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# Pure (text in, an immutable address out; a ValueError is not memoized) and a receiver sees the
# same clients again: memoized, bounded in entries and key length.
_parse_ip_text = functools.lru_cache(maxsize=4096)(_parse_ip)


@functools.lru_cache(maxsize=4096)
def _ip_facts(address: IpAddress) -> tuple[int, int, str]:
    """(version, integer value, text) of a client address: what every evaluation starts from."""
    return address.version, int(address), str(address)


@functools.lru_cache(maxsize=4096)
def _macro_context(sender: str, local: str, sender_domain: str, address: IpAddress, helo: str, receiver: str,
                   timestamp: int | None) -> MacroContext:
    # Immutable and a pure function of its fields: one per distinct check, reused.
    return MacroContext(sender, local, sender_domain, address, helo, receiver, timestamp)


def domain_problem(domain: str) -> str | None:
    """Why ``domain`` cannot be checked (RFC 7208 4.3), or None. Returns the reason text."""
    if type(domain) is str and len(domain) <= 253:
        return _domain_problem_memo(domain)
    return _domain_problem(domain)


def _domain_problem(domain: str) -> str | None:
    """Why ``domain`` cannot be checked (RFC 7208 4.3), or None. Returns the reason text."""
    if not domain:
        return "empty domain"
    if domain.startswith("["):
        return f"{domain[:80]!r} is a domain literal, not a domain name"
    simple = _cache_key(domain)
    if simple is not None:
        return None if "." in simple else f"{domain[:80]!r} is not a multi-label domain name"
    try:
        name = normalize(domain)
    except InvalidName as exc:
        return str(exc)[:200]
    if "." not in name:
        return f"{domain[:80]!r} is not a multi-label domain name"
    if len(name) > 253:
        return "domain name longer than 253 characters"
    return None


# Pure (a name in, a reason or None out), asked for the same few domains on every message.
_domain_problem_memo = functools.lru_cache(maxsize=4096)(_domain_problem)


class SpfChecker:
    """SPF evaluation bound to a resolver, with a parse cache keyed by record text.

    Create one per resolver and reuse it: repeated checks then parse each distinct record
    once. ``lookup_limit`` and ``void_lookup_limit`` are RFC 7208 4.6.4's 10 and 2;
    ``receiver`` is the %{r} name used in explanations; ``prefetch`` starts a record's
    independent lookups concurrently (off: strictly one lookup at a time); ``time_limit``
    bounds one check in seconds (RFC 7208 4.6.4 asks for at least 20; past it: temperror).
    """

    def __init__(
        self,
        resolver: Resolver | None = None,
        *,
        lookup_limit: int = DEFAULT_LOOKUP_LIMIT,
        void_lookup_limit: int = DEFAULT_VOID_LOOKUP_LIMIT,
        receiver: str = "unknown",
        prefetch: bool = True,
        parse_cache_size: int = 2048,
        time_limit: float = 20.0,
    ) -> None:
        if lookup_limit < 1 or void_lookup_limit < 0:
            raise ValueError("lookup_limit must be >= 1 and void_lookup_limit >= 0")
        self.resolver = resolver if resolver is not None else Resolver()
        self.lookup_limit = lookup_limit
        self.void_lookup_limit = void_lookup_limit
        self.receiver = receiver
        self.prefetch = prefetch
        if time_limit <= 0:
            raise ValueError("time_limit must be positive")
        self.time_limit = time_limit
        self._parse_cache_size = parse_cache_size
        self._parsed: dict[str, SpfRecord | tuple[str, int]] = {}
        # check()'s results decided by one cached TXT answer alone (no other lookup, no exp=):
        # a pure function of the check's text inputs and that answer, reused while the
        # resolver's cache still holds that very answer (AnswerCache.refresh).
        self._decided: dict[tuple[str, str, str, int, int], tuple[tuple[str, str], Answer[Any], SpfResult]] = {}
        self.cache_keys: dict[str, str] = {}  # name -> the resolver's cache key (bounded)

    def parse(self, text: str) -> SpfRecord:
        """parse_record() with a bounded cache (syntax errors are cached too)."""
        entry = self._parsed.get(text)
        if entry is None:
            try:
                entry = _parse_memoized(text)
            except SpfSyntaxError as exc:
                entry = (exc.reason, exc.position)
            if len(self._parsed) >= self._parse_cache_size:
                self._parsed.pop(next(iter(self._parsed)))
            self._parsed[text] = entry
        if isinstance(entry, tuple):
            raise SpfSyntaxError(entry[0], entry[1], text)
        return entry

    async def check(self, ip: str | IpAddress, mail_from: str, helo: str | None, *,
                    timestamp: int | None = None) -> SpfResult:
        """RFC 7208 2.4: the MAIL FROM identity; postmaster@HELO when MAIL FROM is empty (2.2)."""
        address = parse_ip(ip)
        mail_from = (mail_from or "").strip()
        if mail_from.startswith("<") and mail_from.endswith(">"):
            mail_from = mail_from[1:-1].strip()
        helo_name = (helo or "").strip()
        if mail_from:
            _local, at, domain = mail_from.rpartition("@")
            if not at:
                domain = mail_from  # a bare domain: the local-part is "postmaster" (4.3)
            # The limits are public attributes and appear in the trace: part of the key.
            memo_key = (ip, domain, mail_from, self.lookup_limit, self.void_lookup_limit) if type(ip) is str else None
            if memo_key is not None:
                decided = self._decided.get(memo_key)
                if decided is not None and self.resolver.cache.refresh(decided[0], decided[1]):
                    return decided[2]
            # check_host's body, without its coroutine.
            run, domain = self._evaluation(address, domain, mail_from, helo_name, timestamp)
            result = await run.run(domain, "mailfrom", mail_from)
            if run.decided_by is not None and memo_key is not None and len(mail_from) + len(domain) <= 1024:
                if len(self._decided) >= 4096:
                    self._decided.clear()
                self._decided[memo_key] = (*run.decided_by, result)
            return result
        if not helo_name:
            line = "no MAIL FROM and no HELO name: nothing to check"
            return SpfResult("none", None, None, 0, 0, (line,), "", "helo", "", str(address), line)
        return await self.check_host(address, helo_name, f"postmaster@{helo_name}", helo=helo_name,
                                     identity="helo", timestamp=timestamp)

    async def check_host(self, ip: str | IpAddress, domain: str, sender: str, *, helo: str | None = None,
                         identity: str = "mailfrom", timestamp: int | None = None) -> SpfResult:
        """RFC 7208 4: evaluate ``domain``'s SPF record for client ``ip`` and ``sender``.

        Raises ValueError only when ``ip`` is not an IP address.
        """
        run, domain = self._evaluation(parse_ip(ip), domain, sender, helo, timestamp)
        return await run.run(domain, identity, sender)

    def _evaluation(self, address: IpAddress, domain: str, sender: str, helo: str | None,
                    timestamp: int | None) -> tuple[_Evaluation, str]:
        """check_host's set-up: the evaluation state and the domain to check."""
        domain = domain.strip()
        if domain.endswith(".") and len(domain) > 1:
            domain = domain[:-1]
        local, at, sender_domain = sender.rpartition("@")
        if not at:
            local, sender_domain = "", sender or domain
        if not local:
            local = "postmaster"  # RFC 7208 4.3
        helo_name = helo or ""
        # local and sender_domain come from str.rpartition: str; the rest is checked before memoizing.
        memo = (type(helo_name) is str and type(self.receiver) is str
                and (timestamp is None or type(timestamp) is int)
                and len(sender) + len(helo_name) + len(self.receiver) <= 1024)  # the memo stays small
        ctx = (_macro_context if memo else MacroContext)(
            f"{local}@{sender_domain}", local, sender_domain, address, helo_name, self.receiver, timestamp)
        return _Evaluation(self, ctx), domain


class _Evaluation:
    """State of one check_host() call: counters, trace, the concurrent lookups in flight."""

    __slots__ = ("address_type", "cache", "checker", "ctx", "deadline", "decided_by", "detail", "family", "finished",
                 "ip_int", "ip_text", "ip_version", "lookups", "prefetch_budget", "prefetched", "resolver", "tasks",
                 "trace", "validated", "voids", "width")

    def __init__(self, checker: SpfChecker, ctx: MacroContext) -> None:
        self.checker = checker
        self.resolver = checker.resolver
        self.cache = checker.resolver.cache
        self.ctx = ctx
        self.ip_version, self.ip_int, self.ip_text = _ip_facts(ctx.ip)
        self.deadline = 0.0  # monotonic time past which lookups stop (RFC 7208 4.6.4)
        self.family = socket.AF_INET if self.ip_version == 4 else socket.AF_INET6
        self.address_type = "A" if self.ip_version == 4 else "AAAA"
        self.width = 32 if self.ip_version == 4 else 128
        self.lookups = 0
        self.voids = 0
        self.trace: list[str] = []
        self.tasks: dict[tuple[str, str], asyncio.Task[Answer[Any]]] = {}
        self.prefetch_budget = 2 * checker.lookup_limit if checker.prefetch else 0
        self.prefetched: set[str] = set()  # records whose terms' lookups were started
        self.validated: asyncio.Task[tuple[Answer[Any], tuple[str, ...]]] | None = None
        self.finished = False  # run() has its result: start no more lookups
        self.detail = ""  # why the last mechanism did not match, for the trace
        # (cache key, answer) when run() found its result from that one cached answer alone.
        self.decided_by: tuple[tuple[str, str], Answer[Any]] | None = None

    # -- top level -------------------------------------------------------------------------

    async def run(self, domain: str, identity: str, sender: str) -> SpfResult:
        ctx = self.ctx
        self.trace.append(f"check_host(ip={self.ip_text}, domain={domain}, sender={ctx.sender}) [{identity}]")
        explanation: str | None = None
        # RFC 7208 4.6.4: bound the elapsed time of check_host(); past it, temperror. Only a
        # lookup that has to wait for the network can take time, so that is where it is enforced.
        self.deadline = time.monotonic() + self.checker.time_limit
        try:
            # The usual cached record decided by its ip4/ip6/all terms needs no coroutine.
            found = self._domain_record(domain, 0, None)
            peeked, self.decided_by = self.decided_by, None
            if found is None:
                outcome = await self._check_domain(domain, 0, None)
            elif isinstance(found, _Outcome):
                outcome = found
                self.decided_by = peeked
            else:
                scanned = self._scan(found, domain, "")
                if isinstance(scanned, _Outcome):
                    outcome = scanned
                    self.decided_by = peeked
                else:
                    outcome = await self._evaluate(found, domain, 0, "", *scanned)
            result, mechanism, reason = outcome.result, outcome.mechanism, outcome.reason
            if result == "fail" and (outcome.record is None or outcome.record.explanation is None):
                explanation = self._default_explanation(outcome)  # what _explain gives without exp=
            elif result == "fail":
                self.decided_by = None
                try:
                    explanation = await self._explain(outcome)
                except _Stop as stop:
                    explanation = self._default_explanation(outcome)
                    self.trace.append(f"exp=: {stop.reason}: default explanation used")
        except _Stop as stop:
            self.decided_by = None
            result, mechanism, reason = stop.result, stop.term, stop.reason
            self.trace.append(f"stopped: {result}: {reason}")
        finally:
            # Lookups already in flight finish (their answers warm the cache), but nothing new
            # starts: an answer arriving after the result must not prefetch its own terms.
            self.finished = True
        self.trace.append(
            f"result: {result} ({reason}); {self.lookups} DNS-querying term(s) of "
            f"{self.checker.lookup_limit}, {self.voids} void lookup(s) of {self.checker.void_lookup_limit}"
        )
        return SpfResult(result, explanation, mechanism, self.lookups, self.voids, tuple(self.trace),
                         domain, identity, sender, self.ip_text, reason)

    # -- DNS access --------------------------------------------------------------------------

    def _peek(self, name: str, rdtype: str, counted: bool = True) -> Answer[Any] | None:
        """The cached answer, or None. ``counted=False``: a miss (or expired entry) is left
        uncounted for the lookup that follows (AnswerCache.peek); a hit counts either way."""
        keys = self.checker.cache_keys
        key = keys.get(name)
        if key is None:
            key = _cache_key(name)
            if key is None:
                return None
            if len(keys) >= 4096:
                keys.clear()
            keys[name] = key
        return self.cache.get((key, rdtype)) if counted else self.cache.peek((key, rdtype))

    async def _lookup(self, name: str, rdtype: str) -> Answer[Any]:
        key = (name, rdtype)
        task = self.tasks.get(key)
        if task is None:
            cached = self._peek(name, rdtype)
            if cached is not None:
                return cached
            task = self.tasks[key] = asyncio.ensure_future(self.resolver.query(name, rdtype))
        return await self._wait(task)

    async def _wait(self, task: asyncio.Future[_T]) -> _T:
        """Await a lookup within the time limit. Shielded: when this check gives up (time limit,
        or the caller cancels it), the query itself still finishes for whoever else shares it
        (the resolver coalesces identical queries)."""
        if task.done():
            return task.result()
        remaining = self.deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError
            return await asyncio.wait_for(asyncio.shield(task), remaining)
        except TimeoutError:
            limit = self.checker.time_limit
            raise _Stop("temperror", f"evaluation took longer than {limit:g} s") from None

    def _spawn(self, name: str, rdtype: str, coro: Coroutine[Any, Any, Answer[Any]] | None = None) -> None:
        """Start a lookup in the background unless it is cached or already running, or the
        evaluation has its result."""
        key = (name, rdtype)
        if self.finished or key in self.tasks or self._peek(name, rdtype) is not None:
            if coro is not None:
                coro.close()
            return
        self.tasks[key] = asyncio.ensure_future(coro if coro is not None else self.resolver.query(name, rdtype))

    # -- prefetch (speed only: never counted, never decides anything) --------------------------

    def _prefetch(self, record: SpfRecord, domain: str) -> None:
        if self.finished or domain in self.prefetched:
            return
        self.prefetched.add(domain)
        terms: list[DnsMechanism | None] = [m for m in record.mechanisms if isinstance(m, DnsMechanism)]
        if record.redirect is not None and not record.has_all:
            terms.append(None)  # stands for the redirect
        for term in terms:
            if self.prefetch_budget <= 0:
                return
            self.prefetch_budget -= 1
            spec = record.redirect.domain_spec if term is None and record.redirect else (
                term.domain_spec if term is not None else None)
            if spec is not None and spec.needs_ptr:
                continue  # %{p} needs lookups of its own: expanded when reached
            target = domain if spec is None else expand_domain(spec, self.ctx, domain)
            if term is None or isinstance(term, Include):
                self._spawn(target, "TXT", self._fetch_record_tree(target))
            elif isinstance(term, A):
                self._spawn(target, self.address_type)
            elif isinstance(term, Exists):
                self._spawn(target, "A")
            elif isinstance(term, Mx):
                self._spawn(target, "MX", self._fetch_mx_tree(target))
            elif isinstance(term, Ptr) and self.validated is None:
                self.validated = asyncio.ensure_future(self._validated_names())

    async def _fetch_record_tree(self, name: str) -> Answer[Any]:
        answer = await self.resolver.query(name, "TXT")
        if answer.ok:
            texts = [t for t in answer.records if is_spf_record(t)]
            if len(texts) == 1:
                try:
                    record = self.checker.parse(texts[0])
                except SpfSyntaxError:
                    return answer
                self._prefetch(record, name.rstrip("."))
        return answer

    async def _fetch_mx_tree(self, name: str) -> Answer[Any]:
        answer = await self.resolver.query(name, "MX")
        if answer.ok and len(answer.records) <= MAX_MX_NAMES:
            for mx in answer.records:
                if mx.exchange:
                    self._spawn(mx.exchange, self.address_type)
        return answer

    # -- records -------------------------------------------------------------------------------

    def _domain_record(self, domain: str, depth: int, via: str | None) -> _Outcome | SpfRecord | None:
        """_check_domain's first steps without a coroutine: the outcome when the domain cannot be
        checked or its cached answer decides; its record when the answer is cached and has one;
        None (nothing done, no miss counted) when the answer is not at hand."""
        indent = "  " * depth
        problem = domain_problem(domain)
        if problem is not None:
            # RFC 7208 4.3: a malformed or single-label domain gives "none".
            self.trace.append(f"{indent}{domain[:100]}: {problem} -> none")
            return _Outcome("none", None, None, domain, problem)
        answer = self._peek(domain, "TXT", False) if (domain, "TXT") not in self.tasks else None
        if answer is None:
            return None
        self.decided_by = (self.checker.cache_keys[domain], "TXT"), answer
        return self._record_of(domain, answer, True, via, indent)

    async def _check_domain(self, domain: str, depth: int, via: str | None) -> _Outcome:
        indent = "  " * depth
        problem = domain_problem(domain)
        if problem is not None:
            # RFC 7208 4.3: a malformed or single-label domain gives "none".
            self.trace.append(f"{indent}{domain[:100]}: {problem} -> none")
            return _Outcome("none", None, None, domain, problem)
        answer = self._peek(domain, "TXT") if (domain, "TXT") not in self.tasks else None
        from_cache = answer is not None
        if answer is None:
            answer = await self._lookup(domain, "TXT")
        found = self._record_of(domain, answer, from_cache, via, indent)
        if isinstance(found, _Outcome):
            return found
        scanned = self._scan(found, domain, indent)
        if isinstance(scanned, _Outcome):
            return scanned
        return await self._evaluate(found, domain, depth, indent, *scanned)

    def _record_of(self, domain: str, answer: Answer[Any], from_cache: bool, via: str | None,
                   indent: str) -> _Outcome | SpfRecord:
        """The TXT answer's SPF record, or the outcome when the answer decides (RFC 7208 4.4, 4.5)."""
        if answer.is_tempfail:
            raise _Stop("temperror", f"TXT lookup for {domain} failed: {answer.reason}", via)
        if answer.is_void:
            if via is not None:
                self._count_void(domain, "TXT", answer, via, indent)
            reason = f"{domain} has no SPF record ({answer.status.value})"
            self.trace.append(f"{indent}{domain}: no TXT records ({answer.status.value}) -> none")
            return _Outcome("none", None, None, domain, reason)
        texts = [t for t in answer.records if is_spf_record(t)]
        if not texts:
            # RFC 7208 4.5: no v=spf1 record -> none.
            self.trace.append(f"{indent}{domain}: no v=spf1 record among {len(answer.records)} TXT -> none")
            return _Outcome("none", None, None, domain, f"{domain} has no SPF record")
        if len(texts) > 1:
            # RFC 7208 4.5: more than one record -> permerror.
            raise _Stop("permerror", f"{domain} publishes {len(texts)} SPF records", via)
        text = texts[0]
        shown = text if len(text) <= MAX_TRACE_RECORD else text[:MAX_TRACE_RECORD] + "..."
        self.trace.append(f"{indent}{domain}: {shown}")
        try:
            record = self.checker.parse(text)
        except SpfSyntaxError as exc:
            raise _Stop("permerror", f"syntax error in the record of {domain}: {exc.reason} "
                                     f"(at position {exc.position})", via) from None
        if self.prefetch_budget > 0 and not from_cache:
            # A record fetched over the network: its terms' lookups are most likely not cached
            # either, so start them all now. (A cached record's were cached with it.)
            self._prefetch(record, domain)
        return record

    def _scan(self, record: SpfRecord, domain: str, indent: str) -> _Outcome | tuple[int, int]:
        """_evaluate's leading terms that need no DNS (ip4, ip6, all), without a coroutine: the
        outcome when one matches or the record ends with no redirect to follow; else where
        _evaluate goes on (the first term left, and the ip4/ip6 terms passed over untraced)."""
        ip_int = self.ip_int
        network_type = Ip4 if self.ip_version == 4 else Ip6
        missed = 0
        index = 0
        for mechanism in record.mechanisms:
            kind = type(mechanism)
            if kind is Ip4 or kind is Ip6:
                if kind is network_type and (ip_int & mechanism.mask) == mechanism.value:  # type: ignore[attr-defined]
                    return self._matched(mechanism, record, domain, indent, missed)
                missed += 1
            elif kind is All:
                if missed:
                    self.trace.append(f"{indent}  {missed} ip4/ip6 term(s): no match")
                self.detail = ""
                return self._matched(mechanism, record, domain, indent, 0)
            else:
                return index, missed
            index += 1
        if record.redirect is not None and not record.has_all:
            return index, missed
        if missed:
            self.trace.append(f"{indent}  {missed} ip4/ip6 term(s): no match")
        self.trace.append(f"{indent}  no term matched -> neutral")
        return _Outcome("neutral", None, record, domain, f"no term matched in {domain}")

    async def _evaluate(self, record: SpfRecord, domain: str, depth: int, indent: str,
                        start: int = 0, missed: int = 0) -> _Outcome:
        """The terms from ``start`` on (``missed``: ip4/ip6 terms passed over before it, untraced)."""
        limit = self.checker.lookup_limit
        ip_int = self.ip_int
        network_type = Ip4 if self.ip_version == 4 else Ip6
        # missed: ip4/ip6 terms passed over since the last trace line (one line for a run)
        for mechanism in record.mechanisms[start:] if start else record.mechanisms:
            kind = type(mechanism)
            if kind is Ip4 or kind is Ip6:
                # RFC 7208 5.6: an address of the other family never matches.
                if kind is network_type and (ip_int & mechanism.mask) == mechanism.value:  # type: ignore[attr-defined]
                    return self._matched(mechanism, record, domain, indent, missed)
                missed += 1
                continue
            if missed:
                self.trace.append(f"{indent}  {missed} ip4/ip6 term(s): no match")
                missed = 0
            if mechanism.queries_dns:
                # RFC 7208 4.6.4: at most 10 DNS-querying terms, counted across include/redirect.
                self.lookups += 1
                if self.lookups > limit:
                    raise _Stop("permerror", f"more than {limit} DNS-querying terms", mechanism.text)
            self.detail = ""
            if await self._matches(mechanism, domain, depth, indent):
                return self._matched(mechanism, record, domain, indent, 0)
            self.trace.append(f"{indent}  {mechanism.text}: no match{self.detail}")
        if missed:
            self.trace.append(f"{indent}  {missed} ip4/ip6 term(s): no match")
        redirect = record.redirect
        if redirect is not None and not record.has_all:
            # RFC 7208 6.1: redirect applies when no mechanism matched; it counts as a lookup.
            self.lookups += 1
            if self.lookups > limit:
                raise _Stop("permerror", f"more than {limit} DNS-querying terms", redirect.text)
            target = await self._target(redirect.domain_spec, domain)
            self.trace.append(f"{indent}  {redirect.text} -> {target}")
            outcome = await self._check_domain(target, depth + 1, redirect.text)
            if outcome.result == "none":
                raise _Stop("permerror", f"redirect target {target} has no SPF record", redirect.text)
            return outcome
        self.trace.append(f"{indent}  no term matched -> neutral")
        return _Outcome("neutral", None, record, domain, f"no term matched in {domain}")

    def _matched(self, mechanism: Mechanism, record: SpfRecord, domain: str, indent: str, missed: int) -> _Outcome:
        if missed:
            self.trace.append(f"{indent}  {missed} ip4/ip6 term(s): no match")
        result = mechanism.result
        self.trace.append(f"{indent}  {mechanism.text}: match -> {result}")
        return _Outcome(result, mechanism.text, record, domain, f"matched {mechanism.text} in {domain}")

    async def _target(self, spec: Any, domain: str) -> str:
        validated = await self._validated_for(domain) if spec.needs_ptr else None
        target: str = expand_domain(spec, self.ctx, domain, validated)
        return target

    def _count_void(self, name: str, rdtype: str, answer: Answer[Any], term: str, indent: str) -> None:
        # RFC 7208 4.6.4: lookups answered NODATA or NXDOMAIN are void; more than 2 -> permerror.
        self.voids += 1
        self.detail = (f" ({rdtype} {name}: {answer.status.value}, "
                       f"void lookup {self.voids}/{self.checker.void_lookup_limit})")
        if self.voids > self.checker.void_lookup_limit:
            raise _Stop("permerror", f"more than {self.checker.void_lookup_limit} void lookups "
                                     f"({rdtype} {name}: {answer.status.value})", term)

    # -- mechanisms ------------------------------------------------------------------------------

    def _in_network(self, addresses: Sequence[str], cidr4: int, cidr6: int) -> bool:
        bits = cidr4 if self.ip_version == 4 else cidr6
        shift = self.width - bits
        want = self.ip_int >> shift
        family = self.family
        for text in addresses:
            value = _address_int(text, family)
            if value is not None and value >> shift == want:
                return True
        return False

    async def _matches(self, mechanism: Mechanism, domain: str, depth: int, indent: str) -> bool:
        if isinstance(mechanism, Ip4):
            return self.ip_version == 4 and (self.ip_int & mechanism.mask) == mechanism.value
        if isinstance(mechanism, Ip6):
            return self.ip_version == 6 and (self.ip_int & mechanism.mask) == mechanism.value
        if not isinstance(mechanism, DnsMechanism):
            return True  # "all" (RFC 7208 5.1)
        spec = mechanism.domain_spec
        target = domain if spec is None else await self._target(spec, domain)
        text = mechanism.text
        if isinstance(mechanism, Include):
            # RFC 7208 5.2: pass matches; fail/softfail/neutral do not; none is a permerror;
            # temperror/permerror propagate (raised from inside).
            self.trace.append(f"{indent}  {text} (DNS term {self.lookups}/{self.checker.lookup_limit})")
            inner = await self._check_domain(target, depth + 1, text)
            if inner.result == "none":
                raise _Stop("permerror", f"included domain {target} has no SPF record", text)
            self.detail = f" (included result {inner.result})"
            return inner.result == "pass"
        if isinstance(mechanism, A):
            return self._address_match(await self._lookup(target, self.address_type), target, text, indent,
                                       mechanism.cidr4, mechanism.cidr6)
        if isinstance(mechanism, Mx):
            return await self._mx_match(mechanism, target, indent)
        if isinstance(mechanism, Exists):
            # RFC 7208 5.7: always an A query, whatever the client's address family.
            answer = await self._lookup(target, "A")
            if answer.is_tempfail:
                raise _Stop("temperror", f"A lookup for {target} failed: {answer.reason}", text)
            if answer.is_void:
                self._count_void(target, "A", answer, text, indent)
                return False
            return True
        if isinstance(mechanism, Ptr):
            return await self._ptr_match(target, text, indent)
        raise _Stop("permerror", f"unsupported mechanism {text}", text)  # pragma: no cover

    def _address_match(self, answer: Answer[Any], target: str, text: str, indent: str,
                       cidr4: int, cidr6: int) -> bool:
        if answer.is_tempfail:
            raise _Stop("temperror", f"{answer.rdtype} lookup for {target} failed: {answer.reason}", text)
        if answer.is_void:
            self._count_void(target, answer.rdtype, answer, text, indent)
            return False
        return self._in_network(answer.records, cidr4, cidr6)

    async def _mx_match(self, mechanism: Mx, target: str, indent: str) -> bool:
        text = mechanism.text
        answer = await self._lookup(target, "MX")
        if answer.is_tempfail:
            raise _Stop("temperror", f"MX lookup for {target} failed: {answer.reason}", text)
        if answer.is_void:
            self._count_void(target, "MX", answer, text, indent)
            return False
        if len(answer.records) > MAX_MX_NAMES:
            # RFC 7208 4.6.4: more than 10 MX names to look up -> permerror.
            raise _Stop("permerror", f"{target} has {len(answer.records)} MX records (limit {MAX_MX_NAMES})", text)
        hosts = [mx.exchange for mx in sorted(answer.records, key=lambda r: r.preference) if mx.exchange]
        answers = await self._lookup_all(hosts, self.address_type)
        for host, host_answer in zip(hosts, answers, strict=True):
            if host_answer.is_tempfail:
                raise _Stop("temperror", f"{host_answer.rdtype} lookup for MX host {host} failed: "
                                         f"{host_answer.reason}", text)
            if host_answer.ok and self._in_network(host_answer.records, mechanism.cidr4, mechanism.cidr6):
                return True
        self.detail = f" ({len(hosts)} MX host(s))"
        return False

    async def _lookup_all(self, names: Sequence[str], rdtype: str) -> list[Answer[Any]]:
        """Several lookups at once; no task overhead when everything is cached."""
        found = [self._peek(name, rdtype) if (name, rdtype) not in self.tasks else None for name in names]
        if all(answer is not None for answer in found):
            return [answer for answer in found if answer is not None]
        return list(await asyncio.gather(*(self._lookup(name, rdtype) for name in names)))

    async def _validated_names(self) -> tuple[Answer[Any], tuple[str, ...]]:
        """RFC 7208 5.5: PTR names of the client whose own addresses include it (first 10 names).
        A failed PTR lookup gives none; a failed address lookup skips that name."""
        answer = await self.resolver.ptr(self.ip_text)
        if not answer.ok:
            return answer, ()
        names = [n for n in answer.records[:MAX_PTR_NAMES] if n]
        answers = await self._lookup_all(names, self.address_type)
        return answer, tuple(name for name, found in zip(names, answers, strict=True)
                             if found.ok and self._in_network(found.records, 32, 128))

    async def _validated(self) -> tuple[Answer[Any], tuple[str, ...]]:
        if self.validated is None:
            self.validated = asyncio.ensure_future(self._validated_names())
        return await self._wait(self.validated)

    async def _validated_for(self, domain: str) -> str:
        """%{p} (RFC 7208 7.3): the validated name equal to, else under, ``domain``; else any."""
        _, names = await self._validated()
        wanted = domain.lower().rstrip(".")
        for name in names:
            if name == wanted:
                return name
        for name in names:
            if name.endswith("." + wanted):
                return name
        return names[0] if names else "unknown"

    async def _ptr_match(self, target: str, text: str, indent: str) -> bool:
        # RFC 7208 5.5; the PTR query itself is this term's lookup for the void count.
        ptr_answer, names = await self._validated()
        if ptr_answer.is_void:
            self._count_void(ptr_answer.name, "PTR", ptr_answer, text, indent)
        wanted = target.lower().rstrip(".")
        for name in names:
            if name == wanted or name.endswith("." + wanted):
                return True
        self.detail = f" ({len(names)} validated PTR name(s))"
        return False

    # -- explanation -----------------------------------------------------------------------------

    def _default_explanation(self, outcome: _Outcome) -> str:
        return f"{self.ip_text} is not allowed to send mail for {outcome.domain} (SPF fail)"

    async def _explain(self, outcome: _Outcome) -> str:
        """RFC 7208 6.2: exp= of the record that gave "fail"; any problem -> the default text."""
        default = self._default_explanation(outcome)
        record = outcome.record
        if record is None or record.explanation is None:
            return default
        # Not counted against the lookup limits (RFC 7208 4.6.4, 6.2).
        target = await self._target(record.explanation.domain_spec, outcome.domain)
        answer = await self._lookup(target, "TXT")
        if not answer.ok or len(answer.records) != 1:
            self.trace.append(f"exp={target}: {answer.status.value}, {len(answer.records)} record(s): "
                              "default explanation used")
            return default
        text: str = answer.records[0]
        if not text.isascii():
            self.trace.append(f"exp={target}: not US-ASCII: default explanation used")
            return default
        try:
            spec = parse_macro_string(text, exp=True)
        except SpfSyntaxError as exc:
            self.trace.append(f"exp={target}: bad explanation text ({exc.reason}): default used")
            return default
        validated = await self._validated_for(outcome.domain) if spec.needs_ptr else None
        explanation = expand(spec, self.ctx, outcome.domain, validated)
        self.trace.append(f"exp={target}: {explanation[:200]}")
        return explanation


async def check_host(
    ip: str | IpAddress,
    domain: str,
    sender: str,
    *,
    helo: str | None = None,
    resolver: Resolver | None = None,
    checker: SpfChecker | None = None,
    lookup_limit: int = DEFAULT_LOOKUP_LIMIT,
    void_lookup_limit: int = DEFAULT_VOID_LOOKUP_LIMIT,
    receiver: str = "unknown",
    timestamp: int | None = None,
    time_limit: float = 20.0,
) -> SpfResult:
    """RFC 7208 check_host(): the SPF result of ``domain`` for client ``ip`` and ``sender``.

    Pass ``checker`` (an :class:`SpfChecker`) to reuse its parse cache across calls; otherwise
    one is made for this call from ``resolver`` and the limits. Raises ValueError only for an
    ``ip`` that is not an IP address.
    """
    if checker is None:
        checker = SpfChecker(resolver, lookup_limit=lookup_limit, void_lookup_limit=void_lookup_limit,
                             receiver=receiver, time_limit=time_limit)
    return await checker.check_host(ip, domain, sender, helo=helo, timestamp=timestamp)


async def check(
    ip: str | IpAddress,
    mail_from: str,
    helo: str | None,
    *,
    resolver: Resolver | None = None,
    checker: SpfChecker | None = None,
    lookup_limit: int = DEFAULT_LOOKUP_LIMIT,
    void_lookup_limit: int = DEFAULT_VOID_LOOKUP_LIMIT,
    receiver: str = "unknown",
    timestamp: int | None = None,
    time_limit: float = 20.0,
) -> SpfResult:
    """RFC 7208 2.3/2.4: check the MAIL FROM identity, or postmaster@HELO when MAIL FROM is
    empty (``result.identity`` says which). Raises ValueError only for a bad ``ip``."""
    if checker is None:
        checker = SpfChecker(resolver, lookup_limit=lookup_limit, void_lookup_limit=void_lookup_limit,
                             receiver=receiver, time_limit=time_limit)
    return await checker.check(ip, mail_from, helo, timestamp=timestamp)
