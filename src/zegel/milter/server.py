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
import errno
import functools
import logging
import os
import socket
import socket as _socket
import stat
import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from zegel import aio
from zegel.milter.config import SocketSpec
from zegel.milter.handler import ConnectionFacts, MessageHandler
from zegel.milter.message import Envelope, MessageBuffer, new_message_id, strip_brackets
from zegel.milter.metrics import MilterMetrics
from zegel.milter.protocol import (
    PROTOCOL_VERSION,
    SMFIC_ABORT,
    SMFIC_BODY,
    SMFIC_BODYEOB,
    SMFIC_EOH,
    SMFIC_HEADER,
    SMFIC_HELO,
    SMFIC_MACRO,
    SMFIC_MAIL,
    SMFIC_OPTNEG,
    SMFIC_RCPT,
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
    Header,
    Helo,
    InsertHeader,
    Macros,
    MacroStage,
    Mail,
    OptNeg,
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
    envelope_text,
)

log = logging.getLogger("zegel.milter")

# Bytes asked for per read: every packet already sent arrives in one go (a 64 KiB body
# chunk plus the headers before it).
READ_SIZE = 256 * 1024

# What we change: add/insert headers, change/delete headers, quarantine; and we send macro lists.
WANTED_ACTIONS = ActionFlag.ADDHDRS | ActionFlag.CHGHDRS | ActionFlag.QUARANTINE | ActionFlag.SETSYMLIST
# Steps we do not need, and steps we never answer with anything but "continue" (so the MTA
# need not wait for the reply). Body chunks too (SMFIP_NR_BODY): the MTA then sends the last
# chunk and end of message in one write, one round trip per message fewer. The price is
# SMFIR_SKIP, which only a body reply can carry: past max_message_size the MTA still sends
# the rest of the body and we drop it unread (memory stays bounded either way).
WANTED_PROTOCOL = (
    ProtocolFlag.NODATA | ProtocolFlag.NOUNKNOWN | ProtocolFlag.NR_CONN | ProtocolFlag.NR_HELO
    | ProtocolFlag.NR_MAIL | ProtocolFlag.NR_RCPT | ProtocolFlag.NR_HDR | ProtocolFlag.NR_EOH
    | ProtocolFlag.NR_BODY | ProtocolFlag.HDR_LEADSPC
)
# Macros we ask for (version 6 with SMFIF_SETSYMLIST): the queue id for the logs, the SASL
# login that makes a client "authenticated" for outbound signing.
WANTED_MACROS: dict[MacroStage, tuple[str, ...]] = {
    MacroStage.CONNECT: ("j", "{client_addr}", "{client_name}"),
    MacroStage.ENVFROM: ("i", "{auth_type}", "{auth_authen}"),
    MacroStage.EOM: ("i",),
}
# MAIL, RCPT and HELO: handled in the session's fast path.
_ENVELOPE_CODES = frozenset((SMFIC_MAIL, SMFIC_RCPT, SMFIC_HELO))
# Which no-reply flag covers which command.
_STEP_CODES: dict[type, bytes] = {
    Connect: b"C", Helo: b"H", Mail: b"M", Rcpt: b"R", Data: b"T", Header: b"L",
    EndOfHeaders: b"N", Body: b"B", Unknown: b"U",
}
# The replies to the steps that need one, encoded once.
_CONTINUE = encode_response(Continue())
_SKIP = encode_response(Skip())
# Macros that belong to one message: forgotten when it ends.
_MESSAGE_MACRO_COMMANDS = (b"M", b"R", b"T", b"L", b"N", b"B", b"E")
_CONNECTION_MACRO_COMMANDS = frozenset((b"C", b"H"))
# The steps that may get a reply, and the no-reply flag of each.
_STEP_FLAGS: dict[bytes, ProtocolFlag] = {
    b"C": ProtocolFlag.NR_CONN, b"H": ProtocolFlag.NR_HELO, b"M": ProtocolFlag.NR_MAIL,
    b"R": ProtocolFlag.NR_RCPT, b"T": ProtocolFlag.NR_DATA, b"L": ProtocolFlag.NR_HDR,
    b"N": ProtocolFlag.NR_EOH, b"B": ProtocolFlag.NR_BODY, b"U": ProtocolFlag.NR_UNKN,
}
_ALL_STEPS = frozenset(_STEP_FLAGS)


def _decode_macros(data: bytes) -> dict[str, str]:
    """The name -> value pairs of a SMFIC_MACRO packet already checked by ``_store_macros``."""
    strings = data[1:-1].split(b"\0") if len(data) > 1 else []
    return {strings[i].decode("utf-8", "replace"): strings[i + 1].decode("utf-8", "replace")
            for i in range(0, len(strings) - 1, 2)}


def _merged_macros(packets: Iterable[bytes]) -> dict[str, str]:
    """Every definition of the checked ``packets`` in one dict, later packets winning: one
    decode and one split for all of them (NUL ends any partial UTF-8 sequence, so decoding
    them joined replaces exactly what decoding each string would)."""
    raw = b"".join([data[1:] for data in packets if len(data) > 1])
    if not raw:
        return {}
    strings = iter(raw[:-1].decode("utf-8", "replace").split("\0"))
    return dict(zip(strings, strings, strict=False))


def _encode_macros(command: Macros) -> bytes:
    return command.for_command + b"".join(
        k.encode("utf-8") + b"\0" + v.encode("utf-8") + b"\0" for k, v in command.values.items())


def negotiate(offer: OptNeg) -> OptNeg:
    """Our OPTNEG reply to the MTA's offer: what we want of what it offers."""
    # Versions 2..6 share the framing; macro lists need version 6.
    if offer.version < 2:
        raise ProtocolError(f"MTA speaks milter protocol version {offer.version}; need 2 or later")
    version = min(offer.version, PROTOCOL_VERSION)
    actions = WANTED_ACTIONS & offer.actions
    if version < 6:
        actions &= ~ActionFlag.SETSYMLIST
    macros = WANTED_MACROS if ActionFlag.SETSYMLIST in actions else {}
    return OptNeg(version, actions, WANTED_PROTOCOL & offer.protocol, macros)


@functools.lru_cache(maxsize=64)
def _negotiation(packet: bytes) -> tuple[OptNeg, int, bytes]:
    """(reply, offered actions, encoded reply) for an OPTNEG packet. An MTA offers the same
    bytes on every connection, and decoding the flags costs more than the rest of a
    session's small packets together: memoized (bounded; a pure function of the bytes)."""
    offer = decode_command(b"O", packet)
    assert isinstance(offer, OptNeg)
    reply = negotiate(offer)
    return reply, int(offer.actions), encode_response(reply)


@functools.lru_cache(maxsize=64)
def _agreement(actions: ActionFlag, protocol: ProtocolFlag) -> tuple[frozenset[bytes], bool, tuple[bool, bool, bool]]:
    """What a negotiated reply means per packet, worked out once (enum flag tests are slow):
    the steps that get a reply, whether header values keep their leading space, and which
    modifications (add, change headers; quarantine) the MTA allows."""
    needed = frozenset(code for code, flag in _STEP_FLAGS.items() if flag not in protocol)
    allowed = (ActionFlag.ADDHDRS in actions, ActionFlag.CHGHDRS in actions, ActionFlag.QUARANTINE in actions)
    return needed, ProtocolFlag.HDR_LEADSPC in protocol, allowed


# Packet lengths are big-endian 32-bit (the milter framing).
_unpack_length = struct.Struct("!I").unpack_from
# What may queue behind a decision that waits beyond one whole packet before reading pauses.
_HEADROOM = 64 * 1024


def _still_cut(unhandled: bytearray, max_packet: int) -> bool:
    """Whether ``unhandled`` starts with a packet still incomplete (a bad length is not: the
    framing reports it)."""
    if len(unhandled) < 4:
        return True
    length = int(_unpack_length(unhandled, 0)[0])
    return 0 < length <= max_packet and len(unhandled) < 4 + length


def _cut_packet_error(unhandled: bytes | bytearray) -> ProtocolError:
    """The error for a stream that ended inside a packet (``unhandled``: its first bytes)."""
    if len(unhandled) < 4:
        return ProtocolError("connection closed inside a packet length")
    (length,) = _unpack_length(unhandled, 0)
    return ProtocolError(f"connection closed inside a packet of {length} bytes")


# Linux only: acknowledge received data at once instead of after the delayed-ACK timer.
_TCP_QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
# Linux, BSD: several sockets (this process's workers, or the next process during a restart)
# bind one address and the kernel spreads new connections over them.
_SO_REUSEPORT: int | None = getattr(socket, "SO_REUSEPORT", None)


def quickack_socket(transport: asyncio.BaseTransport) -> socket.socket | None:
    """The TCP socket to send quick ACKs on, or None (unix socket, or not Linux).

    Why: Postfix writes milter commands through a 4 KiB buffered stream without TCP_NODELAY
    and sends the steps we take without replies (SMFIP_NR_*) in the same stream. A command
    that straddles a buffer flush (headers plus a body chunk, any body over 4 KiB) leaves
    the wire as a full write and a short tail; Nagle holds the tail until our ACK of the
    first part, and Linux delays that ACK (up to 40 ms) hoping to piggyback it on a reply we
    cannot send before we have the whole packet. Measured through Postfix: +45 ms per
    message at end of data, for ~1 ms of work. TCP_QUICKACK after a read sends the pending
    ACK now (it is not sticky, hence per read); a read we answer needs none, the reply
    carries the ACK.
    """
    sock = transport.get_extra_info("socket")
    if (_TCP_QUICKACK is not None and sock is not None
            and sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM):
        return sock  # type: ignore[no-any-return]
    return None


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


class MilterSession(asyncio.Protocol):
    """One MTA connection (see the module docstring).

    Callback-driven (``asyncio.Protocol``), not a reader task: every packet is handled
    synchronously inside ``data_received`` and the replies of one read go out in one write.
    End of message is decided there too, eagerly; only a decision that has to wait (DNS)
    goes on as a task, and packets arriving meanwhile wait in order behind it. Per message
    through Postfix that saves a task wake-up and a timeout context per read, the stream
    reader's buffer copies and a drain per reply: the session path costs a fraction of what
    the verification does.
    """

    def __init__(self, *, handler: MessageHandler | Callable[[], MessageHandler], limits: SessionLimits,
                 metrics: MilterMetrics, on_close: Callable[[MilterSession], None] | None = None) -> None:
        # A callable handler is asked at each end of message: a reload (SIGHUP) applies to
        # the next message of an open session without dropping it.
        self._handler = handler
        self.limits = limits
        self.metrics = metrics
        self._on_close = on_close
        self.actions = ActionFlag.NONE
        self.protocol = ProtocolFlag.NONE
        self.version = 0
        # SMFIC_MACRO packets as received, per command code: Postfix sends one before nearly
        # every packet (the queue id before each header field), and they are only read at end
        # of message, so they are decoded then, not on arrival.
        self._macro_packets: dict[bytes, bytes] = {}
        self._reply_needed: frozenset[bytes] = _ALL_STEPS
        self._leading_space = False
        self._allowed_changes = (False, False, False)  # add, change headers; quarantine
        self.hostname = ""
        self.address = ""
        self.helo = ""
        self.txn: _Transaction | None = None
        self.closing = False
        self._peer: str | None = None
        self.transport: asyncio.Transport | None = None
        # Bytes received but not handled yet: a packet cut by the read, or packets that
        # arrived while a decision waits. Complete packets are handled straight from the read.
        self._unhandled = bytearray()
        self._reading_paused = False
        self._quickack: socket.socket | None = None
        self._deciding: asyncio.Task[None] | None = None
        self._last_read = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed: asyncio.Future[None] | None = None

    @property
    def peer(self) -> str:
        """``address:port`` of the MTA, or "local" (asked for when a log line names it)."""
        if self._peer is None:
            try:
                peer = self.transport.get_extra_info("peername") if self.transport is not None else None
            except (OSError, RuntimeError):  # asked after the connection closed
                peer = None
            self._peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "local"
        return self._peer

    @property
    def macros(self) -> dict[bytes, dict[str, str]]:
        """The macro definitions in force, per command code (decoded from the packets)."""
        return {code: _decode_macros(data) for code, data in self._macro_packets.items()}

    @property
    def handler(self) -> MessageHandler:
        return self._handler if isinstance(self._handler, MessageHandler) else self._handler()

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def in_transaction(self) -> bool:
        return self.txn is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its interface.
        self.transport = cast(asyncio.Transport, transport)
        self._loop = asyncio.get_running_loop()
        self.closed = self._loop.create_future()
        self._quickack = quickack_socket(transport)
        self._last_read = self._loop.time()
        self._idle_timer = self._loop.call_later(self.limits.idle_timeout, self._check_idle)

    def request_close(self) -> None:
        """Shutdown: keep serving until the MTA ends the connection (QUIT).

        Postfix keeps one milter connection per SMTP session and does not reconnect within
        it: closing between two messages would tempfail the next one. So an open session is
        served to its end; the server closes what is left when ``timeouts.shutdown`` runs out.
        """
        self.closing = True

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def _check_idle(self) -> None:
        assert self._loop is not None
        if self._deciding is not None:  # the verification has its own timeout
            self._idle_timer = self._loop.call_later(self.limits.idle_timeout, self._check_idle)
            return
        idle = self._loop.time() - self._last_read
        if idle < self.limits.idle_timeout:
            self._idle_timer = self._loop.call_later(self.limits.idle_timeout - idle, self._check_idle)
            return
        self._idle_timer = None
        log.warning("session timed out", extra={"fields": {
            "peer": self.peer, "idle_s": str(self.limits.idle_timeout), **self._msg_fields()}})
        self.close()

    def data_received(self, data: bytes) -> None:
        assert self._loop is not None
        self._last_read = self._loop.time()
        unhandled = self._unhandled
        if unhandled or self._deciding is not None:
            unhandled += data
            if self._deciding is not None:
                # Packets behind a decision that waits are handled after it, in order. The MTA
                # sends nothing while it waits for that reply; a peer that floods anyway is
                # held (not read further) once a whole packet's worth has queued.
                if (len(unhandled) > self.limits.max_packet + _HEADROOM and not self._reading_paused
                        and self.transport is not None):
                    self._reading_paused = True
                    self.transport.pause_reading()
                self._quick_ack()
                return
            if _still_cut(unhandled, self.limits.max_packet):
                # Not copied and reframed per read: a large packet arriving in small reads
                # (4 KiB ones over a unix socket) costs linear time, not quadratic.
                self._quick_ack()
                return
            data = bytes(unhandled)
            unhandled.clear()
        if not self._process(data):
            self._quick_ack()

    def _quick_ack(self) -> None:
        if self._quickack is not None and _TCP_QUICKACK is not None:
            # Nothing goes back for this read (steps without replies, a packet cut by the
            # read): acknowledge now, or the MTA's next small write waits for the delayed
            # ACK (see quickack_socket). A reply carries the ACK by itself.
            try:
                self._quickack.setsockopt(socket.IPPROTO_TCP, _TCP_QUICKACK, 1)
            except OSError:
                self._quickack = None  # closed, or not supported here: stop trying

    def eof_received(self) -> bool | None:
        if self._deciding is None and self._unhandled:
            self._fail(_cut_packet_error(self._unhandled))
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.debug("connection lost", extra={"fields": {"peer": self.peer, "error": str(exc)}})
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._deciding is not None:
            self._deciding.cancel()  # the MTA is gone: nobody waits for this answer
            self._deciding = None
        self._unhandled.clear()
        self._end_message()
        if self.closed is not None and not self.closed.done():
            self.closed.set_result(None)
        if self._on_close is not None:
            self._on_close(self)

    def _fail(self, exc: BaseException) -> None:
        """One log line, then this session only ends (the MTA applies its default action)."""
        if isinstance(exc, PacketTooLarge):
            self.metrics.protocol_errors += 1
            log.warning("oversized packet; session closed", extra={"fields": {
                "peer": self.peer, "error": str(exc), **self._msg_fields()}})
        elif isinstance(exc, ProtocolError):
            self.metrics.protocol_errors += 1
            log.warning("protocol error; session closed", extra={"fields": {
                "peer": self.peer, "error": str(exc), **self._msg_fields()}})
        else:  # a bug must cost this session only
            self.metrics.error("session")
            log.error("session failed", exc_info=exc, extra={"fields": {
                "peer": self.peer, "error": f"{type(exc).__name__}: {exc}", **self._msg_fields()}})
        self._unhandled.clear()
        self.close()

    def _process(self, data: bytes) -> bool:
        """Frame and handle the packets in ``data`` in order; the replies of the batch go out
        in one write. A packet cut at the end waits in ``_unhandled`` for the next read.

        Stops at end of message when its decision has to wait (a task that resumes here with
        the rest) and at QUIT. Returns whether the MTA gets an answer without waiting for
        more data (a reply was written, a decision started, or the session ends).
        """
        transport = self.transport
        if transport is None or transport.is_closing():
            return True
        out: list[bytes] = []
        reply_needed = self._reply_needed
        max_packet = self.limits.max_packet
        answered = False
        start = 0
        end = len(data)
        try:
            while end - start >= 4:
                # The framing of read_packet: a length, then that many bytes (code and data).
                (length,) = _unpack_length(data, start)
                if length == 0 or length > max_packet:
                    raise (ProtocolError("packet of length 0 (no command code)") if length == 0 else
                           PacketTooLarge(f"packet of {length} bytes exceeds the limit of {max_packet}"))
                if end - start - 4 < length:
                    break
                code = data[start + 4:start + 5]
                packet = data[start + 5:start + 4 + length]
                start += 4 + length
                # The packets of every message without a command object each: the same checks
                # as decode_command and handle_now, a fraction of the cost. A message is
                # mostly header fields, each with a macro packet before it from Postfix.
                if code == SMFIC_MACRO:
                    self._store_macros(packet)
                    continue
                if code == SMFIC_HEADER:
                    name, separator, rest = packet.partition(b"\0")
                    # The value: one NUL, at its end. (count, not `in`: on bytes, `in` first
                    # tries the operand as an integer, a discarded TypeError per call.)
                    if not separator or not name or rest[-1:] != b"\0" or rest.count(b"\0") != 1:
                        raise ProtocolError("HEADER: expected a name and a value")
                    (self.txn or self._transaction()).buffer.add_header(name, rest[:-1])
                    if code in reply_needed:
                        out.append(_CONTINUE)
                    continue
                if code == SMFIC_BODY:
                    buffer = (self.txn or self._transaction()).buffer
                    buffer.add_body(packet)
                    if code in reply_needed:
                        out.append(_SKIP if buffer.oversized and ProtocolFlag.SKIP in self.protocol else _CONTINUE)
                    continue
                if code == SMFIC_BODYEOB:
                    txn = self.txn or self._transaction()
                    txn.buffer.add_body(packet)
                    if out:  # the replies before end of message go out before its decision
                        transport.write(b"".join(out))
                        out = []
                    answered = True
                    if self._start_decision(txn):
                        # It waits (DNS): the rest of the packets resume after it.
                        self._unhandled += data[start:]
                        return True
                    if transport.is_closing():
                        return True
                    continue
                if code == SMFIC_EOH:
                    if code in reply_needed:
                        out.append(_CONTINUE)
                    continue
                if code == SMFIC_ABORT:
                    self._end_message()
                    continue
                if code == SMFIC_OPTNEG:
                    reply, offered, encoded = _negotiation(packet)
                    self._agree(reply, offered)
                    reply_needed = self._reply_needed
                    out.append(encoded)
                    continue
                if code in _ENVELOPE_CODES and packet[-1:] == b"\0":
                    # MAIL, RCPT, HELO: NUL-terminated strings, as decode_command reads them.
                    strings = packet[:-1].split(b"\0")
                    if code == SMFIC_RCPT:
                        self._on_rcpt(envelope_text(strings[0]))
                    elif code == SMFIC_MAIL:
                        self._on_mail(envelope_text(strings[0]), tuple([envelope_text(a) for a in strings[1:]]))
                    elif len(strings) == 1:
                        self.helo = envelope_text(strings[0])
                    else:
                        raise ProtocolError("HELO: expected one string")
                    if code in reply_needed:
                        out.append(_CONTINUE)
                    continue
                command = decode_command(code, packet)
                replies = self.handle_now(command)
                if replies:
                    out.extend(encode_response(r) for r in replies)
                if isinstance(command, Quit) or (
                        isinstance(command, QuitNewConnection) and self.closing):
                    if out:
                        transport.write(b"".join(out))
                        out = []
                    self.close()
                    return True
        except Exception as exc:
            # Replies already earned still go out, even when a later packet is malformed.
            if out:
                transport.write(b"".join(out))
            self._fail(exc)
            return True
        if start < end:
            self._unhandled += data[start:]
        if out:
            transport.write(b"".join(out))
        return answered or bool(out)

    def _start_decision(self, txn: _Transaction) -> bool:
        """Decide at end of message, eagerly: run the decision here, and only when it has to
        wait (a DNS query, a worker thread) go on in a Task. Returns whether it waits.

        With the DNS answers cached most messages are decided without waiting: no Task, no
        extra turn of the event loop before the reply goes out.
        """
        deciding = self._decide(txn)
        try:
            pending = deciding.send(None)
        except StopIteration:
            return False
        assert self._loop is not None
        self._deciding = self._loop.create_task(aio.resume(deciding, pending))
        return True

    async def _decide(self, txn: _Transaction) -> None:
        """The decision for ``txn``, written out; then, when it had to wait (a Task), the
        packets that arrived meanwhile."""
        try:
            replies = await self._end_of_message(txn)
        except Exception as exc:
            self._deciding = None
            self._fail(exc)
            return
        transport = self.transport
        if transport is None or transport.is_closing():
            self._deciding = None
            return
        transport.write(b"".join(encode_response(r) for r in replies))
        if self._deciding is None:
            return  # decided without waiting: _process goes on with the packets after it
        self._deciding = None
        if self._unhandled:
            data = bytes(self._unhandled)
            self._unhandled.clear()
            if self._reading_paused and self.transport is not None:
                self._reading_paused = False
                self.transport.resume_reading()
            if not self._process(data):
                self._quick_ack()

    def _store_macros(self, data: bytes) -> None:
        # The checks decode_command makes (so a malformed packet still ends the session
        # here), without decoding: a name and a value per pair of NUL-terminated strings.
        if not data:
            raise ProtocolError("MACRO: missing command code")
        if len(data) > 1:
            if data[-1:] != b"\0":
                raise ProtocolError("MACRO: string not NUL-terminated")
            if data.count(b"\0", 1) % 2:
                raise ProtocolError("MACRO: a name without a value")
        self._macro_packets[data[:1]] = data

    def _msg_fields(self) -> dict[str, str]:
        if self.txn is None:
            return {}
        return {"msg_id": self.txn.message_id, "queue_id": self._macro("i")}

    def _macro(self, name: str) -> str:
        # Later commands' definitions win (the EOM "i" over the MAIL "i"); Sendmail may write
        # one-letter names braced ("{i}").
        for code in (b"E", b"N", b"L", b"T", b"R", b"M", b"H", b"C"):
            data = self._macro_packets.get(code)
            if data is None:
                continue
            values = _decode_macros(data)
            value = values.get(name) or values.get("{" + name + "}")
            if value:
                return value
        return ""

    # -- commands ------------------------------------------------------------------------

    def _reply(self, command: Command, response: Response | None = None) -> list[Response]:
        code = _STEP_CODES.get(type(command))
        if code is not None and code not in self._reply_needed:
            return []
        return [response or Continue()]

    def handle_now(self, command: Command) -> list[Response]:
        """The responses to send for ``command`` (none where the protocol expects none); every
        command but end of message, which the read loop decides (``_start_decision``)."""
        match command:
            case OptNeg():
                return [self._negotiate(command)]
            case Macros():
                self._macro_packets[command.for_command] = _encode_macros(command)
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
                self._on_mail(command.sender, command.args)
                return self._reply(command)
            case Rcpt():
                self._on_rcpt(command.recipient)
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
            case Abort():
                self._end_message()
                return []
            case QuitNewConnection():
                # The MTA reuses this socket for another SMTP connection: forget this one.
                self._reset_connection()
                self._macro_packets = {}
                return []
            case Quit():
                return []
            case Data() | EndOfHeaders() | Unknown():
                return self._reply(command)
        raise ProtocolError(f"unexpected command {type(command).__name__}")

    def _on_mail(self, sender: str, args: tuple[str, ...]) -> None:
        # The MAIL macros arrived just before this command: they belong to the new message.
        mail_macros = self._macro_packets.get(b"M")
        self._end_message()
        if mail_macros is not None:
            self._macro_packets[b"M"] = mail_macros
        self._begin_message(sender, args)

    def _on_rcpt(self, recipient: str) -> None:
        (self.txn or self._transaction()).envelope.recipients.append(strip_brackets(recipient))

    def _negotiate(self, offer: OptNeg) -> OptNeg:
        reply = negotiate(offer)
        self._agree(reply, offer.actions)
        return reply

    def _agree(self, reply: OptNeg, offered_actions: int) -> None:
        self.version, self.actions, self.protocol = reply.version, reply.actions, reply.protocol
        self._reply_needed, self._leading_space, self._allowed_changes = _agreement(reply.actions, reply.protocol)
        if not (self._allowed_changes[0] and self._allowed_changes[1]):
            log.warning("MTA does not allow header changes; Authentication-Results cannot be written",
                        extra={"fields": {"peer": self.peer, "offered_actions": hex(int(offered_actions))}})
        if log.isEnabledFor(logging.DEBUG):
            log.debug("negotiated", extra={"fields": {
                "peer": self.peer, "version": str(self.version), "actions": hex(int(self.actions)),
                "protocol": hex(int(self.protocol))}})

    def _reset_connection(self) -> None:
        self._end_message()
        self.hostname = self.address = self.helo = ""
        self._macro_packets = {code: data for code, data in self._macro_packets.items() if code == b"C"}

    def _begin_message(self, sender: str, args: tuple[str, ...] = ()) -> None:
        buffer = MessageBuffer(
            memory_limit=self.limits.memory_limit, max_size=self.limits.max_message_size,
            spool_dir=self.limits.spool_dir, leading_space_kept=self._leading_space)
        envelope = Envelope(mail_from=strip_brackets(sender), mail_args=args)
        self.txn = _Transaction(new_message_id(), envelope, buffer)
        self.metrics.messages_in_flight += 1

    def _transaction(self) -> _Transaction:
        if self.txn is None:
            # A step the MTA skipped (or a message without MAIL): collect anyway, null sender.
            self._begin_message("<>")
        assert self.txn is not None
        return self.txn

    def _end_message(self) -> None:
        if self.txn is not None:
            self.txn.buffer.close_body()
            self.txn = None
            self.metrics.messages_in_flight -= 1
        packets = self._macro_packets
        if packets.keys() - _CONNECTION_MACRO_COMMANDS:
            for code in _MESSAGE_MACRO_COMMANDS:
                packets.pop(code, None)

    async def _end_of_message(self, txn: _Transaction) -> list[Response]:
        started = time.perf_counter()
        facts = ConnectionFacts(self.address, self.hostname, self.helo, _merged_macros(self._macro_packets.values()))
        if txn.buffer.oversized:
            self.metrics.oversized += 1
        decision = await self.handler.decide(
            facts, txn.envelope, txn.buffer,
            leading_space=self._leading_space, message_id=txn.message_id)
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
        add, change, quarantine = self._allowed_changes
        if add and change and quarantine and self.version >= 3:
            return list(modifications)
        out: list[Response] = []
        for mod in modifications:
            if isinstance(mod, AddHeader | InsertHeader) and not add:
                continue
            if isinstance(mod, InsertHeader) and self.version < 3:
                # SMFIR_INSHEADER arrived with protocol version 3; older MTAs can only append.
                mod = AddHeader(mod.name, mod.value)
            if isinstance(mod, ChangeHeader) and not change:
                continue
            if isinstance(mod, Quarantine) and not quarantine:
                continue
            out.append(mod)
        return out


class MilterServer:
    """Listens on ``inet:HOST:PORT`` or ``unix:PATH`` and runs a session per connection.

    ``listen_socket``: an already bound and listening socket to serve instead (a worker
    process inheriting its parent's unix socket, or systemd socket activation).
    """

    def __init__(self, socket: SocketSpec, *, handler: MessageHandler, limits: SessionLimits,
                 metrics: MilterMetrics, listen_socket: _socket.socket | None = None) -> None:
        self.socket = socket
        self.handler = handler  # replaced by a reload; sessions ask for it at each message
        self.limits = limits
        self.metrics = metrics
        self.listen_socket = listen_socket
        self.sessions: set[MilterSession] = set()
        self._server: asyncio.Server | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._socket_identity: tuple[int, int] | None = None
        self.port = socket.port

    def _current_handler(self) -> MessageHandler:
        return self.handler

    def _new_session(self) -> MilterSession:
        session = MilterSession(handler=self._current_handler, limits=self.limits, metrics=self.metrics,
                                on_close=self._session_closed)
        self.sessions.add(session)
        self._idle.clear()
        self.metrics.sessions_total += 1
        self.metrics.sessions_active += 1
        return session

    def _session_closed(self, session: MilterSession) -> None:
        if session in self.sessions:
            self.sessions.discard(session)
            self.metrics.sessions_active -= 1
        if not self.sessions:
            self._idle.set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.listen_socket is not None:
            if self.listen_socket.family == _socket.AF_UNIX:
                self._server = await loop.create_unix_server(self._new_session, sock=self.listen_socket)
            else:
                self._server = await loop.create_server(self._new_session, sock=self.listen_socket)
        elif self.socket.kind == "unix":
            path = Path(self.socket.path)
            _remove_stale_socket(path)
            self._server = await loop.create_unix_server(self._new_session, path=str(path))
            # The MTA's user must reach the socket; other local users must not (they could
            # claim a trusted client address and have mail signed).
            os.chmod(path, 0o660)
        else:
            # SO_REUSEPORT: the next process (a restart) or our other workers can listen on
            # the same port while this one still serves its open sessions.
            self._server = await loop.create_server(self._new_session, self.socket.host, self.socket.port,
                                                    reuse_address=True, reuse_port=_SO_REUSEPORT is not None)
        sockets = self._server.sockets
        if sockets and self.socket.kind == "inet":
            self.port = int(sockets[0].getsockname()[1])
        if self.socket.kind == "unix":
            with contextlib.suppress(OSError):
                info = os.stat(self.socket.path)
                self._socket_identity = (info.st_dev, info.st_ino)

    def stop_accepting(self) -> None:
        if self._server is not None:
            self._server.close()

    async def shutdown(self, grace: float) -> int:
        """Stop accepting; serve every open session until the MTA ends it or ``grace`` runs out.

        Returns the number of sessions still open when the grace period ended (closed then).
        """
        self.stop_accepting()
        for session in list(self.sessions):
            session.request_close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        left = list(self.sessions)
        for session in left:
            session.abort()
        waiting = [s.closed for s in left if s.closed is not None]
        if waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waiting, return_exceptions=True), 5.0)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        if self.socket.kind == "unix" and self.listen_socket is None:
            self._remove_own_socket()
        return len(left)

    def _remove_own_socket(self) -> None:
        """Remove the socket file, unless a newer process has already put its own there."""
        with contextlib.suppress(OSError):
            info = os.stat(self.socket.path)
            if self._socket_identity == (info.st_dev, info.st_ino):
                os.unlink(self.socket.path)


def _remove_stale_socket(path: Path) -> None:
    """A socket file left by a previous run would make bind() fail; anything else is kept."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()


def probe_listen(spec: SocketSpec) -> str | None:
    """Why the service could not listen on ``spec`` now, or None (``--check-config``).

    An inet port is bound for a moment with the options the service uses: a port another
    program holds is reported; one a running zegel milter holds is not (SO_REUSEPORT lets
    the next process share it during a restart — when both run as the same user).
    """
    if spec.kind == "unix":
        path = Path(spec.path)
        if not path.parent.is_dir():
            return f"cannot listen on {spec}: directory {path.parent} does not exist"
        if not os.access(path.parent, os.W_OK | os.X_OK):
            return f"cannot listen on {spec}: directory {path.parent} is not writable by this user"
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISSOCK(path.lstat().st_mode):
                return f"cannot listen on {spec}: {path} exists and is not a socket"
        return None
    try:
        infos = _socket.getaddrinfo(spec.host, spec.port, type=_socket.SOCK_STREAM, flags=_socket.AI_PASSIVE)
    except OSError as exc:
        return f"cannot listen on {spec}: {exc.strerror or exc}"
    for family, kind, proto, _, address in infos[:1]:
        with _socket.socket(family, kind, proto) as probe:
            probe.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
            if _SO_REUSEPORT is not None:
                probe.setsockopt(_socket.SOL_SOCKET, _SO_REUSEPORT, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return f"cannot listen on {spec}: the port is already in use by another program"
                return f"cannot listen on {spec}: {exc.strerror or exc}"
    return None
