"""The sandbox's remembered resources: one row per item a developer created through a sandbox call.

Declared as a Core `Table` (on the shared metadata, so Alembic and the migration test see it): the sandbox
reads and writes it on every stateful call, where the ORM's unit of work would only cost time. Rows are
keyed by the API version and the credential that made them, so developers never see each other's items.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, UniqueConstraint

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime

sandbox_items = Table(
    "sandbox_items",
    Base.metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("api_ref", String(REF_LENGTH), nullable=False),
    Column("version", String(64), nullable=False),
    Column("credential", String(128), nullable=False),  # key id, client id or "anonymous"
    Column("collection", String(1024), nullable=False),  # the collection's concrete path, e.g. /pets
    Column("item_id", String(255), nullable=False),  # the last path segment of the item's path
    Column("body", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("api_ref", "version", "credential", "collection", "item_id"),
    Index("ix_sandbox_items_owner", "api_ref", "version", "credential", "updated_at"),
)
