"""Background work of analytics: the usage roll-up, run by every portal process every
`usage_rollup_seconds`. Only one process rolls up at a time (the lock row in `rollup.py`); the others find it
held and skip the round, so adding portal processes never counts a call twice."""

from __future__ import annotations

import asyncio
import logging

from devhub.analytics.rollup import run_until_caught_up
from devhub.db import Database
from devhub.settings import Settings

log = logging.getLogger(__name__)


async def rollup_loop(database: Database, settings: Settings) -> None:
    if settings.usage_rollup_seconds <= 0:
        return
    while True:
        try:
            await asyncio.to_thread(run_until_caught_up, database, settings)
        except Exception:  # the pass rolled back as a whole; the next round starts from the same watermark
            log.exception("usage roll-up failed")
        await asyncio.sleep(settings.usage_rollup_seconds)
