"""specs and guides

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22

Published API definitions (immutable versions and their operations) and guides.
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "docs_guides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_ref", sa.String(length=300), nullable=False),
        sa.Column("slug", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_path", sa.String(length=2048), nullable=True),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_docs_guides")),
        sa.UniqueConstraint("entity_ref", "slug", name=op.f("uq_docs_guides_entity_ref")),
    )
    with op.batch_alter_table("docs_guides", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_docs_guides_entity_ref"), ["entity_ref"], unique=False)

    op.create_table(
        "spec_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("lifecycle", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("format_version", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source_kind", sa.String(length=16), nullable=False),
        sa.Column("source_name", sa.String(length=1024), nullable=False),
        sa.Column("original_text", sa.Text(), nullable=True),
        sa.Column("original_files", sa.JSON(), nullable=True),
        sa.Column("bundled", sa.JSON(), nullable=True),
        sa.Column("operation_count", sa.Integer(), nullable=False),
        sa.Column("publisher", sa.String(length=255), nullable=False),
        sa.Column("published_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sunset_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spec_versions")),
        sa.UniqueConstraint("api_ref", "version", name=op.f("uq_spec_versions_api_ref")),
    )
    with op.batch_alter_table("spec_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spec_versions_api_ref"), ["api_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_spec_versions_content_hash"), ["content_hash"], unique=False)
        batch_op.create_index(batch_op.f("ix_spec_versions_published_at"), ["published_at"], unique=False)

    op.create_table(
        "spec_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("anchor", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("path", sa.String(length=2048), nullable=False),
        sa.Column("operation_id", sa.String(length=255), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("deprecated", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["spec_versions.id"],
            name=op.f("fk_spec_operations_version_id_spec_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spec_operations")),
    )
    with op.batch_alter_table("spec_operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_spec_operations_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("spec_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spec_operations_version_id"))

    op.drop_table("spec_operations")
    with op.batch_alter_table("spec_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spec_versions_published_at"))
        batch_op.drop_index(batch_op.f("ix_spec_versions_content_hash"))
        batch_op.drop_index(batch_op.f("ix_spec_versions_api_ref"))

    op.drop_table("spec_versions")
    with op.batch_alter_table("docs_guides", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_docs_guides_entity_ref"))

    op.drop_table("docs_guides")
