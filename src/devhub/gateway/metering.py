"""Metering: one record per call (proxied or refused by the gateway), buffered in memory and written to `gateway_calls` in batches.

Why a buffer: a database write per call would put the database's latency and capacity on the hot path
(a few hundred µs to ms per insert, against a budget of tens of µs for everything the gateway adds). A
call costs one list append here; a background task swaps the list out every `flush_seconds` and inserts
it in a worker thread with the driver's own bulk path (COPY on PostgreSQL, executemany on SQLite), off
the event loop. A failed flush puts its records back for the next try, up to `max_buffer` records in all; beyond that new records are dropped and
counted (`dropped`), so a database outage cannot exhaust the gateway's memory. `close()` (graceful
shutdown) waits for a flush in flight and writes what is left, so N calls leave exactly N rows. Each flush
also sets `last_used_at` of the API keys and OAuth2 clients it saw (one UPDATE per credential in the batch,
not per call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import bindparam, or_, update
from sqlalchemy.engine import Engine

from devhub.apps.models import ApiKey, ClientCredential
from devhub.gateway.models import GatewayCall

log = logging.getLogger(__name__)

_REFUSED_BY_AUTH = frozenset({401, 403})  # a refused revoked or unsubscribed credential was not "used"
# What a call record's `credential` names (keyless calls read "anonymous"): an API key's id, or the client id
# of an OAuth2 client (its access tokens and console tokens naming it are recorded under it).
_KEY_ID = re.compile("[0-9a-f]{12}")
_CLIENT_ID = re.compile("dhc_[a-z]+_[0-9a-f]+")
_USED_BY = (  # credential pattern, table, column of that id
    (_KEY_ID, ApiKey.__table__, "key_id"),
    (_CLIENT_ID, ClientCredential.__table__, "client_id"),
)


@dataclass(slots=True)
class CallRecord:
    at: float  # epoch seconds (time.time()) when the call arrived
    app_id: int | None
    app_uid: str | None
    subscription_id: int | None
    credential: str | None
    product_id: int | None
    api_ref: str | None
    version: str | None
    operation: str | None
    method: str
    path: str
    status: int
    latency_ms: float
    bytes_in: int = 0
    bytes_out: int = 0
    environment: str | None = None
    request_id: str | None = None  # X-Request-ID as answered to the caller


COLUMNS = (
    "at", "app_id", "app_uid", "subscription_id", "credential", "product_id", "api_ref", "version", "operation",
    "method", "path", "status", "latency_ms", "bytes_in", "bytes_out", "environment", "request_id",
)  # fmt: skip


def _row(rec: CallRecord, at) -> tuple:
    """One row as a plain tuple, in COLUMNS order (the driver's own executemany or COPY takes tuples)."""
    return (
        at,
        rec.app_id,
        rec.app_uid,
        rec.subscription_id,
        rec.credential[:64] if rec.credential else rec.credential,
        rec.product_id,
        rec.api_ref,
        rec.version,
        rec.operation[:1024] if rec.operation else rec.operation,
        rec.method[:16],
        rec.path[:2048],
        rec.status,
        float(rec.latency_ms),
        rec.bytes_in,
        rec.bytes_out,
        rec.environment,
        rec.request_id,
    )


def _at(epoch: float, to_column):
    """The call's time as the column stores it (an aware datetime; SQLite's text form via SQLAlchemy's own
    processor, so rows written here read back like any other)."""
    value = datetime.fromtimestamp(epoch, UTC)
    return to_column(value) if to_column is not None else value


class Meter:
    def __init__(self, engine: Engine, flush_seconds: float = 1.0, max_buffer: int = 100_000) -> None:
        self.engine = engine
        self.flush_seconds = flush_seconds
        self.max_buffer = max_buffer
        self.buffer: list[CallRecord] = []
        self.written = 0  # rows inserted (metrics)
        self.dropped = 0  # records lost because the buffer was full
        self.failures = 0  # failed flushes
        self._lock: asyncio.Lock | None = None
        self._inflight: asyncio.Future | None = None

    def record(self, rec: CallRecord) -> None:
        """Keep a call for the next flush: a list append, safe without a lock inside one event loop."""
        if len(self.buffer) >= self.max_buffer:
            self.dropped += 1
            return
        self.buffer.append(rec)

    def _insert(self, batch: list[CallRecord]) -> None:
        """Write a batch with the driver itself: COPY on PostgreSQL, the sqlite3 module's executemany on
        SQLite. Core's executemany cost ~50 µs of CPU per row in the flush thread, which holds the GIL and
        so stalls the event loop; the drivers' own bulk paths run mostly in C."""
        dialect = self.engine.dialect
        to_column = GatewayCall.__table__.c.at.type.dialect_impl(dialect).bind_processor(dialect)
        rows = [_row(rec, _at(rec.at, to_column)) for rec in batch]
        names = ", ".join(COLUMNS)
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            if dialect.name == "postgresql":
                with cursor.copy(f"COPY gateway_calls ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in COLUMNS)
                cursor.executemany(f"INSERT INTO gateway_calls ({names}) VALUES ({marks})", rows)
            raw.commit()
        except BaseException:
            raw.rollback()
            raise
        finally:
            raw.close()
        try:
            self._mark_credentials_used(batch)
        except Exception:  # best effort: "last used" on the application's page is not worth retrying calls for
            log.exception("metering: updating credentials' last use failed")

    def _mark_credentials_used(self, batch: list[CallRecord]) -> None:
        """Set `last_used_at` of the API keys and OAuth2 clients in the batch to their latest call, with Core
        (no ORM event: the access token stays, so this does not make every gateway reload), keys then clients,
        each in id order (no deadlock between gateway processes)."""
        last: dict[str, float] = {}
        for rec in batch:
            credential = rec.credential
            if rec.status in _REFUSED_BY_AUTH or not credential:
                continue
            if rec.at > last.get(credential, 0.0):
                last[credential] = rec.at
        updates = []
        for pattern, table, column in _USED_BY:
            rows = [
                {"i": credential, "t": datetime.fromtimestamp(at, UTC)}
                for credential, at in sorted(last.items())
                if pattern.fullmatch(credential)
            ]
            if rows:
                statement = (
                    update(table)
                    .where(table.c[column] == bindparam("i"))
                    .where(or_(table.c.last_used_at.is_(None), table.c.last_used_at < bindparam("t")))
                    .values(last_used_at=bindparam("t"))
                )
                updates.append((statement, rows))
        if not updates:
            return
        with self.engine.begin() as connection:
            for statement, rows in updates:
                connection.execute(statement, rows)

    async def flush(self) -> int:
        """Write what is buffered now; returns the number of rows written."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            batch, self.buffer = self.buffer, []
            if not batch:
                return 0
            # Shielded: cancelling run() must not abandon a batch whose insert is under way in its thread;
            # the outcome is settled by a callback whoever is still waiting.
            inflight = self._inflight = asyncio.ensure_future(asyncio.to_thread(self._insert, batch))
            inflight.add_done_callback(partial(self._settle, batch))
            try:
                await asyncio.shield(inflight)
            except Exception:
                return 0
            return len(batch)

    def _settle(self, batch: list[CallRecord], inflight: asyncio.Future) -> None:
        exc = None if inflight.cancelled() else inflight.exception()
        if exc is None and not inflight.cancelled():
            self.written += len(batch)
            return
        self.failures += 1
        log.error("metering: writing %d call records failed (%s); keeping them for the next flush", len(batch), exc)
        self.buffer = batch + self.buffer
        if len(self.buffer) > self.max_buffer:
            excess = len(self.buffer) - self.max_buffer
            self.dropped += excess
            del self.buffer[:excess]  # the oldest go first

    async def run(self) -> None:
        """Flush every `flush_seconds` until cancelled (run it as a task)."""
        while True:
            await asyncio.sleep(self.flush_seconds)
            await self.flush()

    async def close(self) -> None:
        """Graceful shutdown: wait for a write in flight, then write everything left."""
        inflight = self._inflight
        if inflight is not None and not inflight.done():
            with contextlib.suppress(Exception):  # a failed batch is put back by `_settle`
                await inflight
        await self.flush()
