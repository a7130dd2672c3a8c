"""The Alembic migrations and the SQLAlchemy models describe the same schema, on both back-ends."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from devhub.db import Database, alembic_config, include_object
from devhub.models import Base


def test_models_and_migrations_agree(db):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "include_object": include_object})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_migrations_create_the_full_text_index(db):
    inspector = inspect(db.engine)
    if db.is_sqlite:
        assert "search_fts" in inspector.get_table_names()
    else:
        indexes = {ix["name"] for ix in inspector.get_indexes("search_documents")}
        assert "ix_search_documents_haystack_trgm" in indexes


def test_downgrade_and_upgrade_round_trip(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}")
    database.upgrade()
    command.downgrade(alembic_config(database.url), "base")
    assert inspect(database.engine).get_table_names() == ["alembic_version"]
    database.upgrade()
    assert "catalog_entities" in inspect(database.engine).get_table_names()
    database.dispose()
