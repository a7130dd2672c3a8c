"""governance sunset notices

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-22

One row per deprecation notice stage sent to subscribers (announced, 30, 7 and 1 day before the sunset).
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "governance_sunset_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deprecation_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deprecation_id"],
            ["governance_deprecations.id"],
            name=op.f("fk_governance_sunset_notices_deprecation_id_governance_deprecations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_sunset_notices")),
        sa.UniqueConstraint("deprecation_id", "stage", name=op.f("uq_governance_sunset_notices_deprecation_id")),
    )


def downgrade() -> None:
    op.drop_table("governance_sunset_notices")
