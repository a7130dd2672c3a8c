"""Metering: N calls recorded → exactly N rows once the meter is closed; failed writes are retried."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import create_engine, func, select

from devhub.gateway.metering import CallRecord, Meter
from devhub.gateway.models import GatewayCall


def record(i: int) -> CallRecord:
    return CallRecord(
        at=time.time(),
        app_id=7,
        app_uid="app_x",
        subscription_id=3,
        credential="abc123",
        product_id=1,
        api_ref="api:default/pets",
        version="1.0",
        operation="getPet" if i % 2 else None,
        method="GET",
        path=f"/pets/{i}",
        status=200 if i % 10 else 500,
        latency_ms=1.25,
        bytes_in=0,
        bytes_out=321,
        environment="sandbox",
    )


def test_n_records_make_exactly_n_rows_after_close(db):
    n = 2500

    async def scenario():
        meter = Meter(db.engine, flush_seconds=0.02)
        task = asyncio.create_task(meter.run())
        for i in range(n):
            meter.record(record(i))
            if i % 500 == 0:
                await asyncio.sleep(0.03)  # let some flushes happen while calls keep arriving
        task.cancel()  # shutdown: stop the loop, then flush what is left
        await meter.close()
        return meter

    meter = asyncio.run(scenario())
    assert meter.written == n and meter.dropped == 0 and meter.buffer == []
    with db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(GatewayCall.__table__)) == n
        row = connection.execute(select(GatewayCall.__table__).where(GatewayCall.path == "/pets/11")).one()
    assert (row.operation, row.status, row.bytes_out, row.environment) == ("getPet", 200, 321, "sandbox")
    assert abs(row.at.timestamp() - time.time()) < 60


def test_a_failed_flush_keeps_the_records_up_to_the_bound(tmp_path, db):
    async def scenario():
        broken = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no gateway_calls table
        meter = Meter(broken, max_buffer=5)
        for i in range(4):
            meter.record(record(i))
        assert await meter.flush() == 0
        assert meter.failures == 1 and len(meter.buffer) == 4
        for i in range(4, 8):
            meter.record(record(i))
        assert len(meter.buffer) == 5 and meter.dropped == 3
        meter.engine = db.engine  # the database is back
        await meter.close()
        broken.dispose()
        return meter

    meter = asyncio.run(scenario())
    assert meter.written == 5 and meter.buffer == []
    with db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(GatewayCall.__table__)) == 5


def test_a_flush_sets_the_credentials_last_use_without_moving_the_access_version(world):
    from devhub.apps.models import AccessState, ApiKey, ClientCredential

    key_id = world.key_id("keys-test")
    with world.db.engine.connect() as connection:
        version = connection.scalar(select(AccessState.version))
    at = time.time() - 30

    async def scenario():
        meter = Meter(world.db.engine)
        for i, credential in enumerate([key_id, key_id, world.clients["partner"][0], "anonymous"]):
            rec = record(i)
            rec.credential, rec.at = credential, at + i
            meter.record(rec)
        await meter.close()

    asyncio.run(scenario())
    with world.db.engine.connect() as connection:
        used = connection.scalar(select(ApiKey.last_used_at).where(ApiKey.key_id == key_id))
        assert connection.scalar(select(AccessState.version)) == version  # no gateway reloads for this
        others = connection.scalar(select(func.count()).where(ApiKey.last_used_at.is_not(None)))
        client_used = connection.scalar(
            select(ClientCredential.last_used_at).where(ClientCredential.client_id == world.clients["partner"][0])
        )
    assert abs(used.timestamp() - (at + 1)) < 0.01 and others == 1
    assert abs(client_used.timestamp() - (at + 2)) < 0.01


def test_a_call_with_a_client_credentials_token_sets_the_clients_last_use(world):
    """Through the real gateway: a call authenticated by an access token issued to an OAuth2 client is
    recorded under the client id, and the flush sets that client's `last_used_at` (not a key's)."""
    from http.server import BaseHTTPRequestHandler

    import httpx

    from devhub.apps import service as apps
    from devhub.apps.models import AccessState, ApiKey, ClientCredential, Product
    from devhub.apps.schemas import ProductUpdate
    from devhub.audit.service import SYSTEM
    from devhub.identity.policy import OPERATOR
    from tests.gateway.running import RunningGateway
    from tests.loopback import http_server

    class Upstream(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    with http_server(Upstream) as upstream:
        with world.db.session() as session:
            payments = session.get(Product, world.products["payments"])
            update = ProductUpdate(sandbox_url=f"{upstream}/base")
            apps.update_product(session, OPERATOR, payments, update, SYSTEM)
        client_id = world.clients["partner"][0]
        token = world.token()
        with world.db.engine.connect() as connection:
            version = connection.scalar(select(AccessState.version))
        gateway = RunningGateway(world.settings, world.db.engine)
        try:
            before = time.time()
            with httpx.Client(base_url=gateway.url, timeout=10) as http:
                ok = http.get("/payments/charges", headers={"authorization": f"Bearer {token}"})
                refused = http.get("/payments/charges", headers={"authorization": "Bearer not-a-token"})
            assert ok.status_code == 200, ok.text
            assert refused.status_code == 401
        finally:
            gateway.stop()  # flushes metering
    with world.db.engine.connect() as connection:
        recorded = connection.execute(select(GatewayCall.credential, GatewayCall.status)).all()
        used = connection.scalar(select(ClientCredential.last_used_at).where(ClientCredential.client_id == client_id))
        keys_used = connection.scalar(select(func.count()).where(ApiKey.last_used_at.is_not(None)))
        assert connection.scalar(select(AccessState.version)) == version  # no gateway reloads for this
    assert (client_id, 200) in recorded
    assert used is not None and before - 1 <= used.timestamp() <= time.time() and keys_used == 0
