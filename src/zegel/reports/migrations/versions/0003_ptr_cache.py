"""PTR names of report sources, cached so a summary resolves each source once.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ptr_cache",
        sa.Column("ip", sa.String(45), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("resolved_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ptr_cache")
