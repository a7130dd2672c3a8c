"""identity audit mail visibility

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22

Accounts, memberships, sessions, tokens, invitations, login failures; the audit chain; the mail outbox;
entity visibility (with the teams of private entities and portal overrides).
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=512), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("request_id", sa.String(length=128), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "catalog_visibility_overrides",
        sa.Column("entity_ref", sa.String(length=300), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=False),
        sa.Column("set_by", sa.String(length=320), nullable=False),
        sa.Column("set_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("entity_ref", name=op.f("pk_catalog_visibility_overrides")),
    )
    op.create_table(
        "identity_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_login_failures")),
    )
    with op.batch_alter_table("identity_login_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_login_failures_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_identity_login_failures_key"), ["key"], unique=False)

    op.create_table(
        "identity_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("username", sa.String(length=320), nullable=False),
        sa.Column("display_name", sa.String(length=255), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("email_verified_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("catalog_name", sa.String(length=63), nullable=True),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column("oidc_issuer", sa.String(length=512), nullable=True),
        sa.Column("oidc_subject", sa.String(length=255), nullable=True),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_users")),
        sa.UniqueConstraint("email", name=op.f("uq_identity_users_email")),
        sa.UniqueConstraint("oidc_issuer", "oidc_subject", name=op.f("uq_identity_users_oidc_issuer")),
        sa.UniqueConstraint("username", name=op.f("uq_identity_users_username")),
    )
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_users_catalog_name"), ["catalog_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_identity_users_external_id"), ["external_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_identity_users_status"), ["status"], unique=False)

    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("to", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_outbox")),
    )
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mail_outbox_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_mail_outbox_to"), ["to"], unique=False)

    op.create_table(
        "identity_invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Integer(), nullable=True),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invited_by"],
            ["identity_users.id"],
            name=op.f("fk_identity_invitations_invited_by_identity_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_invitations")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_invitations_token_hash")),
    )
    with op.batch_alter_table("identity_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_invitations_email"), ["email"], unique=False)

    op.create_table(
        "identity_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("team_ref", sa.String(length=300), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_memberships_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_memberships")),
        sa.UniqueConstraint("user_id", "team_ref", "source", name=op.f("uq_identity_memberships_user_id")),
    )
    with op.batch_alter_table("identity_memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_memberships_team_ref"), ["team_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_identity_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "identity_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=512), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_sessions_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_sessions_token_hash")),
    )
    with op.batch_alter_table("identity_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_sessions_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_identity_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "identity_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["identity_users.id"],
            name=op.f("fk_identity_tokens_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_identity_tokens_prefix")),
    )
    with op.batch_alter_table("identity_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "catalog_entity_access",
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("team_ref", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["catalog_entities.id"],
            name=op.f("fk_catalog_entity_access_entity_id_catalog_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity_id", "team_ref", name=op.f("pk_catalog_entity_access")),
    )
    with op.batch_alter_table("catalog_entity_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_entity_access_team_ref"), ["team_ref"], unique=False)

    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("visibility", sa.String(length=16), nullable=False, server_default="internal"))
        batch_op.create_index(batch_op.f("ix_catalog_entities_visibility"), ["visibility"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entities_visibility"))
        batch_op.drop_column("visibility")

    with op.batch_alter_table("catalog_entity_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entity_access_team_ref"))

    op.drop_table("catalog_entity_access")
    with op.batch_alter_table("identity_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_tokens_user_id"))

    op.drop_table("identity_tokens")
    with op.batch_alter_table("identity_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_identity_sessions_expires_at"))

    op.drop_table("identity_sessions")
    with op.batch_alter_table("identity_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_memberships_user_id"))
        batch_op.drop_index(batch_op.f("ix_identity_memberships_team_ref"))

    op.drop_table("identity_memberships")
    with op.batch_alter_table("identity_invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_invitations_email"))

    op.drop_table("identity_invitations")
    with op.batch_alter_table("mail_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_outbox_to"))
        batch_op.drop_index(batch_op.f("ix_mail_outbox_created_at"))

    op.drop_table("mail_outbox")
    with op.batch_alter_table("identity_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_users_status"))
        batch_op.drop_index(batch_op.f("ix_identity_users_external_id"))
        batch_op.drop_index(batch_op.f("ix_identity_users_catalog_name"))

    op.drop_table("identity_users")
    with op.batch_alter_table("identity_login_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_login_failures_key"))
        batch_op.drop_index(batch_op.f("ix_identity_login_failures_at"))

    op.drop_table("identity_login_failures")
    op.drop_table("catalog_visibility_overrides")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))
        batch_op.drop_index(batch_op.f("ix_audit_events_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_events_action"))

    op.drop_table("audit_events")
