"""Usage figures read from the roll-ups: windows of calls, errors and latency for an API, an application or
a key; the same functions serve the pages, the JSON API, the CLI and the SLO package (`api_window`).

A window [since, until) is covered by the coarsest buckets that fit inside it: whole days from day buckets,
whole hours at the edges from hour buckets, and the remaining minutes from minute buckets while those are
kept (`usage_minute_retention_hours`); older edges are rounded out to the hour. So a 30-day figure adds about
30 + 2 x 23 + 2 x 59 rows per series instead of 43,200, and "the last hour" is exact to the minute.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from devhub.analytics.histogram import Histogram
from devhub.analytics.models import API, CALLER, DAY, HOUR, MINUTE, UsageBucket, UsageRollupState, UsageSeries
from devhub.apps.models import Application
from devhub.db import utcnow
from devhub.gateway.models import GatewayCall
from devhub.identity.policy import Principal, require
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

    def absorb(self, other: WindowStats) -> None:
        """Add another window's totals and histogram to this one."""
        self.calls += other.calls
        self.server_errors += other.server_errors
        self.client_errors += other.client_errors
        self.latency_sum += other.latency_sum
        self.bytes_in += other.bytes_in
        self.bytes_out += other.bytes_out
        self.latency.merge(other.latency)

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


def _minutes_from(now: datetime) -> datetime:
    # one minute of margin: the oldest minute buckets may be pruned while a query runs
    return now - timedelta(hours=get_settings().usage_minute_retention_hours) + timedelta(minutes=1)


def window_stats(
    session: Session, series_filter: ColumnElement[bool], since: datetime, until: datetime, group_by=None
) -> dict | WindowStats:
    """Totals over [since, until) of the series matching `series_filter`; with `group_by` (series columns),
    a dict of WindowStats per value tuple. The series are looked up first, then each segment's buckets by
    primary key (series, resolution, start): a join let the planner scan every series' buckets of the
    window and throw most away."""
    group_columns = list(group_by or ())
    series = {
        row[0]: (row[1], tuple(row[2:]))
        for row in session.execute(
            select(UsageSeries.id, UsageSeries.status_class, *group_columns).where(series_filter)
        )
    }
    groups: dict[tuple, WindowStats] = {}
    if series:
        ids = sorted(series)
        for size, start, end in plan_window(since, until, _minutes_from(utcnow())):
            query = select(
                UsageBucket.series_id,
                UsageBucket.calls,
                UsageBucket.latency_sum,
                UsageBucket.bytes_in,
                UsageBucket.bytes_out,
                UsageBucket.histogram,
            ).where(
                UsageBucket.series_id.in_(ids),
                UsageBucket.resolution == size,
                UsageBucket.start >= start,
                UsageBucket.start < end,
            )
            for series_id, *values in session.execute(query):
                status_class, key = series[series_id]
                stats = groups.get(key) or groups.setdefault(key, WindowStats())
                stats.add(status_class, *values)
    if group_columns:
        return groups
    return groups.get((), WindowStats())


def api_window(
    session: Session, api_ref: str, since: datetime, until: datetime, environment: str | None = None
) -> WindowStats:
    """Calls, server errors and the latency histogram of one API over [since, until), optionally in one
    environment. The contract the SLO package reads (`calls`, `server_errors`, `latency.count_at_most`,
    `latency.quantile`)."""
    condition = _api_series(api_ref)
    if environment is not None:
        condition = and_(condition, UsageSeries.environment == environment)
    return window_stats(session, condition, since, until)


# --- dashboards ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A dashboard's time range: `slots` buckets of `step` seconds, the last one the current (partial) one."""

    name: str
    slots: int
    step: int

    def since(self, now: datetime) -> datetime:
        return _floor(now, self.step) - timedelta(seconds=self.step * (self.slots - 1))

    def starts(self, now: datetime) -> list[datetime]:
        first = self.since(now)
        return [first + timedelta(seconds=self.step * i) for i in range(self.slots)]


PERIODS = {"24h": Period("24h", 24, HOUR), "7d": Period("7d", 168, HOUR), "30d": Period("30d", 30, DAY)}
DEFAULT_PERIOD = "24h"


def get_period(name: str | None) -> Period:
    from devhub.problems import BadRequest

    period = PERIODS.get(name or DEFAULT_PERIOD)
    if period is None:
        raise BadRequest(f"period must be one of {', '.join(PERIODS)}")
    return period


@dataclass(frozen=True)
class Grouping:
    """A breakdown of a dashboard by some series columns; latency percentiles only when asked for."""

    columns: tuple[str, ...]
    latency: bool = True


@dataclass
class Dashboard:
    period: Period
    since: datetime
    until: datetime
    total: WindowStats
    slots: list[tuple[datetime, WindowStats]]
    groups: dict[str, list[tuple[tuple, WindowStats]]]  # name -> (values, stats), most calls first

    def chart(self) -> dict:
        """Columns for the charts (uPlot's layout: x values, then one array per line) and the table fallback."""
        return {
            "x": [int(start.timestamp()) for start, _ in self.slots],
            "calls": [stats.calls for _, stats in self.slots],
            "errors": [stats.errors for _, stats in self.slots],
            "p50": [stats.latency.quantile(0.5) for _, stats in self.slots],
            "p95": [stats.latency.quantile(0.95) for _, stats in self.slots],
            "p99": [stats.latency.quantile(0.99) for _, stats in self.slots],
        }


def dashboard(
    session: Session,
    series_filter: ColumnElement[bool],
    period: Period,
    groupings: dict[str, Grouping],
    now: datetime | None = None,
) -> Dashboard:
    """Totals, one point per slot and breakdowns of the series matching `series_filter`, from one query over
    the period's buckets (hour buckets for 24 h and 7 d, day buckets for 30 d). The current slot's bucket
    already holds every call rolled up so far, so no finer buckets are needed at the edge."""
    now = now or utcnow()
    starts = period.starts(now)
    names = sorted({column for grouping in groupings.values() for column in grouping.columns})
    query = (
        select(
            UsageBucket.start,
            UsageSeries.status_class,
            UsageBucket.calls,
            UsageBucket.latency_sum,
            UsageBucket.bytes_in,
            UsageBucket.bytes_out,
            UsageBucket.histogram,
            *(getattr(UsageSeries, name) for name in names),
        )
        .join(UsageSeries, UsageSeries.id == UsageBucket.series_id)
        .where(series_filter, UsageBucket.resolution == period.step, UsageBucket.start >= starts[0])
    )
    total = WindowStats()
    slots = {start: WindowStats() for start in starts}
    grouped: dict[str, dict[tuple, WindowStats]] = {name: {} for name in groupings}
    positions = {name: [7 + names.index(column) for column in g.columns] for name, g in groupings.items()}
    for row in session.execute(query):
        start, status_class, calls, latency_sum, bytes_in, bytes_out, histogram = row[:7]
        values = (status_class, calls, latency_sum, bytes_in, bytes_out)
        slot = slots.get(start)
        if slot is None:  # not one of the period's slots (cannot happen: starts are aligned); count it anyway
            total.add(*values, histogram)
        else:
            slot.add(*values, histogram)
        for name, grouping in groupings.items():
            key = tuple(row[i] for i in positions[name])
            stats = grouped[name].get(key) or grouped[name].setdefault(key, WindowStats())
            stats.add(*values, histogram if grouping.latency else None)
    for slot in slots.values():  # the total from the slots: one histogram merge per slot, not per row
        total.absorb(slot)
    ordered = {name: _ordered(groups) for name, groups in grouped.items()}
    return Dashboard(period, starts[0], now, total, list(slots.items()), ordered)


# --- a developer's applications ------------------------------------------------------------------------


@dataclass
class QuotaUse:
    product: str
    plan: str
    subscription: str
    window: str  # "day" or "month"
    limit: int
    used: int

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


@dataclass
class AppUsage:
    app: Application
    dashboard: Dashboard
    quotas: list[QuotaUse]
    recent_errors: list[dict]


APP_GROUPINGS = {
    "credential": Grouping(("credential", "environment")),
    "operation": Grouping(("api_ref", "version", "operation")),
}


def my_apps_overview(
    session: Session, viewer: Principal, period: Period, now: datetime | None = None
) -> list[tuple[Application, WindowStats]]:
    """The viewer's applications (their own and their teams'; an admin's: every one) with the period's
    totals, busiest first."""
    require(viewer, "apps.create")
    query = select(Application)
    if not viewer.is_admin:
        mine = Application.owner_user_id == viewer.user_id
        query = query.where(or_(mine, Application.owner_team_ref.in_(sorted(viewer.teams))) if viewer.teams else mine)
    apps = list(session.scalars(query.order_by(Application.name, Application.id)))
    if not apps:
        return []
    by_app = dashboard(
        session,
        UsageSeries.app_id.in_([app.id for app in apps]),
        period,
        {"app": Grouping(("app_id",))},
        now,
    ).groups["app"]
    stats = {key[0]: value for key, value in by_app}
    rows = [(app, stats.get(app.id) or WindowStats()) for app in apps]
    return sorted(rows, key=lambda row: (-row[1].calls, row[0].name))


def app_usage(session: Session, app: Application, period: Period, now: datetime | None = None) -> AppUsage:
    """An application's dashboard: totals, chart, per key and per operation, quotas, latest errors."""
    now = now or utcnow()
    board = dashboard(session, UsageSeries.app_id == app.id, period, APP_GROUPINGS, now)
    return AppUsage(app, board, quota_use(session, app, now), recent_errors(session, app.id))


def quota_use(session: Session, app: Application, now: datetime | None = None) -> list[QuotaUse]:
    """Each live subscription's daily and monthly quota (from its plan), used and left. Used counts every
    call recorded for the subscription in the UTC day or calendar month except the gateway's 429 answers
    (a call refused by a limit uses no quota), in both environments, as the gateway counts."""
    now = now or utcnow()
    subscriptions = [
        sub
        for sub in app.subscriptions
        if sub.state == "approved" and (sub.plan.quota_per_day or sub.plan.quota_per_month)
    ]
    if not subscriptions:
        return []
    day = _floor(now, DAY)
    month = day.replace(day=1)
    used_day: dict[int, int] = {}
    used_month: dict[int, int] = {}
    query = (
        select(UsageSeries.subscription_id, UsageBucket.start, func.sum(UsageBucket.calls))
        .join(UsageSeries, UsageSeries.id == UsageBucket.series_id)
        .where(
            UsageSeries.subscription_id.in_([sub.id for sub in subscriptions]),
            UsageSeries.status != 429,
            UsageBucket.resolution == DAY,
            UsageBucket.start >= month,
        )
        .group_by(UsageSeries.subscription_id, UsageBucket.start)
    )
    for subscription_id, start, calls in session.execute(query):
        used_month[subscription_id] = used_month.get(subscription_id, 0) + int(calls)
        if start >= day:
            used_day[subscription_id] = used_day.get(subscription_id, 0) + int(calls)
    result = []
    for sub in subscriptions:
        plan = sub.plan
        for window, limit, used in (
            ("day", plan.quota_per_day, used_day.get(sub.id, 0)),
            ("month", plan.quota_per_month, used_month.get(sub.id, 0)),
        ):
            if limit:
                result.append(QuotaUse(plan.product.slug, plan.slug, sub.uid, window, limit, used))
    return result


def recent_errors(session: Session, app_id: int, limit: int = 20) -> list[dict]:
    """The application's latest failed calls (4xx and 5xx), newest first, straight from the call records
    (the roll-ups keep no single calls), with the request id to quote to the API's owners. Only calls within
    `calls_retention_days` are there to show (`retention.py`)."""
    calls = GatewayCall.__table__
    query = (
        select(calls)
        .where(calls.c.app_id == app_id, calls.c.status >= 400)
        .order_by(calls.c.at.desc(), calls.c.id.desc())
        .limit(limit)
    )
    return [
        {
            "at": row.at,
            "status": row.status,
            "method": row.method,
            "path": row.path,
            "api": row.api_ref,
            "version": row.version,
            "operation": row.operation,
            "credential": row.credential,
            "environment": row.environment,
            "request_id": getattr(row, "request_id", None),
            "latency_ms": round(row.latency_ms, 3),
        }
        for row in session.execute(query)
    ]


def callers_since(
    session: Session, api_ref: str, since: datetime, now: datetime | None = None
) -> set[tuple[str | None, int]]:
    """The (operation, application id) pairs with calls to the API since `since`, whatever their status.

    Calls rolled up are read from the caller series over the buckets covering the window (`plan_window`),
    the others from the call records after the watermark (read first, so a pass committing meanwhile is
    seen by one query or both), so the answer does not depend on how long call records are kept
    (`calls_retention_days`). Governance's impact of a breaking change asks this."""
    now = now or utcnow()
    watermark = session.scalar(select(UsageRollupState.watermark).where(UsageRollupState.id == 1)) or 0
    segments = [
        and_(UsageBucket.resolution == size, UsageBucket.start >= start, UsageBucket.start < end)
        for size, start, end in plan_window(since, now + timedelta(seconds=MINUTE), _minutes_from(now))
    ]
    pairs: set[tuple[str | None, int]] = set()
    if segments:
        rolled = (
            select(UsageSeries.operation, UsageSeries.app_id)
            .join(UsageBucket, UsageBucket.series_id == UsageSeries.id)
            .where(UsageSeries.api_ref == api_ref, UsageSeries.scope == CALLER, UsageSeries.app_id.is_not(None))
            .where(or_(*segments))
            .distinct()
        )
        pairs.update(session.execute(rolled).tuples())
    calls = GatewayCall.__table__
    recent = (
        select(calls.c.operation, calls.c.app_id)
        .where(calls.c.id > watermark, calls.c.api_ref == api_ref, calls.c.at >= since, calls.c.app_id.is_not(None))
        .distinct()
    )
    pairs.update(session.execute(recent).tuples())
    return pairs


# --- an API's owners -----------------------------------------------------------------------------------


API_GROUPINGS = {
    "operation": Grouping(("version", "operation")),
    "status": Grouping(("status",), latency=False),
    "version": Grouping(("version",), latency=False),
}


@dataclass
class DeprecatedCaller:
    app_id: int | None
    app_uid: str | None
    app_name: str | None
    version: str
    operation: str | None  # None: the whole version is deprecated
    calls: int
    sunset_at: datetime | None


@dataclass
class ApiUsage:
    api_ref: str
    dashboard: Dashboard
    app_names: dict[int, str]
    deprecated_callers: list[DeprecatedCaller]


def api_usage(session: Session, api_ref: str, period: Period, now: datetime | None = None) -> ApiUsage:
    """An API's dashboard for its owners: consumers by traffic, top operations, errors by status, latency,
    and which applications still call its deprecated versions or operations in the period."""
    now = now or utcnow()
    board = dashboard(session, _api_series(api_ref), period, API_GROUPINGS, now)
    calls = _caller_calls(session, api_ref, period, now)
    board.groups["application"] = _ordered(_regroup(calls, lambda key: key[:2]))
    ids = sorted({key[0] for key, _ in board.groups["application"] if key[0] is not None})
    names = (
        dict(session.execute(select(Application.id, Application.name).where(Application.id.in_(ids))).all())
        if ids
        else {}
    )
    return ApiUsage(api_ref, board, names, deprecated_callers(session, api_ref, list(calls.items()), names))


def _caller_calls(session: Session, api_ref: str, period: Period, now: datetime) -> dict[tuple, WindowStats]:
    """Calls and errors per (application, version, operation) over the period: counted in SQL over the
    caller series (no latency: per-consumer percentiles would merge every caller bucket's histogram)."""
    query = (
        select(
            UsageSeries.app_id,
            UsageSeries.app_uid,
            UsageSeries.version,
            UsageSeries.operation,
            UsageSeries.status_class,
            func.sum(UsageBucket.calls),
            func.sum(UsageBucket.bytes_in),
            func.sum(UsageBucket.bytes_out),
        )
        .join(UsageSeries, UsageSeries.id == UsageBucket.series_id)
        .where(UsageSeries.api_ref == api_ref, UsageSeries.scope == CALLER)
        .where(UsageBucket.resolution == period.step, UsageBucket.start >= period.since(now))
        .group_by(
            UsageSeries.app_id,
            UsageSeries.app_uid,
            UsageSeries.version,
            UsageSeries.operation,
            UsageSeries.status_class,
        )
    )
    result: dict[tuple, WindowStats] = {}
    for app_id, app_uid, version, operation, status_class, calls, bytes_in, bytes_out in session.execute(query):
        key = (app_id, app_uid, version, operation)
        stats = result.get(key) or result.setdefault(key, WindowStats())
        stats.add(status_class, int(calls), 0.0, int(bytes_in), int(bytes_out), None)
    return result


def _regroup(stats: dict[tuple, WindowStats], key_of) -> dict[tuple, WindowStats]:
    result: dict[tuple, WindowStats] = {}
    for key, part in stats.items():
        total = result.get(key_of(key)) or result.setdefault(key_of(key), WindowStats())
        total.calls += part.calls
        total.server_errors += part.server_errors
        total.client_errors += part.client_errors
        total.bytes_in += part.bytes_in
        total.bytes_out += part.bytes_out
    return result


def _ordered(groups: dict[tuple, WindowStats]) -> list[tuple[tuple, WindowStats]]:
    return sorted(groups.items(), key=lambda item: (-item[1].calls, [str(v) for v in item[0]]))


def _api_series(api_ref: str) -> ColumnElement[bool]:
    return and_(UsageSeries.api_ref == api_ref, UsageSeries.scope == API)


def deprecated_callers(
    session: Session, api_ref: str, calls: list[tuple[tuple, WindowStats]], names: dict[int, str]
) -> list[DeprecatedCaller]:
    """Callers of deprecated versions and operations, matched as governance's impact matches breaking changes
    (operationId or `METHOD /template`, see `governance.impact.operation_keys`)."""
    from devhub.governance.impact import operation_keys
    from devhub.governance.service import deprecations

    found: dict[tuple, DeprecatedCaller] = {}
    for deprecation in deprecations(session, api_ref):
        keys = set(operation_keys(deprecation)) if deprecation.anchor else None
        for (app_id, app_uid, version, operation), stats in calls:
            if version != deprecation.version or (keys is not None and operation not in keys):
                continue
            slot = (app_id, version, operation if keys is not None else None)
            caller = found.get(slot)
            if caller is None:
                caller = found[slot] = DeprecatedCaller(
                    app_id, app_uid, names.get(app_id), version, slot[2], 0, deprecation.sunset_at
                )
            caller.calls += stats.calls
    return sorted(found.values(), key=lambda c: (-c.calls, c.app_name or "", c.version, c.operation or ""))


# --- who may see what ----------------------------------------------------------------------------------


def usage_app(session: Session, uid: str, viewer: Principal) -> Application:
    """An application whose usage the viewer may see (its owners, admins); 404 for anyone else, as for a
    missing one."""
    from devhub.identity.policy import owns_app
    from devhub.problems import NotFound

    app = session.scalar(select(Application).where(Application.uid == uid))
    if app is None or not owns_app(viewer, app):
        raise NotFound(f"no application {uid!r}")
    require(viewer, "usage.read", app)
    return app


def usage_api(session: Session, namespace: str, name: str, viewer: Principal):
    """The API entity, for its owner team and admins (404 if the viewer cannot see it, 403 if not an owner)."""
    from devhub.specs.api import visible_api

    entity = visible_api(session, namespace, name, viewer)
    require(viewer, "usage.api.read", entity.owner_ref)
    return entity
