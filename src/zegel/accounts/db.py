"""Schema upgrades for the console's own tables (accounts, monitoring), which live in the same
database as the reports: each package has its own alembic scripts and version table."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from zegel.reports.store import _MIGRATION_LOCK, StoreError, _translate


def migrate(engine: Engine, script_location: Path, version_table: str) -> None:
    """Bring ``script_location``'s tables to their newest migration. Raises StoreError."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(script_location))
    try:
        # alembic's context is process-global: migrations of every package take turns.
        with _MIGRATION_LOCK, engine.begin() as conn:
            config.attributes["connection"] = conn
            config.attributes["version_table"] = version_table
            command.upgrade(config, "head")
    except SQLAlchemyError as err:
        raise _translate(err) from None
    except StoreError:
        raise
