"""The watch list, stored runs and alerts (SQLAlchemy Core, in the reports database)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from zegel.monitor.changes import Alert, Change, diff
from zegel.monitor.snapshot import Snapshot
from zegel.reports.store import StoreError, _translate, create_engine, migrate

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "zegel_monitor_version"
DEFAULT_INTERVAL = 6 * 3600
MIN_INTERVAL = 300
DEFAULT_PASS_THRESHOLD = 0.9

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
metadata = sa.MetaData()
watch = sa.Table(
    "monitor_watch", metadata,
    sa.Column("domain", sa.String(255), primary_key=True),
    sa.Column("selectors", sa.Text),
    sa.Column("interval", sa.BigInteger),
    sa.Column("next_due", sa.BigInteger),
    sa.Column("emails", sa.Text),
    sa.Column("webhook", sa.Text),
    sa.Column("pass_threshold", sa.Float),
    sa.Column("pass_rate_low", sa.Boolean),
    sa.Column("added_by", sa.String(255)),
    sa.Column("added_at", sa.BigInteger),
)
runs = sa.Table(
    "monitor_runs", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("domain", sa.String(255)),
    sa.Column("time", sa.BigInteger),
    sa.Column("grade", sa.String(4)),
    sa.Column("changes", sa.Integer),
    sa.Column("snapshot", sa.Text),
)
alerts = sa.Table(
    "monitor_alerts", metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("domain", sa.String(255)),
    sa.Column("time", sa.BigInteger),
    sa.Column("kind", sa.String(32)),
    sa.Column("message", sa.Text),
    sa.Column("delivery", sa.Text),
)
known_senders = sa.Table(
    "monitor_senders", metadata,
    sa.Column("domain", sa.String(255)),
    sa.Column("sender", sa.String(255)),
    sa.Column("first_seen", sa.BigInteger),
)


@dataclass(frozen=True, slots=True)
class Watch:
    """A watched domain: how often it is checked and where its alerts go."""

    domain: str
    selectors: tuple[str, ...] = ()
    interval: int = DEFAULT_INTERVAL
    next_due: int = 0
    emails: tuple[str, ...] = ()
    webhook: str = ""
    pass_threshold: float = DEFAULT_PASS_THRESHOLD
    pass_rate_low: bool = False
    added_by: str = ""
    added_at: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"domain": self.domain, "selectors": list(self.selectors), "interval": self.interval,
                "next_due": self.next_due, "emails": list(self.emails), "webhook": self.webhook,
                "pass_threshold": self.pass_threshold, "added_by": self.added_by, "added_at": self.added_at}


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    domain: str
    time: int
    grade: str
    changes: int
    snapshot: Snapshot

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "domain": self.domain, "time": self.time, "grade": self.grade,
                "changes": self.changes}


def _row_watch(row: Any) -> Watch:
    return Watch(row.domain, tuple(json.loads(row.selectors or "[]")), int(row.interval), int(row.next_due),
                 tuple(json.loads(row.emails or "[]")), row.webhook or "", float(row.pass_threshold),
                 bool(row.pass_rate_low), row.added_by, int(row.added_at))


class MonitorStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def close(self) -> None:
        self.engine.dispose()

    def _begin(self) -> Any:
        return self.engine.begin()

    # --- watch list ----------------------------------------------------------------------

    def add(self, item: Watch) -> None:
        """Add or update a watched domain."""
        values = {"selectors": json.dumps(list(item.selectors)), "interval": max(MIN_INTERVAL, item.interval),
                  "next_due": item.next_due, "emails": json.dumps(list(item.emails)), "webhook": item.webhook,
                  "pass_threshold": item.pass_threshold, "pass_rate_low": item.pass_rate_low,
                  "added_by": item.added_by, "added_at": item.added_at}
        try:
            with self._begin() as conn:
                found = conn.execute(sa.select(watch.c.domain).where(watch.c.domain == item.domain)).first()
                if found is None:
                    conn.execute(watch.insert().values(domain=item.domain, **values))
                else:
                    del values["added_at"], values["added_by"]
                    conn.execute(watch.update().where(watch.c.domain == item.domain).values(**values))
        except SQLAlchemyError as err:
            raise _translate(err) from None

    def remove(self, domain: str) -> bool:
        with self._begin() as conn:
            return bool(conn.execute(watch.delete().where(watch.c.domain == domain)).rowcount)

    def get(self, domain: str) -> Watch | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(watch).where(watch.c.domain == domain)).first()
        return _row_watch(row) if row is not None else None

    def watched(self, domains: Iterable[str] | None = None) -> list[Watch]:
        """The watch list (only ``domains`` when given: what one user may see)."""
        query = sa.select(watch).order_by(watch.c.domain)
        if domains is not None:
            query = query.where(watch.c.domain.in_(list(domains)))
        with self.engine.connect() as conn:
            return [_row_watch(row) for row in conn.execute(query)]

    def due(self, now: int) -> list[Watch]:
        query = sa.select(watch).where(watch.c.next_due <= now).order_by(watch.c.next_due, watch.c.domain)
        with self.engine.connect() as conn:
            return [_row_watch(row) for row in conn.execute(query)]

    def next_due(self) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.min(watch.c.next_due))).scalar()
        return int(value) if value is not None else None

    def reschedule(self, domain: str, next_due: int, *, pass_rate_low: bool | None = None) -> None:
        values: dict[str, Any] = {"next_due": next_due}
        if pass_rate_low is not None:
            values["pass_rate_low"] = pass_rate_low
        with self._begin() as conn:
            conn.execute(watch.update().where(watch.c.domain == domain).values(**values))

    # --- runs and alerts --------------------------------------------------------------------

    def last_run(self, domain: str) -> Run | None:
        query = sa.select(runs).where(runs.c.domain == domain).order_by(runs.c.time.desc(), runs.c.id.desc()).limit(1)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return _row_run(row) if row is not None else None

    def add_run(self, snapshot: Snapshot, changes: list[Change]) -> int:
        with self._begin() as conn:
            return int(conn.execute(runs.insert().values(
                domain=snapshot.domain, time=snapshot.time, grade=snapshot.grade, changes=len(changes),
                snapshot=json.dumps(snapshot.to_json(), ensure_ascii=False)).returning(runs.c.id)).scalar_one())

    def history(self, domain: str, limit: int = 50) -> list[tuple[Run, list[Change]]]:
        """The newest runs with what changed at each (against the run before it)."""
        query = (sa.select(runs).where(runs.c.domain == domain)
                 .order_by(runs.c.time.desc(), runs.c.id.desc()).limit(max(1, min(limit, 1000)) + 1))
        with self.engine.connect() as conn:
            found = [_row_run(row) for row in conn.execute(query)]
        out = []
        for index, run in enumerate(found[:limit]):
            previous = found[index + 1].snapshot if index + 1 < len(found) else None
            out.append((run, diff(previous, run.snapshot)))
        return out

    def add_alert(self, alert: Alert, delivery: str) -> None:
        with self._begin() as conn:
            conn.execute(alerts.insert().values(domain=alert.domain, time=alert.time, kind=alert.kind,
                                                message=alert.message, delivery=delivery[:2000]))

    def alerts(self, domain: str | None = None, *, domains: Iterable[str] | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
        query = sa.select(alerts.c.domain, alerts.c.time, alerts.c.kind, alerts.c.message, alerts.c.delivery)
        if domain is not None:
            query = query.where(alerts.c.domain == domain)
        if domains is not None:
            query = query.where(alerts.c.domain.in_(list(domains)))
        query = query.order_by(alerts.c.time.desc(), alerts.c.id.desc()).limit(max(1, min(limit, 10_000)))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def new_senders(self, domain: str, failing: Iterable[str], now: int) -> tuple[list[str], bool]:
        """Remember failing senders; return those not seen before, and whether any were known
        (on the first look everything is 'known': a baseline, not an alert storm)."""
        names = sorted({name[:255] for name in failing})
        with self._begin() as conn:
            seen = {s for (s,) in conn.execute(sa.select(known_senders.c.sender)
                                                .where(known_senders.c.domain == domain))}
            had_baseline = bool(seen) or conn.execute(
                sa.select(runs.c.id).where(runs.c.domain == domain).limit(1)).first() is not None
            new = [name for name in names if name not in seen]
            if new:
                conn.execute(known_senders.insert(), [{"domain": domain, "sender": n, "first_seen": now} for n in new])
        return new, had_baseline


def _row_run(row: Any) -> Run:
    return Run(int(row.id), row.domain, int(row.time), row.grade, int(row.changes),
               Snapshot.from_json(json.loads(row.snapshot)))


def open_monitor(url: str | None = None, data_dir: Path | None = None) -> MonitorStore:
    engine = create_engine(url, data_dir)
    try:
        migrate(engine, MIGRATIONS, VERSION_TABLE)
    except StoreError:
        engine.dispose()
        raise
    return MonitorStore(engine)
