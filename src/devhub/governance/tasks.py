"""Background work of governance: deprecation notices to subscribers, checked every few minutes by every
portal process (each stage is sent once, see `notices.py`)."""

from __future__ import annotations

import asyncio
import logging

from devhub.db import Database
from devhub.settings import Settings

log = logging.getLogger(__name__)
POLL_SECONDS = 300


def send_notices(database: Database, settings: Settings) -> int:
    from devhub.governance.notices import send_due_notices

    with database.session() as session:
        return send_due_notices(session, settings)


async def notices_loop(database: Database, settings: Settings) -> None:
    while True:
        try:
            await asyncio.to_thread(send_notices, database, settings)
        except Exception:  # try again next round; a notice is recorded only with the transaction that sends it
            log.exception("deprecation notices failed")
        await asyncio.sleep(POLL_SECONDS)
