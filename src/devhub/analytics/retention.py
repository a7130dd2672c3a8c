"""Retention of the raw call records: `gateway_calls` rows older than `calls_retention_days` are deleted once
they are rolled up.

Every figure the portal shows is read from the roll-ups, which have retentions of their own (`rollup.prune`).
Two things still read single calls: an application's latest errors with their request ids
(`service.recent_errors`) and the impact of a breaking change (`governance.impact`: the applications that
called an operation in the last 30 days). The default of 30 days keeps both whole; a shorter retention
shortens what they see, and 0 keeps every call.

A call is deleted only when it is both older than the retention and at or below the roll-up's watermark, so
no call leaves before it is counted. The watermark only moves forward, so reading it once is enough; pruning
needs no roll-up lock. Rows go in batches of `batch` ids, each its own short transaction (one statement):
SQLite has a single write lock, which the gateway's metering flush and the roll-up also need, so a batch holds
it for milliseconds and the next batch waits `pause` seconds to let them in; on PostgreSQL a batch locks only
its rows (and the roll-up's hole detection, which waits for transactions writing to the table, waits for at
most one batch).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, and_, delete, func, select

from devhub.analytics.models import UsageRollupState
from devhub.db import Database, utcnow
from devhub.gateway.models import GatewayCall

BATCH = 2000  # rows per delete transaction: 10-40 ms of SQLite's write lock
SQLITE_PAUSE = 0.02  # seconds between batches on SQLite, for the writers waiting on its lock

_calls = GatewayCall.__table__
_state = UsageRollupState.__table__


@dataclass
class PruneResult:
    days: int
    cutoff: datetime | None  # calls before this may go; None when the retention is 0 (keep forever)
    watermark: int  # calls with an id up to this are rolled up
    deleted: int = 0  # rows deleted (a dry run: rows that would be)
    not_rolled_up: int = 0  # calls past the retention kept because they are not rolled up yet
    finished: bool = True  # False: stopped by the time budget with rows left


def _watermark(connection: Connection) -> int:
    return connection.scalar(select(_state.c.watermark).where(_state.c.id == 1)) or 0


def _prunable(watermark: int, cutoff: datetime) -> ColumnElement[bool]:
    return and_(_calls.c.id <= watermark, _calls.c.at < cutoff)


def prune_calls(
    database: Database,
    days: int,
    now: datetime | None = None,
    *,
    dry_run: bool = False,
    batch: int = BATCH,
    max_seconds: float | None = None,
) -> PruneResult:
    """Delete the rolled-up calls older than `days` days (0: none) in batches; a dry run only counts them.

    `max_seconds` bounds one call (the background loop's share of a round): it stops after the batch that
    crosses it and says `finished=False`, and the next call carries on where it stopped."""
    if days <= 0:
        with database.engine.connect() as connection:
            return PruneResult(days, None, _watermark(connection))
    cutoff = (now or utcnow()) - timedelta(days=days)
    count = select(func.count()).select_from(_calls)
    with database.engine.connect() as connection:
        watermark = _watermark(connection)
        waiting = connection.scalar(count.where(_calls.c.id > watermark, _calls.c.at < cutoff))
        result = PruneResult(days, cutoff, watermark, not_rolled_up=waiting)
        if dry_run:
            result.deleted = connection.scalar(count.where(_prunable(watermark, cutoff)))
            return result
    oldest_first = select(_calls.c.id).where(_prunable(watermark, cutoff)).order_by(_calls.c.id).limit(batch)
    statement = delete(_calls).where(_calls.c.id.in_(oldest_first))
    pause = SQLITE_PAUSE if database.is_sqlite else 0.0
    started = time.monotonic()
    while True:
        with database.engine.begin() as connection:
            deleted = connection.execute(statement).rowcount or 0
        result.deleted += deleted
        if deleted < batch:
            return result
        if max_seconds is not None and time.monotonic() - started >= max_seconds:
            result.finished = False
            return result
        if pause:
            time.sleep(pause)
