"""usage analytics

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-22

Roll-ups of gateway calls: series (dimensions), minute/hour/day buckets with latency histograms, the roll-up
watermark and lock row, and each application's first call (time to first call).
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_app_firsts",
        sa.Column("app_id", sa.Integer(), nullable=False),
        sa.Column("first_call_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_success_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("app_id", name=op.f("pk_usage_app_firsts")),
    )
    op.create_table(
        "usage_buckets",
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("resolution", sa.Integer(), nullable=False),
        sa.Column("start", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.Column("latency_sum", sa.Float(), nullable=False),
        sa.Column("latency_max", sa.Float(), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("histogram", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "resolution", "start", name=op.f("pk_usage_buckets")),
    )
    with op.batch_alter_table("usage_buckets", schema=None) as batch_op:
        batch_op.create_index("ix_usage_buckets_resolution_start", ["resolution", "start"], unique=False)

    op.create_table(
        "usage_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("watermark", sa.BigInteger(), nullable=False),
        sa.Column("gap_seen_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("gap_writers", sa.Text(), nullable=True),
        sa.Column("gap_max_id", sa.BigInteger(), nullable=True),
        sa.Column("calls_rolled", sa.BigInteger(), nullable=False),
        sa.Column("passes", sa.BigInteger(), nullable=False),
        sa.Column("last_pass_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pruned_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_rollup_state")),
    )
    op.create_table(
        "usage_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.SmallInteger(), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("app_uid", sa.String(length=32), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("credential", sa.String(length=64), nullable=True),
        sa.Column("api_ref", sa.String(length=300), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=1024), nullable=True),
        sa.Column("environment", sa.String(length=16), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("status_class", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_series")),
        sa.UniqueConstraint("key", name=op.f("uq_usage_series_key")),
    )
    with op.batch_alter_table("usage_series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_series_api_ref"), ["api_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_usage_series_app_id"), ["app_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("usage_series", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_series_app_id"))
        batch_op.drop_index(batch_op.f("ix_usage_series_api_ref"))

    op.drop_table("usage_series")
    op.drop_table("usage_rollup_state")
    with op.batch_alter_table("usage_buckets", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_buckets_resolution_start")

    op.drop_table("usage_buckets")
    op.drop_table("usage_app_firsts")
