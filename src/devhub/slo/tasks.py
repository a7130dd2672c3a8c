"""Background work of SLOs: every portal process evaluates them every `DEVHUB_SLO_EVALUATE_SECONDS` (60);
each alert opening and resolution is still announced once (see `alerts.py`)."""

from __future__ import annotations

import asyncio
import logging

from devhub.db import Database
from devhub.settings import Settings

log = logging.getLogger(__name__)


async def evaluate_loop(database: Database, settings: Settings) -> None:
    from devhub.slo.alerts import run_once

    if settings.slo_evaluate_seconds <= 0:
        return
    while True:
        try:
            await asyncio.to_thread(run_once, database, settings)
        except Exception:  # the next round tries again; an episode is recorded only with its announcement
            log.exception("SLO evaluation failed")
        await asyncio.sleep(settings.slo_evaluate_seconds)
