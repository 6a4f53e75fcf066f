"""Initial reports schema: recorded outcomes, sent-report bookkeeping, received reports.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# BIGINT ids on PostgreSQL, INTEGER (the rowid alias, so autoincrementing) on SQLite.
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outcomes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(32), nullable=False, unique=True),
        sa.Column("time", sa.BigInteger, nullable=False),
        sa.Column("source_ip", sa.String(45), nullable=False),
        sa.Column("helo", sa.String(255), nullable=False),
        sa.Column("envelope_from", sa.String(320), nullable=False),
        sa.Column("envelope_from_domain", sa.String(255), nullable=False),
        sa.Column("envelope_to", sa.String(255), nullable=False),
        sa.Column("header_from", sa.String(255), nullable=False),
        sa.Column("spf_domain", sa.String(255), nullable=False),
        sa.Column("spf_scope", sa.String(8), nullable=False),
        sa.Column("spf_result", sa.String(16), nullable=False),
        sa.Column("spf_aligned", sa.Boolean, nullable=False),
        sa.Column("dkim", sa.Text, nullable=False),
        sa.Column("spf_aligned_pass", sa.Boolean, nullable=False),
        sa.Column("dkim_aligned_pass", sa.Boolean, nullable=False),
        sa.Column("dmarc_result", sa.String(16), nullable=False),
        sa.Column("policy_domain", sa.String(255), nullable=False),
        sa.Column("policy_record", sa.Text, nullable=True),
        sa.Column("policy", sa.String(16), nullable=True),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("override", sa.String(32), nullable=True),
        sa.Column("override_comment", sa.Text, nullable=False),
    )
    op.create_index("ix_outcomes_domain_time", "outcomes", ["policy_domain", "time"])
    op.create_index("ix_outcomes_time", "outcomes", ["time"])

    op.create_table(
        "sent_reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("policy_domain", sa.String(255), nullable=False),
        sa.Column("period_begin", sa.BigInteger, nullable=False),
        sa.Column("period_end", sa.BigInteger, nullable=False),
        sa.Column("report_id", sa.String(255), nullable=False),
        sa.Column("messages", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("policy_domain", "period_begin", "period_end", name="uq_sent_period"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(320), nullable=False),
        sa.Column("report_id", sa.String(255), nullable=False),
        sa.Column("sent_at", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_deliveries_destination", "deliveries", ["destination", "sent_at"])
    op.create_table(
        "suppressions",
        sa.Column("address", sa.String(320), primary_key=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("added_at", sa.BigInteger, nullable=False),
    )

    op.create_table(
        "agg_reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("org_name", sa.String(255), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("report_id", sa.String(255), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False),
        sa.Column("period_begin", sa.BigInteger, nullable=False),
        sa.Column("period_end", sa.BigInteger, nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("p", sa.String(16), nullable=False),
        sa.Column("sp", sa.String(16), nullable=True),
        sa.Column("np", sa.String(16), nullable=True),
        sa.Column("adkim", sa.String(4), nullable=True),
        sa.Column("aspf", sa.String(4), nullable=True),
        sa.Column("fo", sa.String(32), nullable=True),
        sa.Column("testing", sa.String(4), nullable=True),
        sa.Column("pct", sa.Integer, nullable=True),
        sa.Column("generator", sa.String(255), nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("messages", sa.BigInteger, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("ingested_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("org_name", "report_id", "domain", "period_begin", "period_end", name="uq_agg_report"),
    )
    op.create_index("ix_agg_reports_domain_end", "agg_reports", ["domain", "period_end"])
    op.create_table(
        "agg_records",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("report", Id, sa.ForeignKey("agg_reports.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source_ip", sa.String(45), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("dkim_eval", sa.String(8), nullable=False),
        sa.Column("spf_eval", sa.String(8), nullable=False),
        sa.Column("dmarc_pass", sa.Boolean, nullable=False),
        sa.Column("spf_pass", sa.Boolean, nullable=False),
        sa.Column("dkim_pass", sa.Boolean, nullable=False),
        sa.Column("header_from", sa.String(255), nullable=False),
        sa.Column("envelope_from", sa.String(255), nullable=False),
        sa.Column("envelope_to", sa.String(255), nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("spf_results", sa.Text, nullable=False),
        sa.Column("dkim_results", sa.Text, nullable=False),
    )
    op.create_index("ix_agg_records_report", "agg_records", ["report"])

    op.create_table(
        "failure_reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("digest", sa.String(64), nullable=False, unique=True),
        sa.Column("reporter", sa.String(320), nullable=False),
        sa.Column("feedback_type", sa.String(32), nullable=False),
        sa.Column("auth_failure", sa.String(32), nullable=False),
        sa.Column("reported_domain", sa.String(255), nullable=False),
        sa.Column("source_ip", sa.String(45), nullable=False),
        sa.Column("arrival_time", sa.BigInteger, nullable=True),
        sa.Column("original_mail_from", sa.String(320), nullable=False),
        sa.Column("original_rcpt_to", sa.String(320), nullable=False),
        sa.Column("identity_alignment", sa.String(32), nullable=False),
        sa.Column("dkim_domain", sa.String(255), nullable=False),
        sa.Column("message_id", sa.String(998), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("ingested_at", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_failure_reports_domain", "failure_reports", ["reported_domain"])
    op.create_table(
        "tls_reports",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("organization", sa.String(255), nullable=False),
        sa.Column("report_id", sa.String(255), nullable=False),
        sa.Column("policy_domain", sa.String(255), nullable=False),
        sa.Column("policy_type", sa.String(16), nullable=False),
        sa.Column("period_begin", sa.BigInteger, nullable=False),
        sa.Column("period_end", sa.BigInteger, nullable=False),
        sa.Column("contact", sa.String(320), nullable=False),
        sa.Column("successful", sa.BigInteger, nullable=False),
        sa.Column("failed", sa.BigInteger, nullable=False),
        sa.Column("failure_details", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("ingested_at", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("organization", "report_id", "policy_domain", name="uq_tls_report"),
    )


def downgrade() -> None:
    for table in ("tls_reports", "failure_reports", "agg_records", "agg_reports", "suppressions",
                  "deliveries", "sent_reports", "outcomes"):
        op.drop_table(table)
