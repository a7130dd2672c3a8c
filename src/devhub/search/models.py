"""The search index: one row per searchable thing (an entity now; operations and guides later).

Rows are written by the domains that own the things (`search.service.index_entity`), so search never
joins back into their tables to rank. The full-text side is back-end specific and lives in the
migration: an FTS5 trigram table kept in step by triggers on SQLite, trigram and tsvector GIN indexes
on PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base


class SearchDocument(Base):
    __tablename__ = "search_documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(16), index=True)
    entity_id: Mapped[int | None] = mapped_column(ForeignKey("catalog_entities.id", ondelete="CASCADE"), index=True)
    ref: Mapped[str] = mapped_column(String(REF_LENGTH))
    kind: Mapped[str] = mapped_column(String(63), index=True)
    name: Mapped[str] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(512), default="")
    owner_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), index=True)
    tags: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(2048))
    haystack: Mapped[str] = mapped_column(Text, default="")
