"""catalog version and sort key

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

`catalog_state.version` is a token that changes on every catalog write, so per-process caches (facet
counts) know when they are stale, whichever process wrote. `sort_key` (lower(title or name)) lets the
list page sort by name from an index instead of sorting every row by lower(name).
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_state")),
    )
    op.execute("INSERT INTO catalog_state (id, version) VALUES (1, 0)")
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sort_key", sa.String(length=255), nullable=False, server_default=""))
    op.execute("UPDATE catalog_entities SET sort_key = lower(coalesce(title, name))")
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_entities_sort_key"), ["sort_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entities_sort_key"))
        batch_op.drop_column("sort_key")
    op.drop_table("catalog_state")
