"""The dashboard's rollup of received aggregate reports: per domain, day, reporter and sender.

Revision ID: m0002
Revises: m0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "m0002"
down_revision = "m0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_rollup",
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("day", sa.BigInteger, nullable=False),
        sa.Column("reporter", sa.String(255), nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("source_rows", sa.BigInteger, nullable=False),
        sa.Column("messages", sa.BigInteger, nullable=False),
        sa.Column("dmarc_pass", sa.BigInteger, nullable=False),
        sa.Column("spf_pass", sa.BigInteger, nullable=False),
        sa.Column("spf_aligned", sa.BigInteger, nullable=False),
        sa.Column("dkim_pass", sa.BigInteger, nullable=False),
        sa.Column("dkim_aligned", sa.BigInteger, nullable=False),
        sa.Column("quarantined", sa.BigInteger, nullable=False),
        sa.Column("rejected", sa.BigInteger, nullable=False),
        sa.Column("dkim_sample", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("domain", "day", "reporter", "sender"),
    )
    op.create_table(
        "console_rolled",
        sa.Column("report", Id, primary_key=True, autoincrement=False),
    )
    op.create_table(
        "console_rollup_lock",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO console_rollup_lock (id, version) VALUES (1, 0)")


def downgrade() -> None:
    for table in ("console_rollup_lock", "console_rolled", "console_rollup"):
        op.drop_table(table)
