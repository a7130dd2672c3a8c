"""slo settings and alerts

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-22

The objectives an API's owners set in the portal (annotations are read from the catalog, not copied), and
one row per burn-rate alert episode (one open episode per objective, by the unique constraint).
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slo_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("availability_target", sa.Float(), nullable=True),
        sa.Column("latency_target", sa.Float(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=True),
        sa.Column("environment", sa.String(length=16), nullable=True),
        sa.Column("webhook_url", sa.String(length=2048), nullable=True),
        sa.Column("updated_by", sa.String(length=255), nullable=False),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slo_settings")),
        sa.UniqueConstraint("api_ref", name=op.f("uq_slo_settings_api_ref")),
    )
    op.create_table(
        "slo_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("objective", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("started_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("open_marker", sa.String(length=8), nullable=True),
        sa.Column("burn_rate_1h", sa.Float(), nullable=False),
        sa.Column("burn_rate_6h", sa.Float(), nullable=False),
        sa.Column("peak_burn_rate_1h", sa.Float(), nullable=False),
        sa.Column("budget_left", sa.Float(), nullable=True),
        sa.Column("notified", sa.Integer(), nullable=False),
        sa.Column("webhook_result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slo_alerts")),
        sa.UniqueConstraint("api_ref", "objective", "open_marker", name=op.f("uq_slo_alerts_api_ref")),
    )
    op.create_index("ix_slo_alerts_api_ref_started_at", "slo_alerts", ["api_ref", "started_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_slo_alerts_api_ref_started_at", table_name="slo_alerts")
    op.drop_table("slo_alerts")
    op.drop_table("slo_settings")
