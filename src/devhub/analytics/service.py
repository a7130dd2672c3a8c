"""Usage figures read from the roll-ups: windows of calls, errors and latency for an API, an application or
a key; the same functions serve the pages, the JSON API, the CLI and the SLO package (`api_window`).

A window [since, until) is covered by the coarsest buckets that fit inside it: whole days from day buckets,
whole hours at the edges from hour buckets, and the remaining minutes from minute buckets while those are
kept (`usage_minute_retention_hours`); older edges are rounded out to the hour. So a 30-day figure adds about
30 + 2 x 23 + 2 x 59 rows per series instead of 43,200, and "the last hour" is exact to the minute.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from devhub.analytics.histogram import Histogram
from devhub.analytics.models import DAY, HOUR, MINUTE, UsageBucket, UsageSeries
from devhub.db import utcnow
from devhub.settings import get_settings


@dataclass
class WindowStats:
    """Totals of a window: calls by status class, bytes, and the merged latency histogram."""

    calls: int = 0
    server_errors: int = 0  # 5xx
    client_errors: int = 0  # 4xx
    latency_sum: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    latency: Histogram = field(default_factory=Histogram)

    @property
    def errors(self) -> int:
        return self.server_errors + self.client_errors

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    @property
    def mean_latency(self) -> float | None:
        return round(self.latency_sum / self.calls, 3) if self.calls else None

    def add(self, status_class: int, calls: int, latency_sum: float, bytes_in: int, bytes_out: int, histogram):
        self.calls += calls
        if status_class == 5:
            self.server_errors += calls
        elif status_class == 4:
            self.client_errors += calls
        self.latency_sum += latency_sum
        self.bytes_in += bytes_in
        self.bytes_out += bytes_out
        if histogram:
            self.latency.merge(histogram)

    def summary(self) -> dict:
        """The figures pages and the API show."""
        return {
            "calls": self.calls,
            "errors": self.errors,
            "server_errors": self.server_errors,
            "client_errors": self.client_errors,
            "error_rate": round(self.error_rate, 6) if self.error_rate is not None else None,
            "latency_mean_ms": self.mean_latency,
            "latency_p50_ms": self.latency.quantile(0.5),
            "latency_p95_ms": self.latency.quantile(0.95),
            "latency_p99_ms": self.latency.quantile(0.99),
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
        }


Segment = tuple[int, datetime, datetime]  # (resolution, first bucket start, end): buckets with start in [a, b)


def _floor(moment: datetime, size: int) -> datetime:
    epoch = int(moment.timestamp())
    return datetime.fromtimestamp(epoch - epoch % size, UTC)


def _ceil(moment: datetime, size: int) -> datetime:
    floored = _floor(moment, size)
    return floored if floored == moment else floored + timedelta(seconds=size)


def plan_window(since: datetime, until: datetime, minutes_from: datetime) -> list[Segment]:
    """The buckets covering [since, until): days, then hours, then minutes at the edges (minutes only where
    they are still kept, from `minutes_from`; older edges round out to whole hours)."""
    segments: list[Segment] = []

    def cover(a: datetime, b: datetime, sizes: tuple[int, ...]) -> None:
        if a >= b:
            return
        size, finer = sizes[0], sizes[1:]
        if size == MINUTE or (size == HOUR and a < minutes_from):
            segments.append((size, _floor(a, size), b))
            return
        lo, hi = _ceil(a, size), _floor(b, size)
        if lo < hi:
            segments.append((size, lo, hi))
            cover(a, lo, finer)
            cover(hi, b, finer)
        else:
            cover(a, b, finer)

    cover(since, until, (DAY, HOUR, MINUTE))
    return segments


def _segments_clause(segments: Iterable[Segment]) -> ColumnElement[bool]:
    bucket = UsageBucket
    parts = [and_(bucket.resolution == size, bucket.start >= a, bucket.start < b) for size, a, b in segments if a < b]
    return or_(*parts) if parts else false()


def _minutes_from(now: datetime) -> datetime:
    # one minute of margin: the oldest minute buckets may be pruned while a query runs
    return now - timedelta(hours=get_settings().usage_minute_retention_hours) + timedelta(minutes=1)


def window_stats(
    session: Session, series_filter: ColumnElement[bool], since: datetime, until: datetime, group_by=None
) -> dict | WindowStats:
    """Totals over [since, until) of the series matching `series_filter`; with `group_by` (series columns),
    a dict of WindowStats per value tuple."""
    segments = plan_window(since, until, _minutes_from(utcnow()))
    group_columns = list(group_by or ())
    query = (
        select(
            UsageSeries.status_class,
            *group_columns,
            UsageBucket.calls,
            UsageBucket.latency_sum,
            UsageBucket.bytes_in,
            UsageBucket.bytes_out,
            UsageBucket.histogram,
        )
        .join(UsageSeries, UsageSeries.id == UsageBucket.series_id)
        .where(series_filter)
        .where(_segments_clause(segments))
    )
    if not group_columns:
        stats = WindowStats()
        for status_class, calls, latency_sum, bytes_in, bytes_out, histogram in session.execute(query):
            stats.add(status_class, calls, latency_sum, bytes_in, bytes_out, histogram)
        return stats
    groups: dict[tuple, WindowStats] = {}
    width = len(group_columns)
    for row in session.execute(query):
        key = tuple(row[1 : 1 + width])
        stats = groups.get(key) or groups.setdefault(key, WindowStats())
        stats.add(row[0], *row[1 + width :])
    return groups


def api_window(
    session: Session, api_ref: str, since: datetime, until: datetime, environment: str | None = None
) -> WindowStats:
    """Calls, server errors and the latency histogram of one API over [since, until), optionally in one
    environment. The contract the SLO package reads (`calls`, `server_errors`, `latency.count_at_most`,
    `latency.quantile`)."""
    condition = UsageSeries.api_ref == api_ref
    if environment is not None:
        condition = and_(condition, UsageSeries.environment == environment)
    return window_stats(session, condition, since, until)
