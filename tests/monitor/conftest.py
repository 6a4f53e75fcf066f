"""Monitoring fixtures: a real SMTP receiver (aiosmtpd), a real webhook HTTP server, report data."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from zegel.reports.model import ParsedAggregate, PolicyPublished, ReportMetadata
from zegel.reports.store import ReportStore

DAY = 86400


class Clock:
    """The monitor's injected time: tests move it instead of sleeping."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class MailReceiver:
    """aiosmtpd on 127.0.0.1 (a free port), keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 OK"

    def close(self) -> None:
        self.controller.stop()


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 keeping every JSON body POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def mail_receiver() -> Iterator[MailReceiver]:
    receiver = MailReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


def record(ip: str, count: int, *, dkim: tuple[str, str] | None = None, spf: tuple[str, str] = ("", "fail"),
           envelope_from: str = "", dkim_eval: str = "fail", spf_eval: str = "fail", header_from: str = "",
           disposition: str = "none") -> tuple[Any, ...]:
    """One aggregate report record's fields, as ingest stores them."""
    dkim_rows = ((dkim[0], "s1", dkim[1], ""),) if dkim else ()
    return (ip, count, disposition, dkim_eval, spf_eval, header_from, envelope_from, "", (),
            dkim_rows, ((spf[0], "mfrom", spf[1], ""),))


def add_report(reports: ReportStore, domain: str, report_id: str, begin: int, records: list[tuple[Any, ...]],
               *, org: str = "Reporter A", p: str = "none") -> None:
    fixed = [(r[0], r[1], r[2], r[3], r[4], r[5] or domain, *r[6:]) for r in records]
    report = ParsedAggregate(ReportMetadata(org, "r@reporter.example", report_id, begin, begin + DAY - 1),
                             PolicyPublished(domain, p), "rfc9990", "1.0", tuple(fixed))  # type: ignore[arg-type]
    with reports.ingest_session() as session:
        assert session.add_aggregate(report, f"test:{report_id}")


__all__ = ["Clock", "Path", "add_report", "record"]
