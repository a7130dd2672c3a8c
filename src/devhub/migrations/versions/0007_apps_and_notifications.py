"""apps subscriptions credentials notifications

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Self-serve access: products, their APIs and plans; applications, subscriptions, API keys, OAuth2 client
credentials and token signing keys; portal notifications.
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apps_products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_ref", sa.String(length=300), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("access_teams", sa.JSON(), nullable=False),
        sa.Column("gateway_path", sa.String(length=255), nullable=False),
        sa.Column("sandbox_url", sa.String(length=2048), nullable=True),
        sa.Column("production_url", sa.String(length=2048), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_products")),
        sa.UniqueConstraint("gateway_path", name=op.f("uq_apps_products_gateway_path")),
        sa.UniqueConstraint("slug", name=op.f("uq_apps_products_slug")),
    )
    with op.batch_alter_table("apps_products", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_products_owner_ref"), ["owner_ref"], unique=False)

    op.create_table(
        "apps_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("algorithm", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_jwk_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("retired_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_apps_signing_keys")),
    )
    op.create_table(
        "apps_applications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("owner_team_ref", sa.String(length=300), nullable=True),
        sa.Column("callback_urls", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_user_id"],
            ["identity_users.id"],
            name=op.f("fk_apps_applications_owner_user_id_identity_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_applications")),
        sa.UniqueConstraint("uid", name=op.f("uq_apps_applications_uid")),
    )
    with op.batch_alter_table("apps_applications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_applications_owner_team_ref"), ["owner_team_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_apps_applications_owner_user_id"), ["owner_user_id"], unique=False)

    op.create_table(
        "apps_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("credential_type", sa.String(length=16), nullable=False),
        sa.Column("approval", sa.String(length=16), nullable=False),
        sa.Column("visibility", sa.String(length=16), nullable=False),
        sa.Column("access_teams", sa.JSON(), nullable=False),
        sa.Column("rate_per_second", sa.Integer(), nullable=True),
        sa.Column("rate_per_minute", sa.Integer(), nullable=True),
        sa.Column("rate_per_hour", sa.Integer(), nullable=True),
        sa.Column("quota_per_day", sa.Integer(), nullable=True),
        sa.Column("quota_per_month", sa.Integer(), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("key_in_query", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["apps_products.id"],
            name=op.f("fk_apps_plans_product_id_apps_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_plans")),
        sa.UniqueConstraint("product_id", "slug", name=op.f("uq_apps_plans_product_id")),
    )
    with op.batch_alter_table("apps_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_plans_product_id"), ["product_id"], unique=False)

    op.create_table(
        "apps_product_apis",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["apps_products.id"],
            name=op.f("fk_apps_product_apis_product_id_apps_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "api_ref", name=op.f("pk_apps_product_apis")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=2048), nullable=True),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["identity_users.id"], name=op.f("fk_notifications_user_id_identity_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_user_id"), ["user_id"], unique=False)

    op.create_table(
        "apps_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("grace_until", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["apps_applications.id"],
            name=op.f("fk_apps_api_keys_application_id_apps_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_api_keys")),
        sa.UniqueConstraint("key_id", name=op.f("uq_apps_api_keys_key_id")),
    )
    with op.batch_alter_table("apps_api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_api_keys_application_id"), ["application_id"], unique=False)

    op.create_table(
        "apps_client_credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("environment", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("previous_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("previous_valid_until", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["apps_applications.id"],
            name=op.f("fk_apps_client_credentials_application_id_apps_applications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_client_credentials")),
        sa.UniqueConstraint("client_id", name=op.f("uq_apps_client_credentials_client_id")),
    )
    with op.batch_alter_table("apps_client_credentials", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_client_credentials_application_id"), ["application_id"], unique=False)

    op.create_table(
        "apps_subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=320), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=True),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["apps_applications.id"],
            name=op.f("fk_apps_subscriptions_application_id_apps_applications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["apps_plans.id"], name=op.f("fk_apps_subscriptions_plan_id_apps_plans"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["apps_products.id"],
            name=op.f("fk_apps_subscriptions_product_id_apps_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apps_subscriptions")),
        sa.UniqueConstraint("application_id", "plan_id", name=op.f("uq_apps_subscriptions_application_id")),
        sa.UniqueConstraint("uid", name=op.f("uq_apps_subscriptions_uid")),
    )
    with op.batch_alter_table("apps_subscriptions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apps_subscriptions_application_id"), ["application_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_apps_subscriptions_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_apps_subscriptions_product_id"), ["product_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_apps_subscriptions_state"), ["state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("apps_subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_subscriptions_state"))
        batch_op.drop_index(batch_op.f("ix_apps_subscriptions_product_id"))
        batch_op.drop_index(batch_op.f("ix_apps_subscriptions_plan_id"))
        batch_op.drop_index(batch_op.f("ix_apps_subscriptions_application_id"))

    op.drop_table("apps_subscriptions")
    with op.batch_alter_table("apps_client_credentials", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_client_credentials_application_id"))

    op.drop_table("apps_client_credentials")
    with op.batch_alter_table("apps_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_api_keys_application_id"))

    op.drop_table("apps_api_keys")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_user_id"))

    op.drop_table("notifications")
    op.drop_table("apps_product_apis")
    with op.batch_alter_table("apps_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_plans_product_id"))

    op.drop_table("apps_plans")
    with op.batch_alter_table("apps_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_applications_owner_user_id"))
        batch_op.drop_index(batch_op.f("ix_apps_applications_owner_team_ref"))

    op.drop_table("apps_applications")
    op.drop_table("apps_signing_keys")
    with op.batch_alter_table("apps_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apps_products_owner_ref"))

    op.drop_table("apps_products")
