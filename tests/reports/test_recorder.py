"""Recording: batched writes off the hot path, the verify pipeline as producer, and a database
outage (the PostgreSQL server stopped mid-run) that loses nothing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from tests.reports.conftest import PgCluster

from zegel.dns import Resolver
from zegel.reports.model import DkimOutcome, Outcome
from zegel.reports.recorder import SPOOL_NAME, Recorder
from zegel.reports.store import ReportStore, open_store


def sample(i: int) -> Outcome:
    return Outcome(time=1_790_000_000 + i, source_ip=f"192.0.2.{i % 200 + 1}", header_from="example.com",
                   envelope_from=f"u{i}@example.com", spf_domain="example.com", spf_result="pass", spf_aligned=True,
                   dkim=(DkimOutcome("example.com", "s1", "pass", True),), dmarc_result="pass",
                   policy_domain="example.com", policy_record="v=DMARC1; p=none", policy="none")


def test_batched_recording(store: ReportStore, tmp_path: Path) -> None:
    with Recorder(store, spool_dir=tmp_path / "spool", batch_size=64) as recorder:
        for i in range(1000):
            recorder.record_outcome(sample(i))
        assert recorder.flush()
        assert recorder.stats.written == 1000 and recorder.stats.spooled == 0
    assert store.count_outcomes() == 1000


def test_records_verdicts_from_the_pipeline(tmp_path: Path) -> None:
    from zegel.verify import verify_message

    zone = tmp_path / "example.zone"
    zone.write_text(
        "$ORIGIN example.com.\n$TTL 300\n"
        '@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
        '_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"\n'
    )
    resolver = Resolver(zones=[str(zone)], offline=True)
    message = b"From: Alice <alice@example.com>\r\nTo: bob@rx.example\r\nSubject: hi\r\n\r\nhello\r\n"
    store = open_store(None, tmp_path)
    recorder = Recorder(store, spool_dir=tmp_path / "spool")

    async def run() -> None:
        for ip, mail_from in (("192.0.2.5", "alice@example.com"), ("198.51.100.5", "x@evil.example")):
            await verify_message(message, ip=ip, helo="mx.test", mail_from=mail_from, resolver=resolver,
                                 authserv_id="rx.example", recorder=recorder)

    asyncio.run(run())
    recorder.close()
    rows = {row.source_ip: row for row in store.aggregate_rows("example.com", 0, 1 << 40)}
    assert rows["192.0.2.5"].spf_aligned_pass and rows["192.0.2.5"].disposition == "none"
    assert not rows["198.51.100.5"].spf_aligned_pass and rows["198.51.100.5"].disposition == "reject"
    assert rows["198.51.100.5"].envelope_from == "evil.example"
    assert store.policy_record("example.com", 0, 1 << 40) == "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"
    store.close()


def test_spool_replay_is_idempotent(store: ReportStore, tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    lines = [json.dumps(sample(i).to_json()) for i in range(50)]
    # the same outcomes twice (a replay interrupted after its commit) and a torn last line
    (spool / SPOOL_NAME).write_text("\n".join(lines + lines) + '\n{"time": 17')
    with Recorder(store, spool_dir=spool) as recorder:
        assert recorder.flush(replay=True)
        assert recorder.stats.replayed == 100 and recorder.stats.spool_lines_unreadable == 1
    assert store.count_outcomes() == 50
    assert not list(spool.iterdir())


@pytest.mark.slow
def test_database_outage_loses_nothing(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.new_database()
    spool = tmp_path / "spool"
    recorder = Recorder(url=url, data_dir=tmp_path, spool_dir=spool, batch_size=50, retry_interval=0.2)
    try:
        for i in range(300):
            recorder.record_outcome(sample(i))
        assert recorder.flush()
        assert recorder.stats.written == 300

        pg_cluster.stop()  # the database goes away mid-run
        for i in range(300, 1000):
            recorder.record_outcome(sample(i))  # never blocks, never raises
        assert recorder.flush()
        assert recorder.stats.spooled == 700
        assert recorder.stats.last_error
        # On disk, in the live spool or in one a replay attempt claimed meanwhile (a retry
        # every 0.2 s; on a slow machine one can fall between the batches, fail and leave its
        # claimed file for the next replay).
        assert sum(1 for path in spool.glob(SPOOL_NAME + "*") for _ in path.open()) == 700
    finally:
        pg_cluster.start()
    assert recorder.flush(replay=True)
    for i in range(1000, 1100):
        recorder.record_outcome(sample(i))
    recorder.close()
    assert recorder.stats.replayed == 700
    store = open_store(url)
    assert store.count_outcomes() == 1100
    store.close()
    assert not list(spool.glob(SPOOL_NAME + "*"))


@pytest.mark.slow
def test_database_down_at_start(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.new_database()
    pg_cluster.stop()
    try:
        recorder = Recorder(url=url, data_dir=tmp_path, spool_dir=tmp_path / "spool", retry_interval=0.2)
        for i in range(120):
            recorder.record_outcome(sample(i))
        assert recorder.flush()
        assert recorder.stats.spooled == 120 and recorder.stats.written == 0
    finally:
        pg_cluster.start()
    recorder.close()  # closing replays what is spooled
    store = open_store(url)
    assert store.count_outcomes() == 120
    store.close()


def test_arc_based_override_is_recorded_as_local_policy_with_the_sealers() -> None:
    """RFC 8617 7.2.1: a DMARC failure forgiven for a trusted ARC chain goes into the aggregate
    report as local_policy, the comment saying arc=pass and naming each sealer."""
    from tests.pipeline.test_samples import EXAMPLES, run

    from zegel.policy import Policy
    from zegel.reports.recorder import arc_report_comment, outcome_from_verdict

    verdict = run("mailing-list-arc.eml", Policy.load(EXAMPLES / "policy-strict.toml"))
    assert verdict.action.override == "trusted_forwarder" and verdict.arc.cv == "pass"
    outcome = outcome_from_verdict(verdict, ip="192.0.2.1", helo="lists.example.org", mail_from="", now=0)
    assert outcome.override == "local_policy"
    assert outcome.override_comment == arc_report_comment(verdict.arc)
    hop = verdict.arc.hops[-1]
    assert outcome.override_comment.startswith(f"arc=pass as[{hop.instance}].d={hop.domain} as[{hop.instance}].s=")
    assert "lists.example.org" in outcome.override_comment


def test_spool_is_bounded_and_says_so_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A long database outage must not fill the disk Postfix queues mail on: past
    max_spool_bytes outcomes are dropped and counted, with one log line."""
    spool = tmp_path / "spool"
    unreachable = f"sqlite:///{tmp_path / 'no-such-dir' / 'reports.sqlite3'}"  # cannot be opened
    recorder = Recorder(url=unreachable, data_dir=tmp_path, spool_dir=spool, batch_size=10, max_spool_bytes=4000)
    with caplog.at_level("WARNING", logger="zegel.reports.recorder"):
        for i in range(200):
            recorder.record_outcome(sample(i))
        assert recorder.flush()
    stats = recorder.stats
    assert stats.spooled > 0 and stats.dropped > 0
    assert stats.spooled + stats.dropped == 200
    on_disk = sum(path.stat().st_size for path in spool.glob(SPOOL_NAME + "*"))
    # Checked before each batch: at most one batch beyond the bound.
    assert 4000 <= on_disk < 4000 + 10 * len(json.dumps(sample(0).to_json()).encode()) + 10
    assert sum(1 for path in spool.glob(SPOOL_NAME + "*") for _ in path.open()) == stats.spooled
    assert sum("dropping outcomes" in r.getMessage() for r in caplog.records) == 1
    recorder.close()


def test_queue_is_bounded_while_the_writer_waits(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A writer stuck on a database that does not answer (here: a lock another connection
    holds) must not grow the milter's memory: past max_queued, outcomes are dropped."""
    import sqlite3
    import time

    from zegel.reports.store import DB_FILENAME

    store = open_store(None, tmp_path)
    blocker = sqlite3.connect(tmp_path / DB_FILENAME, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    recorder = Recorder(store, spool_dir=tmp_path / "spool", batch_size=5, max_queued=10)
    try:
        with caplog.at_level("WARNING", logger="zegel.reports.recorder"):
            recorder.record_outcome(sample(0))
            deadline = time.monotonic() + 5
            while recorder.queued and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)  # the writer took it and now waits on the lock
            for i in range(1, 61):
                recorder.record_outcome(sample(i))
            assert recorder.stats.recorded == 11 and recorder.stats.dropped == 50
            assert sum("dropping outcomes" in r.getMessage() for r in caplog.records) == 1
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert recorder.flush(replay=True)
    with caplog.at_level("WARNING", logger="zegel.reports.recorder"):
        recorder.record_outcome(sample(61))  # room again: said once
    assert any("room again; 50 outcomes were dropped" in r.getMessage() for r in caplog.records)
    recorder.close()
    assert store.count_outcomes() == 12
    store.close()
