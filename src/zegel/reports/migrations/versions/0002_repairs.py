"""Received aggregate reports remember what ingest repaired to read them (empty: nothing).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agg_reports") as batch:
        batch.add_column(sa.Column("repairs", sa.Text, nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("agg_reports") as batch:
        batch.drop_column("repairs")
