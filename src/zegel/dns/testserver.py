"""A small authoritative DNS server on loopback for zegel's own tests and benchmarks.

UDP and TCP on one port, answering from records given in code or zone text/files, with
per-name delays, dropped queries (the client times out) and SERVFAIL injection.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

from zegel.dns.names import to_dns_name
from zegel.dns.records import (
    NodeMap,
    RecordSpec,
    merge,
    nodes_from_spec,
    nodes_from_zone_file,
    nodes_from_zone_text,
)

UDP_LIMIT = 512
NEGATIVE_TTL = 60


@dataclass
class ServerStats:
    queries: int = 0
    dropped: int = 0
    by_name: dict[str, int] = field(default_factory=dict)


class TestDnsServer:
    """Serve ``records`` / ``zone_text`` / ``zone_files`` on 127.0.0.1.

    ``delay``: seconds added to every answer; ``delays``: per-name extra delay;
    ``drop``: names (or ``(name, rdtype)`` pairs) never answered; ``drop_absent_types``: names
    whose queries for types they hold no records of are never answered (the SPF suite's
    TIMEOUT); ``servfail``: names answered with SERVFAIL.
    Use ``async with TestDnsServer(...) as server`` inside a running loop, or
    ``start_in_thread()`` / ``stop_thread()`` for synchronous code (e.g. peers under test).
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        records: RecordSpec | None = None,
        *,
        zone_text: str | None = None,
        zone_files: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
        delays: Mapping[str, float] | None = None,
        drop: Iterable[str | tuple[str, str]] = (),
        drop_absent_types: Iterable[str] = (),
        servfail: Iterable[str] = (),
        default_ttl: int = 300,
    ) -> None:
        self.nodes: NodeMap = {}
        if records:
            merge(self.nodes, nodes_from_spec(records, default_ttl))
        if zone_text:
            merge(self.nodes, nodes_from_zone_text(zone_text))
        for path in zone_files:
            merge(self.nodes, nodes_from_zone_file(path))
        self.host = host
        self.port = port
        self.delay = delay
        self.delays = {to_dns_name(k).canonicalize(): v for k, v in (delays or {}).items()}
        self.drop: set[dns.name.Name] = set()
        self.drop_types: set[tuple[dns.name.Name, int]] = set()
        for item in drop:
            if isinstance(item, tuple):
                self.drop_types.add((to_dns_name(item[0]).canonicalize(), dns.rdatatype.from_text(item[1])))
            else:
                self.drop.add(to_dns_name(item).canonicalize())
        self.drop_absent = {to_dns_name(n).canonicalize() for n in drop_absent_types}
        self.servfail = {to_dns_name(n).canonicalize() for n in servfail}
        self.stats = ServerStats()
        self._existing: set[dns.name.Name] = set()
        self._reindex()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- data ----------------------------------------------------------------------------

    def _reindex(self) -> None:
        self._existing = set()
        for owner in self.nodes:
            name = owner
            while name != dns.name.root and name not in self._existing:
                self._existing.add(name)
                name = name.parent()

    def add(self, records: RecordSpec) -> None:
        """Add records while running (for tests that change DNS mid-way)."""
        merge(self.nodes, nodes_from_spec(records))
        self._reindex()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- answering -------------------------------------------------------------------------

    def _answer(self, query: dns.message.Message) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if len(query.question) != 1:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        qname = question.name.canonicalize()
        if qname in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
            return response
        name = qname
        for _ in range(9):  # follow CNAMEs inside our data
            node = self.nodes.get(name)
            if node is None:
                if name == qname and name not in self._existing:
                    response.set_rcode(dns.rcode.NXDOMAIN)
                    self._add_soa(response, name)
                elif name not in self._existing:
                    pass  # CNAME target outside our data: answer with the chain so far
                else:
                    self._add_soa(response, name)
                return response
            rdataset = node.get(question.rdtype)
            if rdataset is not None:
                rrset = dns.rrset.RRset(name, dns.rdataclass.IN, question.rdtype)
                for rdata in rdataset:
                    rrset.add(rdata)
                rrset.ttl = rdataset.ttl
                response.answer.append(rrset)
                return response
            cname = node.get(dns.rdatatype.CNAME)
            if cname is None or question.rdtype == dns.rdatatype.CNAME:
                self._add_soa(response, name)
                return response
            rrset = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.CNAME)
            for rdata in cname:
                rrset.add(rdata)
            rrset.ttl = cname.ttl
            response.answer.append(rrset)
            name = next(iter(cname)).target.canonicalize()
        return response

    @staticmethod
    def _add_soa(response: dns.message.Message, name: dns.name.Name) -> None:
        soa = dns.rrset.from_text(
            name, NEGATIVE_TTL, "IN", "SOA", f"ns.test. hostmaster.test. 1 3600 600 86400 {NEGATIVE_TTL}"
        )
        response.authority.append(soa)

    async def _respond(self, wire: bytes, *, tcp: bool) -> bytes | None:
        try:
            query = dns.message.from_wire(wire)
        except dns.exception.DNSException:
            return None
        if not query.question:
            return None
        qname = query.question[0].name.canonicalize()
        self.stats.queries += 1
        key = qname.to_text(omit_final_dot=True)
        self.stats.by_name[key] = self.stats.by_name.get(key, 0) + 1
        qtype = query.question[0].rdtype
        if (
            qname in self.drop
            or (qname, qtype) in self.drop_types
            or (qname in self.drop_absent and qtype not in self.nodes.get(qname, {}))
        ):
            self.stats.dropped += 1
            return None
        wait = self.delay + self.delays.get(qname, 0.0)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            response = self._answer(query)
        except (dns.exception.DNSException, ValueError, KeyError) as exc:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.SERVFAIL)
            self.stats.by_name[f"error:{key}"] = 1
            del exc
        limit = 65535 if tcp else max(UDP_LIMIT, query.payload if query.edns >= 0 else UDP_LIMIT)
        try:
            return response.to_wire(max_size=limit)
        except dns.exception.TooBig:
            truncated = dns.message.make_response(query)
            truncated.flags |= dns.flags.AA | dns.flags.TC
            return truncated.to_wire()

    # -- transports ------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def start(self) -> TestDnsServer:
        loop = asyncio.get_running_loop()
        server = self

        class Udp(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                async def reply() -> None:
                    out = await server._respond(data, tcp=False)
                    if out is not None and server._udp is not None:
                        server._udp.sendto(out, addr)

                server._spawn(reply())

        for _attempt in range(20):
            transport, _ = await loop.create_datagram_endpoint(Udp, local_addr=(self.host, self.port))
            self._udp = transport
            port = transport.get_extra_info("sockname")[1]
            try:
                self._tcp = await asyncio.start_server(self._serve_tcp, self.host, port)
            except OSError:
                transport.close()
                if self.port:
                    raise
                continue
            self.port = port
            return self
        raise OSError("could not bind UDP and TCP on one port")

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                header = await reader.readexactly(2)
                (length,) = struct.unpack("!H", header)
                data = await reader.readexactly(length)
                out = await self._respond(data, tcp=True)
                if out is None:
                    continue
                writer.write(struct.pack("!H", len(out)) + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 1.0)
            self._tcp = None
        for task in list(self._tasks):
            task.cancel()

    async def __aenter__(self) -> TestDnsServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- running beside synchronous code ---------------------------------------------------

    def start_in_thread(self) -> TestDnsServer:
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="zegel-test-dns", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._thread = None
            self._loop = None

    def __enter__(self) -> TestDnsServer:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop_thread()


__all__ = ["ServerStats", "TestDnsServer"]
