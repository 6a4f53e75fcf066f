"""The mail tester's SMTP receiver (aiosmtpd), in the web app's event loop.

It accepts mail only for live tester addresses (``test-<id>@`` the server's mail domain) and
never relays: any other recipient is refused at RCPT. The message runs through the receiver
pipeline (zegel.verify) with the real connecting IP, HELO name and MAIL FROM, and the result is
stored for the tester page. The DATA size is limited (RFC 1870 SIZE is announced).
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from typing import TYPE_CHECKING, Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from zegel.web.service import tester_result

if TYPE_CHECKING:
    from zegel.web.app import WebContext

log = logging.getLogger("zegel.web.smtp")
TESTER_PREFIX = "test-"
_LOCAL = re.compile(r"test-([a-z0-9]{6,20})\Z")
MAX_RECIPIENTS = 5
SMTP_TIMEOUT = 60.0  # seconds of silence before the receiver hangs up


def tester_id(address: str, mail_domain: str) -> str | None:
    """The tester id in ``test-<id>@mail_domain`` (case-insensitive), else None."""
    local, at, domain = address.strip().strip("<>").rpartition("@")
    if not at or domain.lower().rstrip(".") != mail_domain:
        return None
    match = _LOCAL.match(local.lower())
    return match.group(1) if match else None


class TesterHandler:
    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.mail_domain = ctx.settings.effective_mail_domain()
        self.connections = 0

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        key = tester_id(address, self.mail_domain)
        if key is None:
            # RFC 5321 3.6.2 / 7.1: this is no relay; only our own test addresses are accepted.
            return "550 5.7.1 Relaying denied: this server only accepts mail for its test addresses"
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return "452 4.5.3 Too many recipients"
        item = await self.ctx.store.get("tester", key)
        if item is None:
            return "550 5.1.1 Unknown or expired test address"
        if item.status != "waiting":
            return "550 5.7.0 This test address has already received its message; ask for a new one"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        message = envelope.original_content or b""
        if isinstance(envelope.content, bytes) and not message:
            message = envelope.content
        peer = session.peer
        ip = str(peer[0]) if isinstance(peer, tuple) else str(peer or "")
        helo = session.host_name or ""
        mail_from = envelope.mail_from or ""
        if mail_from == "<>":
            mail_from = ""
        try:
            for address in envelope.rcpt_tos:
                key = tester_id(address, self.mail_domain)
                if key is None:
                    continue
                result = await tester_result(self.ctx, message, ip=ip, helo=helo, mail_from=mail_from,
                                             rcpt_to=address)
                await self.ctx.store.update("tester", key, result_data(address, result), status="done",
                                            only_if_status="waiting")
        except Exception as exc:  # one bad message never stops the receiver
            log.error("tester: cannot verify message from %s: %s: %s", ip, type(exc).__name__, exc)
            return "451 4.3.0 Could not check the message; try again"
        return "250 2.0.0 Message checked; the report is on the tester page"


def result_data(address: str, result: dict[str, Any]) -> dict[str, Any]:
    return {"address": address, "result": result}


class TesterSMTP(SMTP):
    """aiosmtpd's SMTP session, refusing connections beyond the receiver's limit with 421
    (RFC 5321 3.8: a server may close with 421 when it cannot take more)."""

    refused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        handler: TesterHandler = self.event_handler
        if handler.connections >= handler.ctx.settings.limits.smtp_connections:
            self.refused = True
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(b"421 4.7.0 Too many connections; try again later\r\n")
            transport.close()
            return
        handler.connections += 1
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self.refused:
            return
        handler: TesterHandler = self.event_handler
        handler.connections -= 1
        super().connection_lost(error)


async def start_receiver(ctx: WebContext, host: str, port: int) -> asyncio.AbstractServer:
    handler = TesterHandler(ctx)
    limit = ctx.settings.limits.smtp_message
    hostname = ctx.settings.effective_mail_domain()
    loop = asyncio.get_running_loop()
    def protocol() -> TesterSMTP:
        return TesterSMTP(handler, data_size_limit=limit, hostname=hostname, ident="zegel mail tester",
                          timeout=SMTP_TIMEOUT, enable_SMTPUTF8=True, decode_data=False)

    bound = ctx.state.pop("smtp_socket", None)  # bound by the command before start-up
    if isinstance(bound, socket.socket):
        server = await loop.create_server(protocol, sock=bound)
    else:
        server = await loop.create_server(protocol, host=host, port=port)
    sockname = server.sockets[0].getsockname() if server.sockets else (host, port)
    ctx.state["smtp_address"] = (str(sockname[0]), int(sockname[1]))
    log.info("mail tester receiving on %s:%s for @%s", sockname[0], sockname[1], hostname)
    return server


__all__ = ["TesterHandler", "start_receiver", "tester_id"]
