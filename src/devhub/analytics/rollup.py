"""Roll-up of gateway calls into minute, hour and day buckets, exactly once.

One pass, in one transaction:
1. take the roll-up lock: the `usage_rollup_state` row (PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, so a
   second portal process skips the pass instead of queueing behind it; SQLite: an UPDATE first, which takes
   the database's single write lock before anything is read);
2. read the calls after the watermark (by id, at most `usage_rollup_batch`);
3. add them into the three resolutions' buckets (read-modify-write of the touched rows: only the lock holder
   writes buckets) and into the applications' first calls;
4. move the watermark to the last call taken. Commit.
A crash anywhere rolls the whole pass back, so a call is counted once or not yet, never twice.

Ids are handed out when a row is inserted but become visible when its transaction commits, and on PostgreSQL
two gateway processes' batches can commit out of id order. The watermark therefore only moves over ids in a
row; at a hole it stops and remembers which transactions were writing to `gateway_calls` at that moment
(`gap_writers`: every INSERT or COPY holds the table's RowExclusiveLock until its transaction ends, from
before it takes its ids). Once all of those have ended, whatever the hole held is visible or was rolled
back, and the pass moves on; transactions that start later cannot own ids handed out before the hole was
seen, and no other transaction (however long) delays anything. A hole older than
`usage_gap_grace_seconds` is passed anyway, so a session left idle in a transaction cannot stop the
roll-up. SQLite has one writer and no such holes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, bindparam, case, delete, insert, literal_column, select, text, update

from devhub.analytics.histogram import bin_of
from devhub.analytics.models import (
    API,
    CALLER,
    DAY,
    HOUR,
    MINUTE,
    UsageAppFirsts,
    UsageBucket,
    UsageRollupState,
    UsageSeries,
)
from devhub.db import Database, utcnow
from devhub.gateway.models import GatewayCall
from devhub.settings import Settings

DIMENSIONS = (
    "app_id",
    "app_uid",
    "subscription_id",
    "product_id",
    "credential",
    "api_ref",
    "version",
    "operation",
    "environment",
)
PRUNE_EVERY = timedelta(minutes=10)
_CHUNK = 500  # ids or keys per IN list

_calls = GatewayCall.__table__
_series = UsageSeries.__table__
_buckets = UsageBucket.__table__
_state = UsageRollupState.__table__
_firsts = UsageAppFirsts.__table__


@dataclass
class PassResult:
    calls: int = 0  # calls rolled up by this pass
    watermark: int = 0
    locked_out: bool = False  # another process held the lock
    more: bool = False  # the batch was full: run again at once
    waiting_on_gap: bool = False


@dataclass
class _Agg:
    calls: int = 0
    latency_sum: float = 0.0
    latency_max: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    histogram: dict[int, int] = field(default_factory=dict)


def series_key(dims: Sequence) -> str:
    """The digest naming a combination of dimensions, NULLs included (a unique index over nullable columns
    would treat two NULLs as different and let duplicates in)."""
    return hashlib.sha256(json.dumps(list(dims), separators=(",", ":")).encode()).hexdigest()


def run_pass(database: Database, settings: Settings, now: datetime | None = None) -> PassResult:
    """One roll-up pass in its own transaction (see the module docstring)."""
    now = now or utcnow()
    _ensure_state_row(database)
    with database.engine.begin() as connection:
        state = _lock(connection)
        if state is None:
            return PassResult(locked_out=True)
        result = _roll(connection, state, settings, now)
        if state.pruned_at is None or now - state.pruned_at >= PRUNE_EVERY:
            prune(connection, settings, now)
            connection.execute(update(_state).where(_state.c.id == 1).values(pruned_at=now))
        return result


def run_until_caught_up(database: Database, settings: Settings, max_passes: int = 1000) -> int:
    """Passes until the watermark reaches the newest visible call (or another process holds the lock)."""
    total = 0
    for _ in range(max_passes):
        result = run_pass(database, settings)
        total += result.calls
        if not result.more:
            break
    return total


def _ensure_state_row(database: Database) -> None:
    with database.engine.begin() as connection:
        if connection.scalar(select(_state.c.id).where(_state.c.id == 1)) is None:
            dialect = connection.dialect.name
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as upsert
            else:
                from sqlalchemy.dialects.sqlite import insert as upsert
            row = {"id": 1, "watermark": 0, "calls_rolled": 0, "passes": 0}
            connection.execute(upsert(_state).values(**row).on_conflict_do_nothing())


def _lock(connection: Connection):
    """The state row, locked for this transaction; None when another process holds it (PostgreSQL)."""
    query = select(_state).where(_state.c.id == 1)
    if connection.dialect.name == "postgresql":
        return connection.execute(query.with_for_update(skip_locked=True)).first()
    connection.execute(update(_state).where(_state.c.id == 1).values(passes=_state.c.passes))  # write lock
    return connection.execute(query).first()


def _writers(connection: Connection) -> str:
    """The transactions (virtual ids) writing to gateway_calls right now: every INSERT or COPY holds the
    table's RowExclusiveLock from its start to its transaction's end."""
    return connection.scalar(
        text(
            "SELECT coalesce(string_agg(DISTINCT virtualtransaction, ','), '') FROM pg_locks "
            "WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' "
            "AND relation = CAST('gateway_calls' AS regclass) "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
    )


def _still_running(connection: Connection, writers: str) -> int:
    """How many of those transactions have not ended (each holds the lock on its own virtual id until then)."""
    if not writers:
        return 0
    return connection.scalar(
        text("SELECT count(*) FROM pg_locks WHERE locktype = 'virtualxid' AND virtualxid = ANY(:ids)"),
        {"ids": writers.split(",")},
    )


def _roll(connection: Connection, state, settings: Settings, now: datetime) -> PassResult:
    postgres = connection.dialect.name == "postgresql"
    columns = [_calls.c.id, _calls.c.at, _calls.c.status, _calls.c.latency_ms, _calls.c.bytes_in]
    columns += [_calls.c.bytes_out] + [_calls.c[name] for name in DIMENSIONS]
    rows = connection.execute(
        select(*columns).where(_calls.c.id > state.watermark).order_by(_calls.c.id).limit(settings.usage_rollup_batch)
    ).all()
    full = len(rows) == settings.usage_rollup_batch
    gap_values: dict = {}
    held_back = False
    if postgres:
        settled_to = _settled_through(connection, state, now, settings)
        taken = _contiguous(rows, state.watermark, settled_to)
        held_back = len(taken) < len(rows)
        if not held_back:
            gap_values = {"gap_seen_at": None, "gap_writers": None, "gap_max_id": None}
        elif state.gap_seen_at is None or settled_to >= (state.gap_max_id or 0):  # a new hole: remember it
            gap_values = {"gap_seen_at": now, "gap_writers": _writers(connection), "gap_max_id": rows[-1].id}
        rows = taken
    watermark = rows[-1].id if rows else state.watermark
    if rows:
        _write(connection, rows, settings, now)
    connection.execute(
        update(_state)
        .where(_state.c.id == 1)
        .values(
            watermark=watermark,
            calls_rolled=_state.c.calls_rolled + len(rows),
            passes=_state.c.passes + 1,
            last_pass_at=now,
            **gap_values,
        )
    )
    return PassResult(calls=len(rows), watermark=watermark, more=full and not held_back, waiting_on_gap=held_back)


def _settled_through(connection: Connection, state, now: datetime, settings: Settings) -> int:
    """The highest id below which holes are final: the remembered hole's reach, once every transaction that
    was writing calls when it was seen has ended (committed: its rows are visible now; rolled back: they never
    will be) or the grace has run out; else the watermark itself."""
    if state.gap_seen_at is None or state.gap_max_id is None:
        return state.watermark
    if now - state.gap_seen_at >= timedelta(seconds=settings.usage_gap_grace_seconds):
        return state.gap_max_id
    running = _still_running(connection, state.gap_writers or "")
    return state.gap_max_id if running == 0 else state.watermark


def _contiguous(rows: Sequence, watermark: int, settled_to: int) -> list:
    """The rows up to the first hole after `settled_to` (ids up to `settled_to` may have holes)."""
    expected = watermark + 1
    for position, row in enumerate(rows):
        if row.id != expected and row.id - 1 > settled_to:  # a missing id past the settled ones
            return list(rows[:position])
        expected = row.id + 1
    return list(rows)


def _floor(epoch: int, size: int) -> int:
    return epoch - epoch % size


def _kept_from(settings: Settings, now: datetime) -> dict[int, int]:
    """Per resolution, the oldest bucket start still kept (epoch seconds): older calls (a backlog, late
    records) skip the buckets that pruning would delete anyway."""
    return {
        MINUTE: int((now - timedelta(hours=settings.usage_minute_retention_hours)).timestamp()),
        HOUR: int((now - timedelta(days=settings.usage_hour_retention_days)).timestamp()),
        DAY: int((now - timedelta(days=settings.usage_day_retention_days)).timestamp()),
    }


def aggregate(
    rows: Iterable, kept_from: dict[int, int] | None = None
) -> tuple[dict[str, tuple], dict[tuple[str, int, int], _Agg], dict[int, list]]:
    """Calls into buckets: ({series key: dims}, {(key, resolution, start epoch): totals}, {app id: firsts}).

    Each call is added to its caller series' and its API series' minute bucket; the minutes are then added
    into hours and days (a handful of merges per minute instead of six bucket updates per call)."""
    keys: dict[tuple, str] = {}
    series: dict[str, tuple] = {}
    minutes: dict[tuple[str, int], _Agg] = {}
    firsts: dict[int, list] = {}
    for row in rows:
        status = row.status
        status_class = status // 100 if 100 <= status < 600 else 0
        values = tuple(row[6:])
        caller = (CALLER, *values, status, status_class)
        targets = [keys.get(caller) or _new_series(keys, series, caller)]
        if row.api_ref is not None:
            api = (API, None, None, None, None, None, *values[5:], status, status_class)
            targets.append(keys.get(api) or _new_series(keys, series, api))
        minute = _floor(int(row.at.timestamp()), MINUTE)
        latency = row.latency_ms
        index = bin_of(latency)
        for key in targets:
            agg = minutes.get((key, minute))
            if agg is None:
                agg = minutes[(key, minute)] = _Agg()
            agg.calls += 1
            agg.latency_sum += latency
            if latency > agg.latency_max:
                agg.latency_max = latency
            agg.bytes_in += row.bytes_in or 0
            agg.bytes_out += row.bytes_out or 0
            agg.histogram[index] = agg.histogram.get(index, 0) + 1
        if row.app_id is not None:
            _note_first(firsts, row.app_id, row.at, status_class in (2, 3))
    return series, _fold(minutes, kept_from or {}), firsts


def _new_series(keys: dict[tuple, str], series: dict[str, tuple], dims: tuple) -> str:
    key = keys[dims] = series_key(dims)
    series[key] = dims
    return key


def _fold(minutes: dict[tuple[str, int], _Agg], kept_from: dict[int, int]) -> dict[tuple[str, int, int], _Agg]:
    """Minute buckets, plus the hour and day buckets they add up to (those still within their retention)."""
    buckets: dict[tuple[str, int, int], _Agg] = {}
    for (key, minute), agg in minutes.items():
        if minute >= kept_from.get(MINUTE, 0):
            buckets[(key, MINUTE, minute)] = agg
        for size in (HOUR, DAY):
            start = _floor(minute, size)
            if start < kept_from.get(size, 0):
                continue
            slot = (key, size, start)
            total = buckets.get(slot)
            if total is None:
                total = buckets[slot] = _Agg()
            total.calls += agg.calls
            total.latency_sum += agg.latency_sum
            total.latency_max = max(total.latency_max, agg.latency_max)
            total.bytes_in += agg.bytes_in
            total.bytes_out += agg.bytes_out
            histogram = total.histogram
            for index, n in agg.histogram.items():
                histogram[index] = histogram.get(index, 0) + n
    return buckets


def _note_first(firsts: dict[int, list], app_id: int, at: datetime, success: bool) -> None:
    entry = firsts.setdefault(app_id, [at, None])
    if at < entry[0]:
        entry[0] = at
    if success and (entry[1] is None or at < entry[1]):
        entry[1] = at


def _write(connection: Connection, rows: Sequence, settings: Settings, now: datetime) -> None:
    series, buckets, firsts = aggregate(rows, _kept_from(settings, now))
    ids = _series_ids(connection, series)
    _upsert_buckets(connection, ids, buckets)
    _upsert_firsts(connection, firsts)


def _chunks(items: Sequence, size: int = _CHUNK) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _series_ids(connection: Connection, series: dict[str, tuple]) -> dict[str, int]:
    """Ids of the batch's series, creating the new ones (only the lock holder creates series)."""
    keys = list(series)
    ids: dict[str, int] = {}
    for chunk in _chunks(keys):
        ids.update(connection.execute(select(_series.c.key, _series.c.id).where(_series.c.key.in_(chunk))).all())
    missing = [key for key in keys if key not in ids]
    if missing:
        names = ("scope", *DIMENSIONS, "status", "status_class")
        connection.execute(
            insert(_series), [{"key": key, **dict(zip(names, series[key], strict=True))} for key in missing]
        )
        for chunk in _chunks(missing):
            ids.update(connection.execute(select(_series.c.key, _series.c.id).where(_series.c.key.in_(chunk))).all())
    return ids


# Adds a batch's histogram to the stored one inside the upsert, so buckets are written without being read.
_MERGE_HISTOGRAM = {
    "postgresql": (
        "(SELECT json_object_agg(k, n) FROM (SELECT k, sum(n) AS n FROM ("
        "SELECT key AS k, value::text::bigint AS n FROM json_each(usage_buckets.histogram) UNION ALL "
        "SELECT key, value::text::bigint FROM json_each(excluded.histogram)) AS parts GROUP BY k) AS sums)"
    ),
    "sqlite": (
        "(SELECT json_group_object(k, n) FROM (SELECT k, sum(n) AS n FROM ("
        "SELECT key AS k, value AS n FROM json_each(usage_buckets.histogram) UNION ALL "
        "SELECT key, value FROM json_each(excluded.histogram)) GROUP BY k))"
    ),
}


def _upsert_buckets(connection: Connection, ids: dict[str, int], buckets: dict[tuple[str, int, int], _Agg]) -> None:
    """Add the batch's totals into the stored buckets with one INSERT … ON CONFLICT DO UPDATE (counts and sums
    added, maximum kept, histograms merged bin by bin in SQL); no bucket is read first."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(_buckets)
    new = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=[_buckets.c.series_id, _buckets.c.resolution, _buckets.c.start],
        set_={
            "calls": _buckets.c.calls + new.calls,
            "latency_sum": _buckets.c.latency_sum + new.latency_sum,
            "latency_max": case(
                (new.latency_max > _buckets.c.latency_max, new.latency_max), else_=_buckets.c.latency_max
            ),
            "bytes_in": _buckets.c.bytes_in + new.bytes_in,
            "bytes_out": _buckets.c.bytes_out + new.bytes_out,
            "histogram": literal_column(_MERGE_HISTOGRAM[dialect]),
        },
    )
    rows = [
        {
            "series_id": ids[key],
            "resolution": size,
            "start": datetime.fromtimestamp(start, UTC),
            "calls": agg.calls,
            "latency_sum": agg.latency_sum,
            "latency_max": agg.latency_max,
            "bytes_in": agg.bytes_in,
            "bytes_out": agg.bytes_out,
            "histogram": {str(index): n for index, n in sorted(agg.histogram.items())},
        }
        for (key, size, start), agg in buckets.items()
    ]
    for chunk in _chunks(rows, 1000):
        connection.execute(statement, list(chunk))


def _upsert_firsts(connection: Connection, firsts: dict[int, list]) -> None:
    if not firsts:
        return
    stored: dict[int, object] = {}
    for chunk in _chunks(sorted(firsts)):
        for row in connection.execute(select(_firsts).where(_firsts.c.app_id.in_(chunk))):
            stored[row.app_id] = row
    inserts, updates = [], []
    for app_id, (first_call, first_success) in firsts.items():
        old = stored.get(app_id)
        if old is None:
            inserts.append({"app_id": app_id, "first_call_at": first_call, "first_success_at": first_success})
            continue
        call_at = min(first_call, old.first_call_at)
        success_at = min(filter(None, (first_success, old.first_success_at)), default=None)
        if (call_at, success_at) != (old.first_call_at, old.first_success_at):
            updates.append({"a": app_id, "first_call_at": call_at, "first_success_at": success_at})
    if inserts:
        connection.execute(insert(_firsts), inserts)
    if updates:
        statement = update(_firsts).where(_firsts.c.app_id == bindparam("a"))
        connection.execute(
            statement.values(first_call_at=bindparam("first_call_at"), first_success_at=bindparam("first_success_at")),
            updates,
        )


def prune(connection: Connection, settings: Settings, now: datetime) -> int:
    """Drop buckets past their resolution's retention; returns the rows deleted."""
    keep = {
        MINUTE: timedelta(hours=settings.usage_minute_retention_hours),
        HOUR: timedelta(days=settings.usage_hour_retention_days),
        DAY: timedelta(days=settings.usage_day_retention_days),
    }
    deleted = 0
    for size, age in keep.items():
        statement = delete(_buckets).where(_buckets.c.resolution == size).where(_buckets.c.start < now - age)
        deleted += connection.execute(statement).rowcount or 0
    return deleted


def state(database: Database) -> dict:
    """The roll-up's progress, for the CLI and the admin API."""
    with database.engine.connect() as connection:
        row = connection.execute(select(_state).where(_state.c.id == 1)).first()
        newest = connection.scalar(select(_calls.c.id).order_by(_calls.c.id.desc()).limit(1)) or 0
    if row is None:
        return {"watermark": 0, "newest_call_id": newest, "calls_rolled": 0, "passes": 0, "last_pass_at": None}
    return {
        "watermark": row.watermark,
        "newest_call_id": newest,
        "calls_rolled": row.calls_rolled,
        "passes": row.passes,
        "last_pass_at": row.last_pass_at,
        "waiting_on_gap_since": row.gap_seen_at,
    }
