"""catalog and search

Revision ID: 0001
Revises:
Create Date: 2026-11-22

The full-text part is per back-end and written by hand: an FTS5 trigram table kept in step by
triggers on SQLite; a pg_trgm GIN index on PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

import devhub.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_locations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("entity_count", sa.Integer(), nullable=False),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_refresh_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_refresh_at", devhub.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_locations")),
        sa.UniqueConstraint("type", "target", name=op.f("uq_catalog_locations_type")),
    )
    with op.batch_alter_table("catalog_locations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_locations_next_refresh_at"), ["next_refresh_at"], unique=False)

    op.create_table(
        "catalog_entities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=63), nullable=False),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("api_version", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("spec_type", sa.String(length=63), nullable=True),
        sa.Column("lifecycle", sa.String(length=63), nullable=True),
        sa.Column("owner_ref", sa.String(length=300), nullable=True),
        sa.Column("system_ref", sa.String(length=300), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=2048), nullable=True),
        sa.Column("source_line", sa.Integer(), nullable=True),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["catalog_locations.id"],
            name=op.f("fk_catalog_entities_location_id_catalog_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_entities")),
        sa.UniqueConstraint("ref", name=op.f("uq_catalog_entities_ref")),
    )
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.create_index("ix_catalog_entities_kind_name", ["kind", "name"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_lifecycle"), ["lifecycle"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_location_id"), ["location_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_namespace"), ["namespace"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_owner_ref"), ["owner_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_spec_type"), ["spec_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_system_ref"), ["system_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_entities_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "catalog_processing_errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=2048), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("entity_ref", sa.String(length=300), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", devhub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["catalog_locations.id"],
            name=op.f("fk_catalog_processing_errors_location_id_catalog_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_processing_errors")),
    )
    with op.batch_alter_table("catalog_processing_errors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_processing_errors_entity_ref"), ["entity_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_processing_errors_location_id"), ["location_id"], unique=False)

    op.create_table(
        "catalog_entity_tags",
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("tag", sa.String(length=63), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["catalog_entities.id"],
            name=op.f("fk_catalog_entity_tags_entity_id_catalog_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("entity_id", "tag", name=op.f("pk_catalog_entity_tags")),
    )
    with op.batch_alter_table("catalog_entity_tags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_entity_tags_tag"), ["tag"], unique=False)

    op.create_table(
        "catalog_relations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_ref", sa.String(length=300), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("target_ref", sa.String(length=300), nullable=False),
        sa.Column("origin_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["origin_id"],
            ["catalog_entities.id"],
            name=op.f("fk_catalog_relations_origin_id_catalog_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_relations")),
    )
    with op.batch_alter_table("catalog_relations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_catalog_relations_origin_id"), ["origin_id"], unique=False)
        batch_op.create_index("ix_catalog_relations_source_type", ["source_ref", "type"], unique=False)
        batch_op.create_index(batch_op.f("ix_catalog_relations_target_ref"), ["target_ref"], unique=False)

    op.create_table(
        "search_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=16), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("ref", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("owner_ref", sa.String(length=300), nullable=True),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("haystack", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["entity_id"],
            ["catalog_entities.id"],
            name=op.f("fk_search_documents_entity_id_catalog_entities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
    )
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_documents_doc_type"), ["doc_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_documents_entity_id"), ["entity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_documents_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_search_documents_owner_ref"), ["owner_ref"], unique=False)

    _create_full_text()


SQLITE_FULL_TEXT = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(haystack, content='search_documents', "
    "content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER search_documents_ai AFTER INSERT ON search_documents BEGIN "
    "INSERT INTO search_fts(rowid, haystack) VALUES (new.id, new.haystack); END",
    "CREATE TRIGGER search_documents_ad AFTER DELETE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, haystack) VALUES ('delete', old.id, old.haystack); END",
    "CREATE TRIGGER search_documents_au AFTER UPDATE ON search_documents BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, haystack) VALUES ('delete', old.id, old.haystack); "
    "INSERT INTO search_fts(rowid, haystack) VALUES (new.id, new.haystack); END",
]
# fastupdate off: with it, fresh entries wait in a pending list until (auto)vacuum merges them, and
# right after an import the planner prices the index so high that searches scan the whole table.
POSTGRES_FULL_TEXT = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_search_documents_haystack_trgm ON search_documents "
    "USING gin (haystack gin_trgm_ops) WITH (fastupdate = off)",
]


def _create_full_text() -> None:
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_FULL_TEXT if dialect == "sqlite" else POSTGRES_FULL_TEXT:
        op.execute(statement)


def _drop_full_text() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("search_documents_ai", "search_documents_ad", "search_documents_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_search_documents_haystack_trgm")


def downgrade() -> None:
    _drop_full_text()
    with op.batch_alter_table("search_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_documents_owner_ref"))
        batch_op.drop_index(batch_op.f("ix_search_documents_kind"))
        batch_op.drop_index(batch_op.f("ix_search_documents_entity_id"))
        batch_op.drop_index(batch_op.f("ix_search_documents_doc_type"))

    op.drop_table("search_documents")
    with op.batch_alter_table("catalog_relations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_relations_target_ref"))
        batch_op.drop_index("ix_catalog_relations_source_type")
        batch_op.drop_index(batch_op.f("ix_catalog_relations_origin_id"))

    op.drop_table("catalog_relations")
    with op.batch_alter_table("catalog_entity_tags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entity_tags_tag"))

    op.drop_table("catalog_entity_tags")
    with op.batch_alter_table("catalog_processing_errors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_processing_errors_location_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_processing_errors_entity_ref"))

    op.drop_table("catalog_processing_errors")
    with op.batch_alter_table("catalog_entities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_entities_updated_at"))
        batch_op.drop_index(batch_op.f("ix_catalog_entities_system_ref"))
        batch_op.drop_index(batch_op.f("ix_catalog_entities_spec_type"))
        batch_op.drop_index(batch_op.f("ix_catalog_entities_owner_ref"))
        batch_op.drop_index(batch_op.f("ix_catalog_entities_namespace"))
        batch_op.drop_index(batch_op.f("ix_catalog_entities_name"))
        batch_op.drop_index(batch_op.f("ix_catalog_entities_location_id"))
        batch_op.drop_index(batch_op.f("ix_catalog_entities_lifecycle"))
        batch_op.drop_index("ix_catalog_entities_kind_name")

    op.drop_table("catalog_entities")
    with op.batch_alter_table("catalog_locations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalog_locations_next_refresh_at"))

    op.drop_table("catalog_locations")
