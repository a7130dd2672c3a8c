"""Background refresh of registered locations.

Every portal process runs the loop; a location is refreshed by whichever process first moves its
`next_refresh_at` forward (an atomic UPDATE), so several processes never refresh the same one twice.
"""

from __future__ import annotations

import asyncio
import logging

from devhub.catalog import service
from devhub.db import Database
from devhub.settings import Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 5.0


def refresh_due(database: Database, settings: Settings) -> int:
    """Refresh every location that is due; return how many were refreshed."""
    with database.session() as session:
        due = service.due_locations(session)
    refreshed = 0
    for location_id in due:
        with database.session() as session:
            if not service.claim_location(session, location_id, settings):
                continue
            location = service.get_location(session, location_id)
            report = service.refresh_location(session, settings, location, trusted=True)
        refreshed += 1
        if report.failed:
            log.warning("location %s could not be refreshed: %s", location_id, report.failed)
    return refreshed


async def refresh_loop(database: Database, settings: Settings) -> None:
    if settings.catalog_refresh_seconds <= 0:
        return
    while True:
        try:
            await asyncio.to_thread(refresh_due, database, settings)
        except Exception:  # keep refreshing the others; the error is on the location's page
            log.exception("catalog refresh failed")
        await asyncio.sleep(POLL_SECONDS)
