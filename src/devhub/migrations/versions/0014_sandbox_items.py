"""sandbox items

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-22

The spec-driven sandbox's remembered resources, per API version and credential (bounded by the sandbox).
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("credential", sa.String(length=128), nullable=False),
        sa.Column("collection", sa.String(length=1024), nullable=False),
        sa.Column("item_id", sa.String(length=255), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_items")),
        sa.UniqueConstraint(
            "api_ref", "version", "credential", "collection", "item_id", name=op.f("uq_sandbox_items_api_ref")
        ),
    )
    op.create_index(
        "ix_sandbox_items_owner", "sandbox_items", ["api_ref", "version", "credential", "updated_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_sandbox_items_owner", table_name="sandbox_items")
    op.drop_table("sandbox_items")
