"""Background work of analytics: the usage roll-up, run by every portal process every
`usage_rollup_seconds`. Only one process rolls up at a time (the lock row in `rollup.py`); the others find it
held and skip the round, so adding portal processes never counts a call twice.

The same loop prunes the raw call records past `calls_retention_days` (`retention.py`) once an hour, after
the round's roll-up, so it only deletes what that round counted. A backlog (the first prune of a large
table) is cut into slices of `PRUNE_SECONDS` per round, so the roll-up keeps its pace meanwhile; the hour
starts again once a prune finishes. Two processes pruning at once delete disjoint or already-deleted rows:
harmless, so no lock is taken."""

from __future__ import annotations

import asyncio
import logging
import time

from devhub.analytics.retention import prune_calls
from devhub.analytics.rollup import run_until_caught_up
from devhub.db import Database
from devhub.settings import Settings

log = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds between prunes of the call records
PRUNE_SECONDS = 2.0  # the most one round spends pruning


async def rollup_loop(database: Database, settings: Settings) -> None:
    if settings.usage_rollup_seconds <= 0:
        return
    prune_due = time.monotonic()  # a process that starts prunes in its first round
    while True:
        try:
            await asyncio.to_thread(run_until_caught_up, database, settings)
        except Exception:  # the pass rolled back as a whole; the next round starts from the same watermark
            log.exception("usage roll-up failed")
        if settings.calls_retention_days > 0 and time.monotonic() >= prune_due:
            prune_due = await _prune(database, settings)
        await asyncio.sleep(settings.usage_rollup_seconds)


async def _prune(database: Database, settings: Settings) -> float:
    """One slice of pruning; returns when the next one is due (next round while rows are left)."""
    try:
        result = await asyncio.to_thread(
            prune_calls, database, settings.calls_retention_days, max_seconds=PRUNE_SECONDS
        )
    except Exception:  # each batch committed or rolled back alone; the next try starts over
        log.exception("pruning gateway calls failed")
        return time.monotonic() + PRUNE_EVERY
    if result.deleted:
        log.info("pruned %d gateway calls older than %d days", result.deleted, result.days)
    return time.monotonic() + (PRUNE_EVERY if result.finished else 0.0)
