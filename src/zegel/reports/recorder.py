"""Recording verification outcomes off the hot path.

:class:`Recorder` implements zegel.verify's ``OutcomeSink``: ``record()`` only converts the
verdict and puts it on an in-memory queue. A background thread writes batches to the store.
While the database is unreachable, batches are appended to a spool file (JSON lines) in the
data directory; once the database answers again the spool is replayed. Outcomes carry a
unique id, so a replay interrupted half-way and repeated never counts a message twice.

Both stay bounded: the queue holds at most ``max_queued`` outcomes (a writer stuck on a
database that does not answer must not grow the milter's memory) and the spool at most
``max_spool_bytes`` (a long outage must not fill the disk Postfix queues mail on). Beyond
either, outcomes are dropped and counted (``stats.dropped``), with one log line when dropping
starts and one when it stops: the reports lose those messages, the mail flow loses nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zegel.reports.model import DkimOutcome, Outcome, domain_of
from zegel.reports.store import ReportStore, StoreError, chunked, open_store

log = logging.getLogger("zegel.reports.recorder")

SPOOL_NAME = "outcomes-spool.jsonl"
MAX_QUEUED = 100_000  # about 100 MB of outcomes in memory
MAX_SPOOL_BYTES = 1 << 30  # about 3 million outcomes on disk


@dataclass
class RecorderStats:
    recorded: int = 0
    written: int = 0
    spooled: int = 0
    replayed: int = 0
    spool_lines_unreadable: int = 0
    dropped: int = 0  # beyond max_queued or max_spool_bytes: not in any report
    last_error: str = ""


class _Flush:
    def __init__(self, replay: bool) -> None:
        self.done = threading.Event()
        self.replay = replay


_STOP = object()


class Spool:
    """Append-only JSON-lines spool, safe between processes (flock) and across crashes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / SPOOL_NAME

    def append(self, batch: list[Outcome]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(o.to_json(), separators=(",", ":")) + "\n" for o in batch).encode()
        with open(self.path, "ab") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def pending(self) -> bool:
        return self.path.exists() or any(self.directory.glob(SPOOL_NAME + ".replay-*"))

    def size(self) -> int:
        """Bytes in the live spool and in the files claimed for a replay."""
        total = 0
        for path in (self.path, *self.directory.glob(SPOOL_NAME + ".replay-*")):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def claim(self) -> list[Path]:
        """Move the live spool aside (under the lock) so appends go to a fresh file; return
        every claimed file, including ones an earlier interrupted replay left behind."""
        if self.path.exists():
            with open(self.path, "ab") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    target = self.path.with_name(f"{SPOOL_NAME}.replay-{os.getpid()}-{time.time_ns()}")
                    os.replace(self.path, target)
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        return sorted(self.directory.glob(SPOOL_NAME + ".replay-*"))

    @staticmethod
    def read(path: Path, stats: RecorderStats) -> Iterator[Outcome]:
        with open(path, "rb") as handle:
            for line in handle:
                try:
                    yield Outcome.from_json(json.loads(line))
                except (ValueError, TypeError, KeyError):
                    # A torn last line from a crash mid-append: count it, keep the rest.
                    stats.spool_lines_unreadable += 1


class Recorder:
    """Batched, non-blocking outcome recorder (an ``OutcomeSink``).

    ``store``: an open :class:`ReportStore`, or None to open ``url``/``data_dir`` lazily in the
    background thread (so a database that is down at start-up does not stop the mail flow).
    """

    def __init__(
        self,
        store: ReportStore | None = None,
        *,
        url: str | None = None,
        data_dir: Path | None = None,
        spool_dir: Path | None = None,
        batch_size: int = 500,
        flush_interval: float = 0.25,
        retry_interval: float = 5.0,
        max_queued: int = MAX_QUEUED,
        max_spool_bytes: int = MAX_SPOOL_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from zegel.reports.store import default_data_dir

        self._store = store
        self._owns_store = store is None  # opened here, so closed here
        self._url = url
        self._data_dir = data_dir or default_data_dir()
        self.spool = Spool(spool_dir or self._data_dir / "spool")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry_interval = retry_interval
        self.max_queued = max_queued
        self.max_spool_bytes = max_spool_bytes
        self.clock = clock
        self.stats = RecorderStats()
        self._dropping: str | None = None  # "queue" or "spool": where there is no room, while there is none
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._down_until = 0.0
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="zegel-recorder", daemon=True)
        self._thread.start()

    # --- the hot path: enqueue only --------------------------------------------------------

    def record(self, verdict: Any, *, ip: str, helo: str, mail_from: str) -> None:
        """OutcomeSink: convert and enqueue; never blocks, never raises on bad verdicts."""
        try:
            outcome = outcome_from_verdict(verdict, ip=ip, helo=helo, mail_from=mail_from, now=self.clock())
        except Exception as exc:  # a malformed verdict must not disturb the mail flow
            self.stats.last_error = f"cannot convert verdict: {exc}"
            log.warning("zegel recorder: %s", self.stats.last_error)
            return
        self.record_outcome(outcome)

    def record_outcome(self, outcome: Outcome) -> None:
        if self._closed:
            # After close() nothing drains the queue: go straight to the spool.
            self._spool([outcome])
            return
        if self._queue.qsize() >= self.max_queued:
            self._drop(1, "queue", f"{self.max_queued} outcomes are waiting for the database writer")
            return
        self._resume("queue")
        self.stats.recorded += 1
        self._queue.put(outcome)

    def _drop(self, count: int, where: str, reason: str) -> None:
        self.stats.dropped += count
        if self._dropping is None:
            self._dropping = where
            log.warning("zegel recorder: %s; dropping outcomes (not in any DMARC report; mail is not "
                        "affected) until there is room", reason)

    def _resume(self, where: str) -> None:
        if self._dropping == where:
            log.warning("zegel recorder: room again; %d outcomes were dropped in all", self.stats.dropped)
            self._dropping = None

    @property
    def queued(self) -> int:
        """Outcomes (and flush requests) waiting for the writer thread."""
        return self._queue.qsize()

    # --- control -----------------------------------------------------------------------------

    def flush(self, *, replay: bool = False, timeout: float | None = 30.0) -> bool:
        """Wait until everything recorded so far is written or spooled (and, with ``replay``,
        until a spool replay was attempted). True when done within ``timeout``."""
        marker = _Flush(replay)
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        last_replay_try = 0.0
        while True:
            batch: list[Outcome] = []
            markers: list[_Flush] = []
            stop = False
            try:
                item = self._queue.get(timeout=self.flush_interval)
            except queue.Empty:
                item = None
            while item is not None:
                if item is _STOP:
                    stop = True
                elif isinstance(item, _Flush):
                    markers.append(item)
                else:
                    batch.append(item)
                if len(batch) >= self.batch_size or stop or markers:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if batch:
                self._write(batch)
            now = self.clock()
            force = any(m.replay for m in markers) or stop
            if (force or now - last_replay_try >= self.retry_interval) and self.spool.pending():
                last_replay_try = now
                self._replay(force=force)
            for marker in markers:
                marker.done.set()
            if stop:
                self._drain_to_spool()
                if self._store is not None and self._owns_store:
                    self._store.close()
                return

    def _drain_to_spool(self) -> None:
        leftover: list[Outcome] = []
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._queue.get_nowait()
                if isinstance(item, Outcome):
                    leftover.append(item)
                elif isinstance(item, _Flush):
                    item.done.set()
        if leftover:
            self._write(leftover)

    def _get_store(self) -> ReportStore | None:
        if self._store is None:
            try:
                self._store = open_store(self._url, self._data_dir)
            except StoreError as exc:
                self._mark_down(str(exc))
                return None
        return self._store

    def _mark_down(self, reason: str) -> None:
        if not self.stats.last_error:
            log.warning("zegel recorder: database unavailable, spooling to %s: %s", self.spool.path, reason)
        self.stats.last_error = reason
        self._down_until = self.clock() + self.retry_interval

    def _write(self, batch: list[Outcome]) -> None:
        store = None if self.clock() < self._down_until else self._get_store()
        if store is not None:
            try:
                store.add_outcomes(batch)
                self.stats.written += len(batch)
                self._down_until = 0.0
                return
            except StoreError as exc:
                self._mark_down(str(exc))
        self._spool(batch)

    def _spool(self, batch: list[Outcome]) -> None:
        try:
            if self.spool.size() >= self.max_spool_bytes:
                self._drop(len(batch), "spool", f"the spool in {self.spool.directory} holds {self.max_spool_bytes} "
                           "bytes or more")
                return
            self._resume("spool")
            self.spool.append(batch)
            self.stats.spooled += len(batch)
        except OSError as exc:  # the last resort failed too: say so loudly, keep running
            self.stats.last_error = f"spool write failed: {exc}"
            log.error("zegel recorder: %s; %d outcomes lost", self.stats.last_error, len(batch))

    def _replay(self, *, force: bool) -> None:
        if not force and self.clock() < self._down_until:
            return
        store = self._get_store()
        if store is None:
            return
        for path in self.spool.claim():
            try:
                for chunk in chunked(Spool.read(path, self.stats), 1000):
                    store.add_outcomes(chunk)
                    self.stats.replayed += len(chunk)
            except StoreError as exc:
                self._mark_down(str(exc))
                return  # the claimed file stays; the next replay picks it up again
            path.unlink(missing_ok=True)
        self.stats.last_error = ""
        self._down_until = 0.0


# --- Verdict -> Outcome -------------------------------------------------------------------------


def _relaxed_aligned(domain: str, from_domain: str) -> bool:
    """RFC 9989 4.4: relaxed alignment = same organizational domain. Uses zegel.dmarc's
    organizational-domain logic when available, else the Public Suffix List."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not domain or not from_domain:
        return False
    if domain == from_domain:
        return True
    from publicsuffixlist import PublicSuffixList

    psl = _psl(PublicSuffixList)
    return bool(psl.privatesuffix(domain)) and psl.privatesuffix(domain) == psl.privatesuffix(from_domain)


_PSL_HOLDER: dict[str, Any] = {}


def _psl(factory: Any) -> Any:
    # Loading the list takes ~50 ms: load once per process (an immutable cache, not state).
    if "psl" not in _PSL_HOLDER:
        _PSL_HOLDER["psl"] = factory()
    return _PSL_HOLDER["psl"]


def outcome_from_verdict(verdict: Any, *, ip: str, helo: str, mail_from: str, now: float) -> Outcome:
    """Build the recorded Outcome from a zegel.verify ``Verdict`` (see docs/interfaces.md)."""
    dmarc = getattr(verdict, "dmarc", None)
    spf = getattr(verdict, "spf", None)
    action = getattr(verdict, "action", None)
    from_domain = str(getattr(verdict, "from_domain", None) or getattr(dmarc, "from_domain", "") or "")
    record = getattr(dmarc, "record", None)
    record_text = None
    if record is not None:
        record_text = getattr(record, "text", None) or getattr(record, "raw", None) or str(record)
    # zegel.dmarc reports which passing signatures aligned (dkim_domains); without it (an
    # older or foreign verdict) fall back to relaxed alignment by organizational domain.
    aligned_domains = getattr(dmarc, "dkim_domains", None)
    aligned_set = {str(d).lower().rstrip(".") for d in aligned_domains or ()}
    dkim = []
    for sig in getattr(verdict, "dkim", ()) or ():
        sig_domain = str(getattr(sig, "domain", "") or "").lower().rstrip(".")
        result = str(getattr(sig, "result", "none"))
        if not sig_domain:
            continue  # "no signature": nothing to report (RFC 9990 DKIM results name a d= domain)
        if aligned_domains is not None:
            aligned = result == "pass" and sig_domain in aligned_set
        else:
            aligned = _relaxed_aligned(sig_domain, from_domain)
        dkim.append(DkimOutcome(sig_domain, str(getattr(sig, "selector", "") or ""), result, aligned,
                                str(getattr(sig, "reason", "") or "")[:200]))
    spf_domain = str(getattr(spf, "domain", "") or "") if spf is not None else ""
    override = getattr(action, "override", None)
    override_comment = str(getattr(action, "reason", "") or "")[:500] if override else ""
    arc = getattr(verdict, "arc", None)
    if override == "trusted_forwarder" and getattr(arc, "cv", None) == "pass":
        # RFC 8617 7.2.1: a DMARC failure overridden on the strength of a validated ARC chain
        # is reported as local_policy, the comment naming the chain's sealers (as[N].d/s).
        override, override_comment = "local_policy", arc_report_comment(arc)
    # The disposition actually applied (zegel.policy Action.disposition), which a local
    # override may have made milder than what the Domain Owner asked for (dmarc.disposition).
    disposition = str(getattr(action, "disposition", None) or getattr(dmarc, "disposition", None) or "none")
    return Outcome(
        time=int(now),
        source_ip=ip,
        helo=helo or "",
        envelope_from=mail_from or "",
        header_from=from_domain.lower(),
        spf_domain=spf_domain or domain_of(mail_from) or (helo or ""),
        spf_scope="helo" if getattr(spf, "identity", "mailfrom") == "helo" else "mfrom",
        spf_result=str(getattr(spf, "result", "none") if spf is not None else "none"),
        spf_aligned=bool(getattr(dmarc, "spf_aligned", False)),
        dkim=tuple(dkim),
        dmarc_result=str(getattr(dmarc, "result", "none") if dmarc is not None else "none"),
        policy_domain=str(getattr(dmarc, "policy_domain", "") or ""),
        policy_record=record_text,
        policy=getattr(dmarc, "policy", None),
        disposition=disposition,
        override=override,
        override_comment=override_comment,
    )


def arc_report_comment(arc: Any) -> str:
    """``arc=pass as[2].d=relay.example as[2].s=s2 as[1].d=origin.example as[1].s=s1``: the
    ARC result and each seal's domain and selector, newest first (RFC 8617 7.2.1)."""
    parts = [f"arc={getattr(arc, 'cv', 'none')}"]
    hops = sorted(getattr(arc, "hops", ()) or (), key=lambda hop: -int(getattr(hop, "instance", 0) or 0))
    for hop in hops:
        instance = int(getattr(hop, "instance", 0) or 0)
        domain, selector = str(getattr(hop, "domain", "") or ""), str(getattr(hop, "selector", "") or "")
        if domain:
            parts.append(f"as[{instance}].d={domain}")
        if selector:
            parts.append(f"as[{instance}].s={selector}")
    return " ".join(parts)[:500]
