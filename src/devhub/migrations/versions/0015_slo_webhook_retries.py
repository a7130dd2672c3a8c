"""slo alert webhook retries

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-22

An alert episode keeps the webhook payload still to deliver (cleared once delivered or given up) and the
number of attempts, so a receiver that is down for a few minutes still gets the alert.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slo_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("webhook_attempts", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("slo_alerts", schema=None) as batch_op:
        batch_op.drop_column("webhook_attempts")
        batch_op.drop_column("webhook_payload")
