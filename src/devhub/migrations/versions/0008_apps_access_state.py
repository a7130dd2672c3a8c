"""apps access state

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

The token every change to keys, clients, subscriptions, plans and products replaces, so gateway processes
know when to reload what they enforce.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apps_access_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_access_state")),
    )


def downgrade() -> None:
    op.drop_table("apps_access_state")
