"""slo webhook signing

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-22

Alert webhooks are signed following the Standard Webhooks specification: each objective's settings keep the
webhook's signing secret, encrypted because it must be recovered to sign, and when it was made; each alert
episode keeps the `webhook-id` of the payload waiting for delivery, so every retry of one delivery carries the
same id. Webhooks saved before this revision have no secret and are delivered unsigned until their owners
create one on the SLO page (`devhub slo rotate-secret`).
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slo_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("webhook_secret_created_at", devhub.db.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("slo_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slo_alerts", schema=None) as batch_op:
        batch_op.drop_column("webhook_id")
    with op.batch_alter_table("slo_settings", schema=None) as batch_op:
        batch_op.drop_column("webhook_secret_created_at")
        batch_op.drop_column("webhook_secret_encrypted")
