"""gateway calls

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22

One row per call proxied by the gateway, written in batches by its meter.
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.Integer(), nullable=True),
        sa.Column("app_uid", sa.String(length=32), nullable=True),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        sa.Column("credential", sa.String(length=64), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("api_ref", sa.String(length=300), nullable=True),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.Column("operation", sa.String(length=1024), nullable=True),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("bytes_in", sa.BigInteger(), nullable=False),
        sa.Column("bytes_out", sa.BigInteger(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gateway_calls")),
    )
    op.create_index("ix_gateway_calls_app_id_at", "gateway_calls", ["app_id", "at"], unique=False)
    op.create_index(
        "ix_gateway_calls_api_ref_operation_at", "gateway_calls", ["api_ref", "operation", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_gateway_calls_api_ref_operation_at", table_name="gateway_calls")
    op.drop_index("ix_gateway_calls_app_id_at", table_name="gateway_calls")
    op.drop_table("gateway_calls")
