"""Retention of the raw call records: only calls past `calls_retention_days` that are already rolled up go,
in batches, from the background loop as from `prune_calls`; figures read from the roll-ups do not change."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from sqlalchemy import func, select

from devhub.analytics import rollup
from devhub.analytics.retention import prune_calls
from devhub.analytics.service import api_usage, api_window, callers_since, get_period
from devhub.analytics.tasks import rollup_loop
from devhub.db import Database, utcnow
from devhub.gateway.models import GatewayCall
from tests.analytics.test_rollup import API, _calls, _insert


def _ids(db: Database) -> set[int]:
    with db.engine.connect() as connection:
        return set(connection.scalars(select(GatewayCall.id)))


def _figures(db: Database, now) -> tuple:
    """What the roll-ups say over the last 60 days (days and hours) and 30 days (the owners' dashboard)."""
    with db.session() as session:
        window = api_window(session, API, now - timedelta(days=60), now)
        board = api_usage(session, API, get_period("30d"), now)
    total = board.dashboard.total
    return (
        (window.calls, window.server_errors, window.client_errors, window.bytes_out, window.latency.quantile(0.95)),
        (total.calls, total.server_errors, total.client_errors, [s.calls for _, s in board.dashboard.slots]),
    )


def test_only_rolled_up_calls_past_the_retention_go_and_the_roll_ups_keep_their_numbers(db, settings):
    now = utcnow()
    _insert(db, _calls(120, seed=11, now=now - timedelta(days=40), spread_hours=3))  # past 30 days
    _insert(db, _calls(80, seed=12, now=now - timedelta(days=10), spread_hours=3))
    _insert(db, _calls(50, seed=13, now=now, spread_hours=2))
    assert rollup.run_until_caught_up(db, settings) == 250
    watermark = rollup.state(db)["watermark"]
    late = _calls(30, seed=14, now=now - timedelta(days=45), spread_hours=1)  # old, but not rolled up yet
    _insert(db, late)
    with db.engine.connect() as connection:
        old_rolled = set(
            connection.scalars(
                select(GatewayCall.id).where(GatewayCall.id <= watermark, GatewayCall.at < now - timedelta(days=30))
            )
        )
    assert len(old_rolled) == 120
    before_ids, before = _ids(db), _figures(db, now)

    assert prune_calls(db, 0, now).deleted == 0 and _ids(db) == before_ids  # 0 keeps every call
    dry = prune_calls(db, 30, now, dry_run=True)
    assert (dry.deleted, dry.not_rolled_up, dry.watermark) == (120, 30, watermark) and _ids(db) == before_ids

    pruned = prune_calls(db, 30, now, batch=50)  # three batches: 50, 50, 20
    assert (pruned.deleted, pruned.not_rolled_up, pruned.finished) == (120, 30, True)
    assert _ids(db) == before_ids - old_rolled  # the newer calls and the late ones are all still there
    assert _figures(db, now) == before
    assert prune_calls(db, 30, now).deleted == 0

    assert rollup.run_until_caught_up(db, settings) == 30  # the late calls are counted, then may go
    assert prune_calls(db, 30, now).deleted == 30
    assert len(_ids(db)) == 130
    assert prune_calls(db, 5, now).deleted == 80  # a shorter retention takes the 10-day-old calls too


def test_a_time_budget_stops_after_a_batch_and_the_next_call_carries_on(db, settings):
    now = utcnow()
    _insert(db, _calls(90, seed=15, now=now - timedelta(days=31), spread_hours=1))
    rollup.run_until_caught_up(db, settings)
    first = prune_calls(db, 30, now, batch=40, max_seconds=0)
    assert (first.deleted, first.finished) == (40, False)
    rest = prune_calls(db, 30, now, batch=40, max_seconds=0)
    assert (rest.deleted, rest.finished) == (40, False)
    assert prune_calls(db, 30, now, batch=40, max_seconds=0).deleted == 10 and _ids(db) == set()


def test_the_background_loop_rolls_up_then_prunes(db, settings):
    now = utcnow()
    _insert(db, _calls(40, seed=16, now=now - timedelta(days=31), spread_hours=1))
    _insert(db, _calls(25, seed=17, now=now, spread_hours=1))
    fast = settings.model_copy(update={"usage_rollup_seconds": 0.05})

    async def run_a_while(loop_settings) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rollup_loop(db, loop_settings), 1.5)

    asyncio.run(run_a_while(fast.model_copy(update={"calls_retention_days": 0})))
    assert rollup.state(db)["calls_rolled"] == 65 and len(_ids(db)) == 65  # 0: rolled up, none pruned
    asyncio.run(run_a_while(fast))
    with db.engine.connect() as connection:
        oldest = connection.scalar(select(func.min(GatewayCall.at)))
    assert len(_ids(db)) == 25 and oldest > now - timedelta(days=30)


def test_who_called_an_api_outlives_the_call_records(db, settings):
    """Governance's impact asks which applications called which operation in 30 days: the answer comes from
    the roll-ups for pruned calls and from the call records for calls not rolled up yet."""
    now = utcnow()
    call = {"api_ref": API, "method": "GET", "path": "/p", "status": 200, "latency_ms": 1.0}
    _insert(
        db,
        [
            {**call, "at": now - timedelta(days=20), "app_id": 1, "operation": "addPet"},
            {**call, "at": now - timedelta(days=2, hours=20), "app_id": 2, "operation": "getPet", "status": 503},
            {**call, "at": now - timedelta(days=40), "app_id": 3, "operation": "addPet"},  # before the window
            {**call, "at": now - timedelta(days=1, hours=1), "app_id": None, "operation": "addPet"},  # keyless
            {**call, "api_ref": "api:default/other", "at": now, "app_id": 4, "operation": "addPet"},
        ],
    )
    rollup.run_until_caught_up(db, settings)
    assert prune_calls(db, 1, now).deleted == 4 and len(_ids(db)) == 1
    _insert(db, [{**call, "at": now - timedelta(days=2), "app_id": 5, "operation": "listPets"}])  # not rolled up
    with db.session() as session:
        found = callers_since(session, API, now - timedelta(days=30), now)
        assert callers_since(session, API, now - timedelta(days=3), now) == {("getPet", 2), ("listPets", 5)}
        assert callers_since(session, API, now - timedelta(days=2), now) == {("listPets", 5)}
    assert found == {("addPet", 1), ("getPet", 2), ("listPets", 5)}
