"""An MTA-side milter client that drives zegel's milter the way Postfix does.

Postfix offers milter protocol version 6 with every action and protocol step it supports,
sends macros before each command, honours the no-reply flags the filter asks for, sends
the body in chunks of at most 65535 bytes and collects the modifications at end of message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from zegel.milter import protocol as p

# What Postfix 3.x offers in its OPTNEG (every action; every step and no-reply flag of v6).
POSTFIX_ACTIONS = p.ActionFlag(0x1FF)
POSTFIX_PROTOCOL = p.ProtocolFlag(0x1FFFFF)


@dataclass
class EomResult:
    modifications: list[p.Response] = field(default_factory=list)
    final: p.Response | None = None


class MilterClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.negotiated: p.OptNeg | None = None

    @classmethod
    async def connect(cls, host: str, port: int) -> MilterClient:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    @classmethod
    async def connect_unix(cls, path: str) -> MilterClient:
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def send(self, command: p.Command) -> None:
        self.writer.write(p.encode_command(command))
        await self.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def read(self, wait: float = 10.0) -> p.Response | None:
        packet = await asyncio.wait_for(p.read_packet(self.reader), wait)
        if packet is None:
            return None
        return p.decode_response(*packet)

    def expects_reply(self, flag: p.ProtocolFlag) -> bool:
        assert self.negotiated is not None
        return flag not in self.negotiated.protocol

    async def optneg(self, *, version: int = 6, actions: p.ActionFlag = POSTFIX_ACTIONS,
                     protocol: p.ProtocolFlag = POSTFIX_PROTOCOL) -> p.OptNeg:
        await self.send(p.OptNeg(version, actions, protocol))
        reply = await self.read()
        assert isinstance(reply, p.OptNeg), reply
        self.negotiated = reply
        return reply

    async def step(self, command: p.Command, no_reply: p.ProtocolFlag | None,
                   macros: Mapping[str, str] | None = None, code: bytes = b"") -> p.Response | None:
        if macros is not None:
            await self.send(p.Macros(code, dict(macros)))
        await self.send(command)
        if no_reply is not None and not self.expects_reply(no_reply):
            return None
        return await self.read()

    async def message(
        self,
        raw: bytes,
        *,
        client_ip: str = "192.0.2.10",
        helo: str = "mail.example.org",
        mail_from: str = "sender@example.org",
        recipients: Sequence[str] = ("user@example.net",),
        macros: Mapping[str, str] | None = None,
        chunk_size: int = p.CHUNK_SIZE,
        connect: bool = True,
        ipv6_prefix: bool = False,
        fold: bytes = b"\n",
    ) -> EomResult:
        """One SMTP transaction: CONNECT, HELO, MAIL, RCPT, headers, body, EOM.

        ``ipv6_prefix`` and ``fold=b"\\r\\n"`` drive it the way Sendmail does (``IPv6:`` address
        prefix, folded header lines joined by CRLF); the defaults are Postfix's.
        """
        assert self.negotiated is not None
        leadspc = p.ProtocolFlag.HDR_LEADSPC in self.negotiated.protocol
        if connect:
            family = "6" if ":" in client_ip else "4"
            address = f"IPv6:{client_ip}" if family == "6" and ipv6_prefix else client_ip
            await self.step(p.Connect("client.example", family, 25000, address), p.ProtocolFlag.NR_CONN,
                            {"j": "mx.zegel.test", "{client_addr}": client_ip}, b"C")
            await self.step(p.Helo(helo), p.ProtocolFlag.NR_HELO)
        mail_macros = {"i": "4ABCDEF"}
        mail_macros.update(macros or {})
        await self.step(p.Mail(f"<{mail_from}>", ("BODY=8BITMIME",)), p.ProtocolFlag.NR_MAIL, mail_macros, b"M")
        for rcpt in recipients:
            await self.step(p.Rcpt(f"<{rcpt}>"), p.ProtocolFlag.NR_RCPT)
        head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
        for name, value in _fields(head):
            # Postfix sends folded lines joined by LF; without HDR_LEADSPC it drops one space.
            if not leadspc and value.startswith(b" "):
                value = value[1:]
            value = value.replace(b"\n", fold)
            await self.step(p.Header(name, value), p.ProtocolFlag.NR_HDR)
        await self.step(p.EndOfHeaders(), p.ProtocolFlag.NR_EOH)
        body = body.replace(b"\n", b"\r\n")
        for start in range(0, len(body), chunk_size):
            reply = await self.step(p.Body(body[start:start + chunk_size]), p.ProtocolFlag.NR_BODY)
            if isinstance(reply, p.Skip):
                break
        await self.send(p.Macros(b"E", {"i": "4ABCDEF"}))
        await self.send(p.EndOfMessage())
        result = EomResult()
        while True:
            response = await self.read(wait=30.0)
            assert response is not None, "milter closed the connection at end of message"
            if isinstance(response, p.FINAL_RESPONSES):
                result.final = response
                return result
            result.modifications.append(response)


def _fields(head: bytes) -> list[tuple[bytes, bytes]]:
    fields: list[tuple[bytes, bytes]] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + b"\n" + line)
        elif line:
            name, _, value = line.partition(b":")
            fields.append((name, value))
    return fields


def apply_modifications(raw: bytes, result: EomResult, *, leadspc: bool = True) -> bytes:
    """The message as the MTA would deliver it after ``result``'s header changes."""
    head, _, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    headers = [(n, v if leadspc or not v.startswith(b" ") else v[1:]) for n, v in _fields(head)]
    for mod in result.modifications:
        if isinstance(mod, p.InsertHeader):
            headers.insert(min(mod.index, len(headers)), (mod.name, mod.value))
        elif isinstance(mod, p.AddHeader):
            headers.append((mod.name, mod.value))
        elif isinstance(mod, p.ChangeHeader):
            seen = 0
            for position, (name, _) in enumerate(headers):
                if name.lower() == mod.name.lower():
                    seen += 1
                    if seen == mod.index:
                        if mod.value:
                            headers[position] = (name, mod.value)
                        else:
                            del headers[position]
                        break
    sep = b":" if leadspc else b": "
    out = b"".join(n + sep + v.replace(b"\n", b"\r\n") + b"\r\n" for n, v in headers)
    return out + b"\r\n" + body.replace(b"\n", b"\r\n")
