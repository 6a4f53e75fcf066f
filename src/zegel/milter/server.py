"""The milter sessions and the listening server.

One :class:`MilterSession` per MTA connection, many at once on one event loop. A session
negotiates options (version 6, the modifications we need, the steps we skip or take without
replies, the macros we want), collects one message at a time and asks the
:class:`~zegel.milter.handler.MessageHandler` for the decision at end of message.

A malformed or oversized packet, or silence longer than the session timeout, ends that
session only (the MTA then applies its ``milter_default_action`` to the message in hand);
the server goes on serving every other session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import SupportsIndex

from zegel.milter.config import SocketSpec
from zegel.milter.handler import ConnectionFacts, MessageHandler
from zegel.milter.message import Envelope, MessageBuffer, new_message_id, strip_brackets
from zegel.milter.metrics import MilterMetrics
from zegel.milter.protocol import (
    PROTOCOL_VERSION,
    Abort,
    ActionFlag,
    AddHeader,
    Body,
    ChangeHeader,
    Command,
    Connect,
    Continue,
    Data,
    EndOfHeaders,
    EndOfMessage,
    Header,
    Helo,
    InsertHeader,
    Macros,
    MacroStage,
    Mail,
    OptNeg,
    PacketSplitter,
    PacketTooLarge,
    ProtocolError,
    ProtocolFlag,
    Quarantine,
    Quit,
    QuitNewConnection,
    Rcpt,
    Response,
    Skip,
    Unknown,
    decode_command,
    encode_response,
)

log = logging.getLogger("zegel.milter")

# Bytes asked for per read: every packet already sent arrives in one go (a 64 KiB body
# chunk plus the headers before it).
READ_SIZE = 256 * 1024

# What we change: add/insert headers, change/delete headers, quarantine; and we send macro lists.
WANTED_ACTIONS = ActionFlag.ADDHDRS | ActionFlag.CHGHDRS | ActionFlag.QUARANTINE | ActionFlag.SETSYMLIST
# Steps we do not need, and steps we never answer with anything but "continue" (so the MTA
# need not wait for the reply). Body chunks keep their replies: we answer SKIP to a body
# beyond max_message_size.
WANTED_PROTOCOL = (
    ProtocolFlag.NODATA | ProtocolFlag.NOUNKNOWN | ProtocolFlag.NR_CONN | ProtocolFlag.NR_HELO
    | ProtocolFlag.NR_MAIL | ProtocolFlag.NR_RCPT | ProtocolFlag.NR_HDR | ProtocolFlag.NR_EOH
    | ProtocolFlag.SKIP | ProtocolFlag.HDR_LEADSPC
)
# Macros we ask for (version 6 with SMFIF_SETSYMLIST): the queue id for the logs, the SASL
# login that makes a client "authenticated" for outbound signing.
WANTED_MACROS: dict[MacroStage, tuple[str, ...]] = {
    MacroStage.CONNECT: ("j", "{client_addr}", "{client_name}"),
    MacroStage.ENVFROM: ("i", "{auth_type}", "{auth_authen}"),
    MacroStage.EOM: ("i",),
}
# Which no-reply flag covers which command.
_NO_REPLY: dict[type, ProtocolFlag] = {
    Connect: ProtocolFlag.NR_CONN, Helo: ProtocolFlag.NR_HELO, Mail: ProtocolFlag.NR_MAIL,
    Rcpt: ProtocolFlag.NR_RCPT, Data: ProtocolFlag.NR_DATA, Header: ProtocolFlag.NR_HDR,
    EndOfHeaders: ProtocolFlag.NR_EOH, Body: ProtocolFlag.NR_BODY, Unknown: ProtocolFlag.NR_UNKN,
}
# Macros that belong to one message: forgotten when it ends.
_MESSAGE_MACRO_COMMANDS = (b"M", b"R", b"T", b"L", b"N", b"B", b"E")


# Linux only: acknowledge received data at once instead of after the delayed-ACK timer.
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)


class QuickAckReader(asyncio.StreamReader):
    """A StreamReader that acknowledges every chunk it receives over TCP straight away.

    Why: Postfix writes milter commands through a 4 KiB buffered stream without TCP_NODELAY
    and sends the steps we take without replies (SMFIP_NR_*) in the same stream. A command
    that straddles a buffer flush (headers plus a body chunk, any body over 4 KiB) leaves
    the wire as a full write and a short tail; Nagle holds the tail until our ACK of the
    first part, and Linux delays that ACK (up to 40 ms) hoping to piggyback it on a reply we
    cannot send before we have the whole packet. Measured through Postfix: +45 ms per
    message at end of data, for ~1 ms of work. TCP_QUICKACK after each read sends the
    pending ACK now (it is not sticky, hence per read: one cheap setsockopt).
    """

    _quickack_sock: socket.socket | None = None

    def set_transport(self, transport: asyncio.BaseTransport) -> None:
        super().set_transport(transport)
        sock = transport.get_extra_info("socket")
        if (_TCP_QUICKACK is not None and sock is not None
                and sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM):
            self._quickack_sock = sock

    def feed_data(self, data: Iterable[SupportsIndex]) -> None:
        super().feed_data(data)
        sock = self._quickack_sock
        if sock is not None and _TCP_QUICKACK is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            except OSError:
                self._quickack_sock = None  # closed, or not supported here: stop trying


@dataclass
class SessionLimits:
    max_packet: int
    idle_timeout: float
    max_message_size: int
    memory_limit: int
    spool_dir: str | None = None


@dataclass
class _Transaction:
    message_id: str
    envelope: Envelope
    buffer: MessageBuffer
    started: float = field(default_factory=time.monotonic)


class MilterSession:
    """One MTA connection (see the module docstring)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 handler: MessageHandler, limits: SessionLimits, metrics: MilterMetrics) -> None:
        self.reader = reader
        self.writer = writer
        self.handler = handler
        self.limits = limits
        self.metrics = metrics
        self.actions = ActionFlag.NONE
        self.protocol = ProtocolFlag.NONE
        self.version = 0
        self.macros: dict[bytes, dict[str, str]] = {}
        self.hostname = ""
        self.address = ""
        self.helo = ""
        self.txn: _Transaction | None = None
        self.closing = False
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "local"

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self.txn is not None

    def request_close(self) -> None:
        """Graceful shutdown: close now when idle, else after the message in hand."""
        self.closing = True
        if self.txn is None:
            self.writer.close()

    async def run(self) -> None:
        splitter = PacketSplitter(max_size=self.limits.max_packet)
        try:
            while True:
                try:
                    # One timeout per read, not per packet (asyncio.timeout: no extra task).
                    async with asyncio.timeout(self.limits.idle_timeout):
                        data = await self.reader.read(READ_SIZE)
                except TimeoutError:
                    log.warning("session timed out", extra={"fields": {
                        "peer": self.peer, "idle_s": str(self.limits.idle_timeout), **self._msg_fields()}})
                    break
                if not data:
                    splitter.finish()
                    break
                if await self._handle_packets(splitter.feed(data)):
                    break
                if splitter.error is not None:
                    raise splitter.error
        except PacketTooLarge as exc:
            self.metrics.protocol_errors += 1
            log.warning("oversized packet; session closed", extra={"fields": {
                "peer": self.peer, "error": str(exc), **self._msg_fields()}})
        except ProtocolError as exc:
            self.metrics.protocol_errors += 1
            log.warning("protocol error; session closed", extra={"fields": {
                "peer": self.peer, "error": str(exc), **self._msg_fields()}})
        except (ConnectionError, OSError) as exc:
            log.debug("connection lost", extra={"fields": {"peer": self.peer, "error": str(exc)}})
        except Exception as exc:  # a bug must cost this session only; the MTA applies its default action
            self.metrics.error("session")
            log.error("session failed", exc_info=True, extra={"fields": {
                "peer": self.peer, "error": f"{type(exc).__name__}: {exc}", **self._msg_fields()}})
        finally:
            self._end_message()
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()

    async def _handle_packets(self, packets: list[tuple[bytes, bytes]]) -> bool:
        """Handle the packets of one read in order; their replies go out in one write.

        True when the session should end (QUIT, or shutdown with no message in hand).
        """
        out: list[bytes] = []
        stop = False
        try:
            for code, data in packets:
                command = decode_command(code, data)
                replies = await self.handle(command)
                if replies:
                    out.extend(encode_response(r) for r in replies)
                if isinstance(command, Quit) or (self.closing and self.txn is None):
                    stop = True
                    break
        finally:
            # Replies already earned still go out, even when a later packet is malformed.
            if out:
                self.writer.write(b"".join(out))
                await self.writer.drain()
        return stop

    def _msg_fields(self) -> dict[str, str]:
        if self.txn is None:
            return {}
        return {"msg_id": self.txn.message_id, "queue_id": self._macro("i")}

    def _macro(self, name: str) -> str:
        # Later commands' definitions win (the EOM "i" over the MAIL "i"); Sendmail may write
        # one-letter names braced ("{i}").
        for code in (b"E", b"N", b"L", b"T", b"R", b"M", b"H", b"C"):
            values = self.macros.get(code, {})
            value = values.get(name) or values.get("{" + name + "}")
            if value:
                return value
        return ""

    # -- commands ------------------------------------------------------------------------

    def _reply(self, command: Command, response: Response | None = None) -> list[Response]:
        flag = _NO_REPLY.get(type(command))
        if flag is not None and flag in self.protocol:
            return []
        return [response or Continue()]

    async def handle(self, command: Command) -> list[Response]:
        """The responses to send for ``command`` (none where the protocol expects none)."""
        match command:
            case OptNeg():
                return [self._negotiate(command)]
            case Macros():
                self.macros[command.for_command] = dict(command.values)
                return []
            case Connect():
                self._reset_connection()
                self.hostname = command.hostname
                self.address = command.address if command.family in ("4", "6") else ""
                return self._reply(command)
            case Helo():
                self.helo = command.name
                return self._reply(command)
            case Mail():
                # The MAIL macros arrived just before this command: they belong to the new message.
                mail_macros = self.macros.get(b"M")
                self._end_message()
                if mail_macros is not None:
                    self.macros[b"M"] = mail_macros
                self._begin_message(command)
                return self._reply(command)
            case Rcpt():
                self._transaction().envelope.recipients.append(strip_brackets(command.recipient))
                return self._reply(command)
            case Header():
                self._transaction().buffer.add_header(command.name, command.value)
                return self._reply(command)
            case Body():
                txn = self._transaction()
                txn.buffer.add_body(command.chunk)
                if txn.buffer.oversized and ProtocolFlag.SKIP in self.protocol:
                    return self._reply(command, Skip())
                return self._reply(command)
            case EndOfMessage():
                txn = self._transaction()
                txn.buffer.add_body(command.chunk)
                return await self._end_of_message(txn)
            case Abort():
                self._end_message()
                return []
            case QuitNewConnection():
                # The MTA reuses this socket for another SMTP connection: forget this one.
                self._reset_connection()
                self.macros = {}
                return []
            case Quit():
                return []
            case Data() | EndOfHeaders() | Unknown():
                return self._reply(command)
        raise ProtocolError(f"unexpected command {type(command).__name__}")

    def _negotiate(self, offer: OptNeg) -> OptNeg:
        # Versions 2..6 share the framing; macro lists need version 6.
        if offer.version < 2:
            raise ProtocolError(f"MTA speaks milter protocol version {offer.version}; need 2 or later")
        self.version = min(offer.version, PROTOCOL_VERSION)
        self.actions = WANTED_ACTIONS & offer.actions
        if self.version < 6:
            self.actions &= ~ActionFlag.SETSYMLIST
        self.protocol = WANTED_PROTOCOL & offer.protocol
        missing = (ActionFlag.ADDHDRS | ActionFlag.CHGHDRS) & ~self.actions
        if missing:
            log.warning("MTA does not allow header changes; Authentication-Results cannot be written",
                        extra={"fields": {"peer": self.peer, "offered_actions": hex(int(offer.actions))}})
        macros = WANTED_MACROS if ActionFlag.SETSYMLIST in self.actions else {}
        log.debug("negotiated", extra={"fields": {
            "peer": self.peer, "version": str(self.version), "actions": hex(int(self.actions)),
            "protocol": hex(int(self.protocol))}})
        return OptNeg(self.version, self.actions, self.protocol, macros)

    def _reset_connection(self) -> None:
        self._end_message()
        self.hostname = self.address = self.helo = ""
        self.macros = {code: values for code, values in self.macros.items() if code == b"C"}

    def _begin_message(self, mail: Mail) -> None:
        buffer = MessageBuffer(
            memory_limit=self.limits.memory_limit, max_size=self.limits.max_message_size,
            spool_dir=self.limits.spool_dir, leading_space_kept=ProtocolFlag.HDR_LEADSPC in self.protocol)
        envelope = Envelope(mail_from=strip_brackets(mail.sender), mail_args=mail.args)
        self.txn = _Transaction(new_message_id(), envelope, buffer)
        self.metrics.messages_in_flight += 1

    def _transaction(self) -> _Transaction:
        if self.txn is None:
            # A step the MTA skipped (or a message without MAIL): collect anyway, null sender.
            self._begin_message(Mail("<>"))
        assert self.txn is not None
        return self.txn

    def _end_message(self) -> None:
        if self.txn is not None:
            self.txn.buffer.close_body()
            self.txn = None
            self.metrics.messages_in_flight -= 1
        for code in _MESSAGE_MACRO_COMMANDS:
            self.macros.pop(code, None)

    async def _end_of_message(self, txn: _Transaction) -> list[Response]:
        started = time.perf_counter()
        facts = ConnectionFacts(self.address, self.hostname, self.helo,
                                {k: v for values in self.macros.values() for k, v in values.items()})
        if txn.buffer.oversized:
            self.metrics.oversized += 1
        decision = await self.handler.decide(
            facts, txn.envelope, txn.buffer,
            leading_space=ProtocolFlag.HDR_LEADSPC in self.protocol, message_id=txn.message_id)
        allowed = self._allowed(decision.modifications)
        elapsed = time.perf_counter() - started
        self.metrics.message(decision.direction, decision.result, decision.action, elapsed)
        if decision.result == "error":
            self.metrics.error(decision.details.get("error", "internal"))
        if log.isEnabledFor(logging.INFO):  # the fields cost more than the check
            log.info("message", extra={"fields": {
                "msg_id": txn.message_id, "queue_id": self._macro("i"), "client": self.address,
                "helo": self.helo, "mail_from": txn.envelope.mail_from,
                "rcpts": str(len(txn.envelope.recipients)), "size": str(txn.buffer.size),
                "direction": decision.direction, "result": decision.result, "action": decision.action,
                "elapsed_ms": f"{elapsed * 1000:.1f}", **decision.details}})
        self._end_message()
        return [*allowed, decision.final]

    def _allowed(self, modifications: Iterable[Response]) -> list[Response]:
        """Only the modifications the MTA agreed to (an MTA that refuses header changes gets none)."""
        out: list[Response] = []
        for mod in modifications:
            if isinstance(mod, AddHeader | InsertHeader) and ActionFlag.ADDHDRS not in self.actions:
                continue
            if isinstance(mod, InsertHeader) and self.version < 3:
                # SMFIR_INSHEADER arrived with protocol version 3; older MTAs can only append.
                mod = AddHeader(mod.name, mod.value)
            if isinstance(mod, ChangeHeader) and ActionFlag.CHGHDRS not in self.actions:
                continue
            if isinstance(mod, Quarantine) and ActionFlag.QUARANTINE not in self.actions:
                continue
            out.append(mod)
        return out


class MilterServer:
    """Listens on ``inet:HOST:PORT`` or ``unix:PATH`` and runs a session per connection."""

    def __init__(self, socket: SocketSpec, *, handler: MessageHandler, limits: SessionLimits,
                 metrics: MilterMetrics) -> None:
        self.socket = socket
        self.handler = handler
        self.limits = limits
        self.metrics = metrics
        self.sessions: set[MilterSession] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self.port = socket.port

    async def start(self) -> None:
        if self.socket.kind == "unix":
            path = Path(self.socket.path)
            _remove_stale_socket(path)
            self._server = await asyncio.start_unix_server(self._accept, path=str(path))
            # The MTA's user must reach the socket; other local users must not (they could
            # claim a trusted client address and have mail signed).
            os.chmod(path, 0o660)
        else:
            loop = asyncio.get_running_loop()

            def protocol() -> asyncio.StreamReaderProtocol:
                # asyncio.start_server, with the quick-ACK reader (see QuickAckReader).
                return asyncio.StreamReaderProtocol(QuickAckReader(), self._accept)

            self._server = await loop.create_server(protocol, self.socket.host, self.socket.port,
                                                    reuse_address=True)
            sockets = self._server.sockets
            if sockets:
                self.port = int(sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = MilterSession(reader, writer, handler=self.handler, limits=self.limits, metrics=self.metrics)
        self.sessions.add(session)
        self._idle.clear()
        self.metrics.sessions_total += 1
        self.metrics.sessions_active += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            if not self.sessions:
                self._idle.set()
            self.metrics.sessions_active -= 1
            if task is not None:
                self._tasks.discard(task)

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def shutdown(self, grace: float) -> int:
        """Stop accepting, let messages in flight finish (up to ``grace`` seconds), close all.

        Returns the number of sessions still open when the grace period ended.
        """
        self.stop_accepting()
        for session in list(self.sessions):
            session.request_close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        left = len(self.sessions)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        if self.socket.kind == "unix":
            with contextlib.suppress(OSError):
                os.unlink(self.socket.path)
        return left


def _remove_stale_socket(path: Path) -> None:
    """A socket file left by a previous run would make bind() fail; anything else is kept."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
