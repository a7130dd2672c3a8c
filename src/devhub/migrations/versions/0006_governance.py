"""governance

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22

Lint results per published version, breaking-change findings per published version (one row per finding,
with method, path and operationId so traffic can later be joined on them) and deprecations of versions and
operations with sunset dates.
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "governance_deprecations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("anchor", sa.String(length=255), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("path", sa.String(length=2048), nullable=True),
        sa.Column("operation_id", sa.String(length=255), nullable=True),
        sa.Column("deprecated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sunset_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("replacement", sa.String(length=1024), nullable=True),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_deprecations")),
        sa.UniqueConstraint("api_ref", "version", "anchor", name=op.f("uq_governance_deprecations_api_ref")),
    )
    with op.batch_alter_table("governance_deprecations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_governance_deprecations_api_ref"), ["api_ref"], unique=False)

    op.create_table(
        "governance_breaking_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("api_ref", sa.String(length=300), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("base_version", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=True),
        sa.Column("path", sa.String(length=2048), nullable=True),
        sa.Column("operation_id", sa.String(length=255), nullable=True),
        sa.Column("pointer", sa.String(length=2048), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("allowed_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["spec_versions.id"],
            name=op.f("fk_governance_breaking_findings_version_id_spec_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_breaking_findings")),
    )
    with op.batch_alter_table("governance_breaking_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_governance_breaking_findings_api_operation", ["api_ref", "operation_id"], unique=False
        )
        batch_op.create_index("ix_governance_breaking_findings_api_version", ["api_ref", "version"], unique=False)
        batch_op.create_index(batch_op.f("ix_governance_breaking_findings_version_id"), ["version_id"], unique=False)

    op.create_table(
        "governance_lint_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("ruleset_hash", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("infos", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("linted_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["spec_versions.id"],
            name=op.f("fk_governance_lint_results_version_id_spec_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_lint_results")),
        sa.UniqueConstraint("version_id", name=op.f("uq_governance_lint_results_version_id")),
    )


def downgrade() -> None:
    op.drop_table("governance_lint_results")
    with op.batch_alter_table("governance_breaking_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_governance_breaking_findings_version_id"))
        batch_op.drop_index("ix_governance_breaking_findings_api_version")
        batch_op.drop_index("ix_governance_breaking_findings_api_operation")

    op.drop_table("governance_breaking_findings")
    with op.batch_alter_table("governance_deprecations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_governance_deprecations_api_ref"))

    op.drop_table("governance_deprecations")
