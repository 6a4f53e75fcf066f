"""``workers = 2``: two processes on one port, the outcome recorder and the failure-report rate
limits shared correctly between them; SIGTERM stops both cleanly."""

from __future__ import annotations

import asyncio
import signal
import socket
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.milter.helpers import message
from tests.milter.milter_client import MilterClient
from tests.milter.postfix_harness import MilterProcess, free_port
from tests.reports.conftest import SmtpSink

from zegel.milter import protocol as p
from zegel.reports.store import open_store

MESSAGES = 12


def _two_free_ports() -> int:
    """A port P with P + 1 free too (worker 1's metrics endpoint listens on P + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


def _handled(metrics_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("zegel_milter_messages_total{"))


def _wait_for_metrics(metrics_port: int, timeout: float = 30.0) -> None:
    """Poll a worker's metrics endpoint, which it opens after its milter socket."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _handled(metrics_port)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_two_workers_share_the_port_the_recorder_and_the_rate_limits(
        write_config: Callable[..., Path], tmp_path: Path) -> None:
    sink = SmtpSink()
    port, metrics_port = free_port(), _two_free_ports()
    database = f"sqlite:///{tmp_path / 'reports.db'}"
    config = write_config(
        f'[reports]\ndatabase = "{database}"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[failure_reports]\nfrom = "dmarc-reports@mx.zegel.test"\nrelay = "127.0.0.1:{sink.port}"\n'
        'starttls = false\nredact = false\nper_domain_per_hour = 3\n'
        f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n',
        socket=f"inet:127.0.0.1:{port}", top="workers = 2\n", name="workers.toml")
    milter = MilterProcess(config, port, log_file=tmp_path / "milter.log").start()

    async def one(number: int) -> p.Response | None:
        client = await MilterClient.connect("127.0.0.1", port)
        await client.optneg()
        # DMARC fails at ruf.example (p=none, ruf=, fo=1): delivered, and a report is due.
        result = await client.message(message("ceo@ruf.example", subject=f"n{number}"), mail_from="ceo@ruf.example")
        await client.close()
        return result.final

    async def load() -> list[p.Response | None]:
        return await asyncio.gather(*(one(n) for n in range(MESSAGES)))

    try:
        # start() returns once the port accepts; wait until both workers are up, or the kernel
        # can only hand the first connections to the one already listening.
        _wait_for_metrics(metrics_port)
        _wait_for_metrics(metrics_port + 1)
        finals = asyncio.run(asyncio.wait_for(load(), 60))
        assert all(isinstance(f, p.Continue) for f in finals)
        per_worker = [_handled(metrics_port), _handled(metrics_port + 1)]
        assert sum(per_worker) == MESSAGES and all(per_worker), per_worker  # both workers served
        assert milter.process is not None
        milter.process.send_signal(signal.SIGTERM)
        assert milter.process.wait(60) == 0
    finally:
        milter.kill()
        sink.close()
    log = (tmp_path / "milter.log").read_text()
    assert "msg=\"workers started\"" in log and log.count("msg=stopped") == 3  # two workers, the supervisor
    store = open_store(database, tmp_path / "data")
    try:
        assert store.count_outcomes() == MESSAGES  # every verdict recorded once, by either worker
    finally:
        store.close()
    assert len(sink.messages) == 3  # per_domain_per_hour holds across the two workers
