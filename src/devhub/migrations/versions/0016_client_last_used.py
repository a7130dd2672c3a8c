"""client credentials remember their last use

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-22

OAuth2 clients get `last_used_at`, as API keys have: set by the gateway's metering flush when a token issued
to the client is used, so owners see clients that nothing calls with any more.
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("apps_client_credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", devhub.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apps_client_credentials", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
