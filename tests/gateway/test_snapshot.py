"""The snapshot: routes by path prefix, operations by OpenAPI template, and reloads when access changes."""

from __future__ import annotations

import asyncio
import time

from joserfc.jwk import KeySet

from devhub.apps import credentials
from devhub.apps.models import Application, ProductApi
from devhub.apps.schemas import ProductApiIn, ProductUpdate
from devhub.audit.service import SYSTEM
from devhub.db import Database
from devhub.gateway.auth import Authenticator, Consumer, Rejection
from devhub.gateway.snapshot import Route, Snapshot, SnapshotStore, _build_matchers
from devhub.specs.models import SpecOperation, SpecVersion


def _route(product_id: int, prefix: str) -> Route:
    return Route(product_id, prefix.strip("/"), prefix, {"sandbox": "http://s", "production": None}, None, ())


def test_route_for_takes_the_longest_prefix_on_a_segment_boundary():
    routes = {p: _route(i, p) for i, p in enumerate(["/payments", "/payments/v2", "/pay"])}
    snapshot = Snapshot(1, routes, {}, {}, {}, {}, KeySet([]))
    assert snapshot.route_for("/payments/v2/charges/1") == (routes["/payments/v2"], "/charges/1")
    assert snapshot.route_for("/payments/v1/charges") == (routes["/payments"], "/v1/charges")
    assert snapshot.route_for("/payments") == (routes["/payments"], "/")
    assert snapshot.route_for("/payments/") == (routes["/payments"], "/")
    assert snapshot.route_for("/Payments/V2/Charges") == (routes["/payments/v2"], "/Charges")
    assert snapshot.route_for("/pay/x") == (routes["/pay"], "/x")
    assert snapshot.route_for("/paymentsx/1") is None
    assert snapshot.route_for("/payment") is None
    assert snapshot.route_for("/") is None
    assert snapshot.route_for("") is None


def test_operations_match_literal_paths_before_templates():
    rows = [
        (1, "api:default/pets", "2.0", "get", "/pets/{id}", "getPet"),
        (1, "api:default/pets", "2.0", "get", "/pets/mine", None),
        (1, "api:default/pets", "2.0", "get", "/pets/{id}/toys/{toy}", "getToy"),
        (1, "api:default/pets", "2.0", "post", "/pets", "addPet"),
        (1, "api:default/pets", "2.0", "subscribe", "pets.created", None),  # AsyncAPI: never an HTTP call
        (1, "api:default/pets", "2.0", "get", "/{tenant}/reports", "tenantReports"),
    ]
    snapshot = Snapshot(1, {}, {}, {}, {}, _build_matchers(rows), KeySet([]))
    pets = ("api:default/pets", "2.0")
    assert snapshot.operation_for(1, "GET", "/pets/42") == (*pets, "getPet")
    assert snapshot.operation_for(1, "get", "/pets/mine") == (*pets, "GET /pets/mine")
    assert snapshot.operation_for(1, "GET", "/pets/42/toys/ball/") == (*pets, "getToy")
    assert snapshot.operation_for(1, "POST", "/pets") == (*pets, "addPet")
    assert snapshot.operation_for(1, "GET", "/acme/reports") == (*pets, "tenantReports")
    assert snapshot.operation_for(1, "GET", "/pets/reports") == (*pets, "getPet")
    assert snapshot.operation_for(1, "DELETE", "/pets/1") == (None, None, None)
    assert snapshot.operation_for(1, "GET", "/pets/1/2") == (None, None, None)
    assert snapshot.operation_for(2, "GET", "/pets/1") == (None, None, None)


def _publish(session, ref: str, version: str, operations: list[tuple[str, str, str | None]], at: float) -> None:
    from datetime import UTC, datetime

    row = SpecVersion(
        api_ref=ref,
        version=version,
        format="openapi",
        format_version="3.0.3",
        title=ref,
        content_hash="0" * 64,
        source_kind="api",
        source_name="test",
        original_text="",
        bundled={},
        publisher="test",
        published_at=datetime.fromtimestamp(at, UTC),
        operation_count=len(operations),
    )
    row.operations = [
        SpecOperation(anchor=f"op{i}", method=method, path=path, operation_id=op_id)
        for i, (method, path, op_id) in enumerate(operations)
    ]
    session.add(row)


def test_snapshot_loads_routes_keys_grants_and_the_offered_versions_operations(world):
    now = time.time()
    with world.db.session() as session:
        _publish(session, "api:default/charges", "1.0", [("get", "/charges/{id}", "getCharge")], now - 100)
        _publish(session, "api:default/charges", "2.0", [("get", "/charges/{id}", "getChargeV2")], now - 10)
        _publish(session, "api:default/refunds", "1.0", [("post", "/refunds", None)], now - 100)
        _publish(session, "api:default/refunds", "1.1", [("post", "/refunds", "refundV11")], now - 5)
        session.add(ProductApi(product_id=world.products["payments"], api_ref="api:default/charges"))
        session.add(ProductApi(product_id=world.products["payments"], api_ref="api:default/refunds", version="1.0"))
    snapshot = world.snapshot()
    route, rest = snapshot.route_for("/payments/charges/ch_1")
    assert (route.slug, rest) == ("payments", "/charges/ch_1")
    assert route.upstreams == {"sandbox": "http://127.0.0.1:9/sandbox", "production": "https://payments.example.com"}
    assert route.api_refs == ("api:default/charges", "api:default/refunds")
    assert route.keyless_plan is None and route.challenge.startswith("Bearer")
    weather, _ = snapshot.route_for("/weather/today")
    assert weather.keyless_plan.slug == "anon" and weather.keyless_plan.rate_per_second == 3
    pid = world.products["payments"]
    scope = route.scope
    assert snapshot.operation_for(scope, "GET", "/charges/ch_1") == ("api:default/charges", "2.0", "getChargeV2")
    assert snapshot.operation_for(scope, "POST", "/refunds") == ("api:default/refunds", "1.0", "POST /refunds")
    assert route.apis == (("api:default/charges", "2.0"), ("api:default/refunds", "1.0"))

    # publishing a version does not touch the access token: the store notices it by the newest version id
    store = SnapshotStore(world.db.engine)
    with world.db.session() as session:
        _publish(session, "api:default/charges", "3.0", [("get", "/charges/{id}", "getChargeV3")], now)
    assert store.refresh() is True and store.refresh() is False
    assert store.current.operation_for(scope, "GET", "/charges/1") == ("api:default/charges", "3.0", "getChargeV3")

    entry = snapshot.key(world.key_id("keys-test"))
    assert entry.environment == "sandbox" and entry.app_id == world.apps["keys"] and not entry.revoked
    grant = snapshot.grant(world.apps["keys"], pid)
    assert (grant.state, grant.plan.slug, grant.plan.rate_per_second) == ("approved", "free", 5)
    assert snapshot.grant(world.apps["waiting"], pid).state == "pending"
    assert snapshot.grant(world.apps["keys"], world.products["weather"]) is None
    assert len(snapshot.jwks.keys) == 0  # no token issued yet: no signing key


def test_a_key_revoked_through_the_service_is_refused_after_refresh_by_every_store(world, settings):
    second = Database(world.db.url)  # another gateway process: its own engine and store
    try:
        stores = [SnapshotStore(world.db.engine), SnapshotStore(second.engine)]
        auth = Authenticator(settings)
        headers = {"x-api-key": world.keys["keys-test"]}
        for store in stores:
            assert store.refresh() is False  # nothing moved: one primary-key read
            route, _ = store.current.route_for("/payments/x")
            assert isinstance(auth.authenticate(store.current, route, "GET", headers, {}, time.time()), Consumer)
        with world.db.session() as session:
            app = session.get(Application, world.apps["keys"])
            credentials.revoke_key(session, settings, app, world.key_row("keys-test", session), SYSTEM)
        for store in stores:
            assert store.refresh() is True
            assert store.current.key(world.key_id("keys-test")).revoked
            route, _ = store.current.route_for("/payments/x")
            refused = auth.authenticate(store.current, route, "GET", headers, {}, time.time())
            assert isinstance(refused, Rejection) and refused.status == 401
    finally:
        second.dispose()


def test_watch_picks_up_a_plan_change_within_a_second_and_survives_errors(world, settings):
    async def scenario():
        store = SnapshotStore(world.db.engine, poll_seconds=0.05)
        task = asyncio.create_task(store.watch())
        try:
            pid, app_id = world.products["payments"], world.apps["keys"]
            assert store.current.grant(app_id, pid).plan.rate_per_second == 5
            world.decide("keys", "suspend")
            deadline = time.monotonic() + 1.0
            while store.current.grant(app_id, pid).state != "suspended":
                assert time.monotonic() < deadline, "the suspension did not arrive within 1 s"
                await asyncio.sleep(0.02)
            good = store.current
            store.engine = None  # every refresh now fails: the last good snapshot stays
            await asyncio.sleep(0.2)
            assert store.errors >= 1 and store.current is good
        finally:
            task.cancel()

    asyncio.run(scenario())


def _offer(world, product: str, apis: list[ProductApiIn], hosts: list[str] | None = None) -> None:
    from devhub.apps import service
    from devhub.apps.models import Product
    from devhub.identity.policy import OPERATOR

    with world.db.session() as session:
        row = session.get(Product, world.products[product])
        service.update_product(session, OPERATOR, row, ProductUpdate(apis=apis, hosts=hosts), SYSTEM)


def test_two_versions_of_one_api_side_by_side_and_a_product_by_host(world, apis_in_catalog):
    now = time.time()
    with world.db.session() as session:
        _publish(session, "api:default/charges", "1.0", [("get", "/charges/{id}", "getCharge")], now - 100)
        _publish(session, "api:default/charges", "2.0", [("get", "/charges/{id}", "getChargeV2")], now - 10)
        _publish(session, "api:default/refunds", "1.0", [("post", "/refunds", "refund")], now - 100)
    _offer(
        world,
        "payments",
        [
            ProductApiIn(api="charges", version="1.0", path="/v1"),
            ProductApiIn(api="charges", version="2.0", path="v2/"),
            ProductApiIn(api="refunds"),
        ],
        hosts=["Payments.Example.TEST"],
    )
    snapshot = world.snapshot()
    v1, rest = snapshot.route_for("/payments/v1/charges/ch_1")
    assert (v1.prefix, v1.segment, rest, v1.upstream_path(rest)) == (
        "/payments/v1", "/v1", "/charges/ch_1", "/v1/charges/ch_1"
    )  # fmt: skip
    assert v1.apis == (("api:default/charges", "1.0"),)
    assert snapshot.operation_for(v1.scope, "GET", rest) == ("api:default/charges", "1.0", "getCharge")
    v2, rest = snapshot.route_for("/payments/V2/charges/ch_1")
    assert snapshot.operation_for(v2.scope, "GET", rest) == ("api:default/charges", "2.0", "getChargeV2")
    assert v2.upstream_path("/") == "/v2"
    root, rest = snapshot.route_for("/payments/charges/ch_1")  # charges is offered under /v1 and /v2 only
    assert root.prefix == "/payments" and snapshot.operation_for(root.scope, "GET", rest) == (None, None, None)
    assert snapshot.operation_for(root.scope, "POST", "/refunds") == ("api:default/refunds", "1.0", "refund")
    assert root.apis == (("api:default/refunds", "1.0"),)

    host = "payments.example.test"
    assert snapshot.route_for("/v2/charges/1", host) == (v2, "/charges/1")  # the prefix is optional there
    assert snapshot.route_for("/payments/v2/charges/1", host) == (v2, "/charges/1")
    assert snapshot.route_for("/refunds", host) == (root, "/refunds")
    assert snapshot.route_for("/", host) == (root, "/")
    assert snapshot.route_for("/weather/today", host) == (root, "/weather/today")  # the host names the product
    assert snapshot.route_for("/v2/charges/1") is None and snapshot.route_for("/v2/charges/1", "other.test") is None
    weather, _ = snapshot.route_for("/weather/today", "other.test")
    assert weather.slug == "weather"
