"""The milter wire protocol (Sendmail libmilter protocol version 6, as Postfix and Sendmail speak it).

Every packet is ``uint32 length`` (network byte order, counting the code byte and the data),
one code byte, then ``length - 1`` bytes of data. The MTA sends commands (``SMFIC_*``), the
filter answers with responses (``SMFIR_*``). Strings are NUL-terminated; integers are
big-endian. Option negotiation (``SMFIC_OPTNEG``) settles the version, the modifications the
filter may make (``SMFIF_*``) and the protocol steps the MTA skips or sends without waiting for
a reply (``SMFIP_*``); in version 6 the filter may append the macros it wants per stage
(``SMFIM_*``).

This module is the codec for both directions, pure and typed: :func:`decode_command` and
:func:`encode_response` for the filter, :func:`encode_command` and :func:`decode_response` for
an MTA-side client (the test suite and benchmark drive the service that way).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag
from typing import Final

PROTOCOL_VERSION: Final = 6
# libmilter MILTER_CHUNK_SIZE: the MTA sends the body in chunks of at most this many bytes.
CHUNK_SIZE: Final = 65535
# Largest packet we read. Postfix caps a header at header_size_limit (100 KiB) and body chunks
# at 64 KiB; the SMFIP_MDS_1M negotiation would allow 1 MiB. Anything larger ends the session.
DEFAULT_MAX_PACKET: Final = 1024 * 1024 + 1024

# -- commands, MTA -> filter (libmilter mfdef.h) ---------------------------------------------
SMFIC_ABORT: Final = b"A"  # abort the current message (no reply)
SMFIC_BODY: Final = b"B"  # body chunk
SMFIC_CONNECT: Final = b"C"  # connection information
SMFIC_MACRO: Final = b"D"  # macro definitions for the next command (no reply)
SMFIC_BODYEOB: Final = b"E"  # end of body (the final decision is made here)
SMFIC_HELO: Final = b"H"  # HELO/EHLO argument
SMFIC_QUIT_NC: Final = b"K"  # quit, a new connection follows on this socket
SMFIC_HEADER: Final = b"L"  # one header field
SMFIC_MAIL: Final = b"M"  # MAIL FROM and ESMTP arguments
SMFIC_EOH: Final = b"N"  # end of headers
SMFIC_OPTNEG: Final = b"O"  # option negotiation
SMFIC_QUIT: Final = b"Q"  # quit (no reply)
SMFIC_RCPT: Final = b"R"  # RCPT TO and ESMTP arguments
SMFIC_DATA: Final = b"T"  # DATA command
SMFIC_UNKNOWN: Final = b"U"  # an SMTP command the MTA did not recognise

# -- responses, filter -> MTA ----------------------------------------------------------------
SMFIR_ADDRCPT: Final = b"+"
SMFIR_DELRCPT: Final = b"-"
SMFIR_ADDRCPT_PAR: Final = b"2"
SMFIR_SHUTDOWN: Final = b"4"
SMFIR_ACCEPT: Final = b"a"
SMFIR_REPLBODY: Final = b"b"
SMFIR_CONTINUE: Final = b"c"
SMFIR_DISCARD: Final = b"d"
SMFIR_CHGFROM: Final = b"e"
SMFIR_CONN_FAIL: Final = b"f"
SMFIR_ADDHEADER: Final = b"h"
SMFIR_INSHEADER: Final = b"i"
SMFIR_SETSYMLIST: Final = b"l"
SMFIR_CHGHEADER: Final = b"m"
SMFIR_PROGRESS: Final = b"p"
SMFIR_QUARANTINE: Final = b"q"
SMFIR_REJECT: Final = b"r"
SMFIR_SKIP: Final = b"s"
SMFIR_TEMPFAIL: Final = b"t"
SMFIR_REPLYCODE: Final = b"y"

# -- address families in SMFIC_CONNECT -------------------------------------------------------
SMFIA_UNKNOWN: Final = "U"
SMFIA_UNIX: Final = "L"
SMFIA_INET: Final = "4"
SMFIA_INET6: Final = "6"


class ActionFlag(IntFlag):
    """SMFIF_*: the modifications a filter may make (offered by the MTA, requested by us)."""

    NONE = 0
    ADDHDRS = 0x01  # SMFIR_ADDHEADER and SMFIR_INSHEADER
    CHGBODY = 0x02
    ADDRCPT = 0x04
    DELRCPT = 0x08
    CHGHDRS = 0x10  # SMFIR_CHGHEADER (an empty value deletes)
    QUARANTINE = 0x20
    CHGFROM = 0x40
    ADDRCPT_PAR = 0x80
    SETSYMLIST = 0x100  # the macro lists appended to the OPTNEG reply


class ProtocolFlag(IntFlag):
    """SMFIP_*: steps the MTA should not send, or send without waiting for a reply."""

    NONE = 0
    NOCONNECT = 0x01
    NOHELO = 0x02
    NOMAIL = 0x04
    NORCPT = 0x08
    NOBODY = 0x10
    NOHDRS = 0x20
    NOEOH = 0x40
    NR_HDR = 0x80
    NOUNKNOWN = 0x100
    NODATA = 0x200
    SKIP = 0x400  # the MTA understands SMFIR_SKIP
    RCPT_REJ = 0x800
    NR_CONN = 0x1000
    NR_HELO = 0x2000
    NR_MAIL = 0x4000
    NR_RCPT = 0x8000
    NR_DATA = 0x10000
    NR_UNKN = 0x20000
    NR_EOH = 0x40000
    NR_BODY = 0x80000
    HDR_LEADSPC = 0x100000  # header values keep their leading space, both ways
    MDS_256K = 0x10000000
    MDS_1M = 0x20000000


class MacroStage(IntEnum):
    """SMFIM_*: the stages a filter can ask macros for in the OPTNEG reply."""

    CONNECT = 0
    HELO = 1
    ENVFROM = 2
    ENVRCPT = 3
    DATA = 4
    EOM = 5
    EOH = 6


# Module-level aliases under the libmilter names, for readers who know mfdef.h.
SMFIF_ADDHDRS: Final = ActionFlag.ADDHDRS
SMFIF_CHGBODY: Final = ActionFlag.CHGBODY
SMFIF_ADDRCPT: Final = ActionFlag.ADDRCPT
SMFIF_DELRCPT: Final = ActionFlag.DELRCPT
SMFIF_CHGHDRS: Final = ActionFlag.CHGHDRS
SMFIF_QUARANTINE: Final = ActionFlag.QUARANTINE
SMFIF_CHGFROM: Final = ActionFlag.CHGFROM
SMFIF_ADDRCPT_PAR: Final = ActionFlag.ADDRCPT_PAR
SMFIF_SETSYMLIST: Final = ActionFlag.SETSYMLIST
SMFIP_NOCONNECT: Final = ProtocolFlag.NOCONNECT
SMFIP_NOHELO: Final = ProtocolFlag.NOHELO
SMFIP_NOMAIL: Final = ProtocolFlag.NOMAIL
SMFIP_NORCPT: Final = ProtocolFlag.NORCPT
SMFIP_NOBODY: Final = ProtocolFlag.NOBODY
SMFIP_NOHDRS: Final = ProtocolFlag.NOHDRS
SMFIP_NOEOH: Final = ProtocolFlag.NOEOH
SMFIP_NR_HDR: Final = ProtocolFlag.NR_HDR
SMFIP_NOUNKNOWN: Final = ProtocolFlag.NOUNKNOWN
SMFIP_NODATA: Final = ProtocolFlag.NODATA
SMFIP_SKIP: Final = ProtocolFlag.SKIP
SMFIP_RCPT_REJ: Final = ProtocolFlag.RCPT_REJ
SMFIP_NR_CONN: Final = ProtocolFlag.NR_CONN
SMFIP_NR_HELO: Final = ProtocolFlag.NR_HELO
SMFIP_NR_MAIL: Final = ProtocolFlag.NR_MAIL
SMFIP_NR_RCPT: Final = ProtocolFlag.NR_RCPT
SMFIP_NR_DATA: Final = ProtocolFlag.NR_DATA
SMFIP_NR_UNKN: Final = ProtocolFlag.NR_UNKN
SMFIP_NR_EOH: Final = ProtocolFlag.NR_EOH
SMFIP_NR_BODY: Final = ProtocolFlag.NR_BODY
SMFIP_HDR_LEADSPC: Final = ProtocolFlag.HDR_LEADSPC


class ProtocolError(ValueError):
    """A packet that does not follow the protocol; ``str()`` is one line. Ends the session."""


class PacketTooLarge(ProtocolError):
    """A packet whose announced length exceeds the cap; ends the session without reading it."""


# -- framing ---------------------------------------------------------------------------------


def encode_packet(code: bytes, data: bytes = b"") -> bytes:
    """``uint32 len`` + code + data, len counting the code byte."""
    if len(code) != 1:
        raise ValueError("a milter code is one byte")
    return struct.pack("!I", len(data) + 1) + code + data


async def read_packet(reader: asyncio.StreamReader, *, max_size: int = DEFAULT_MAX_PACKET) -> tuple[bytes, bytes] | None:
    """The next ``(code, data)``, or None at a clean end of stream (between packets).

    Raises :class:`PacketTooLarge` before reading an oversized packet's data, and
    :class:`ProtocolError` for a zero length or a stream that ends inside a packet.
    """
    try:
        head = await reader.readexactly(4)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise ProtocolError("connection closed inside a packet length") from None
    (length,) = struct.unpack("!I", head)
    if length == 0:
        raise ProtocolError("packet of length 0 (no command code)")
    if length > max_size:
        raise PacketTooLarge(f"packet of {length} bytes exceeds the limit of {max_size}")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise ProtocolError(f"connection closed inside a packet of {length} bytes") from None
    return body[:1], body[1:]


class PacketSplitter:
    """Incremental framing: feed the bytes as they arrive, take every complete ``(code, data)``.

    For a reader of a packet stream that is not an asyncio stream (a client reading a
    milter's replies, the fuzz targets). The session inlines the same framing in its read
    loop (one pass, no packet list). Same checks as :func:`read_packet`:
    :class:`PacketTooLarge` as soon as an oversized length is seen (nothing of it is kept),
    :class:`ProtocolError` for a zero length; :meth:`finish` says whether the stream ended
    cleanly between packets. The packets before a bad one are still returned, the error is
    then in :attr:`error`.
    """

    def __init__(self, *, max_size: int = DEFAULT_MAX_PACKET) -> None:
        self.max_size = max_size
        self.error: ProtocolError | None = None
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        if self.error is not None:
            raise self.error
        # Usually a read holds whole packets: slice them straight from ``data`` (one copy of
        # each body chunk); only a packet cut by the read waits in the buffer.
        if self._buffer:
            self._buffer += data
            data = bytes(self._buffer)
            self._buffer.clear()
        packets: list[tuple[bytes, bytes]] = []
        start = 0
        end = len(data)
        while end - start >= 4:
            (length,) = struct.unpack_from("!I", data, start)
            if length == 0 or length > self.max_size:
                self.error = (ProtocolError("packet of length 0 (no command code)") if length == 0 else
                              PacketTooLarge(f"packet of {length} bytes exceeds the limit of {self.max_size}"))
                if not packets:
                    raise self.error
                return packets  # nothing of a bad packet is kept
            if end - start - 4 < length:
                break
            body = start + 4
            packets.append((data[body:body + 1], data[body + 1:body + length]))
            start = body + length
        if start < end:
            self._buffer += data[start:]
        return packets

    def finish(self) -> None:
        """End of stream: :class:`ProtocolError` when it ended inside a packet."""
        if len(self._buffer) >= 4:
            (length,) = struct.unpack_from("!I", self._buffer, 0)
            raise ProtocolError(f"connection closed inside a packet of {length} bytes")
        if self._buffer:
            raise ProtocolError("connection closed inside a packet length")


# -- small field codecs ----------------------------------------------------------------------


def _cstring(text: str | bytes) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    if b"\0" in raw:
        raise ValueError("a milter string cannot contain NUL")
    return raw + b"\0"


def _split_cstrings(data: bytes, what: str) -> list[bytes]:
    """NUL-terminated strings filling ``data`` exactly."""
    if not data:
        return []
    if not data.endswith(b"\0"):
        raise ProtocolError(f"{what}: string not NUL-terminated")
    return data[:-1].split(b"\0")


def envelope_text(raw: bytes) -> str:
    # Envelope strings may be UTF-8 (SMTPUTF8); anything else is replaced, never an error.
    return raw.decode("utf-8", errors="replace")


def _uint32(data: bytes, offset: int, what: str) -> int:
    if len(data) < offset + 4:
        raise ProtocolError(f"{what}: truncated 32-bit integer")
    return int(struct.unpack_from("!I", data, offset)[0])


# -- commands (MTA -> filter) ----------------------------------------------------------------


@dataclass(frozen=True)
class OptNeg:
    """SMFIC_OPTNEG from the MTA (what it offers) or the filter's reply (what it wants).

    ``macros``: per stage, the macro names the filter asks for (version 6 replies only).
    """

    version: int
    actions: ActionFlag
    protocol: ProtocolFlag
    macros: Mapping[MacroStage, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Connect:
    hostname: str
    family: str  # SMFIA_*
    port: int | None
    address: str


@dataclass(frozen=True)
class Helo:
    name: str


@dataclass(frozen=True)
class Mail:
    sender: str  # as sent, with the angle brackets
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rcpt:
    recipient: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Header:
    name: bytes
    value: bytes  # raw; with SMFIP_HDR_LEADSPC the leading space is kept


@dataclass(frozen=True)
class EndOfHeaders:
    pass


@dataclass(frozen=True)
class Body:
    chunk: bytes


@dataclass(frozen=True)
class EndOfMessage:
    chunk: bytes = b""  # the MTA may carry a last body chunk here


@dataclass(frozen=True)
class Macros:
    """SMFIC_MACRO: definitions that apply from the command ``for_command`` on."""

    for_command: bytes
    values: Mapping[str, str]


@dataclass(frozen=True)
class Data:
    pass


@dataclass(frozen=True)
class Unknown:
    command: str


@dataclass(frozen=True)
class Abort:
    pass


@dataclass(frozen=True)
class Quit:
    pass


@dataclass(frozen=True)
class QuitNewConnection:
    pass


Command = (
    OptNeg | Connect | Helo | Mail | Rcpt | Header | EndOfHeaders | Body | EndOfMessage | Macros
    | Data | Unknown | Abort | Quit | QuitNewConnection
)


def _decode_optneg(data: bytes) -> OptNeg:
    if len(data) < 12:
        raise ProtocolError(f"OPTNEG: {len(data)} bytes, need 12 (version, actions, protocol)")
    version, actions, protocol = struct.unpack_from("!III", data, 0)
    macros: dict[MacroStage, tuple[str, ...]] = {}
    rest = data[12:]
    while rest:  # version 6: repeated (uint32 stage, NUL-terminated space-separated names)
        stage_number = _uint32(rest, 0, "OPTNEG macro list")
        end = rest.find(b"\0", 4)
        if end == -1:
            raise ProtocolError("OPTNEG macro list: string not NUL-terminated")
        try:
            stage = MacroStage(stage_number)
        except ValueError:
            raise ProtocolError(f"OPTNEG macro list: unknown stage {stage_number}") from None
        macros[stage] = tuple(envelope_text(rest[4:end]).split())
        rest = rest[end + 1:]
    return OptNeg(version, ActionFlag(actions), ProtocolFlag(protocol), macros)


def _decode_connect(data: bytes) -> Connect:
    end = data.find(b"\0")
    if end == -1:
        raise ProtocolError("CONNECT: host name not NUL-terminated")
    hostname = envelope_text(data[:end])
    rest = data[end + 1:]
    if not rest:
        raise ProtocolError("CONNECT: missing address family")
    family = chr(rest[0])
    if family == SMFIA_UNKNOWN:
        return Connect(hostname, family, None, "")
    if family not in (SMFIA_INET, SMFIA_INET6, SMFIA_UNIX):
        raise ProtocolError(f"CONNECT: unknown address family {family!r}")
    if len(rest) < 3:
        raise ProtocolError("CONNECT: truncated port")
    (port,) = struct.unpack_from("!H", rest, 1)
    parts = _split_cstrings(rest[3:], "CONNECT address")
    if len(parts) != 1:
        raise ProtocolError("CONNECT: expected one address string")
    address = envelope_text(parts[0])
    # Sendmail writes IPv6 client addresses as "IPv6:2001:db8::1" (RFC 5321 section 4.1.3).
    if family == SMFIA_INET6 and address.lower().startswith("ipv6:"):
        address = address[5:]
    return Connect(hostname, family, port, address)


def decode_command(code: bytes, data: bytes) -> Command:
    """One command packet from the MTA; :class:`ProtocolError` when it is malformed."""
    if code == SMFIC_OPTNEG:
        return _decode_optneg(data)
    if code == SMFIC_MACRO:
        if not data:
            raise ProtocolError("MACRO: missing command code")
        strings = _split_cstrings(data[1:], "MACRO")
        if len(strings) % 2:
            raise ProtocolError("MACRO: a name without a value")
        values = {envelope_text(strings[i]): envelope_text(strings[i + 1]) for i in range(0, len(strings), 2)}
        return Macros(data[:1], values)
    if code == SMFIC_CONNECT:
        return _decode_connect(data)
    if code == SMFIC_HELO:
        parts = _split_cstrings(data, "HELO")
        if len(parts) != 1:
            raise ProtocolError("HELO: expected one string")
        return Helo(envelope_text(parts[0]))
    if code in (SMFIC_MAIL, SMFIC_RCPT):
        args = _split_cstrings(data, "MAIL" if code == SMFIC_MAIL else "RCPT")
        if not args:
            raise ProtocolError("MAIL/RCPT: missing address")
        first, *rest = (envelope_text(a) for a in args)
        return Mail(first, tuple(rest)) if code == SMFIC_MAIL else Rcpt(first, tuple(rest))
    if code == SMFIC_HEADER:
        parts = _split_cstrings(data, "HEADER")
        if len(parts) != 2 or not parts[0]:
            raise ProtocolError("HEADER: expected a name and a value")
        return Header(parts[0], parts[1])
    if code == SMFIC_BODY:
        return Body(data)
    if code == SMFIC_BODYEOB:
        return EndOfMessage(data)
    if code == SMFIC_EOH:
        return EndOfHeaders()
    if code == SMFIC_DATA:
        return Data()
    if code == SMFIC_UNKNOWN:
        parts = _split_cstrings(data, "UNKNOWN")
        return Unknown(envelope_text(parts[0]) if parts else "")
    if code == SMFIC_ABORT:
        return Abort()
    if code == SMFIC_QUIT:
        return Quit()
    if code == SMFIC_QUIT_NC:
        return QuitNewConnection()
    raise ProtocolError(f"unknown command code {code!r}")


def encode_command(command: Command) -> bytes:
    """The packet an MTA sends for ``command`` (used by test clients and the benchmark)."""
    match command:
        case OptNeg():
            return encode_packet(SMFIC_OPTNEG, _encode_optneg(command))
        case Macros():
            data = command.for_command + b"".join(_cstring(k) + _cstring(v) for k, v in command.values.items())
            return encode_packet(SMFIC_MACRO, data)
        case Connect():
            data = _cstring(command.hostname) + command.family.encode("ascii")
            if command.family != SMFIA_UNKNOWN:
                data += struct.pack("!H", command.port or 0) + _cstring(command.address)
            return encode_packet(SMFIC_CONNECT, data)
        case Helo():
            return encode_packet(SMFIC_HELO, _cstring(command.name))
        case Mail():
            return encode_packet(SMFIC_MAIL, b"".join(_cstring(a) for a in (command.sender, *command.args)))
        case Rcpt():
            return encode_packet(SMFIC_RCPT, b"".join(_cstring(a) for a in (command.recipient, *command.args)))
        case Header():
            return encode_packet(SMFIC_HEADER, _cstring(command.name) + _cstring(command.value))
        case EndOfHeaders():
            return encode_packet(SMFIC_EOH)
        case Body():
            return encode_packet(SMFIC_BODY, command.chunk)
        case EndOfMessage():
            return encode_packet(SMFIC_BODYEOB, command.chunk)
        case Data():
            return encode_packet(SMFIC_DATA)
        case Unknown():
            return encode_packet(SMFIC_UNKNOWN, _cstring(command.command))
        case Abort():
            return encode_packet(SMFIC_ABORT)
        case Quit():
            return encode_packet(SMFIC_QUIT)
        case QuitNewConnection():
            return encode_packet(SMFIC_QUIT_NC)
    raise TypeError(f"not a milter command: {command!r}")


def _encode_optneg(optneg: OptNeg) -> bytes:
    data = struct.pack("!III", optneg.version, int(optneg.actions), int(optneg.protocol))
    for stage, names in sorted(optneg.macros.items()):
        data += struct.pack("!I", int(stage)) + _cstring(" ".join(names))
    return data


# -- responses (filter -> MTA) ---------------------------------------------------------------


@dataclass(frozen=True)
class Continue:
    pass


@dataclass(frozen=True)
class Accept:
    pass


@dataclass(frozen=True)
class Reject:
    pass


@dataclass(frozen=True)
class Tempfail:
    pass


@dataclass(frozen=True)
class Discard:
    pass


@dataclass(frozen=True)
class Skip:
    pass


@dataclass(frozen=True)
class Progress:
    pass


@dataclass(frozen=True)
class ReplyCode:
    """SMFIR_REPLYCODE: the SMTP reply the MTA gives, e.g. ``550 5.7.1 text``.

    ``text`` is one line of printable ASCII; libmilter treats ``%`` specially, so it is
    doubled on the wire (and undoubled by :func:`decode_response`).
    """

    code: int
    text: str

    def line(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(frozen=True)
class AddHeader:
    name: bytes
    value: bytes


@dataclass(frozen=True)
class InsertHeader:
    """SMFIR_INSHEADER: insert at ``index`` in the header list (0 is the top)."""

    index: int
    name: bytes
    value: bytes


@dataclass(frozen=True)
class ChangeHeader:
    """SMFIR_CHGHEADER: the ``index``-th (1-based) field named ``name``; an empty value deletes it."""

    index: int
    name: bytes
    value: bytes


@dataclass(frozen=True)
class Quarantine:
    reason: str


Response = (
    Continue | Accept | Reject | Tempfail | Discard | Skip | Progress | ReplyCode | AddHeader
    | InsertHeader | ChangeHeader | Quarantine | OptNeg
)

# Responses that end the handling of a command (modifications only precede them at EOM).
FINAL_RESPONSES: Final = (Continue, Accept, Reject, Tempfail, Discard, Skip, ReplyCode)


# RFC 5322 section 2.2: a field name is printable US-ASCII except ":".
_FIELD_NAME_CHARS: Final = bytes(c for c in range(33, 127) if c != ord(":"))


def _header_field(name: bytes, value: bytes) -> bytes:
    if not name or name.translate(None, _FIELD_NAME_CHARS):
        raise ValueError(f"invalid header field name {name!r}")
    return _cstring(name) + _cstring(value)


def encode_response(response: Response) -> bytes:
    """The packet a filter sends for ``response``."""
    match response:
        case Continue():
            return encode_packet(SMFIR_CONTINUE)
        case Accept():
            return encode_packet(SMFIR_ACCEPT)
        case Reject():
            return encode_packet(SMFIR_REJECT)
        case Tempfail():
            return encode_packet(SMFIR_TEMPFAIL)
        case Discard():
            return encode_packet(SMFIR_DISCARD)
        case Skip():
            return encode_packet(SMFIR_SKIP)
        case Progress():
            return encode_packet(SMFIR_PROGRESS)
        case ReplyCode():
            if not 400 <= response.code <= 599:
                raise ValueError("a milter reply code must be 4xx or 5xx")
            return encode_packet(SMFIR_REPLYCODE, _cstring(f"{response.code} {response.text.replace('%', '%%')}"))
        case AddHeader():
            return encode_packet(SMFIR_ADDHEADER, _header_field(response.name, response.value))
        case InsertHeader():
            return encode_packet(SMFIR_INSHEADER, struct.pack("!I", response.index)
                                 + _header_field(response.name, response.value))
        case ChangeHeader():
            return encode_packet(SMFIR_CHGHEADER, struct.pack("!I", response.index)
                                 + _header_field(response.name, response.value))
        case Quarantine():
            return encode_packet(SMFIR_QUARANTINE, _cstring(response.reason))
        case OptNeg():
            return encode_packet(SMFIC_OPTNEG, _encode_optneg(response))
    raise TypeError(f"not a milter response: {response!r}")


def _decode_header_response(data: bytes, with_index: bool, what: str) -> tuple[int, bytes, bytes]:
    index = _uint32(data, 0, what) if with_index else 0
    parts = _split_cstrings(data[4:] if with_index else data, what)
    if len(parts) != 2:
        raise ProtocolError(f"{what}: expected a name and a value")
    return index, parts[0], parts[1]


_SIMPLE_RESPONSES: Final[dict[bytes, Response]] = {
    SMFIR_CONTINUE: Continue(), SMFIR_ACCEPT: Accept(), SMFIR_REJECT: Reject(), SMFIR_TEMPFAIL: Tempfail(),
    SMFIR_DISCARD: Discard(), SMFIR_SKIP: Skip(), SMFIR_PROGRESS: Progress(),
}


def decode_response(code: bytes, data: bytes) -> Response:
    """One response packet from a filter (the MTA side of the codec)."""
    if code in _SIMPLE_RESPONSES:
        return _SIMPLE_RESPONSES[code]
    if code == SMFIC_OPTNEG:
        return _decode_optneg(data)
    if code == SMFIR_REPLYCODE:
        parts = _split_cstrings(data, "REPLYCODE")
        if len(parts) != 1:
            raise ProtocolError("REPLYCODE: expected one string")
        line = envelope_text(parts[0])
        number, _, text = line.partition(" ")
        if not (number.isascii() and number.isdigit() and len(number) == 3 and number[0] in "45"):
            raise ProtocolError(f"REPLYCODE: {line[:40]!r} does not start with a 4xx/5xx code")
        return ReplyCode(int(number), text.replace("%%", "%"))
    if code == SMFIR_ADDHEADER:
        _, name, value = _decode_header_response(data, False, "ADDHEADER")
        return AddHeader(name, value)
    if code == SMFIR_INSHEADER:
        return InsertHeader(*_decode_header_response(data, True, "INSHEADER"))
    if code == SMFIR_CHGHEADER:
        return ChangeHeader(*_decode_header_response(data, True, "CHGHEADER"))
    if code == SMFIR_QUARANTINE:
        parts = _split_cstrings(data, "QUARANTINE")
        return Quarantine(envelope_text(parts[0]) if parts else "")
    raise ProtocolError(f"unknown or unsupported response code {code!r}")

