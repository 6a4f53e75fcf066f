"""What the web app keeps: shared results (domain checks, saved header analyses) and mail-tester
sessions, each with an expiry. SQLite in the data directory by default (the same database as
zegel's reports), any SQLAlchemy URL (PostgreSQL) with --db. Blocking calls run in a thread.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from zegel.reports.store import StoreError, create_engine

metadata = sa.MetaData()
# One row per shared result or tester session; ``data`` is JSON. Expired rows are deleted
# lazily (on write) so the table stays bounded by the rate limits times the lifetimes.
web_items = sa.Table(
    "web_items", metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, default=""),
    sa.Column("data", sa.Text, nullable=False),
)
ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l: read aloud and typed by people
MAX_DATA = 4 * 1024 * 1024  # JSON of one item (a bulk check of 500 domains fits)


def new_id(length: int = 10) -> str:
    """A random identifier: 10 characters from 32 is 50 bits, unguessable within a result's life."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class Item:
    id: str
    kind: str
    created: float
    expires: float
    status: str
    data: dict[str, Any]


class WebStore:
    """Small key-value store with expiry on top of SQLAlchemy Core."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.clock = clock
        self._last_purge = 0.0
        try:
            metadata.create_all(engine, checkfirst=True)
        except SQLAlchemyError as err:
            raise StoreError(f"cannot create the web tables: {str(err).splitlines()[0]}") from None

    @classmethod
    def open(cls, url: str | None, data_dir: Path | None) -> WebStore:
        return cls(create_engine(url, data_dir))

    def close(self) -> None:
        self.engine.dispose()

    # -- blocking API --------------------------------------------------------------------

    def put_sync(self, kind: str, data: dict[str, Any], ttl: float, *, status: str = "",
                 item_id: str | None = None) -> str:
        text = json.dumps(data, ensure_ascii=False, default=str).replace("\x00", "")
        if len(text) > MAX_DATA:
            raise StoreError("result too large to store")
        now = self.clock()
        key = item_id or new_id()
        with self.engine.begin() as conn:
            if now - self._last_purge > 60:
                self._last_purge = now
                conn.execute(web_items.delete().where(web_items.c.expires < now))
            conn.execute(web_items.insert().values(id=key, kind=kind, created=now, expires=now + ttl,
                                                   status=status, data=text))
        return key

    def get_sync(self, kind: str, item_id: str) -> Item | None:
        if not item_id or len(item_id) > 40:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(web_items).where(web_items.c.id == item_id,
                                                          web_items.c.kind == kind)).first()
        if row is None or row.expires < self.clock():
            return None
        return Item(row.id, row.kind, row.created, row.expires, row.status, json.loads(row.data))

    def update_sync(self, kind: str, item_id: str, data: dict[str, Any], *, status: str,
                    only_if_status: str | None = None) -> bool:
        """Replace an unexpired item's data; with ``only_if_status``, only from that status."""
        text = json.dumps(data, ensure_ascii=False, default=str).replace("\x00", "")
        if len(text) > MAX_DATA:
            raise StoreError("result too large to store")
        condition = [web_items.c.id == item_id, web_items.c.kind == kind, web_items.c.expires >= self.clock()]
        if only_if_status is not None:
            condition.append(web_items.c.status == only_if_status)
        with self.engine.begin() as conn:
            result = conn.execute(web_items.update().where(*condition).values(data=text, status=status))
        return bool(result.rowcount)

    # -- async wrappers (the event loop never waits on the database) ---------------------------

    async def put(self, kind: str, data: dict[str, Any], ttl: float, *, status: str = "",
                  item_id: str | None = None) -> str:
        return await asyncio.to_thread(self.put_sync, kind, data, ttl, status=status, item_id=item_id)

    async def get(self, kind: str, item_id: str) -> Item | None:
        return await asyncio.to_thread(self.get_sync, kind, item_id)

    async def update(self, kind: str, item_id: str, data: dict[str, Any], *, status: str,
                     only_if_status: str | None = None) -> bool:
        return await asyncio.to_thread(self.update_sync, kind, item_id, data, status=status,
                                       only_if_status=only_if_status)


__all__ = ["Item", "WebStore", "new_id"]
