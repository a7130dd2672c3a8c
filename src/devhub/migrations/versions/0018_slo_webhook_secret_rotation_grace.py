"""slo webhook secret rotation grace

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-22

Rotating an SLO webhook's signing secret keeps the secret it replaces, encrypted like the current one, and
until when it still signs: deliveries carry both signatures (Standard Webhooks allows several) for
DEVHUB_WEBHOOK_ROTATION_GRACE_HOURS, so a receiver not yet given the new secret keeps verifying alerts.
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slo_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_previous_secret_encrypted", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("webhook_previous_secret_until", devhub.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("slo_settings", schema=None) as batch_op:
        batch_op.drop_column("webhook_previous_secret_until")
        batch_op.drop_column("webhook_previous_secret_encrypted")
