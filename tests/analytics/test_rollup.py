"""The roll-up counts every call exactly once: run twice, cut into batches, restarted, crashed mid-pass, run
by two processes at once, and (PostgreSQL) with call ids that commit out of order."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, text

from devhub.analytics import rollup
from devhub.analytics.histogram import Histogram
from devhub.analytics.models import API as API_SCOPE
from devhub.analytics.models import CALLER, DAY, HOUR, MINUTE, UsageBucket, UsageRollupState, UsageSeries
from devhub.analytics.service import api_window, plan_window
from devhub.db import Database, utcnow
from devhub.gateway.models import GatewayCall

API = "api:default/pets"


def _calls(n: int, *, seed: int = 7, spread_hours: float = 30.0, now=None) -> list[dict]:
    """Calls over the last `spread_hours`, with statuses and latencies drawn from a seeded generator."""
    rng = random.Random(seed)
    now = now or utcnow()
    return [
        {
            "at": now - timedelta(seconds=rng.uniform(1, spread_hours * 3600)),
            "app_id": rng.choice((1, 2, None)),
            "app_uid": "app_x",
            "credential": rng.choice(("k1", "k2")),
            "api_ref": API,
            "version": "1.0.0",
            "operation": rng.choice(("getPet", "addPet")),
            "method": "GET",
            "path": "/pets/1",
            "status": rng.choice((200, 200, 200, 201, 404, 429, 503)),
            "latency_ms": rng.expovariate(1 / 40),
            "bytes_in": 10,
            "bytes_out": 100,
            "environment": rng.choice(("sandbox", "production")),
        }
        for _ in range(n)
    ]


def _insert(db: Database, rows: list[dict]) -> None:
    with db.engine.begin() as connection:
        connection.execute(insert(GatewayCall), rows)


def _bucket_totals(db: Database, scope: int = CALLER) -> dict[int, int]:
    """Calls per resolution in one scope's buckets (each call is in one caller and one API series)."""
    with db.engine.connect() as connection:
        query = (
            select(UsageBucket.resolution, func.sum(UsageBucket.calls))
            .join(UsageSeries, UsageSeries.id == UsageBucket.series_id)
            .where(UsageSeries.scope == scope)
            .group_by(UsageBucket.resolution)
        )
        return {resolution: int(total) for resolution, total in connection.execute(query)}


def _window(db: Database, since, until):
    with db.session() as session:
        return api_window(session, API, since, until)


def test_rolling_up_twice_counts_each_call_once_and_windows_are_exact(db, settings):
    rows = _calls(600)
    _insert(db, rows)
    assert rollup.run_until_caught_up(db, settings) == 600
    assert rollup.run_until_caught_up(db, settings) == 0
    assert _bucket_totals(db) == {MINUTE: 600, HOUR: 600, DAY: 600} == _bucket_totals(db, API_SCOPE)

    now = utcnow()
    since = (now - timedelta(hours=26, minutes=13)).replace(second=0, microsecond=0)
    stats = _window(db, since, now + timedelta(seconds=1))
    inside = [r for r in rows if r["at"] >= since]
    assert stats.calls == len(inside)
    assert stats.server_errors == sum(r["status"] >= 500 for r in inside)
    latencies = sorted(r["latency_ms"] for r in inside)
    exact_p95 = latencies[round(0.95 * (len(latencies) - 1))]
    assert stats.latency.quantile(0.95) == pytest.approx(exact_p95, rel=0.09)
    assert stats.latency.count_at_most(100) >= sum(v <= 100 for v in latencies)
    assert stats.latency.count_at_most(100) <= sum(v <= 109.1 for v in latencies)


def test_batches_and_a_restart_mid_way_count_once(db, settings):
    _insert(db, _calls(350, seed=1))
    small = settings.model_copy(update={"usage_rollup_batch": 100})
    first = rollup.run_pass(db, small)
    assert (first.calls, first.more) == (100, True)
    restarted = Database(db.url)  # a new process: nothing but the database carries over
    try:
        assert rollup.run_until_caught_up(restarted, small) == 250
    finally:
        restarted.dispose()
    assert _bucket_totals(db) == {MINUTE: 350, HOUR: 350, DAY: 350}
    assert rollup.state(db)["calls_rolled"] == 350
    stats = _window(db, utcnow() - timedelta(hours=31), utcnow())  # histograms merged across the batches
    assert stats.latency.count == stats.calls == 350


def test_a_pass_that_fails_half_way_leaves_nothing_behind(db, settings, monkeypatch):
    _insert(db, _calls(200, seed=2))

    def crash(*args, **kwargs):
        raise RuntimeError("the process died after writing the buckets")

    monkeypatch.setattr(rollup, "_upsert_firsts", crash)
    with pytest.raises(RuntimeError):
        rollup.run_pass(db, settings)
    assert _bucket_totals(db) == {} and rollup.state(db)["watermark"] == 0
    monkeypatch.undo()
    assert rollup.run_until_caught_up(db, settings) == 200
    assert _bucket_totals(db) == {MINUTE: 200, HOUR: 200, DAY: 200}


def test_two_processes_rolling_up_at_once_while_calls_arrive_count_once(db, settings):
    small = settings.model_copy(update={"usage_rollup_batch": 150})
    errors: list[BaseException] = []
    stop = threading.Event()

    def roll(database: Database) -> None:
        try:
            while not stop.is_set():
                rollup.run_until_caught_up(database, small)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    processes = [Database(db.url), Database(db.url)]
    workers = [threading.Thread(target=roll, args=(database,)) for database in processes]
    for worker in workers:
        worker.start()
    for seed in range(8):
        _insert(db, _calls(100, seed=seed))
    stop.set()
    for worker in workers:
        worker.join(60)
    for database in processes:
        database.dispose()
    assert not errors, errors
    rollup.run_until_caught_up(db, settings)
    assert _bucket_totals(db) == {MINUTE: 800, HOUR: 800, DAY: 800}


def test_postgresql_waits_for_ids_that_commit_late(db, settings):
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: ids become visible in order")
    late = db.engine.connect()
    transaction = late.begin()
    late.execute(insert(GatewayCall), _calls(5, seed=3))  # takes ids 1-5 and does not commit yet
    _insert(db, _calls(20, seed=4))  # ids 6-25, committed
    first = rollup.run_pass(db, settings)
    assert (first.calls, first.waiting_on_gap) == (0, True)  # id 1 is missing: wait
    transaction.commit()
    late.close()
    assert rollup.run_until_caught_up(db, settings) == 25
    assert _bucket_totals(db) == {MINUTE: 25, HOUR: 25, DAY: 25}


def test_postgresql_passes_a_hole_left_by_a_rolled_back_batch(db, settings):
    if db.is_sqlite:
        pytest.skip("SQLite reuses the ids of a rolled-back insert")
    with db.engine.connect() as connection:
        transaction = connection.begin()
        connection.execute(insert(GatewayCall), _calls(5, seed=5))
        transaction.rollback()  # ids 1-5 are gone for good
    _insert(db, _calls(10, seed=6))
    assert rollup.run_pass(db, settings).waiting_on_gap
    # Every transaction that was running when the hole was seen has ended: the next pass moves on.
    with db.engine.begin() as connection:
        connection.execute(text("SELECT 1"))
    assert rollup.run_until_caught_up(db, settings) == 10
    assert rollup.state(db)["waiting_on_gap_since"] is None


def test_old_buckets_are_pruned_by_resolution(db, settings):
    now = utcnow()
    old = _calls(50, seed=8, now=now - timedelta(days=5), spread_hours=1)
    _insert(db, old)
    rollup.run_until_caught_up(db, settings)
    assert _bucket_totals(db) == {HOUR: 50, DAY: 50}  # the pass prunes: minutes are kept 48 hours
    with db.engine.begin() as connection:
        rollup.prune(connection, settings.model_copy(update={"usage_hour_retention_days": 2}), now)
    assert _bucket_totals(db) == {DAY: 50}
    with db.session() as session:
        assert session.get(UsageRollupState, 1).calls_rolled == 50


def test_a_window_is_covered_by_days_hours_and_minutes():
    from datetime import UTC, datetime

    since = datetime(2026, 11, 1, 22, 30, tzinfo=UTC)
    until = datetime(2026, 11, 4, 1, 15, tzinfo=UTC)
    segments = plan_window(since, until, minutes_from=datetime(2026, 11, 3, tzinfo=UTC))
    assert segments == [
        (DAY, datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)),
        (HOUR, datetime(2026, 11, 1, 22, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)),  # minutes gone: hours
        (HOUR, datetime(2026, 11, 4, tzinfo=UTC), datetime(2026, 11, 4, 1, tzinfo=UTC)),
        (MINUTE, datetime(2026, 11, 4, 1, tzinfo=UTC), until),
    ]


def test_histograms_merge_exactly_in_any_order():
    rng = random.Random(11)
    values = [rng.lognormvariate(3, 1) for _ in range(3000)]
    parts = [Histogram() for _ in range(3)]
    whole = Histogram()
    for i, value in enumerate(values):
        parts[i % 3].add(value)
        whole.add(value)
    assert Histogram.merged(parts) == whole == Histogram.merged(reversed([p.to_json() for p in parts]))
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.99):
        assert whole.quantile(q) == pytest.approx(ordered[round(q * (len(ordered) - 1))], rel=0.044)
    assert Histogram().quantile(0.5) is None and whole.count == 3000
    with pytest.raises(ValueError):
        whole.quantile(1.5)
