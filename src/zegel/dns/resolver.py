"""The one async resolver every zegel check uses.

Built on dnspython's asyncio resolver, with a zone-file overlay in front, a TTL-respecting
size-bounded cache, and coalescing of concurrent identical queries. The outcomes the RFCs
distinguish (answer, NODATA, NXDOMAIN, temporary failure) come back as values, never as one
exception for all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, cast

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.nameserver
import dns.rdatatype
import dns.resolver

from zegel import aio
from zegel.dns.answer import Answer, MxRecord, Status
from zegel.dns.cache import AnswerCache, CacheStats
from zegel.dns.dnssec import SECURE_SUFFIX, Security
from zegel.dns.dnssec import security as dnssec_security
from zegel.dns.names import InvalidName, normalize, plain_form, reverse_name
from zegel.dns.records import NodeMap, answer_from_rdataset
from zegel.dns.zones import MAX_CNAME_CHAIN, FollowCname, ZoneOverlay

DEFAULT_NEGATIVE_TTL = 300


def parse_nameserver(spec: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or a bare IPv6 address -> (host, port)."""
    text = spec.strip()
    if not text:
        raise ValueError("empty nameserver")
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep:
            raise ValueError(f"bad nameserver {spec!r}: missing ']'")
        port_text = rest[1:] if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"bad nameserver {spec!r}")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    port = 53
    if port_text:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad nameserver port in {spec!r}")
        port = int(port_text)
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"nameserver must be an IP address, not {host!r}") from None
    return host, port


def _negative_ttl(response: dns.message.Message | None) -> int:
    # RFC 2308 section 5: the SOA minimum (capped by the SOA's own TTL) in the authority section.
    if response is None:
        return DEFAULT_NEGATIVE_TTL
    for rrset in response.authority:
        if rrset.rdtype == dns.rdatatype.SOA:
            return int(min(rrset.ttl, rrset[0].minimum))
    return DEFAULT_NEGATIVE_TTL


class Resolver:
    """Async DNS resolver with zone overlay, cache and query coalescing.

    ``nameservers``: ``["127.0.0.1:5353"]`` style strings; None means the system resolv.conf.
    ``timeout``: seconds per try at one server; ``lifetime``: seconds for the whole query.
    ``zones``: RFC 1035 master files answered before the network; ``offline``: only them.
    """

    def __init__(
        self,
        nameservers: Sequence[str] | None = None,
        *,
        timeout: float = 2.0,
        lifetime: float = 5.0,
        zones: Iterable[str | Path] = (),
        zone_nodes: NodeMap | None = None,
        offline: bool = False,
        cache_size: int = 10_000,
        min_ttl: int = 0,
        max_ttl: int = 86_400,
    ) -> None:
        if timeout <= 0 or lifetime <= 0:
            raise ValueError("timeout and lifetime must be positive")
        self._servers = [parse_nameserver(s) for s in nameservers] if nameservers else None
        self.timeout = timeout
        self.lifetime = max(lifetime, timeout)
        self.offline = offline
        self.overlay = ZoneOverlay.from_files(str(z) for z in zones)
        if zone_nodes:
            self.overlay.add_nodes(zone_nodes)
        self.cache = AnswerCache(cache_size, min_ttl=min_ttl, max_ttl=max_ttl)
        self._inflight: dict[tuple[str, str], asyncio.Future[Answer[Any]]] = {}
        self._backend: dns.asyncresolver.Resolver | None = None
        self._backend_error: str | None = None
        self.queries_sent = 0

    @property
    def stats(self) -> CacheStats:
        return self.cache.stats

    def _get_backend(self) -> dns.asyncresolver.Resolver | None:
        if self._backend is None and self._backend_error is None:
            try:
                if self._servers is None:
                    backend = dns.asyncresolver.Resolver(configure=True)
                else:
                    backend = dns.asyncresolver.Resolver(configure=False)
                    backend.nameservers = [
                        dns.nameserver.Do53Nameserver(host, port) for host, port in self._servers
                    ]
            except dns.exception.DNSException as exc:
                self._backend_error = f"no DNS resolver configured: {exc}"
                return None
            backend.timeout = self.timeout
            backend.lifetime = self.lifetime
            backend.cache = None
            # RFC 6840 5.7: AD in the query asks a validating resolver to report in its answer
            # whether it validated the data (Answer.authenticated); others ignore it.
            backend.flags = dns.flags.RD | dns.flags.AD
            self._backend = backend
        return self._backend

    def cached(self, name: str, rdtype: str) -> Answer[Any] | None:
        """The answer :meth:`query` would give at once from the cache, or None (then await
        :meth:`query`, which counts the miss or removes the expired entry as usual). Only for a
        plain Resolver: a subclass's own ``query`` (a budget, a stub) is always asked. A name
        that needs IDNA or is invalid gives None: :meth:`query` handles it."""
        if type(self) is not Resolver:
            return None
        qname = plain_form(name)  # the key query() uses (a final dot dropped, as there)
        return None if qname is None else self.cache.peek((qname, rdtype.upper()))

    # -- public typed lookups -------------------------------------------------------------

    async def txt(self, name: str) -> Answer[str]:
        return cast(Answer[str], await self.query(name, "TXT"))

    async def a(self, name: str) -> Answer[str]:
        return cast(Answer[str], await self.query(name, "A"))

    async def aaaa(self, name: str) -> Answer[str]:
        return cast(Answer[str], await self.query(name, "AAAA"))

    async def mx(self, name: str) -> Answer[MxRecord]:
        return cast(Answer[MxRecord], await self.query(name, "MX"))

    async def ptr(self, ip: str) -> Answer[str]:
        """PTR names of an IP address (the reverse name is built here)."""
        try:
            name = reverse_name(ip)
        except ValueError as exc:
            return Answer(ip, "PTR", Status.NXDOMAIN, reason=f"not an IP address: {exc}")
        return cast(Answer[str], await self.query(name, "PTR"))

    async def secure(self, name: str, rdtype: str) -> Security:
        """The DNSSEC state of (name, type) as the validating resolver reports it
        (zegel.dns.dnssec); cached and coalesced like any other query. A name the zone files
        answer is a draft: its state is ``draft``."""
        answer = await self.query(name, rdtype + SECURE_SUFFIX)
        if answer.records:
            return cast(Security, answer.records[0])
        return Security("error", reason=answer.reason or answer.status.value)

    def _servers_for_dnssec(self) -> list[tuple[str, int]]:
        if self._servers is not None:
            return list(self._servers)
        backend = self._get_backend()
        if backend is None:
            return []
        out: list[tuple[str, int]] = []
        for server in backend.nameservers:
            address = getattr(server, "address", server)
            out.append((str(address), int(getattr(server, "port", 53))))
        return out

    async def _secure_lookup(self, qname: str, rdtype: str) -> Answer[Any]:
        if self.overlay.lookup(qname, rdtype, offline=False) is not None:
            return Answer(qname, rdtype + SECURE_SUFFIX, Status.ANSWER, (Security("draft"),), ttl=60)
        if self.offline:
            return Answer(qname, rdtype + SECURE_SUFFIX, Status.ANSWER,
                          (Security("draft", reason="offline"),), ttl=60)
        self.queries_sent += 1
        state, ttl = await dnssec_security(qname, rdtype, self._servers_for_dnssec(),
                                           wait=min(self.timeout, self.lifetime))
        status = Status.TEMPFAIL if state.state == "error" else Status.ANSWER
        return Answer(qname, rdtype + SECURE_SUFFIX, status, (state,), ttl, state.reason)

    async def addresses(self, name: str) -> tuple[Answer[str], Answer[str]]:
        """A and AAAA, queried concurrently."""
        a, aaaa = await aio.gather(self.a(name), self.aaaa(name))
        return a, aaaa

    async def query(self, name: str, rdtype: str) -> Answer[Any]:
        rdtype = rdtype.upper()
        try:
            qname = normalize(name)
        except InvalidName as exc:
            return Answer(name, rdtype, Status.NXDOMAIN, reason=str(exc))
        key = (qname, rdtype)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        while (pending := self._inflight.get(key)) is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                # The caller that sent the query was cancelled, not us: ask again ourselves.
                if pending.cancelled() and not _being_cancelled():
                    continue
                raise
        # The lookup runs in this caller's task (no task of the resolver's own outlives it);
        # concurrent callers of the same query wait on this future.
        future: asyncio.Future[Answer[Any]] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            answer = await self._lookup(qname, rdtype, 0)
        except BaseException as exc:
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]
        future.set_result(answer)
        if not answer.is_tempfail:
            self.cache.put(key, answer)
        return answer

    # -- internals ---------------------------------------------------------------------

    async def _lookup(self, qname: str, rdtype: str, depth: int) -> Answer[Any]:
        if rdtype.endswith(SECURE_SUFFIX):
            return await self._secure_lookup(qname, rdtype[: -len(SECURE_SUFFIX)])
        if self.overlay or self.offline:
            local = self.overlay.lookup(qname, rdtype, offline=self.offline)
            if isinstance(local, FollowCname):
                if depth >= MAX_CNAME_CHAIN:
                    return Answer(qname, rdtype, Status.TEMPFAIL, reason="CNAME chain too long")
                followed = await self._lookup(local.target, rdtype, depth + 1)
                return Answer(qname, rdtype, followed.status, followed.records, followed.ttl,
                              followed.reason, followed.txt_strings,
                              canonical=followed.canonical or local.target)
            if local is not None:
                return local
        return await self._network(qname, rdtype)

    async def _network(self, qname: str, rdtype: str) -> Answer[Any]:
        backend = self._get_backend()
        if backend is None:
            return Answer(qname, rdtype, Status.TEMPFAIL, reason=self._backend_error or "no resolver")
        self.queries_sent += 1
        started = time.monotonic()
        try:
            result = await backend.resolve(
                qname + ".", rdtype, raise_on_no_answer=False, search=False, lifetime=self.lifetime
            )
        except dns.resolver.NXDOMAIN as exc:
            responses: dict[object, dns.message.Message] = exc.kwargs.get("responses") or {}
            response = next(iter(responses.values()), None)
            return Answer(qname, rdtype, Status.NXDOMAIN, ttl=_negative_ttl(response), reason="NXDOMAIN")
        except dns.resolver.LifetimeTimeout:
            waited = time.monotonic() - started
            return Answer(qname, rdtype, Status.TEMPFAIL, reason=f"timeout after {waited:.1f}s")
        except dns.resolver.NoNameservers as exc:
            return Answer(qname, rdtype, Status.TEMPFAIL, reason=f"server failure: {_short(exc)}")
        except dns.exception.DNSException as exc:
            return Answer(qname, rdtype, Status.TEMPFAIL, reason=f"DNS error: {_short(exc)}")
        except (OSError, ValueError, UnicodeError) as exc:
            return Answer(qname, rdtype, Status.TEMPFAIL, reason=f"DNS error: {exc}")
        authenticated = bool(result.response.flags & dns.flags.AD)
        if result.rrset is None:
            return Answer(qname, rdtype, Status.NODATA, ttl=_negative_ttl(result.response), reason="NODATA",
                          authenticated=authenticated)
        try:
            answer = answer_from_rdataset(qname, rdtype, result.rrset)
        except (AttributeError, ValueError, UnicodeError) as exc:
            return Answer(qname, rdtype, Status.TEMPFAIL, reason=f"malformed answer: {exc}")
        canonical = result.canonical_name.to_text(omit_final_dot=True).lower()
        if authenticated or canonical != qname:
            answer = dataclasses.replace(answer, authenticated=authenticated,
                                         canonical="" if canonical == qname else canonical)
        return answer


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]
