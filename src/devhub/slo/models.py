"""SLO tables: the objectives an API's owners set in the portal, and the burn-rate alerts (one row per episode).

Objectives also come from catalog annotations (`devhub.io/slo-*`, read live from the entity, never copied
here), so a row in `slo_settings` holds only what the owners set in the portal; a column left empty falls
back to the annotation, then to the default (see `devhub.slo.objectives`).

An alert episode is open while `open_marker` is "open" and is set to NULL when it resolves. The unique
constraint on (api_ref, objective, open_marker) therefore allows one open episode per objective (NULLs are
distinct on both back-ends) and any number of resolved ones: two portal processes evaluating at the same
moment cannot both open, and so cannot both announce, the same episode.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime, utcnow

OPEN = "open"


class SloSettings(Base):
    """What an API's owners set in the portal: each field overrides the matching annotation when set."""

    __tablename__ = "slo_settings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_ref: Mapped[str] = mapped_column(String(REF_LENGTH), unique=True)
    availability_target: Mapped[float | None] = mapped_column(Float)  # percent of calls not 5xx, e.g. 99.9
    latency_target: Mapped[float | None] = mapped_column(Float)  # percent of calls at most latency_ms, e.g. 99
    latency_ms: Mapped[float | None] = mapped_column(Float)
    window_days: Mapped[int | None] = mapped_column(Integer)
    environment: Mapped[str | None] = mapped_column(String(16))  # production, sandbox or all
    webhook_url: Mapped[str | None] = mapped_column(String(2048))
    # the webhook's signing secret ("whsec_..."), Fernet-encrypted: it must be recovered to sign each delivery
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_secret_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # the secret a rotation replaced, encrypted the same way: it signs beside the current one until
    # webhook_previous_secret_until (DEVHUB_WEBHOOK_ROTATION_GRACE_HOURS), so receivers can switch unhurried
    webhook_previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    webhook_previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SloAlert(Base):
    """One burn-rate alert episode of one objective: announced when it opens and again when it resolves."""

    __tablename__ = "slo_alerts"
    __table_args__ = (
        UniqueConstraint("api_ref", "objective", "open_marker"),
        Index("ix_slo_alerts_api_ref_started_at", "api_ref", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_ref: Mapped[str] = mapped_column(String(REF_LENGTH))
    objective: Mapped[str] = mapped_column(String(16))  # availability | latency
    target: Mapped[float] = mapped_column(Float)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_marker: Mapped[str | None] = mapped_column(String(8), default=OPEN)
    burn_rate_1h: Mapped[float] = mapped_column(Float)  # at the start of the episode
    burn_rate_6h: Mapped[float] = mapped_column(Float)
    peak_burn_rate_1h: Mapped[float] = mapped_column(Float)
    budget_left: Mapped[float | None] = mapped_column(Float)  # fraction of the window's budget, at the start
    notified: Mapped[int] = mapped_column(Integer, default=0)  # people told (portal notification and mail)
    webhook_result: Mapped[str | None] = mapped_column(Text)  # the last delivery: "200 at ..." or the error
    webhook_payload: Mapped[dict | None] = mapped_column(
        JSON(none_as_null=True)
    )  # still to deliver (None: delivered or given up)
    webhook_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    webhook_id: Mapped[str | None] = mapped_column(String(64))  # the waiting payload's `webhook-id`, kept on retries
