"""Guides: markdown pages attached to a catalog entity (usually an API), written in the portal, read from a
folder next to a definition, or from a docs-as-code folder named by `backstage.io/techdocs-ref`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime, utcnow


class Guide(Base):
    __tablename__ = "docs_guides"
    __table_args__ = (UniqueConstraint("entity_ref", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_ref: Mapped[str] = mapped_column(String(REF_LENGTH), index=True)
    slug: Mapped[str] = mapped_column(String(255))  # path-like for techdocs: "getting-started", "guides/auth"
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)  # markdown, rendered and sanitised on the way out
    position: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16))  # portal | folder | techdocs
    source_path: Mapped[str | None] = mapped_column(String(2048))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(255))
