"""Received aggregate records carry their report's period start, and on PostgreSQL they are
partitioned by month on it (one partition per month of 2024-2030, and a default partition
for the rest), so old months can be detached or dropped whole and queries on a period read only
its partitions.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import calendar

import sqlalchemy as sa
from alembic import op

from zegel.reports.store import month_bounds

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("agg_records") as batch:
        batch.add_column(sa.Column("period_begin", sa.BigInteger, nullable=False, server_default="0"))
    op.execute("UPDATE agg_records SET period_begin = (SELECT r.period_begin FROM agg_reports r "
               "WHERE r.id = agg_records.report)")
    if bind.dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE agg_records RENAME TO agg_records_old")
    op.execute("ALTER TABLE agg_records_old RENAME CONSTRAINT agg_records_pkey TO agg_records_old_pkey")
    op.execute("ALTER SEQUENCE agg_records_id_seq OWNED BY NONE")
    op.execute("ALTER TABLE agg_records_old ALTER COLUMN id DROP DEFAULT")
    op.execute("""
        CREATE TABLE agg_records (
            id BIGINT NOT NULL DEFAULT nextval('agg_records_id_seq'),
            report BIGINT NOT NULL REFERENCES agg_reports(id) ON DELETE CASCADE,
            source_ip VARCHAR(45) NOT NULL, count BIGINT NOT NULL, disposition VARCHAR(16) NOT NULL,
            dkim_eval VARCHAR(8) NOT NULL, spf_eval VARCHAR(8) NOT NULL, dmarc_pass BOOLEAN NOT NULL,
            spf_pass BOOLEAN NOT NULL, dkim_pass BOOLEAN NOT NULL, header_from VARCHAR(255) NOT NULL,
            envelope_from VARCHAR(255) NOT NULL, envelope_to VARCHAR(255) NOT NULL, reasons TEXT NOT NULL,
            spf_results TEXT NOT NULL, dkim_results TEXT NOT NULL, period_begin BIGINT NOT NULL DEFAULT 0,
            PRIMARY KEY (id, period_begin)
        ) PARTITION BY RANGE (period_begin)""")
    op.execute("ALTER SEQUENCE agg_records_id_seq OWNED BY agg_records.id")
    op.execute("CREATE TABLE agg_records_default PARTITION OF agg_records DEFAULT")
    # Every month of 2024-2030, created here once: creating a partition while ingesters run
    # would lock agg_records and agg_reports against them (a deadlock with their inserts).
    # Anything outside lands in the default partition; a later migration adds the next years.
    for year in range(2024, 2031):
        for month in range(1, 13):
            name, start, end = month_bounds(calendar.timegm((year, month, 1, 0, 0, 0, 0, 0, 0)))
            op.execute(f"CREATE TABLE {name} PARTITION OF agg_records FOR VALUES FROM ({start}) TO ({end})")
    op.execute("INSERT INTO agg_records (id, report, source_ip, count, disposition, dkim_eval, spf_eval, dmarc_pass, "
               "spf_pass, dkim_pass, header_from, envelope_from, envelope_to, reasons, spf_results, dkim_results, "
               "period_begin) SELECT id, report, source_ip, count, disposition, dkim_eval, spf_eval, dmarc_pass, "
               "spf_pass, dkim_pass, header_from, envelope_from, envelope_to, reasons, spf_results, dkim_results, "
               "period_begin FROM agg_records_old")
    op.execute("DROP TABLE agg_records_old")
    op.execute("CREATE INDEX ix_agg_records_report ON agg_records (report)")


def downgrade() -> None:
    raise NotImplementedError("records stay partitioned: restore from a backup to go back")
