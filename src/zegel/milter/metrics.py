"""Prometheus-format metrics and a tiny asyncio HTTP endpoint serving ``GET /metrics``.

Text exposition format 0.0.4: ``# HELP``/``# TYPE`` lines, then ``name{label="v"} value``;
histograms as cumulative ``_bucket{le=...}`` series plus ``_sum`` and ``_count``.
The registry belongs to the service object (no module-level state).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from zegel.dns.cache import CacheStats

if TYPE_CHECKING:  # the recorder (and SQLAlchemy) load only with [reports] database
    from zegel.reports.recorder import RecorderStats

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
MAX_REQUEST_BYTES = 8192
REQUEST_TIMEOUT = 5.0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(pairs: tuple[tuple[str, str], ...]) -> str:
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _number(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1


class MilterMetrics:
    """Counters and the latency histogram the milter keeps, rendered on demand."""

    def __init__(self, cache_stats: Callable[[], CacheStats] | None = None,
                 recorder_stats: Callable[[], RecorderStats] | None = None) -> None:
        self.messages: dict[tuple[str, str, str], int] = {}
        self.errors: dict[str, int] = {}
        self.latency = Histogram()
        self.sessions_total = 0
        self.sessions_active = 0
        self.messages_in_flight = 0
        self.protocol_errors = 0
        self.oversized = 0
        self._cache_stats = cache_stats
        self._recorder_stats = recorder_stats  # with [reports] database only

    def message(self, direction: str, result: str, action: str, seconds: float) -> None:
        key = (direction, result, action)
        self.messages[key] = self.messages.get(key, 0) + 1
        self.latency.observe(seconds)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def render(self) -> str:
        lines: list[str] = []

        def family(name: str, kind: str, help_text: str) -> None:
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} {kind}")

        family("zegel_milter_messages_total", "counter", "Messages handled, by direction, result and action.")
        for (direction, result, action), count in sorted(self.messages.items()):
            labels = _labels((("direction", direction), ("result", result), ("action", action)))
            lines.append(f"zegel_milter_messages_total{labels} {count}")
        family("zegel_milter_message_seconds", "histogram",
               "Time from end of message to the milter's decision (verification or signing).")
        cumulative = 0
        for bound, count in zip(self.latency.buckets, self.latency.counts, strict=False):
            cumulative += count
            lines.append(f'zegel_milter_message_seconds_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'zegel_milter_message_seconds_bucket{{le="+Inf"}} {self.latency.count}')
        lines.append(f"zegel_milter_message_seconds_sum {_number(self.latency.total)}")
        lines.append(f"zegel_milter_message_seconds_count {self.latency.count}")
        family("zegel_milter_errors_total", "counter", "Internal errors, by kind (the on_error setting applied).")
        for kind, count in sorted(self.errors.items()):
            lines.append(f"zegel_milter_errors_total{_labels((('kind', kind),))} {count}")
        family("zegel_milter_protocol_errors_total", "counter", "Sessions ended for a malformed or oversized packet.")
        lines.append(f"zegel_milter_protocol_errors_total {self.protocol_errors}")
        family("zegel_milter_oversized_messages_total", "counter", "Messages over max_message_size or the header caps (the message_too_large / header_limits outcome applies).")
        lines.append(f"zegel_milter_oversized_messages_total {self.oversized}")
        family("zegel_milter_sessions_total", "counter", "Milter connections accepted.")
        lines.append(f"zegel_milter_sessions_total {self.sessions_total}")
        family("zegel_milter_sessions_active", "gauge", "Milter connections open now.")
        lines.append(f"zegel_milter_sessions_active {self.sessions_active}")
        family("zegel_milter_messages_in_flight", "gauge", "Messages between MAIL FROM and the final reply.")
        lines.append(f"zegel_milter_messages_in_flight {self.messages_in_flight}")
        if self._cache_stats is not None:
            stats = self._cache_stats()
            family("zegel_dns_cache_hits_total", "counter", "DNS answers served from the resolver cache.")
            lines.append(f"zegel_dns_cache_hits_total {stats.hits}")
            family("zegel_dns_cache_misses_total", "counter", "DNS lookups the cache could not answer.")
            lines.append(f"zegel_dns_cache_misses_total {stats.misses}")
            family("zegel_dns_cache_hit_ratio", "gauge", "Share of DNS lookups answered from the cache.")
            lines.append(f"zegel_dns_cache_hit_ratio {_number(stats.hit_rate)}")
        if self._recorder_stats is not None:
            recorder = self._recorder_stats()
            for name, value, help_text in (
                ("written", recorder.written, "Verdicts written to the reports database."),
                ("spooled", recorder.spooled, "Verdicts spooled to disk while the reports database was unreachable."),
                ("replayed", recorder.replayed, "Spooled verdicts written to the reports database later."),
                ("dropped", recorder.dropped, "Verdicts not recorded: the queue or the spool was full (reports only; "
                                              "mail unaffected)."),
            ):
                family(f"zegel_milter_outcomes_{name}_total", "counter", help_text)
                lines.append(f"zegel_milter_outcomes_{name}_total {value}")
        return "\n".join(lines) + "\n"


class MetricsServer:
    """``GET /metrics`` over HTTP/1.0-style one-request connections; anything else is 404/405."""

    def __init__(self, metrics: MilterMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets = self._server.sockets
        if sockets and self.port == 0:
            self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            except (asyncio.LimitOverrunError, asyncio.IncompleteReadError, TimeoutError):
                return
            if len(head) > MAX_REQUEST_BYTES:
                await self._respond(writer, 431, "Request Header Fields Too Large", "too large\n")
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split()
            if len(parts) != 3:
                await self._respond(writer, 400, "Bad Request", "bad request\n")
            elif parts[0] not in ("GET", "HEAD"):
                await self._respond(writer, 405, "Method Not Allowed", "use GET\n")
            elif parts[1].split("?", 1)[0] != "/metrics":
                await self._respond(writer, 404, "Not Found", "see /metrics\n")
            else:
                await self._respond(writer, 200, "OK", self.metrics.render(), head_only=parts[0] == "HEAD")
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()

    @staticmethod
    async def _respond(writer: asyncio.StreamWriter, status: int, reason: str, body: str, *, head_only: bool = False) -> None:
        payload = body.encode("utf-8")
        content_type = "text/plain; version=0.0.4; charset=utf-8" if status == 200 else "text/plain; charset=utf-8"
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode("ascii")
        writer.write(head if head_only else head + payload)
        await writer.drain()
