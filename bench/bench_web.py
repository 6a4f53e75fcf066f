"""zegel web: server time per request (the ASGI app called directly, so HTTP parsing and the
network are not counted), and the latency a client sees through uvicorn on loopback.

Targets from the issue: a domain check answered from a zone under 100 ms server time, the
header analyzer under 20 ms. Demo zones, offline; rate limits raised so they do not interfere.
"""

from __future__ import annotations

import asyncio
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import Row

ROOT = Path(__file__).resolve().parent.parent
ZONES = tuple(str(ROOT / "demo" / "zones" / name) for name in ("check.zone", "sample.zone", "spf.zone"))
MESSAGE = (ROOT / "demo" / "messages" / "lookalike-received.eml").read_bytes()
RUNS = 200


def _app(data_dir: str) -> Any:
    from zegel.web import Limits, Settings, create_app

    big = 10**9
    settings = Settings(zones=ZONES, offline=True, data_dir=Path(data_dir), secret="bench",
                        limits=Limits(checks_per_minute=big, explains_per_minute=big, tools_per_minute=big,
                                      testers_per_minute=big))
    return create_app(settings)


class Asgi:
    """Calls the app as an ASGI server would, timing the call."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookie = b""

    async def call(self, method: str, path: str, query: dict[str, str] | None = None, body: bytes = b"",
                   content_type: bytes = b"application/octet-stream") -> tuple[float, int, bytes]:
        headers = [(b"host", b"bench.local"), (b"accept-language", b"en")]
        if body:
            headers += [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
        if self.cookie:
            headers.append((b"cookie", self.cookie))
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": urlencode(query or {}).encode(), "root_path": "", "headers": headers,
                 "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080), "state": {}}
        delivered = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name == b"set-cookie" and not self.cookie:
                        self.cookie = value.split(b";", 1)[0]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        started = time.perf_counter()
        await self.app(scope, receive, send)
        return time.perf_counter() - started, status, b"".join(chunks)


async def _median_ms(asgi: Asgi, runs: int, *args: Any, **kwargs: Any) -> float:
    await asgi.call(*args, **kwargs)  # warm-up: templates compiled, answers cached
    samples = []
    for _ in range(runs):
        seconds, status, _ = await asgi.call(*args, **kwargs)
        assert status in (200, 303), status
        samples.append(seconds)
    return statistics.median(samples) * 1000


async def _server_times(app: Any) -> list[Row]:
    asgi = Asgi(app)
    _, _, page = await asgi.call("GET", "/explain")
    token = re.search(rb'name="csrf_token" value="([0-9a-f]+)"', page)
    assert token is not None
    form = urlencode({"csrf_token": token.group(1).decode(), "message": MESSAGE.decode()}).encode()
    draft = urlencode({"csrf_token": token.group(1).decode(), "domain": "bakkerij.example",
                       "draft_dmarc": "v=DMARC1; p=reject; rua=mailto:dmarc@bakkerij.example"}).encode()
    rows = []
    targets = [
        ("draft check (own resolver, cold cache) (median)", 100,
         ("POST", "/check", None, draft, b"application/x-www-form-urlencoded")),
        ("domain check page, from zone (median)", 100, ("GET", "/check", {"domain": "webwinkel.example"})),
        ("GET /api/check, from zone (median)", 100, ("GET", "/api/check", {"domain": "webwinkel.example"})),
        ("header analyzer page, POST (median)", 20, ("POST", "/explain", None, form, b"application/x-www-form-urlencoded")),
        ("POST /api/explain (median)", 20, ("POST", "/api/explain", None, MESSAGE)),
        ("home page (median)", None, ("GET", "/", None)),
    ]
    for metric, target, call in targets:
        value = await _median_ms(asgi, RUNS, *call)
        note = "server time" + (f"; target < {target} ms" if target else "")
        rows.append(Row("web", metric, "ms", value, higher_is_better=False, note=note))
    return rows


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client_times(data_dir: str) -> list[Row]:
    """``zegel web`` in its own process (uvicorn), asked over loopback with http.client (one
    keep-alive connection, each request in one write): what a browser on the host would wait."""
    import http.client

    port = _free_port()
    zones = [arg for zone in ZONES for arg in ("--zone", zone)]
    process = subprocess.Popen([sys.executable, "-m", "zegel", "web", "--listen", f"127.0.0.1:{port}", *zones,
                                "--offline", "--data-dir", data_dir, "--rate-limit", "0"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("zegel web did not start") from None
                time.sleep(0.05)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for metric, method, path, body in (
            ("domain check page over HTTP (median)", "GET", "/check?domain=webwinkel.example", None),
            ("GET /api/check over HTTP (median)", "GET", "/api/check?domain=webwinkel.example", None),
            ("POST /api/explain over HTTP (median)", "POST", "/api/explain", MESSAGE),
        ):
            samples = []
            for attempt in range(RUNS // 2 + 1):
                started = time.perf_counter()
                connection.request(method, path, body=body)
                response = connection.getresponse()
                response.read()
                assert response.status == 200, response.status
                if attempt:  # the first is a warm-up
                    samples.append(time.perf_counter() - started)
            rows.append(Row("web", metric, "ms", statistics.median(samples) * 1000, higher_is_better=False,
                            note="client-observed: zegel web process, loopback"))
        connection.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
    return rows


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="zegel-bench-web-") as data_dir:
        app = _app(data_dir)
        rows = asyncio.run(_server_times(app))
        app.state.zegel.store.close()
        rows += _client_times(data_dir)
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
