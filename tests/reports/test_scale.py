"""Scale past one machine on PostgreSQL (the throw-away cluster of conftest.py): several
ingesters over one set of reports store each once and lose none; several generators over one
database send each period's report exactly once."""

from __future__ import annotations

import asyncio
import random
import threading
from pathlib import Path

import pytest
from tests.reports.conftest import PgCluster, SmtpSink
from tests.reports.test_send import BEGIN, DAY, record, sender_for

from zegel.dns import Resolver
from zegel.reports.corpus import write_corpus
from zegel.reports.ingest import Ingester, IngestStats
from zegel.reports.store import open_store


def test_four_concurrent_ingesters_store_each_report_once(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.new_database()
    paths = write_corpus(tmp_path / "corpus", 120, seed=3)
    open_store(url, tmp_path).close()  # the schema, once
    stats: list[IngestStats] = []
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        order = list(paths)
        random.Random(seed).shuffle(order)
        store = open_store(url, tmp_path, migrate_schema=False)
        try:
            with Ingester(store, commit_every=25) as ingester:
                for _ in ingester.ingest_paths(order):
                    pass
            stats.append(ingester.stats)
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert not errors, errors
    assert len(stats) == 4
    store = open_store(url, tmp_path, migrate_schema=False)
    counts = store.counts()
    store.close()
    assert sum(s.stored for s in stats) == counts["agg_reports"] == 120  # each once, none lost
    assert sum(s.duplicate for s in stats) == 3 * 120
    assert all(s.rejected == 0 for s in stats)


@pytest.fixture
def sink() -> SmtpSink:
    server = SmtpSink()
    yield server  # type: ignore[misc]
    server.close()


def test_two_generators_at_once_send_each_report_exactly_once(pg_cluster: PgCluster, tmp_path: Path,
                                                              sink: SmtpSink) -> None:
    url = pg_cluster.new_database()
    store = open_store(url, tmp_path)
    domains = [f"sender{i}.example" for i in range(6)]
    for domain in domains:
        record(store, domain, rua=f"v=DMARC1; p=none; rua=mailto:dmarc@{domain}", n=3)
    store.close()
    periods = [(BEGIN, BEGIN + DAY)]
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def generator() -> None:
        own = open_store(url, tmp_path, migrate_schema=False)
        try:
            sender = sender_for(own, Resolver(offline=True), port=sink.port, rate=1000)
            start.wait()
            summary = asyncio.run(sender.send(periods))
            results.append(sum(d.status == "sent" for d in summary.deliveries))
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=generator) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    recipients = sorted(r for _, rcpts, _ in sink.messages for r in rcpts)
    assert recipients == sorted(f"dmarc@{d}" for d in domains)  # each report sent once
    assert sum(results) == len(domains)
    # A third run finds every period reported.
    again = open_store(url, tmp_path, migrate_schema=False)
    summary = asyncio.run(sender_for(again, Resolver(offline=True), port=sink.port, rate=1000).send(periods))
    again.close()
    assert summary.reports == 0 and summary.already_reported == len(domains)


def test_records_are_partitioned_by_month(pg_cluster: PgCluster, tmp_path: Path) -> None:
    import sqlalchemy as sa

    from zegel.reports.corpus import as_gzip, make_report

    url = pg_cluster.new_database()
    store = open_store(url, tmp_path)
    folder = tmp_path / "in"
    folder.mkdir()
    for index, begin in enumerate((1_790_000_000, 1_790_000_000 + 40 * 86400, 1_000_000_000)):
        _, xml = make_report("outlook", random.Random(index), index=index, records=3, domain="example.com", begin=begin)
        (folder / f"{index}.xml.gz").write_bytes(as_gzip(xml))
    with Ingester(store) as ingester:
        assert [r.status for r in ingester.ingest_paths(sorted(folder.iterdir()))] == ["stored"] * 3
    with store.engine.connect() as conn:
        kind = conn.execute(sa.text("SELECT relkind FROM pg_class WHERE relname = 'agg_records'")).scalar()
        placed = dict(conn.execute(sa.text(
            "SELECT tableoid::regclass::text, count(*) FROM agg_records GROUP BY 1")).all())
    store.close()
    assert kind == "p"  # a partitioned table
    assert placed == {"agg_records_2026_09": 3, "agg_records_2026_11": 3, "agg_records_default": 3}
