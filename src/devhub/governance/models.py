"""Governance tables: lint results per version, breaking findings per published version, deprecations.

Breaking findings are stored one row per finding with the operation they concern (method, path and
operationId, as in `spec_operations`), so the impact of a change on real traffic can later be joined on
(api_ref, version, operation_id) or (api_ref, version, method, path) without reading any document.
Versions are referred to by `api_ref` + `version` like `spec_versions` (published versions outlive
catalog entities); lint results and findings also hold the version id and go with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime, utcnow


class LintResult(Base):
    """The lint of one version under one ruleset (by hash): computed once, versions are immutable."""

    __tablename__ = "governance_lint_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("spec_versions.id", ondelete="CASCADE"), unique=True)
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    score: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    infos: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    findings: Mapped[list] = mapped_column(JSON, default=list)  # the first MAX_STORED findings, as dicts
    linted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BreakingFinding(Base):
    """One finding of the comparison of a published version with the version it was checked against."""

    __tablename__ = "governance_breaking_findings"
    __table_args__ = (
        Index("ix_governance_breaking_findings_api_version", "api_ref", "version"),
        Index("ix_governance_breaking_findings_api_operation", "api_ref", "operation_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("spec_versions.id", ondelete="CASCADE"), index=True)
    api_ref: Mapped[str] = mapped_column(String(REF_LENGTH))
    version: Mapped[str] = mapped_column(String(64))
    base_version: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))  # error | warning | info
    method: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(String(2048))
    operation_id: Mapped[str | None] = mapped_column(String(255))
    pointer: Mapped[str] = mapped_column(String(2048), default="")
    message: Mapped[str] = mapped_column(Text)
    allowed_by: Mapped[str | None] = mapped_column(String(255))  # who published it anyway (--allow-breaking)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Deprecation(Base):
    """A version (anchor "") or one operation of it, deprecated, with an optional sunset date."""

    __tablename__ = "governance_deprecations"
    __table_args__ = (UniqueConstraint("api_ref", "version", "anchor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_ref: Mapped[str] = mapped_column(String(REF_LENGTH), index=True)
    version: Mapped[str] = mapped_column(String(64))
    anchor: Mapped[str] = mapped_column(String(255), default="")  # "" for the whole version
    method: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(String(2048))
    operation_id: Mapped[str | None] = mapped_column(String(255))
    deprecated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sunset_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    replacement: Mapped[str | None] = mapped_column(String(1024))
    created_by: Mapped[str] = mapped_column(String(255))


class SunsetNotice(Base):
    """A notice sent to a deprecation's subscribers at one stage (announced, 30, 7 or 1 day before the
    sunset), so each stage is sent once whichever portal process runs the task."""

    __tablename__ = "governance_sunset_notices"
    __table_args__ = (UniqueConstraint("deprecation_id", "stage"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deprecation_id: Mapped[int] = mapped_column(ForeignKey("governance_deprecations.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(16))
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
