"""drop the catalog visibility index

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22

`visibility` holds three values. With an index on it, SQLite's planner chose that index for the visibility
condition and then sorted every matching row for the page's ORDER BY, instead of walking the sort_key index
and stopping after one page: +11-64 ms per catalog page for a non-admin viewer at 10,000 entities
(bench/permissions.py). Without it the sort_key index is used and the condition is a cheap filter.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entities_visibility"))


def downgrade() -> None:
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_entities_visibility"), ["visibility"], unique=False)
