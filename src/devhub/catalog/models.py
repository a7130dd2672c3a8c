"""Catalog tables: entities, their relations and tags, the locations they come from, and processing errors.

Filterable fields (kind, type, lifecycle, owner, system, namespace, tags) are copied out of the entity body
into indexed columns, so list pages and facets never parse JSON. The body keeps the entity exactly as read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from devhub.db import Base, UTCDateTime, utcnow

REF_LENGTH = 300  # kind (63) + namespace (63) + name (63) + separators, with room to spare


class Location(Base):
    """A registered source of catalog files: a local path, a URL, or a git repository path."""

    __tablename__ = "catalog_locations"
    __table_args__ = (UniqueConstraint("type", "target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    last_error: Mapped[str | None] = mapped_column(Text)
    entity_count: Mapped[int] = mapped_column(Integer, default=0)
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_refresh_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    errors: Mapped[list[ProcessingError]] = relationship(
        back_populates="location", cascade="all, delete-orphan", passive_deletes=True
    )


class Entity(Base):
    __tablename__ = "catalog_entities"
    __table_args__ = (Index("ix_catalog_entities_kind_name", "kind", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(REF_LENGTH), unique=True)
    kind: Mapped[str] = mapped_column(String(63))
    namespace: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(63), index=True)
    api_version: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    sort_key: Mapped[str] = mapped_column(String(255), index=True, default="")  # lower(title or name), index-sorted
    description: Mapped[str | None] = mapped_column(Text)
    spec_type: Mapped[str | None] = mapped_column(String(63), index=True)
    lifecycle: Mapped[str | None] = mapped_column(String(63), index=True)
    owner_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), index=True)
    system_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), index=True)
    # public|internal|private; deliberately not indexed: three values, and an index here makes SQLite skip the
    # sort_key index and sort 10,000 rows for every page (bench/permissions.py).
    visibility: Mapped[str] = mapped_column(String(16), default="internal")
    body: Mapped[dict] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_locations.id", ondelete="CASCADE"), index=True)
    source: Mapped[str | None] = mapped_column(String(2048))
    source_line: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    location: Mapped[Location | None] = relationship()
    tags: Mapped[list[EntityTag]] = relationship(cascade="all, delete-orphan", passive_deletes=True)

    @property
    def display_name(self) -> str:
        return self.title or self.name


class EntityTag(Base):
    __tablename__ = "catalog_entity_tags"

    entity_id: Mapped[int] = mapped_column(ForeignKey("catalog_entities.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(63), primary_key=True, index=True)


class EntityAccess(Base):
    """The teams that may see a private entity (its owner always may)."""

    __tablename__ = "catalog_entity_access"

    entity_id: Mapped[int] = mapped_column(ForeignKey("catalog_entities.id", ondelete="CASCADE"), primary_key=True)
    team_ref: Mapped[str] = mapped_column(String(REF_LENGTH), primary_key=True, index=True)


class VisibilityOverride(Base):
    """Visibility set in the portal; it wins over the catalog file's annotation and survives refreshes."""

    __tablename__ = "catalog_visibility_overrides"

    entity_ref: Mapped[str] = mapped_column(String(REF_LENGTH), primary_key=True)
    visibility: Mapped[str] = mapped_column(String(16))
    teams: Mapped[list] = mapped_column(JSON, default=list)
    set_by: Mapped[str] = mapped_column(String(320))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Relation(Base):
    """One direction of a relation; every relation is stored twice, once from each end.

    `origin_id` is the entity whose definition produced the row, so replacing or removing that
    entity replaces or removes exactly the relations it declared.
    """

    __tablename__ = "catalog_relations"
    __table_args__ = (Index("ix_catalog_relations_source_type", "source_ref", "type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_ref: Mapped[str] = mapped_column(String(REF_LENGTH))
    type: Mapped[str] = mapped_column(String(32))
    target_ref: Mapped[str] = mapped_column(String(REF_LENGTH), index=True)
    origin_id: Mapped[int] = mapped_column(ForeignKey("catalog_entities.id", ondelete="CASCADE"), index=True)


class ProcessingError(Base):
    """A problem found while reading a location: one per bad entity or unreadable file."""

    __tablename__ = "catalog_processing_errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("catalog_locations.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(2048))
    line: Mapped[int | None] = mapped_column(Integer)
    entity_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), index=True)
    rule: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    location: Mapped[Location] = relationship(back_populates="errors")


class CatalogState(Base):
    """One row: a token replaced by every write to the catalog, so caches in every process know when
    what they hold is stale (one primary-key read per request instead of recomputing)."""

    __tablename__ = "catalog_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
