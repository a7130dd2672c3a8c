"""The gateway's call records: one row per proxied call, written in batches by `gateway.metering`.

Columns copy what reports filter on (application, API, operation, status) rather than pointing at the
portal's rows with foreign keys: calls outlive applications, keys and versions, and the gateway inserts
without looking anything up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime


class GatewayCall(Base):
    __tablename__ = "gateway_calls"
    __table_args__ = (
        Index("ix_gateway_calls_app_id_at", "app_id", "at"),
        Index("ix_gateway_calls_api_ref_operation_at", "api_ref", "operation", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    app_id: Mapped[int | None] = mapped_column(Integer)  # None for keyless calls
    app_uid: Mapped[str | None] = mapped_column(String(32))
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    credential: Mapped[str | None] = mapped_column(String(64))  # key id or client id, never a secret
    product_id: Mapped[int | None] = mapped_column(Integer)
    api_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH))
    version: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(1024))  # operationId, or "METHOD /template"
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2048))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    environment: Mapped[str | None] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(200))  # X-Request-ID as answered to the caller
