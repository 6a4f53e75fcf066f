"""Alembic environment, run programmatically by :func:`zegel.reports.store.migrate` with an open
connection and this package's own version table (so it shares a database with the reports)."""

from __future__ import annotations

from alembic import context

attributes = context.config.attributes
context.configure(connection=attributes["connection"], target_metadata=None, render_as_batch=True,
                  version_table=attributes["version_table"])
with context.begin_transaction():
    context.run_migrations()
