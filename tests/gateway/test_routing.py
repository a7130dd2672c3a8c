"""Routing through the real gateway: two versions of one API side by side under their own paths, a product
by host name, devhub's built-in sandbox as the sandbox upstream, and the try-it console's tokens."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from devhub.db import Database
from devhub.gateway.models import GatewayCall
from devhub.sandbox.trust import gateway_signature
from devhub.settings import Settings
from tests.apps.test_cli import serve
from tests.conftest import bearer, make_account
from tests.gateway import test_proxy
from tests.gateway.conftest import console_token
from tests.gateway.running import RunningGateway
from tests.sandbox.conftest import publish
from tests.specs.conftest import register_apis

TEAM = "group:default/team-a"
HOST = "payments.example.test"

upstream = test_proxy.upstream  # the loopback echo upstream and the gateway's test settings, shared
gateway_settings = test_proxy.gateway_settings


def _charges(version: str, operation: str, example: dict) -> dict:
    ok = {"description": "the charge", "content": {"application/json": {"example": example}}}
    parameter = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Charges", "version": version},
        "paths": {
            "/charges/{id}": {"get": {"operationId": operation, "parameters": [parameter], "responses": {"200": ok}}}
        },
    }


@dataclass
class Routed:
    key: str  # a sandbox key of an application subscribed to payments
    live_key: str
    key_id: str
    owner: dict[str, str]


@pytest.fixture
def routed(client, db: Database, settings: Settings, tmp_path, upstream) -> Routed:
    """payments offers charges 1.0 at /payments/v1 and 2.0 at /payments/v2, and is reached by HOST too."""
    register_apis(db, settings, tmp_path / "apis", ["charges"])
    publish(db, settings, "charges", _charges("1.0", "getCharge", {"id": "ch_1", "amount": 100}), "1.0")
    publish(db, settings, "charges", _charges("2.0", "getChargeV2", {"id": "ch_1", "amount_cents": 100}), "2.0")
    owner = bearer(
        db, settings, make_account(db, settings, "owner@example.com", teams={TEAM: "owner"}), ("read", "write")
    )
    product = {
        "slug": "payments",
        "name": "Payments",
        "owner": "team-a",
        "visibility": "public",
        "sandbox_url": f"{upstream}/base",
        "hosts": [HOST],
        "apis": [
            {"api": "charges", "version": "1.0", "path": "v1"},
            {"api": "charges", "version": "2.0", "path": "/v2"},
        ],
    }
    response = client.post("/api/v1/products", headers=owner, json=product)
    assert response.status_code == 201, response.text
    assert [api["gateway_prefix"] for api in response.json()["apis"]] == ["/payments/v1", "/payments/v2"]
    assert client.post("/api/v1/products/payments/plans", headers=owner, json={"slug": "free", "name": "Free"})
    developer = bearer(db, settings, make_account(db, settings, "dev@example.com"), scopes=("read", "write"))
    app = client.post("/api/v1/apps", headers=developer, json={"name": "Checkout"}).json()
    subscribed = client.post(
        f"/api/v1/apps/{app['id']}/subscriptions", headers=developer, json={"product": "payments", "plan": "free"}
    )
    assert subscribed.status_code == 201, subscribed.text
    key = app["sandbox_key"]["key"]
    return Routed(key, "dh_live_000000000000_x", key.split("_")[2], owner)


def _gateway(settings: Settings, db: Database, **changes) -> RunningGateway:
    return RunningGateway(settings.model_copy(update=changes), db.engine)


@pytest.fixture
def gateway(routed, db, gateway_settings) -> Iterator[RunningGateway]:
    running = _gateway(gateway_settings, db)
    yield running
    running.stop()


def _rows(db: Database) -> list:
    with db.engine.connect() as connection:
        return connection.execute(select(GatewayCall).order_by(GatewayCall.id)).all()


def test_two_versions_of_one_api_are_served_side_by_side_and_by_host(gateway, routed, db):
    key = {"x-api-key": routed.key}
    with httpx.Client(base_url=gateway.url) as http:
        v1 = http.get("/payments/v1/charges/ch_1", headers=key)
        assert v1.status_code == 200, v1.text
        assert v1.json()["path"] == "/base/v1/charges/ch_1"  # the product prefix goes, the version stays
        by_host = http.get("/v2/charges/ch_1", headers={**key, "host": HOST})
        assert by_host.json()["path"] == "/base/v2/charges/ch_1"
        with_prefix = http.get("/payments/v2/charges/ch_2", headers={**key, "host": f"{HOST.upper()}:8080"})
        assert with_prefix.json()["path"] == "/base/v2/charges/ch_2"
        elsewhere = http.get("/payments/v3/charges/ch_1", headers=key)  # the product's prefix still routes
        assert elsewhere.json()["path"] == "/base/v3/charges/ch_1"
        assert http.get("/v2/charges/ch_1", headers=key).status_code == 404  # no prefix without the host
    gateway.stop()
    rows = _rows(db)
    assert [(row.status, row.version, row.operation) for row in rows] == [
        (200, "1.0", "getCharge"),
        (200, "2.0", "getChargeV2"),
        (200, "2.0", "getChargeV2"),
        (200, None, None),
        (404, None, None),
    ]


def test_the_built_in_sandbox_answers_when_the_product_has_no_sandbox_url(
    client,
    routed,
    db,
    settings,
    gateway_settings,
    upstream,
):
    """No sandbox URL: the gateway calls the portal's /sandbox/{namespace}/{name}/{version}{path} (here the
    loopback echo stands in for the portal) with the credential and its signature for that API version."""
    changed = client.patch("/api/v1/products/payments", headers=routed.owner, json={"sandbox_url": None})
    assert changed.status_code == 200 and changed.json()["sandbox_url"] is None
    token = console_token(db, settings, routed.key_id)  # (the first one makes a signing key: before the start)
    running = _gateway(gateway_settings, db, sandbox_url=f"{upstream}/portal/")
    try:
        with httpx.Client(base_url=running.url) as http:
            seen = http.get("/payments/v2/charges/ch_1?expand=all", headers={"x-api-key": routed.key}).json()
            assert seen["path"] == "/portal/sandbox/default/charges/2.0/charges/ch_1?expand=all"
            headers = seen["headers"]
            assert headers["x-devhub-credential"] == routed.key_id
            expected = gateway_signature(settings.resolved_secret_key, routed.key_id, "api:default/charges", "2.0")
            assert headers["x-devhub-sandbox-signature"] == expected
            # no operation matched: the route's API version answers (and decides what is wrong)
            seen = http.get("/payments/v1/nothing", headers={"x-api-key": routed.key}).json()
            assert seen["path"] == "/portal/sandbox/default/charges/1.0/nothing"
            # a forged signature is replaced, not passed on
            forged = {"x-api-key": routed.key, "x-devhub-sandbox-signature": "0" * 64}
            seen = http.get("/payments/v1/charges/ch_1", headers=forged).json()
            assert seen["headers"]["x-devhub-sandbox-signature"] != "0" * 64
            # the try-it console's token goes the same way, and is not passed on
            seen = http.get("/payments/v1/charges/ch_9", headers={"x-devhub-console-token": token}).json()
            assert seen["path"] == "/portal/sandbox/default/charges/1.0/charges/ch_9"
            assert "x-devhub-console-token" not in seen["headers"] and token not in str(seen)
            # without any API the built-in sandbox has nothing to answer from; production has no upstream
            client.patch("/api/v1/products/payments", headers=routed.owner, json={"apis": []})
            deadline = time.monotonic() + 5
            while "/payments/v1" in running.gateway.store.current.routes:
                assert time.monotonic() < deadline, "the gateway did not reload"
                time.sleep(0.02)
            empty = http.get("/payments/charges/ch_1", headers={"x-api-key": routed.key})
            assert empty.status_code == 503 and "no published API version" in empty.json()["detail"]
    finally:
        running.stop()
    rows = _rows(db)
    assert [(row.status, row.credential, row.version, row.environment) for row in rows] == [
        (200, routed.key_id, "2.0", "sandbox"),
        (200, routed.key_id, "1.0", "sandbox"),
        (200, routed.key_id, "1.0", "sandbox"),
        (200, routed.key_id, "1.0", "sandbox"),
        (503, routed.key_id, None, "sandbox"),
    ]


def test_a_sandbox_key_gets_an_answer_from_the_real_built_in_sandbox(client, routed, db, settings, gateway_settings):
    """End to end: the portal (uvicorn on a free port) serves the sandbox, the gateway calls it."""
    assert (
        client.patch("/api/v1/products/payments", headers=routed.owner, json={"sandbox_url": None}).status_code == 200
    )
    with serve(settings) as portal:
        running = _gateway(gateway_settings, db, sandbox_url=portal, gateway_read_timeout=20.0)
        try:
            with httpx.Client(base_url=running.url, timeout=10) as http:
                v1 = http.get("/payments/v1/charges/ch_1", headers={"x-api-key": routed.key})
                assert v1.status_code == 200, v1.text
                assert v1.json() == {"id": "ch_1", "amount": 100}
                v2 = http.get("/v2/charges/ch_1", headers={"x-api-key": routed.key, "host": HOST})
                assert v2.status_code == 200 and v2.json() == {"id": "ch_1", "amount_cents": 100}
                missing = http.get("/payments/v2/refunds", headers={"x-api-key": routed.key})
                assert missing.status_code == 404  # the sandbox's own answer: no such operation in 2.0
        finally:
            running.stop()
    rows = _rows(db)
    assert [(row.status, row.environment, row.version, row.operation) for row in rows] == [
        (200, "sandbox", "1.0", "getCharge"),
        (200, "sandbox", "2.0", "getChargeV2"),
        (404, "sandbox", "2.0", None),  # no operation matched: the version the call went to
    ]
