"""DMARC reports: ingest throughput beside parsedmarc, and recording throughput.

* Ingest: a generated corpus of 5000 aggregate reports (five reporter styles, mixed sizes,
  .xml.gz/.zip/.xml/.eml) ingested by zegel into a fresh SQLite store (parse + store, until
  the store is closed), beside parsedmarc (PyPI, ``offline=True``) parsing the same files in
  the same run, in turns of 250 files (both meet the same load on a shared machine). The ratio is reports/s against reports/s; parsedmarc only parses, zegel also
  stores. parsedmarc refuses the corpus's 1000 reports with RFC 5322 dates (cheaply, which
  raises its rate): the ratio over only the files both read is printed and noted too.
* Recording: outcomes/s through the Recorder (enqueue on the caller's thread, batched writes on
  the background thread) into SQLite and into PostgreSQL (a throw-away cluster started here
  when the Debian postgresql package is installed, or $ZEGEL_BENCH_PG_URL).

``ZEGEL_BENCH_REPORTS=N`` changes the corpus size (default 5000).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import Row
from bench.reports_corpus import generate
from zegel.reports.ingest import Ingester
from zegel.reports.model import DkimOutcome, Outcome
from zegel.reports.recorder import Recorder
from zegel.reports.store import open_store

AREA = "reports"


@dataclass
class _Tally:
    """Wall and CPU seconds of one side, over every file and over the files both read."""

    wall: float = 0.0
    cpu: float = 0.0
    both_wall: float = 0.0
    both_cpu: float = 0.0


def _side_by_side(paths: list[Path], work: Path, turn: int = 250) -> tuple[_Tally, _Tally | None, int, int, str]:
    """zegel and parsedmarc on the same files, in turns of ``turn`` files each, so that both
    meet the same load on a shared machine (turns of one file would measure mostly cold caches,
    each tool evicting the other's, and defeat zegel's batches). In each turn parsedmarc goes
    first, file by file; then zegel ingests the files parsedmarc read, then the others, into a
    fresh SQLite store. zegel's time includes the session's last commit and closing the store
    (everything until the reports are on disk). Returns (zegel, parsedmarc or None, reports
    zegel stored, files parsedmarc read, note)."""
    try:
        import parsedmarc
    except ImportError:
        parsedmarc = None
    ours, theirs = _Tally(), _Tally()
    peer_read = 0
    store = open_store(None, work)
    ingester = Ingester(store).__enter__()
    for first in range(0, len(paths), turn):
        chunk = paths[first:first + turn]
        read, refused = chunk, []
        if parsedmarc is not None:
            read = []
            for path in chunk:
                wall, cpu = time.perf_counter(), time.process_time()
                try:
                    parsedmarc.parse_report_file(str(path), offline=True)
                    ok = True
                except Exception:  # its own verdict on a file; counted, not fatal
                    ok = False
                peer_wall, peer_cpu = time.perf_counter() - wall, time.process_time() - cpu
                theirs.wall += peer_wall
                theirs.cpu += peer_cpu
                if ok:
                    read.append(path)
                    theirs.both_wall += peer_wall
                    theirs.both_cpu += peer_cpu
                else:
                    refused.append(path)
            peer_read += len(read)
        for part, both in ((read, True), (refused, False)):
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in ingester.ingest_paths(part):
                pass
            zegel_wall, zegel_cpu = time.perf_counter() - wall, time.process_time() - cpu
            ours.wall += zegel_wall
            ours.cpu += zegel_cpu
            if both:
                ours.both_wall += zegel_wall
                ours.both_cpu += zegel_cpu
    wall, cpu = time.perf_counter(), time.process_time()
    ingester.__exit__(None, None, None)
    store.close()
    closing_wall, closing_cpu = time.perf_counter() - wall, time.process_time() - cpu
    ours.wall += closing_wall
    ours.cpu += closing_cpu
    ours.both_wall += closing_wall  # all of it, though only part is for these files
    ours.both_cpu += closing_cpu
    if parsedmarc is None:
        return ours, None, ingester.stats.stored, 0, "parsedmarc not installed (pip install parsedmarc): no peer figure"
    failures = len(paths) - peer_read
    note = f"parsedmarc {getattr(parsedmarc, '__version__', '?')}" + (
        f"; it rejected {failures} files zegel read" if failures else "")
    return ours, theirs, ingester.stats.stored, peer_read, note


def _summary_seconds(work: Path, sources: int) -> tuple[float, int]:
    """Seconds for `zegel reports summary --no-ptr` work (query, fold, senders, advice) over a
    store holding ``sources`` distinct source IPs in 100 reports."""
    from zegel.reports.model import ParsedAggregate, PolicyPublished, ReportMetadata
    from zegel.reports.store import IngestSession
    from zegel.reports.summary import summarize

    store = open_store(None, work)
    per_report = sources // 100
    with IngestSession(store, batch=20) as session:
        for report in range(100):
            records = []
            for index in range(per_report):
                n = report * per_report + index
                ok = n % 5 != 0
                records.append((f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}", 1 + n % 50, "none",
                                "pass" if ok else "fail", "pass" if ok else "fail", "example.com",
                                "example.com" if ok else "bounce.esp.example", "", (),
                                (("example.com" if ok else "esp.example", "s1", "pass", ""),),
                                (("example.com", "mfrom", "pass" if ok else "fail", ""),)))
            metadata = ReportMetadata(f"reporter{report % 5}", "r@reporter.example", f"id{report}", 1_790_000_000,
                                      1_790_086_399)
            session.add_aggregate(ParsedAggregate(metadata, PolicyPublished("example.com", "none"), "rfc7489", "1.0",
                                                  tuple(records)), "bench")
    started = time.perf_counter()
    result = asyncio.run(summarize(store, "example.com", 0))
    elapsed = time.perf_counter() - started
    store.close()
    if len(result.sources) != per_report * 100:
        raise RuntimeError(f"summary saw {len(result.sources)} sources")
    return elapsed, len(result.sources)


def _outcomes(count: int) -> list[Outcome]:
    return [
        Outcome(time=1_790_000_000 + i, source_ip=f"192.0.2.{i % 250 + 1}", header_from="example.com",
                envelope_from=f"bounce-{i}@example.com", helo="mx.example.com", spf_domain="example.com",
                spf_result="pass", spf_aligned=True, dkim=(DkimOutcome("example.com", "s1", "pass", True),),
                dmarc_result="pass", policy_domain="example.com", policy_record="v=DMARC1; p=none",
                policy="none")
        for i in range(count)
    ]


def _verdict(work: Path) -> object | None:
    """A real zegel.verify Verdict (SPF pass, DMARC pass) to feed Recorder.record()."""
    try:
        from zegel.dns import Resolver
        from zegel.verify import verify_message
    except ImportError:
        return None
    zone = work / "bench.zone"
    zone.write_text('$ORIGIN example.com.\n$TTL 300\n@ IN TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
                    '_dmarc IN TXT "v=DMARC1; p=none; rua=mailto:dmarc@example.com"\n')
    message = b"From: a@example.com\r\nTo: b@rx.example\r\nSubject: x\r\n\r\nhi\r\n"
    return asyncio.run(verify_message(message, ip="192.0.2.5", helo="mx.example.com", mail_from="a@example.com",
                                      resolver=Resolver(zones=[str(zone)], offline=True), authserv_id="rx.example"))


def _hot_path_rate(work: Path, count: int) -> tuple[float, str]:
    """Recorder.record(verdict, ...) calls per second on the caller's thread (conversion to an
    Outcome and enqueueing: what the milter pays per message)."""
    verdict = _verdict(work)
    store = open_store(None, work / "hot")
    with Recorder(store, spool_dir=work / "hot" / "spool", batch_size=1000) as recorder:
        started = time.perf_counter()
        if verdict is not None:
            for _ in range(count):
                recorder.record(verdict, ip="192.0.2.5", helo="mx.example.com", mail_from="a@example.com")
            note = "a real Verdict converted and enqueued"
        else:
            for outcome in _outcomes(count):
                recorder.record_outcome(outcome)
            note = "zegel.verify unavailable: Outcome enqueue only"
        elapsed = time.perf_counter() - started
        recorder.flush(timeout=600)
    store.close()
    return count / elapsed, note


def _record_rates(url: str | None, work: Path, count: int) -> tuple[float, float]:
    """(outcomes/s end to end until stored, record_outcome() calls/s on the caller's thread)."""
    store = open_store(url, work)
    outcomes = _outcomes(count)
    recorder = Recorder(store, spool_dir=work / "spool", batch_size=1000)
    started = time.perf_counter()
    for outcome in outcomes:
        recorder.record_outcome(outcome)
    enqueued = time.perf_counter() - started
    recorder.flush(timeout=600)
    elapsed = time.perf_counter() - started
    recorder.close()
    stored = store.count_outcomes()
    store.close()
    if stored != count or recorder.stats.spooled:
        raise RuntimeError(f"recording lost outcomes: {stored} stored of {count}, {recorder.stats.spooled} spooled")
    return count / elapsed, count / enqueued


@contextlib.contextmanager
def _postgres(work: Path) -> Iterator[str | None]:
    """A PostgreSQL URL: $ZEGEL_BENCH_PG_URL, or a throw-away local cluster, or None."""
    if url := os.environ.get("ZEGEL_BENCH_PG_URL"):
        yield url
        return
    bindirs = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not bindirs or not (bindirs[-1] / "pg_ctl").exists():
        yield None
        return
    bindir = bindirs[-1]
    root = Path(tempfile.mkdtemp(prefix="zegel-bench-pg-"))
    as_postgres = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = root / "data"

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-U", "zegel", "--auth=trust", "-E", "UTF8", "--no-sync")
        # Durable settings (fsync on): the figure should mean what a real server would do.
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
            f"-h 127.0.0.1 -p {port} -k {root}", "start")
    except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"bench reports: could not start PostgreSQL: {exc}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
        yield None
        return
    try:
        yield f"postgresql+psycopg://zegel@127.0.0.1:{port}/postgres"
    finally:
        with contextlib.suppress(subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired):
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def run() -> list[Row]:
    count = int(os.environ.get("ZEGEL_BENCH_REPORTS", "5000"))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="zegel-bench-reports-") as tmp:
        work = Path(tmp)
        paths = generate(work / "corpus", count)
        size = sum(p.stat().st_size for p in paths)
        ours, theirs, stored, peer_read, note = _side_by_side(paths, work / "zegel-data")
        if stored != count:
            raise RuntimeError(f"zegel stored {stored} of {count} generated reports")
        zegel_rate, zegel_cpu = count / ours.wall, count / ours.cpu
        peer_rate = count / theirs.wall if theirs else None
        # Wall clock is the table's figure; per CPU second is printed too, since on a shared
        # machine the two may not get the same share of the core.
        line = (f"bench reports: corpus {count} files, {size / 1e6:.1f} MB, side by side in turns of 250 files; "
                f"zegel {zegel_rate:,.0f}/s ({zegel_cpu:,.0f} per CPU s)")
        if theirs is not None and peer_rate:
            peer_cpu = count / theirs.cpu
            line += (f", parsedmarc {peer_rate:,.1f}/s ({peer_cpu:,.1f} per CPU s); ratio {zegel_rate / peer_rate:.1f}x "
                     f"wall, {zegel_cpu / peer_cpu:.1f}x CPU")
            if 0 < peer_read < count:
                # parsedmarc refuses some files early (the corpus's RFC 5322 dates), which costs
                # it little: the same comparison over only the files both read.
                both_wall = (peer_read / ours.both_wall) / (peer_read / theirs.both_wall)
                both_cpu = (peer_read / ours.both_cpu) / (peer_read / theirs.both_cpu)
                line += (f"\nbench reports: the {peer_read} files both read: zegel {peer_read / ours.both_wall:,.0f}/s "
                         f"({peer_read / ours.both_cpu:,.0f} per CPU s), parsedmarc {peer_read / theirs.both_wall:,.1f}/s "
                         f"({peer_read / theirs.both_cpu:,.1f} per CPU s); ratio {both_wall:.1f}x wall, "
                         f"{both_cpu:.1f}x CPU")
                note += f"; over the {peer_read} files both read: {both_wall:.1f}x ({both_cpu:.1f}x CPU)"
        print(line, file=sys.stderr)
        rows.append(Row(AREA, f"ingest {count} aggregate reports (parse+store SQLite)", "reports/s", zegel_rate,
                        peer="parsedmarc (parse only)" if peer_rate else "", peer_value=peer_rate, note=note))

        seconds, sources = _summary_seconds(work / "summary", 100_000)
        rows.append(Row(AREA, f"summary of {sources:,} distinct sources (no PTR)", "s", seconds,
                        higher_is_better=False, note="issue target: under 3 s"))

        outcomes = 20_000
        sqlite_rate, _ = _record_rates(None, work / "rec-sqlite", outcomes)
        rows.append(Row(AREA, "record outcomes -> SQLite (WAL, batched)", "outcomes/s", sqlite_rate))
        hot_rate, hot_note = _hot_path_rate(work, outcomes)
        rows.append(Row(AREA, "Recorder.record(verdict) on the hot path", "calls/s", hot_rate, note=hot_note))
        with _postgres(work) as url:
            if url is None:
                rows.append(Row(AREA, "record outcomes -> PostgreSQL", "outcomes/s", 0.0,
                                note="no PostgreSQL (apt-get install postgresql or set ZEGEL_BENCH_PG_URL)"))
            else:
                pg_rate, _ = _record_rates(url, work / "rec-pg", outcomes)
                rows.append(Row(AREA, "record outcomes -> PostgreSQL (batched)", "outcomes/s", pg_rate))
    return rows
