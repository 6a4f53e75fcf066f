"""Monitoring: the watch list, stored runs, alerts, and failing senders already seen.

Revision ID: m0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0001"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitor_watch",
        sa.Column("domain", sa.String(255), primary_key=True),
        sa.Column("selectors", sa.Text, nullable=False),
        sa.Column("interval", sa.BigInteger, nullable=False),
        sa.Column("next_due", sa.BigInteger, nullable=False),
        sa.Column("emails", sa.Text, nullable=False),
        sa.Column("webhook", sa.Text, nullable=False),
        sa.Column("pass_threshold", sa.Float, nullable=False),
        sa.Column("pass_rate_low", sa.Boolean, nullable=False),
        sa.Column("added_by", sa.String(255), nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "monitor_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("grade", sa.String(4), nullable=False),
        sa.Column("changes", sa.Integer, nullable=False),
        sa.Column("snapshot", sa.Text, nullable=False),
    )
    op.create_index("ix_monitor_runs_domain_time", "monitor_runs", ["domain", "time"])
    op.create_table(
        "monitor_alerts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("delivery", sa.Text, nullable=False),
    )
    op.create_index("ix_monitor_alerts_domain_time", "monitor_alerts", ["domain", "time"])
    op.create_table(
        "monitor_senders",
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("first_seen", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("domain", "sender"),
    )


def downgrade() -> None:
    for table in ("monitor_senders", "monitor_alerts", "monitor_runs", "monitor_watch"):
        op.drop_table(table)
