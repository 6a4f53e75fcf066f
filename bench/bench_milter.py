"""Milter load: 2000 messages through Postfix with 20 concurrent SMTP clients, with and without
``zegel milter`` in ``smtpd_milters``.

Same messages, same Postfix configuration, same run: DKIM-signed mail from a domain with SPF,
DKIM and DMARC records (served by the loopback test DNS server), one SMTP connection per
message. Reports messages/s (first connection to last delivery) and the per-message SMTP
latency (connect to QUIT) at p50/p99, and the latency the milter adds. Every message is
accounted for: the Maildir must hold exactly the number sent, the queue must be empty.
"""

from __future__ import annotations

import base64
import email.utils
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.common import Row

MESSAGES = int(os.environ.get("ZEGEL_BENCH_MILTER_MESSAGES", "2000"))
CLIENTS = 20
# A second, sequential pass (one client): the latency the milter adds when nothing queues for
# the CPU, so protocol stalls are not hidden by 20 clients sharing one core.
SEQUENTIAL = int(os.environ.get("ZEGEL_BENCH_MILTER_SEQUENTIAL", "200"))
DOMAIN = "pass.example"
RCPT = "user@example.test"


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def _messages(count: int, key: rsa.RSAPrivateKey) -> list[bytes]:
    import dkim as dkimpy

    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    out = []
    for number in range(count):
        raw = (f"From: Alice <alice@{DOMAIN}>\r\nTo: {RCPT}\r\nSubject: load test {number}\r\n"
               f"Date: {email.utils.formatdate()}\r\nMessage-ID: <bench-{number}@{DOMAIN}>\r\n\r\n"
               + "A line of an ordinary message body for the benchmark.\r\n" * 40).encode()
        signature = dkimpy.sign(raw, b"sel", DOMAIN.encode(), pem,
                                include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
        out.append(bytes(signature) + raw)
    return out


def _phase(postfix: object, messages: list[bytes], clients: int = CLIENTS,
           already: int = 0) -> tuple[float, list[float], int, int]:
    """Send every message with ``clients`` threads; (seconds to last delivery, latencies, delivered, failed).

    ``already``: messages delivered to the Maildir before this phase.
    """
    from tests.milter.postfix_harness import PostfixInstance

    assert isinstance(postfix, PostfixInstance)
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def send(raw: bytes) -> None:
        started = time.perf_counter()
        try:
            postfix.send(raw, mail_from=f"alice@{DOMAIN}", rcpt_to=[RCPT])
        except Exception as exc:  # counted, not hidden: the accounting below must add up
            with lock:
                failures.append(f"{type(exc).__name__}: {exc}")
            return
        with lock:
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, messages))
    expected = len(messages) - len(failures)
    postfix.wait_delivered(already + expected, timeout=300)
    elapsed = time.perf_counter() - started
    delivered = len(postfix.delivered()) - already
    if failures:
        print(f"bench milter: {len(failures)} sends failed, first: {failures[0]}", file=sys.stderr)
    return elapsed, latencies, delivered, len(failures)


def _direct(port: int, messages: list[bytes]) -> tuple[float, list[float]]:
    """The milter alone: CLIENTS concurrent milter sessions over its socket, as Postfix would drive it."""
    import asyncio

    from tests.milter.milter_client import MilterClient

    async def main() -> tuple[float, list[float]]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        for raw in messages:
            queue.put_nowait(raw)
        latencies: list[float] = []

        async def worker() -> None:
            client = await MilterClient.connect("127.0.0.1", port)
            await client.optneg()
            first = True
            while not queue.empty():
                raw = queue.get_nowait()
                started = time.perf_counter()
                await client.message(raw, client_ip="127.0.0.1", mail_from=f"alice@{DOMAIN}", connect=first)
                latencies.append(time.perf_counter() - started)
                first = False
            await client.close()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        return time.perf_counter() - started, latencies

    return asyncio.run(main())


def _key_record(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


def run() -> list[Row]:
    postfix_path = shutil.which("postfix") or ("/usr/sbin/postfix" if Path("/usr/sbin/postfix").exists() else None)
    if postfix_path is None:
        print("bench milter: Postfix is not installed (apt-get install postfix; `make deps`): no rows", file=sys.stderr)
        return []
    if os.geteuid() != 0:
        print("bench milter: starting a Postfix instance needs root: no rows", file=sys.stderr)
        return []
    repo = Path(__file__).resolve().parent.parent
    if str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    from tests.milter.postfix_harness import MilterProcess, PostfixInstance, free_port

    from zegel.dns.testserver import TestDnsServer

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    messages = _messages(MESSAGES, key)
    dns = TestDnsServer({
        DOMAIN: [("TXT", "v=spf1 ip4:127.0.0.1 -all")],
        f"_dmarc.{DOMAIN}": [("TXT", "v=DMARC1; p=reject")],
        f"sel._domainkey.{DOMAIN}": [("TXT", _key_record(key))],
    }).start_in_thread()
    work = Path(tempfile.mkdtemp(prefix="zegel-bench-milter-"))
    milter_port, metrics_port = free_port(), free_port()
    config = work / "milter.toml"
    config.write_text(f"""authserv_id = "mx.zegel.test"
socket = "inet:127.0.0.1:{milter_port}"
[dns]
nameservers = ["{dns.address}"]
[metrics]
listen = "127.0.0.1:{metrics_port}"
[log]
level = "warning"
""", encoding="utf-8")
    results: dict[str, tuple[float, list[float], int, int]] = {}
    sequential: dict[str, tuple[float, list[float], int, int]] = {}
    hit_rate = ""
    direct: tuple[float, list[float]] | None = None
    milter = MilterProcess(config, milter_port)
    try:
        for label, milter_spec in (("without", None), ("with", f"inet:127.0.0.1:{milter_port}")):
            if milter_spec is not None:
                milter.start()
            postfix = PostfixInstance(milter=milter_spec, process_limit=CLIENTS * 2)
            try:
                postfix.start()
                results[label] = _phase(postfix, messages)
                if SEQUENTIAL:
                    sequential[label] = _phase(postfix, messages[:SEQUENTIAL], clients=1,
                                               already=results[label][2])
                left = postfix.queued()
                if left:
                    print(f"bench milter: {len(left)} messages left in the queue ({label} milter)", file=sys.stderr)
            finally:
                postfix.stop()
            if milter_spec is not None:
                direct = _direct(milter_port, messages)
                with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
                    text = response.read().decode()
                found = re.search(r"^zegel_dns_cache_hit_ratio (\S+)$", text, re.M)
                hit_rate = f"DNS cache hit rate {float(found.group(1)):.1%}" if found else ""
    finally:
        milter.terminate()
        dns.stop_thread()
        shutil.rmtree(work, ignore_errors=True)

    rows: list[Row] = []
    bare_elapsed, bare_latency, bare_delivered, bare_failed = results["without"]
    elapsed, latency, delivered, failed = results["with"]
    accounted = (f"delivered {delivered}/{MESSAGES} with, {bare_delivered}/{MESSAGES} without; "
                 f"failed {failed}/{bare_failed}")
    rows.append(Row("milter", f"Postfix throughput, {MESSAGES} msgs, {CLIENTS} clients", "msg/s",
                    delivered / elapsed, "Postfix without milter", bare_delivered / bare_elapsed,
                    note=accounted))
    for name, fraction in (("p50", 0.5), ("p99", 0.99)):
        with_ms = _percentile(latency, fraction) * 1000
        without_ms = _percentile(bare_latency, fraction) * 1000
        rows.append(Row("milter", f"SMTP latency per message {name}", "ms", with_ms, "Postfix without milter",
                        without_ms, higher_is_better=False, note=f"milter adds {with_ms - without_ms:.1f} ms"))
    if sequential:
        seq_latency, bare_seq_latency = sequential["with"][1], sequential["without"][1]
        with_ms = _percentile(seq_latency, 0.5) * 1000
        without_ms = _percentile(bare_seq_latency, 0.5) * 1000
        rows.append(Row("milter", f"SMTP latency p50, 1 client, {SEQUENTIAL} msgs", "ms", with_ms,
                        "Postfix without milter", without_ms, higher_is_better=False,
                        note=f"milter adds {with_ms - without_ms:.1f} ms (p99 "
                             f"{_percentile(seq_latency, 0.99) * 1000:.1f} / "
                             f"{_percentile(bare_seq_latency, 0.99) * 1000:.1f} ms); "
                             f"delivered {sequential['with'][2]}/{sequential['without'][2]}"))
    if direct is not None:
        direct_elapsed, direct_latency = direct
        rows.append(Row("milter", f"zegel milter alone, {MESSAGES} msgs, {CLIENTS} sessions", "msg/s",
                        len(direct_latency) / direct_elapsed,
                        note=f"protocol client, no MTA; p50 {_percentile(direct_latency, 0.5) * 1000:.1f} ms, "
                             f"p99 {_percentile(direct_latency, 0.99) * 1000:.1f} ms"))
    mean_added = (statistics.mean(latency) - statistics.mean(bare_latency)) * 1000
    rows[0] = Row(rows[0].area, rows[0].metric, rows[0].unit, rows[0].zegel, rows[0].peer, rows[0].peer_value,
                  note=f"{accounted}; mean added {mean_added:.1f} ms; {hit_rate}".rstrip("; "))
    return rows


if __name__ == "__main__":
    from bench.common import print_table

    print_table(run())
