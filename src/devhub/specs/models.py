"""Published API definitions: one immutable row per API version, and the operations found in it.

Versions belong to catalog API entities by ref (`api:namespace/name`), not by foreign key: entities are
re-created when their location is re-read, and published versions must outlive that. The large columns
(original text, bundled document) are deferred so lists never load them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime, utcnow

LIFECYCLES = ("draft", "beta", "stable", "deprecated", "retired")


class SpecVersion(Base):
    __tablename__ = "spec_versions"
    __table_args__ = (UniqueConstraint("api_ref", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_ref: Mapped[str] = mapped_column(String(REF_LENGTH), index=True)
    version: Mapped[str] = mapped_column(String(64))
    lifecycle: Mapped[str] = mapped_column(String(16), default="stable")
    format: Mapped[str] = mapped_column(String(16))  # openapi | asyncapi
    format_version: Mapped[str] = mapped_column(String(16))  # 2.0 (Swagger), 3.0.3, 3.1.0, 2.6.0, 3.0.0
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the bundled document
    source_kind: Mapped[str] = mapped_column(String(16))  # cli | upload | api | catalog
    source_name: Mapped[str] = mapped_column(String(1024))  # file name, URL or location it came from
    original_text: Mapped[str] = deferred(mapped_column(Text))  # the main document, byte for byte
    original_files: Mapped[dict | None] = deferred(mapped_column(JSON))  # {relative path: text} when multi-file
    bundled: Mapped[dict] = deferred(mapped_column(JSON))  # one document, external $refs inlined
    operation_count: Mapped[int] = mapped_column(Integer, default=0)
    publisher: Mapped[str] = mapped_column(String(255))
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    sunset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    operations: Mapped[list[SpecOperation]] = relationship(
        back_populates="version", cascade="all, delete-orphan", passive_deletes=True, order_by="SpecOperation.id"
    )


class SpecOperation(Base):
    """An operation (OpenAPI method + path, or AsyncAPI operation) of one version: for search, sidebars and
    permalinks without loading the document."""

    __tablename__ = "spec_operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("spec_versions.id", ondelete="CASCADE"), index=True)
    anchor: Mapped[str] = mapped_column(String(255))  # URL-safe and unique within the version
    method: Mapped[str | None] = mapped_column(String(16))  # get, post, ... or publish/subscribe/send/receive
    path: Mapped[str] = mapped_column(String(2048))  # the OpenAPI path or the AsyncAPI channel address
    operation_id: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    deprecated: Mapped[bool] = mapped_column(Boolean, default=False)

    version: Mapped[SpecVersion] = relationship(back_populates="operations")
