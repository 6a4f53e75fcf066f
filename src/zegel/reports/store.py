"""The reports database: SQLite (WAL, in a data directory) by default, PostgreSQL by URL.

SQLAlchemy 2 Core for queries; the schema is created and upgraded by alembic migrations
shipped in :mod:`zegel.reports.migrations`, run programmatically by :func:`open_store`.
Every write that may be repeated (spool replay, re-ingesting a mailbox) is idempotent:
outcomes carry a unique ``uid``, aggregate reports are unique on (org, report id, domain,
date range), failure reports on a digest of their content.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from zegel.reports.model import (
    AggregateReport,
    FailureReport,
    Outcome,
    ParsedAggregate,
    RecordFields,
    TlsReport,
    fields_of_record,
)

DB_FILENAME = "reports.sqlite3"


def month_bounds(epoch: int) -> tuple[str, int, int]:
    """(partition name, first second, first second of the next month) of the UTC month of
    ``epoch``: agg_records is partitioned by month on PostgreSQL."""
    when = time.gmtime(max(0, min(epoch, 253402300799)))
    start = calendar.timegm((when.tm_year, when.tm_mon, 1, 0, 0, 0, 0, 0, 0))
    year, month = (when.tm_year + 1, 1) if when.tm_mon == 12 else (when.tm_year, when.tm_mon + 1)
    return (f"agg_records_{when.tm_year:04d}_{when.tm_mon:02d}", start,
            calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)))
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()

# Mirrors migrations/versions (the migrations are the source of truth for the schema).
outcomes = sa.Table(
    "outcomes", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("uid", sa.String(32)),
    sa.Column("time", sa.BigInteger),
    sa.Column("source_ip", sa.String(45)),
    sa.Column("helo", sa.String(255)),
    sa.Column("envelope_from", sa.String(320)),
    sa.Column("envelope_from_domain", sa.String(255)),
    sa.Column("envelope_to", sa.String(255)),
    sa.Column("header_from", sa.String(255)),
    sa.Column("spf_domain", sa.String(255)),
    sa.Column("spf_scope", sa.String(8)),
    sa.Column("spf_result", sa.String(16)),
    sa.Column("spf_aligned", sa.Boolean),
    sa.Column("dkim", sa.Text),
    sa.Column("spf_aligned_pass", sa.Boolean),
    sa.Column("dkim_aligned_pass", sa.Boolean),
    sa.Column("dmarc_result", sa.String(16)),
    sa.Column("policy_domain", sa.String(255)),
    sa.Column("policy_record", sa.Text),
    sa.Column("policy", sa.String(16)),
    sa.Column("disposition", sa.String(16)),
    sa.Column("override", sa.String(32)),
    sa.Column("override_comment", sa.Text),
)
sent_reports = sa.Table(
    "sent_reports", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("policy_domain", sa.String(255)),
    sa.Column("period_begin", sa.BigInteger),
    sa.Column("period_end", sa.BigInteger),
    sa.Column("report_id", sa.String(255)),
    sa.Column("messages", sa.BigInteger),
    sa.Column("created_at", sa.BigInteger),
)
deliveries = sa.Table(
    "deliveries", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(16)),
    sa.Column("destination", sa.String(320)),
    sa.Column("report_id", sa.String(255)),
    sa.Column("sent_at", sa.BigInteger),
    sa.Column("status", sa.String(16)),
    sa.Column("detail", sa.Text),
)
suppressions = sa.Table(
    "suppressions", metadata,
    sa.Column("address", sa.String(320), primary_key=True),
    sa.Column("reason", sa.Text),
    sa.Column("added_at", sa.BigInteger),
)
agg_reports = sa.Table(
    "agg_reports", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("org_name", sa.String(255)),
    sa.Column("email", sa.String(320)),
    sa.Column("report_id", sa.String(255)),
    sa.Column("domain", sa.String(255)),
    sa.Column("period_begin", sa.BigInteger),
    sa.Column("period_end", sa.BigInteger),
    sa.Column("format", sa.String(8)),
    sa.Column("p", sa.String(16)),
    sa.Column("sp", sa.String(16)),
    sa.Column("np", sa.String(16)),
    sa.Column("adkim", sa.String(4)),
    sa.Column("aspf", sa.String(4)),
    sa.Column("fo", sa.String(32)),
    sa.Column("testing", sa.String(4)),
    sa.Column("pct", sa.Integer),
    sa.Column("generator", sa.String(255)),
    sa.Column("errors", sa.Text),
    sa.Column("messages", sa.BigInteger),
    sa.Column("source", sa.Text),
    sa.Column("ingested_at", sa.BigInteger),
    sa.Column("repairs", sa.Text),
)
ptr_cache = sa.Table(
    "ptr_cache", metadata,
    sa.Column("ip", sa.String(45), primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("resolved_at", sa.BigInteger),
)
agg_records = sa.Table(
    "agg_records", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("report", Id),
    sa.Column("source_ip", sa.String(45)),
    sa.Column("count", sa.BigInteger),
    sa.Column("disposition", sa.String(16)),
    sa.Column("dkim_eval", sa.String(8)),
    sa.Column("spf_eval", sa.String(8)),
    sa.Column("dmarc_pass", sa.Boolean),
    sa.Column("spf_pass", sa.Boolean),
    sa.Column("dkim_pass", sa.Boolean),
    sa.Column("header_from", sa.String(255)),
    sa.Column("envelope_from", sa.String(255)),
    sa.Column("envelope_to", sa.String(255)),
    sa.Column("reasons", sa.Text),
    sa.Column("spf_results", sa.Text),
    sa.Column("dkim_results", sa.Text),
    sa.Column("period_begin", sa.BigInteger),
)
failure_reports = sa.Table(
    "failure_reports", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("digest", sa.String(64)),
    sa.Column("reporter", sa.String(320)),
    sa.Column("feedback_type", sa.String(32)),
    sa.Column("auth_failure", sa.String(32)),
    sa.Column("reported_domain", sa.String(255)),
    sa.Column("source_ip", sa.String(45)),
    sa.Column("arrival_time", sa.BigInteger),
    sa.Column("original_mail_from", sa.String(320)),
    sa.Column("original_rcpt_to", sa.String(320)),
    sa.Column("identity_alignment", sa.String(32)),
    sa.Column("dkim_domain", sa.String(255)),
    sa.Column("message_id", sa.String(998)),
    sa.Column("subject", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("ingested_at", sa.BigInteger),
)
tls_reports = sa.Table(
    "tls_reports", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("organization", sa.String(255)),
    sa.Column("report_id", sa.String(255)),
    sa.Column("policy_domain", sa.String(255)),
    sa.Column("policy_type", sa.String(16)),
    sa.Column("period_begin", sa.BigInteger),
    sa.Column("period_end", sa.BigInteger),
    sa.Column("contact", sa.String(320)),
    sa.Column("successful", sa.BigInteger),
    sa.Column("failed", sa.BigInteger),
    sa.Column("failure_details", sa.Text),
    sa.Column("source", sa.Text),
    sa.Column("ingested_at", sa.BigInteger),
)


class StoreError(Exception):
    """The database could not be opened or used; the message is one line."""


class StoreRejected(StoreError):
    """The database refused one report's values (the rest of the run goes on)."""


class StoreUnavailable(StoreError):
    """The database is unreachable right now (recording spools and retries)."""


def default_data_dir() -> Path:
    """$ZEGEL_DATA_DIR, else $XDG_DATA_HOME/zegel, else ~/.local/share/zegel."""
    if env := os.environ.get("ZEGEL_DATA_DIR"):
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zegel"


def database_url(url: str | None, data_dir: Path) -> str:
    """The SQLAlchemy URL: ``url`` (``postgresql://`` gets the psycopg 3 driver) or SQLite
    in ``data_dir``."""
    if not url:
        return f"sqlite:///{data_dir / DB_FILENAME}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _no_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL; JSON and mail headers can carry one (\u0000).
    return text.replace("\x00", "") if "\x00" in text else text


def _cut(text: str | None, limit: int = 255) -> str:
    return (text or "")[:limit]


@dataclass(frozen=True)
class AggregateRow:
    """One group of recorded outcomes: the makings of one report <record>."""

    source_ip: str
    header_from: str
    envelope_from: str
    envelope_to: str
    spf_domain: str
    spf_scope: str
    spf_result: str
    dkim: str
    spf_aligned_pass: bool
    dkim_aligned_pass: bool
    disposition: str
    policy: str | None
    override: str | None
    override_comment: str
    count: int


@dataclass(frozen=True)
class SourceStats:
    """Received aggregate data for one (source IP, reporter) pair."""

    source_ip: str
    reporter: str
    messages: int
    spf_pass: int
    spf_aligned: int
    dkim_pass: int
    dkim_aligned: int
    dmarc_pass: int
    quarantined: int
    rejected: int


class ReportStore:
    """Database access for recording, sending and ingesting reports. Thread-safe (the engine
    pools connections); one instance per process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    # --- helpers ----------------------------------------------------------------------

    def _insert(self, table: sa.Table) -> Any:
        if self.dialect == "postgresql":
            return pg_dialect.insert(table)
        if self.dialect == "sqlite":
            return sqlite_dialect.insert(table)
        raise StoreError(f"unsupported database {self.dialect!r} (use SQLite or PostgreSQL)")

    @contextlib.contextmanager
    def _write(self) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as err:
            raise _translate(err) from None

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as err:
            raise _translate(err) from None

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(sa.text("SELECT 1"))

    # --- outcomes -----------------------------------------------------------------------

    def add_outcomes(self, batch: Sequence[Outcome]) -> None:
        """Store outcomes; ones already stored (same uid) are skipped. Raises StoreUnavailable."""
        if not batch:
            return
        rows = [_outcome_row(outcome) for outcome in batch]
        stmt = self._insert(outcomes).on_conflict_do_nothing(index_elements=["uid"])
        with self._write() as conn:
            conn.execute(stmt, rows)

    def count_outcomes(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(outcomes)).scalar_one())

    def reportable_domains(self, begin: int, end: int) -> list[str]:
        """Policy domains with DMARC-evaluated outcomes in [begin, end)."""
        query = (
            sa.select(outcomes.c.policy_domain).distinct()
            .where(outcomes.c.time >= begin, outcomes.c.time < end, outcomes.c.policy_domain != "",
                   outcomes.c.dmarc_result.in_(("pass", "fail")))
            .order_by(outcomes.c.policy_domain)
        )
        with self._read() as conn:
            return [row[0] for row in conn.execute(query)]

    def policy_record(self, domain: str, begin: int, end: int) -> str | None:
        """The DMARC record text last seen for ``domain`` in the period."""
        query = (
            sa.select(outcomes.c.policy_record)
            .where(outcomes.c.policy_domain == domain, outcomes.c.time >= begin, outcomes.c.time < end,
                   outcomes.c.policy_record.is_not(None))
            .order_by(outcomes.c.time.desc()).limit(1)
        )
        with self._read() as conn:
            value = conn.execute(query).scalar()
        return str(value) if value is not None else None

    def aggregate_rows(self, domain: str, begin: int, end: int) -> list[AggregateRow]:
        """Outcomes for ``domain`` in [begin, end) grouped by source and results (RFC 9990 3.1:
        one record per distinct source IP, identifiers, results and disposition)."""
        keys = [
            outcomes.c.source_ip, outcomes.c.header_from, outcomes.c.envelope_from_domain,
            outcomes.c.envelope_to, outcomes.c.spf_domain, outcomes.c.spf_scope, outcomes.c.spf_result,
            outcomes.c.dkim, outcomes.c.spf_aligned_pass, outcomes.c.dkim_aligned_pass,
            outcomes.c.disposition, outcomes.c.policy, outcomes.c.override, outcomes.c.override_comment,
        ]
        query = (
            sa.select(*keys, sa.func.count().label("n"))
            .where(outcomes.c.policy_domain == domain, outcomes.c.time >= begin, outcomes.c.time < end,
                   outcomes.c.dmarc_result.in_(("pass", "fail")))
            .group_by(*keys)
            .order_by(outcomes.c.source_ip, sa.func.count().desc())
        )
        with self._read() as conn:
            return [
                AggregateRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], bool(r[8]), bool(r[9]),
                             r[10], r[11], r[12], r[13] or "", int(r[14]))
                for r in conn.execute(query)
            ]

    # --- sending bookkeeping ---------------------------------------------------------------

    def is_reported(self, domain: str, begin: int, end: int) -> bool:
        query = sa.select(sent_reports.c.id).where(
            sent_reports.c.policy_domain == domain, sent_reports.c.period_begin == begin,
            sent_reports.c.period_end == end)
        with self._read() as conn:
            return conn.execute(query).first() is not None

    def mark_reported(self, domain: str, begin: int, end: int, report_id: str, messages: int) -> bool:
        """Claim the period for ``domain``; False when it was already claimed (by us or another
        process sharing the database): each period is reported once."""
        stmt = self._insert(sent_reports).values(
            policy_domain=domain, period_begin=begin, period_end=end, report_id=report_id,
            messages=messages, created_at=int(time.time()),
        ).on_conflict_do_nothing(
            index_elements=["policy_domain", "period_begin", "period_end"]
        ).returning(sent_reports.c.id)
        # RETURNING, not rowcount: PostgreSQL drivers report a non-zero rowcount for a skipped row.
        with self._write() as conn:
            return conn.execute(stmt).scalar() is not None

    @contextlib.contextmanager
    def claim_period(self, domain: str, begin: int, end: int) -> Iterator[bool]:
        """Hold the right to build and send ``domain``'s report for one period while the block
        runs; False when another generator holds it now. Generators on several hosts share
        PostgreSQL: a session advisory lock there (released when the block ends or the
        connection dies, so a crashed generator blocks nobody). On SQLite, one host: a lock
        file beside the database."""
        key = f"zegel-report:{domain}:{begin}:{end}"
        if self.dialect == "postgresql":
            try:
                conn = self.engine.connect()
            except SQLAlchemyError as err:
                raise _translate(err) from None
            try:
                lock = sa.text("SELECT pg_try_advisory_lock(hashtextextended(:key, 0))")
                held = bool(conn.execute(lock, {"key": key}).scalar())
                conn.commit()
                try:
                    yield held
                finally:
                    if held:
                        with contextlib.suppress(SQLAlchemyError):
                            conn.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:key, 0))"), {"key": key})
                            conn.commit()
            finally:
                conn.close()
            return
        database = self.engine.url.database
        if not database or database == ":memory:":
            yield True
            return
        import fcntl
        import hashlib

        lock_path = f"{database}.send-{hashlib.sha256(key.encode()).hexdigest()[:16]}.lock"
        with open(lock_path, "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                with contextlib.suppress(OSError):
                    os.unlink(lock_path)

    def log_delivery(self, kind: str, destination: str, report_id: str, status: str, detail: str = "",
                     at: int | None = None) -> None:
        with self._write() as conn:
            conn.execute(deliveries.insert().values(
                kind=kind, destination=destination.lower(), report_id=report_id,
                sent_at=int(time.time()) if at is None else at, status=status, detail=detail))

    def deliveries_since(self, destination: str, since: int, kind: str | None = None) -> int:
        query = sa.select(sa.func.count()).select_from(deliveries).where(
            deliveries.c.destination == destination.lower(), deliveries.c.sent_at >= since,
            deliveries.c.status == "sent")
        if kind:
            query = query.where(deliveries.c.kind == kind)
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    def delivered(self, report_id: str, destination: str) -> bool:
        query = sa.select(deliveries.c.id).where(
            deliveries.c.report_id == report_id, deliveries.c.destination == destination.lower(),
            deliveries.c.status == "sent")
        with self._read() as conn:
            return conn.execute(query).first() is not None

    def delivery_log(self) -> list[dict[str, Any]]:
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.select(deliveries).order_by(deliveries.c.id))]

    def _suppress_statement(self, address: str, reason: str) -> Any:
        stmt = self._insert(suppressions).values(
            address=address.lower(), reason=reason[:500], added_at=int(time.time()))
        return stmt.on_conflict_do_update(index_elements=["address"], set_={"reason": stmt.excluded.reason})

    def suppress(self, address: str, reason: str) -> None:
        with self._write() as conn:
            conn.execute(self._suppress_statement(address, reason))

    def unsuppress(self, address: str) -> bool:
        with self._write() as conn:
            return bool(conn.execute(suppressions.delete().where(suppressions.c.address == address.lower())).rowcount)

    def is_suppressed(self, address: str) -> bool:
        with self._read() as conn:
            query = sa.select(suppressions.c.address).where(suppressions.c.address == address.lower())
            return conn.execute(query).first() is not None

    def suppressed(self) -> list[tuple[str, str]]:
        with self._read() as conn:
            query = sa.select(suppressions.c.address, suppressions.c.reason).order_by(suppressions.c.address)
            return [(row[0], row[1]) for row in conn.execute(query)]

    # --- received reports ------------------------------------------------------------------

    def ingest_session(self) -> IngestSession:
        return IngestSession(self)

    def source_stats(self, domain: str, since: int) -> list[SourceStats]:
        """Per (source IP, reporter) totals from received aggregate reports whose period ends
        at or after ``since``."""
        r, rep = agg_records.c, agg_reports.c

        def total_if(condition: Any) -> Any:
            return sa.func.sum(sa.case((condition, r.count), else_=0))

        query = (
            sa.select(
                r.source_ip, rep.org_name, sa.func.sum(r.count),
                total_if(r.spf_pass), total_if(r.spf_eval == "pass"),
                total_if(r.dkim_pass), total_if(r.dkim_eval == "pass"), total_if(r.dmarc_pass),
                total_if(r.disposition == "quarantine"), total_if(r.disposition == "reject"),
            )
            .select_from(agg_records.join(agg_reports, r.report == rep.id))
            .where(rep.domain == domain.lower(), rep.period_end >= since)
            .group_by(r.source_ip, rep.org_name)
            .order_by(sa.func.sum(r.count).desc(), r.source_ip)
        )
        with self._read() as conn:
            return [SourceStats(row[0], row[1], *(int(v or 0) for v in row[2:])) for row in conn.execute(query)]

    def source_details(self, domain: str, since: int) -> list[tuple[Any, ...]]:
        """Received records of ``domain`` (periods ending at/after ``since``) folded by what a
        summary tells apart: (source_ip, reporter, envelope_from, dkim_results JSON,
        spf_results JSON, reasons JSON, messages, dmarc_pass, spf_aligned_pass, dkim_aligned_pass,
        spf_pass, dkim_pass, quarantined, rejected)."""
        r, rep = agg_records.c, agg_reports.c

        def total_if(condition: Any) -> Any:
            return sa.func.sum(sa.case((condition, r.count), else_=0))

        keys = (r.source_ip, rep.org_name, r.envelope_from, r.dkim_results, r.spf_results, r.reasons)
        query = (
            sa.select(*keys, sa.func.sum(r.count), total_if(r.dmarc_pass), total_if(r.spf_eval == "pass"),
                      total_if(r.dkim_eval == "pass"), total_if(r.spf_pass), total_if(r.dkim_pass),
                      total_if(r.disposition == "quarantine"), total_if(r.disposition == "reject"))
            .select_from(agg_records.join(agg_reports, r.report == rep.id))
            .where(rep.domain == domain.lower(), rep.period_end >= since)
            .group_by(*keys)
        )
        with self._read() as conn:
            return [tuple(row) for row in conn.execute(query)]

    def reports_before(self, domain: str, since: int) -> tuple[int, int | None]:
        """(number, earliest period start) of ``domain``'s reports whose period ended before ``since``."""
        rep = agg_reports.c
        query = sa.select(sa.func.count(), sa.func.min(rep.period_begin)).where(
            rep.domain == domain.lower(), rep.period_end < since)
        with self._read() as conn:
            count, earliest = conn.execute(query).one()
        return int(count or 0), (int(earliest) if earliest is not None else None)

    def daily_totals(self, domain: str, since: int) -> list[tuple[int, int, int]]:
        """(day as epoch seconds at 00:00 UTC, messages, DMARC pass) by report period start."""
        r, rep = agg_records.c, agg_reports.c
        day = (rep.period_begin / 86400).cast(sa.BigInteger) if self.dialect == "sqlite" else sa.func.floor(
            rep.period_begin / 86400.0).cast(sa.BigInteger)
        query = (sa.select(day, sa.func.sum(r.count), sa.func.sum(sa.case((r.dmarc_pass, r.count), else_=0)))
                 .select_from(agg_records.join(agg_reports, r.report == rep.id))
                 .where(rep.domain == domain.lower(), rep.period_end >= since)
                 .group_by(day).order_by(day))
        with self._read() as conn:
            return [(int(d) * 86400, int(m or 0), int(p or 0)) for d, m, p in conn.execute(query)]

    def cached_ptr(self, ips: Sequence[str], max_age: int) -> dict[str, str]:
        now = int(time.time())
        found: dict[str, str] = {}
        with self._read() as conn:
            for chunk in chunked(ips, 500):
                query = sa.select(ptr_cache.c.ip, ptr_cache.c.name).where(
                    ptr_cache.c.ip.in_(chunk), ptr_cache.c.resolved_at >= now - max_age)
                found.update({ip: name for ip, name in conn.execute(query)})
        return found

    def cache_ptr(self, names: dict[str, str]) -> None:
        if not names:
            return
        now = int(time.time())
        rows = [{"ip": ip[:45], "name": _cut(_no_nul(name)), "resolved_at": now} for ip, name in names.items()]
        statement = self._insert(ptr_cache)
        statement = statement.on_conflict_do_update(
            index_elements=["ip"], set_={"name": statement.excluded.name, "resolved_at": statement.excluded.resolved_at})
        with self._write() as conn:
            conn.execute(statement, rows)

    def failure_reports(self, domain: str | None = None, since: int | None = None,
                        limit: int | None = None, report: int | None = None) -> list[dict[str, Any]]:
        """Stored failure reports, newest first (or the one with id ``report``)."""
        table = failure_reports
        query = sa.select(table).order_by(table.c.id.desc())
        if report is not None:
            query = query.where(table.c.id == report)
        if domain:
            query = query.where(table.c.reported_domain == domain.lower())
        if since is not None:
            query = query.where(sa.func.coalesce(table.c.arrival_time, table.c.ingested_at) >= since)
        if limit:
            query = query.limit(limit)
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def tls_reports(self, domain: str | None = None, since: int | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
        """Stored SMTP TLS report policies (one row per report and policy domain), newest first."""
        table = tls_reports
        query = sa.select(table).order_by(table.c.period_end.desc(), table.c.id.desc())
        if domain:
            query = query.where(table.c.policy_domain == domain.lower())
        if since is not None:
            query = query.where(table.c.period_end >= since)
        if limit:
            query = query.limit(limit)
        with self._read() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def aggregate_records(self, domain: str | None = None, since: int | None = None) -> Iterator[dict[str, Any]]:
        """Every stored aggregate record with its report's metadata, streamed (for export)."""
        r, rep = agg_records.c, agg_reports.c
        query = (sa.select(rep.org_name, rep.email, rep.report_id, rep.domain, rep.period_begin, rep.period_end,
                           rep.p, rep.sp, rep.pct, rep.adkim, rep.aspf, rep.repairs, rep.format, r.source_ip, r.count,
                           r.disposition, r.dkim_eval, r.spf_eval, r.dmarc_pass, r.header_from, r.envelope_from,
                           r.envelope_to, r.reasons, r.dkim_results, r.spf_results)
                 .select_from(agg_records.join(agg_reports, r.report == rep.id))
                 .order_by(rep.period_begin, rep.id, r.id))
        if domain:
            query = query.where(rep.domain == domain.lower())
        if since is not None:
            query = query.where(rep.period_end >= since)
        with self._read() as conn:
            for row in conn.execution_options(stream_results=True, yield_per=2000).execute(query):
                yield dict(row._mapping)

    def published_policy(self, domain: str, since: int) -> dict[str, Any] | None:
        """The policy the most recent received report says ``domain`` publishes."""
        rep = agg_reports.c
        query = (sa.select(rep.p, rep.sp, rep.np, rep.pct, rep.testing, rep.period_end)
                 .where(rep.domain == domain.lower(), rep.period_end >= since)
                 .order_by(rep.period_end.desc()).limit(1))
        with self._read() as conn:
            row = conn.execute(query).first()
        return dict(row._mapping) if row is not None else None

    def counts(self) -> dict[str, int]:
        with self._read() as conn:
            return {
                table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                for table in (agg_reports, agg_records, failure_reports, tls_reports, outcomes)
            }

    def report_totals(self, domain: str | None = None, since: int | None = None) -> list[tuple[str, str, int, int, int]]:
        """(org, report id, begin, end, messages) of received aggregate reports."""
        rep = agg_reports.c
        query = sa.select(rep.org_name, rep.report_id, rep.period_begin, rep.period_end, rep.messages)
        if domain:
            query = query.where(rep.domain == domain.lower())
        if since is not None:
            query = query.where(rep.period_end >= since)
        with self._read() as conn:
            return [(a, b, int(c), int(d), int(e)) for a, b, c, d, e in conn.execute(query.order_by(rep.id))]


_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _json_rows(rows: Sequence[tuple[str, ...]]) -> str:
    """JSON for the first three strings of each tuple; hand-built when nothing needs escaping
    (the usual case: domains, selectors, result words), which is several times faster than json."""
    if not rows:
        return "[]"
    if len(rows) == 1:  # the usual case: one DKIM signature, one SPF result
        a, b, c = rows[0][:3]
        if _NEEDS_ESCAPE.search(a + b + c) is None:
            return f'[["{a}","{b}","{c}"]]'
    elif not any(_NEEDS_ESCAPE.search(a + b + c) for a, b, c, *_ in rows):
        return "[" + ",".join(f'["{a}","{b}","{c}"]' for a, b, c, *_ in rows) + "]"
    return _JSON.encode([list(row[:3]) for row in rows])


def _passes(results: Sequence[tuple[str, ...]]) -> bool:
    for result in results:  # noqa: SIM110 (a plain loop: cheaper than any() over a generator for 1-2 items)
        if result[2] == "pass":
            return True
    return False


def _results_columns(dkim: Sequence[tuple[str, ...]], spf: Sequence[tuple[str, ...]]) -> tuple[bool, str, bool, str]:
    """(spf_pass, spf_results, dkim_pass, dkim_results) of one record's auth results."""
    # The usual row has one result of each kind: handled inline (this runs once per stored row).
    if len(spf) == 1 and len(dkim) == 1:
        sd, ss, sr = spf[0][:3]
        dd, ds, dr = dkim[0][:3]
        if _NEEDS_ESCAPE.search(sd + ss + sr + dd + ds + dr) is None:
            spf_pass, spf_json = sr == "pass", f'[["{sd}","{ss}","{sr}"]]'
            dkim_pass, dkim_json = dr == "pass", f'[["{dd}","{ds}","{dr}"]]'
        else:
            spf_pass, spf_json, dkim_pass, dkim_json = sr == "pass", _json_rows(spf), dr == "pass", _json_rows(dkim)
    else:
        spf_pass, spf_json, dkim_pass, dkim_json = _passes(spf), _json_rows(spf), _passes(dkim), _json_rows(dkim)
    return spf_pass, spf_json, dkim_pass, dkim_json


_MAX_KNOWN_RESULTS = 10_000


_TRUTH = (False, True)
# SQLite stores booleans as 0/1 and its driver binds a bool several times slower than an int
# (it looks for an adapter first): rows for SQLite carry ints.
_TRUTH_AS_INT = (0, 1)


def _record_row(report_key: int, fields: RecordFields, period_begin: int = 0,
                known: dict[Any, tuple[Any, str, Any, str]] | None = None,
                truth: tuple[Any, Any] = _TRUTH) -> tuple[Any, ...]:
    """The agg_records columns (``_RECORD_COLUMNS``) of one record, booleans as ``truth`` gives
    them. ``known`` memoizes the auth results' columns (for one ``truth``): most rows repeat
    another row's results."""
    ip, count, disposition, dkim_eval, spf_eval, header_from, envelope_from, envelope_to, reasons, dkim, spf = fields
    key = (dkim, spf)
    columns = known.get(key) if known is not None else None
    if columns is None:
        spf_pass, spf_json, dkim_pass, dkim_json = _results_columns(dkim, spf)
        columns = (truth[spf_pass], spf_json, truth[dkim_pass], dkim_json)
        if known is not None:
            if len(known) >= _MAX_KNOWN_RESULTS:
                known.clear()
            known[key] = columns
    spf_pass, spf_json, dkim_pass, dkim_json = columns
    return (report_key, ip[:45], count, disposition[:16], dkim_eval, spf_eval,
            truth[dkim_eval == "pass" or spf_eval == "pass"],  # RFC 9989 4.2: either aligned identifier passes
            spf_pass, dkim_pass, header_from[:255], envelope_from[:255], envelope_to[:255],
            _JSON.encode([list(r) for r in reasons]) if reasons else "[]", spf_json, dkim_json, period_begin)


_MAX_BUFFERED_ROWS = 20_000
_REPORT_COLUMNS = ("org_name", "email", "report_id", "domain", "period_begin", "period_end", "format", "p", "sp",
                   "np", "adkim", "aspf", "fo", "testing", "pct", "generator", "errors", "messages", "source",
                   "ingested_at", "repairs")
_RECORD_COLUMNS = ("report", "source_ip", "count", "disposition", "dkim_eval", "spf_eval", "dmarc_pass", "spf_pass",
                   "dkim_pass", "header_from", "envelope_from", "envelope_to", "reasons", "spf_results",
                   "dkim_results", "period_begin")


class IngestSession:
    """A transaction for storing received reports in batches (commit every ``batch`` files)."""

    def __init__(self, store: ReportStore, batch: int = 200) -> None:
        self.store = store
        # PostgreSQL may be shared by ingesters on several hosts, and the same report may reach
        # more than one: a transaction holding several new reports could wait on another
        # holding them in the other order (a deadlock, and a lost batch). One report per
        # transaction never holds more than one such key, so nobody waits in a circle.
        self.batch = 1 if store.dialect == "postgresql" else batch
        self._conn: Connection | None = None
        self._raw_cursor: Any = None
        self._pending = 0
        self._records: list[tuple[Any, ...]] = []
        self._known_results: dict[Any, tuple[Any, str, Any, str]] = {}
        self._truth = _TRUTH_AS_INT if store.dialect == "sqlite" else _TRUTH
        # Aggregate reports go through the driver's own cursor, on the session's connection and
        # inside its transaction: SQLAlchemy's per-statement compile and parameter processing
        # cost more than the inserts themselves on large ingests. Values are plain str/int/bool.
        placeholder = "?" if store.dialect == "sqlite" else "%s"
        self._report_sql = (
            f"INSERT INTO agg_reports ({', '.join(_REPORT_COLUMNS)}) "
            f"VALUES ({', '.join([placeholder] * len(_REPORT_COLUMNS))}) "
            "ON CONFLICT (org_name, report_id, domain, period_begin, period_end) DO NOTHING RETURNING id")
        self._records_sql = (f"INSERT INTO agg_records ({', '.join(_RECORD_COLUMNS)}) "
                             f"VALUES ({', '.join([placeholder] * len(_RECORD_COLUMNS))})")
        dbapi = getattr(store.engine.dialect, "dbapi", None)
        self._driver_errors: tuple[type[BaseException], ...] = (dbapi.Error,) if dbapi is not None else ()
        self._errors: tuple[type[BaseException], ...] = (SQLAlchemyError, *self._driver_errors)

    def _cursor(self) -> Any:
        if self._raw_cursor is None:
            self._raw_cursor = self._connection().connection.cursor()
        return self._raw_cursor

    def _flush_records(self) -> None:
        if self._records and self._conn is not None:
            self._cursor().executemany(self._records_sql, self._records)
        self._records = []

    def __enter__(self) -> IngestSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(commit=exc[0] is None)

    def _connection(self) -> Connection:
        if self._conn is None:
            try:
                self._conn = self.store.engine.connect()
                self._conn.begin()
            except SQLAlchemyError as err:
                raise StoreUnavailable(_one_line(err)) from None
        return self._conn

    def _done_one(self) -> None:
        self._pending += 1
        if self._pending >= self.batch:
            self.commit()

    def commit(self) -> None:
        if self._conn is not None:
            try:
                self._flush_records()
                self._conn.commit()
            except self._errors as err:
                raise StoreUnavailable(_one_line(err)) from None
            self._conn.begin()
        self._pending = 0

    def close(self, commit: bool = True) -> None:
        if self._conn is None:
            return
        try:
            if commit:
                self._flush_records()
                self._conn.commit()
            else:
                self._records = []
                self._conn.rollback()
        except self._errors as err:
            raise StoreUnavailable(_one_line(err)) from None
        finally:
            if self._raw_cursor is not None:
                with contextlib.suppress(*self._driver_errors):
                    self._raw_cursor.close()
                self._raw_cursor = None
            self._conn.close()
            self._conn = None

    def add_aggregate(self, report: AggregateReport | ParsedAggregate, source: str) -> bool:
        """Store one aggregate report; False when it is a duplicate (RFC 9990 2.1: the same
        organisation, report id, domain and date range)."""
        self._connection()
        meta, policy = report.metadata, report.policy
        records = (report.records if isinstance(report, ParsedAggregate)
                   else tuple(fields_of_record(record) for record in report.records))
        values = (
            _cut(meta.org_name), _cut(meta.email, 320), _cut(meta.report_id), _cut(policy.domain.lower()),
            meta.begin, meta.end, report.format, _cut(policy.p, 16), _cut(policy.sp, 16) or None,
            _cut(policy.np, 16) or None, _cut(policy.adkim, 4) or None, _cut(policy.aspf, 4) or None,
            _cut(policy.fo, 32) or None, _cut(policy.testing, 4) or None, policy.pct, _cut(meta.generator),
            json.dumps(list(meta.errors))[:4000], sum(record[1] for record in records), source[:1000],
            int(time.time()), "; ".join(getattr(report, "repairs", ()))[:2000],
        )
        try:
            # The driver's own statement (RETURNING works on SQLite >= 3.35 and PostgreSQL):
            # SQLAlchemy's per-call compile and parameter processing cost more than the insert.
            cursor = self._cursor()
            cursor.execute(self._report_sql, values)
            found = cursor.fetchall()  # all of it: leaves no statement in progress
            if not found:  # ON CONFLICT DO NOTHING: already stored
                return False
            report_key = found[0][0]
            # Rows of many reports go in one executemany at commit time: far fewer round trips.
            begin = meta.begin
            known, truth = self._known_results, self._truth
            self._records.extend([_record_row(report_key, fields, begin, known, truth) for fields in records])
            if len(self._records) >= _MAX_BUFFERED_ROWS:  # bounded memory, however large the reports
                self._flush_records()
        except self._errors as err:
            raise StoreUnavailable(_one_line(err)) from None
        self._done_one()
        return True

    def suppress(self, address: str, reason: str) -> None:
        """Add a bounced address to the suppression list (within this session's transaction:
        SQLite allows one writer, and the session is it)."""
        try:
            self._connection().execute(self.store._suppress_statement(address, reason))
        except SQLAlchemyError as err:
            raise StoreUnavailable(_one_line(err)) from None

    def add_failure(self, report: FailureReport, source: str) -> bool:
        conn = self._connection()
        values = {name: getattr(report, name) for name in report.__dataclass_fields__}
        for name, value in values.items():
            if isinstance(value, str):
                value = _no_nul(value)
                values[name] = value[:998] if name in ("message_id", "subject") else _cut(value, 320)
        stmt = self.store._insert(failure_reports).values(
            **values, source=_no_nul(source)[:1000], ingested_at=int(time.time()),
        ).on_conflict_do_nothing(index_elements=["digest"]).returning(failure_reports.c.id)
        with self._isolated(conn):
            added = conn.execute(stmt).scalar() is not None
        self._done_one()
        return added

    @contextlib.contextmanager
    def _isolated(self, conn: Connection) -> Iterator[None]:
        """A savepoint around one report from free-form sources (mail headers, JSON): if the
        database refuses its values, only that report is rejected, not the session."""
        try:
            with conn.begin_nested():
                yield
        except (sa.exc.IntegrityError, sa.exc.DataError, sa.exc.ProgrammingError) as err:
            raise StoreRejected(f"database refused the values: {_one_line(err)}") from None
        except SQLAlchemyError as err:
            raise StoreUnavailable(_one_line(err)) from None

    def add_tls(self, report: TlsReport, source: str) -> bool:
        conn = self._connection()
        added = False
        with self._isolated(conn):
            for policy in report.policies or ():
                stmt = self.store._insert(tls_reports).values(
                    organization=_cut(_no_nul(report.organization)), report_id=_cut(_no_nul(report.report_id)),
                    policy_domain=_cut(_no_nul(policy.policy_domain)), policy_type=_cut(_no_nul(policy.policy_type), 16),
                    period_begin=report.begin, period_end=report.end, contact=_cut(_no_nul(report.contact), 320),
                    successful=policy.successful, failed=policy.failed,
                    failure_details=_no_nul(json.dumps(list(policy.failure_details)))[:10000],
                    source=_no_nul(source)[:1000], ingested_at=int(time.time()),
                ).on_conflict_do_nothing(
                    index_elements=["organization", "report_id", "policy_domain"]
                ).returning(tls_reports.c.id)
                added = (conn.execute(stmt).scalar() is not None) or added
        self._done_one()
        return added


def _outcome_row(outcome: Outcome) -> dict[str, Any]:
    from zegel.reports.model import domain_of

    return {
        "uid": outcome.uid, "time": int(outcome.time), "source_ip": _cut(outcome.source_ip, 45),
        "helo": _cut(outcome.helo), "envelope_from": _cut(outcome.envelope_from, 320),
        "envelope_from_domain": _cut(domain_of(outcome.envelope_from)),
        "envelope_to": _cut(outcome.envelope_to), "header_from": _cut(outcome.header_from.lower()),
        "spf_domain": _cut(outcome.spf_domain.lower()), "spf_scope": _cut(outcome.spf_scope, 8),
        "spf_result": _cut(outcome.spf_result, 16), "spf_aligned": outcome.spf_aligned,
        "dkim": outcome.dkim_json(), "spf_aligned_pass": outcome.spf_aligned_pass,
        "dkim_aligned_pass": outcome.dkim_aligned_pass, "dmarc_result": _cut(outcome.dmarc_result, 16),
        "policy_domain": _cut(outcome.policy_domain.lower()), "policy_record": outcome.policy_record,
        "policy": outcome.policy, "disposition": _cut(outcome.disposition, 16),
        "override": outcome.override, "override_comment": outcome.override_comment,
    }


def _translate(err: SQLAlchemyError) -> StoreError:
    if isinstance(err, DBAPIError) and (err.connection_invalidated or isinstance(err, sa.exc.OperationalError | sa.exc.InterfaceError)):
        return StoreUnavailable(_one_line(err))
    return StoreError(_one_line(err))


def _one_line(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers (summary, send) never block the recorder; NORMAL sync is durable across
    # application crashes, which is what the spool-and-replay design needs.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def create_engine(url: str | None = None, data_dir: Path | None = None) -> Engine:
    data_dir = data_dir or default_data_dir()
    full = database_url(url, data_dir)
    try:
        if full.startswith("sqlite"):
            if not url:
                data_dir.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(full, connect_args={"timeout": 10})
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = sa.create_engine(full, pool_pre_ping=True, pool_size=5, max_overflow=5,
                                      connect_args={"connect_timeout": 5} if "psycopg" in full else {})
    except (SQLAlchemyError, ValueError, OSError) as err:
        raise StoreError(f"cannot open database: {_one_line(err)}") from None
    return engine


def migrate(engine: Engine, script_location: Path = MIGRATIONS, version_table: str | None = None) -> None:
    """Bring a package's tables to their newest migration (alembic scripts shipped in the
    package): the reports' by default; the console packages (accounts, monitor) share the
    database with their own scripts and version table. Raises StoreError."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    try:
        with _MIGRATION_LOCK, engine.begin() as conn:
            config.attributes["connection"] = conn
            if version_table is not None:
                config.attributes["version_table"] = version_table
            command.upgrade(config, "head")
    except SQLAlchemyError as err:
        raise _translate(err) from None


# alembic's migration context is process-global (alembic.context), so two threads migrating at
# once (the milter's recorder and its failure reports opening a new database) would corrupt
# each other's run: migrations in one process take turns.
_MIGRATION_LOCK = threading.Lock()


def open_store(url: str | None = None, data_dir: Path | None = None, *, migrate_schema: bool = True) -> ReportStore:
    """Open (and create or upgrade) the reports database. Raises StoreError/StoreUnavailable."""
    engine = create_engine(url, data_dir)
    if migrate_schema:
        for attempt in range(_MIGRATE_ATTEMPTS):
            try:
                migrate(engine)
                break
            except StoreError as err:
                # Two openers of a new database (the milter's recorder and its failure reports,
                # or two processes) race to create the schema: the loser finds the tables made
                # or the file locked. Looking again finds the schema at its newest version.
                if attempt + 1 == _MIGRATE_ATTEMPTS or not _SCHEMA_RACE.search(str(err)):
                    engine.dispose()
                    raise
                time.sleep(0.2 * (attempt + 1))
    return ReportStore(engine)


_MIGRATE_ATTEMPTS = 4
_SCHEMA_RACE = re.compile(r"already exists|database is locked|duplicate key|UniqueViolation", re.IGNORECASE)


def chunked(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
