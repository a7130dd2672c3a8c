"""What the usage API answers: totals, chart points, breakdowns, quotas, errors, funnel and roll-up state."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from devhub.analytics.service import Dashboard, WindowStats
from devhub.pagination import PageMeta


class StatsOut(BaseModel):
    calls: int
    errors: int
    client_errors: int = Field(description="4xx answers")
    server_errors: int = Field(description="5xx answers")
    error_rate: float | None = Field(description="(4xx + 5xx) / calls; null without calls")
    latency_mean_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    bytes_in: int
    bytes_out: int

    @classmethod
    def of(cls, stats: WindowStats) -> StatsOut:
        return cls(**stats.summary())


class PointOut(StatsOut):
    start: datetime


class BreakdownOut(StatsOut):
    key: dict[str, str | int | None]


class PeriodOut(BaseModel):
    name: str = Field(description="24h, 7d or 30d")
    since: datetime
    until: datetime
    step_seconds: int = Field(description="3600 (hourly points) or 86400 (daily points)")


class QuotaOut(BaseModel):
    product: str
    plan: str
    subscription: str
    window: str = Field(description="day (UTC) or month (UTC calendar month)")
    limit: int
    used: int
    left: int


class CallErrorOut(BaseModel):
    at: datetime
    status: int
    method: str
    path: str
    api: str | None
    version: str | None
    operation: str | None
    credential: str | None
    environment: str | None
    request_id: str | None
    latency_ms: float


class AppSummaryOut(BaseModel):
    id: str
    name: str
    usage: StatsOut


class MyAppsOut(BaseModel):
    period: PeriodOut
    applications: list[AppSummaryOut]


class AppUsageOut(BaseModel):
    application: str
    name: str
    period: PeriodOut
    total: StatsOut
    points: list[PointOut]
    per_key: list[BreakdownOut]
    per_operation: list[BreakdownOut]
    quotas: list[QuotaOut]
    recent_errors: list[CallErrorOut]


class DeprecatedCallerOut(BaseModel):
    application: str | None
    application_name: str | None
    version: str
    operation: str | None = Field(description="null: the whole version is deprecated")
    calls: int
    sunset_at: datetime | None


class ApiUsageOut(BaseModel):
    api: str
    period: PeriodOut
    total: StatsOut
    points: list[PointOut]
    consumers: list[BreakdownOut]
    operations: list[BreakdownOut]
    statuses: list[BreakdownOut]
    versions: list[BreakdownOut]
    deprecated_callers: list[DeprecatedCallerOut]


class StepOut(BaseModel):
    step: str
    label: str
    reached: int
    dropped: int = Field(description="reached the step before but not this one")
    conversion: float | None = Field(description="share of those who reached the step before")
    median_seconds: float | None = Field(description="time from the step before")
    p90_seconds: float | None


class FunnelOut(BaseModel):
    developers: int
    since: datetime | None
    until: datetime | None
    steps: list[StepOut]
    time_to_first_call: dict[str, float | int | None]


class JourneyOut(BaseModel):
    user_id: int
    email: str
    signed_up: datetime
    first_application: datetime | None
    first_credential: datetime | None
    first_call: datetime | None
    reached: str
    time_to_first_call_seconds: float | None


class JourneyList(BaseModel):
    items: list[JourneyOut]
    meta: PageMeta


class RollupOut(BaseModel):
    rolled_up: int | None = Field(None, description="calls rolled up by this request")
    watermark: int
    newest_call_id: int
    calls_rolled: int
    passes: int
    last_pass_at: datetime | None
    waiting_on_gap_since: datetime | None = None


def period_out(board: Dashboard) -> PeriodOut:
    return PeriodOut(name=board.period.name, since=board.since, until=board.until, step_seconds=board.period.step)


def points_out(board: Dashboard) -> list[PointOut]:
    return [PointOut(start=start, **stats.summary()) for start, stats in board.slots]


def breakdown_out(rows, names: tuple[str, ...]) -> list[BreakdownOut]:
    return [BreakdownOut(key=dict(zip(names, key, strict=True)), **stats.summary()) for key, stats in rows]
