"""Roll-ups of the gateway's call records.

`usage_series` names one combination of the dimensions reports group by (application, subscription,
credential, API, version, operation, environment, status); `usage_buckets` holds, per series, one row
per minute, hour or day with the call count, latency sum and maximum, bytes, and a mergeable latency
histogram (`histogram.py`). Dimensions live once per series instead of in every bucket: a bucket row stays
small and a dashboard finds an API's or an application's buckets through a few hundred series ids.

Each call is added to two series: its CALLER series (every dimension: who called what) and its API series
(API, version, operation, environment and status, without application, subscription and credential). An API
has thousands of caller series but only tens of API series, so an API's figures and latency percentiles
(owner dashboards, SLOs) read 30 days from a few thousand rows instead of a few hundred thousand. Queries by
API pick one scope, never both, or they would count each call twice.

`usage_rollup_state` is one row: the id of the last call rolled up (the watermark, advanced in the same
transaction as the bucket writes, so a call is counted exactly once) and the lock that lets one portal
process at a time run a pass. `usage_app_firsts` keeps each application's first call and first successful
call for the time-to-first-call funnel, which must outlive the buckets' retention.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime

MINUTE, HOUR, DAY = 60, 3600, 86400
RESOLUTIONS = (MINUTE, HOUR, DAY)
CALLER, API = 0, 1  # series scopes, see the module docstring


class UsageSeries(Base):
    __tablename__ = "usage_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the dimensions (NULLs included)
    scope: Mapped[int] = mapped_column(SmallInteger)  # CALLER: every dimension; API: without the caller's
    app_id: Mapped[int | None] = mapped_column(Integer, index=True)
    app_uid: Mapped[str | None] = mapped_column(String(32))
    subscription_id: Mapped[int | None] = mapped_column(Integer)
    product_id: Mapped[int | None] = mapped_column(Integer)
    credential: Mapped[str | None] = mapped_column(String(64))
    api_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), index=True)
    version: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(1024))
    environment: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[int] = mapped_column(SmallInteger)  # the HTTP status answered (429: refused by a limit)
    status_class: Mapped[int] = mapped_column(SmallInteger)  # 1..5 (status // 100), 0 when unknown


class UsageBucket(Base):
    __tablename__ = "usage_buckets"
    __table_args__ = (Index("ix_usage_buckets_resolution_start", "resolution", "start"),)

    series_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resolution: Mapped[int] = mapped_column(Integer, primary_key=True)  # seconds: 60, 3600 or 86400
    start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)
    latency_sum: Mapped[float] = mapped_column(Float)
    latency_max: Mapped[float] = mapped_column(Float)
    bytes_in: Mapped[int] = mapped_column(BigInteger)
    bytes_out: Mapped[int] = mapped_column(BigInteger)
    histogram: Mapped[dict] = mapped_column(JSON)  # {bin: count}, see histogram.py


class UsageRollupState(Base):
    __tablename__ = "usage_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    watermark: Mapped[int] = mapped_column(BigInteger, default=0)  # every call with id <= this is rolled up
    gap_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a missing id after the watermark
    gap_writers: Mapped[str | None] = mapped_column(Text)  # PostgreSQL: transactions writing calls at that time
    gap_max_id: Mapped[int | None] = mapped_column(BigInteger)  # the highest call id read at that time
    calls_rolled: Mapped[int] = mapped_column(BigInteger, default=0)
    passes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_pass_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsageAppFirsts(Base):
    __tablename__ = "usage_app_firsts"

    app_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_call_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
