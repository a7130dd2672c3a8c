"""The sandbox data page end to end: items created through a real gateway (in a thread) and the portal's
built-in sandbox (uvicorn on a free port) are listed per credential and API version, and reset by forms,
with and without htmx; another developer neither sees nor resets them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from devhub.sandbox.models import sandbox_items
from tests.apps.test_cli import serve
from tests.conftest import bearer, csrf_for, make_account, sign_in
from tests.gateway.running import RunningGateway
from tests.sandbox.specs import ORDERS_30

ORDER = {"item": "tea", "quantity": 2}


@dataclass
class Developer:
    user_id: int
    app_name: str
    key: str  # the whole sandbox key

    @property
    def key_id(self) -> str:
        return self.key.split("_")[2]


@pytest.fixture
def shop(client, published, db, settings) -> dict[str, Developer]:
    """The orders API offered by the product `shop` (no sandbox URL: devhub's sandbox answers), and two
    developers: alice with two subscribed applications, bob with one."""
    published("orders", ORDERS_30)
    owner_id = make_account(db, settings, "owner@example.com", teams={"group:default/team-a": "owner"})
    owner = bearer(db, settings, owner_id, scopes=("read", "write"))
    product = {"slug": "shop", "name": "Shop", "owner": "team-a", "visibility": "public", "apis": [{"api": "orders"}]}
    assert client.post("/api/v1/products", headers=owner, json=product).status_code == 201
    plan = {"slug": "free", "name": "Free", "rate_per_second": 100}
    assert client.post("/api/v1/products/shop/plans", headers=owner, json=plan).status_code == 201
    developers = {}
    for label, email, app_name in (
        ("alice", "alice@example.com", "Alice's shop"),
        ("alice-2", "alice@example.com", "Alice's other shop"),
        ("bob", "bob@example.com", "Bob's shop"),
    ):
        user_id = developers["alice"].user_id if label == "alice-2" else make_account(db, settings, email)
        token = bearer(db, settings, user_id, scopes=("read", "write"))
        app = client.post("/api/v1/apps", headers=token, json={"name": app_name}).json()
        subscribe = {"product": "shop", "plan": "free"}
        assert client.post(f"/api/v1/apps/{app['id']}/subscriptions", headers=token, json=subscribe).status_code == 201
        developers[label] = Developer(user_id, app_name, app["sandbox_key"]["key"])
    return developers


@pytest.fixture
def gateway(shop, settings, db) -> Iterator[httpx.Client]:
    """A real gateway whose sandbox calls go to the portal served on loopback."""
    with serve(settings) as portal:
        changes = {"sandbox_url": portal, "gateway_poll_seconds": 0.05, "gateway_read_timeout": 20.0}
        running = RunningGateway(settings.model_copy(update=changes), db.engine)
        try:
            with httpx.Client(base_url=running.url, timeout=20) as http:
                yield http
        finally:
            running.stop()


def _create(gateway: httpx.Client, developer: Developer, count: int) -> list[dict]:
    created = []
    for quantity in range(1, count + 1):
        response = gateway.post(
            "/shop/orders", json={**ORDER, "quantity": quantity}, headers={"x-api-key": developer.key}
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


def _rows(db, developer: Developer) -> int:
    with db.engine.connect() as connection:
        query = select(func.count()).where(sandbox_items.c.credential == developer.key_id)
        return connection.scalar(query.select_from(sandbox_items))


def _items_cell(page: str, developer: Developer) -> str | None:
    """The Items cell of the developer's row, or None when the page has no row for that key."""
    row = re.search(rf"<tr>(?:(?!</tr>).)*dh_test_{developer.key_id}(?:(?!</tr>).)*</tr>", page, re.S)
    return re.search(r'<td class="num">(\d+)</td>', row.group(0)).group(1) if row else None


def test_developers_see_and_reset_their_sandbox_data_and_nobody_elses(client, shop, gateway, db, settings):
    alice, alice_2, bob = shop["alice"], shop["alice-2"], shop["bob"]
    orders = _create(gateway, alice, 2)
    _create(gateway, alice_2, 1)
    _create(gateway, bob, 3)

    # Signed out: sign in first, and come back.
    page = client.get("/sandbox/data", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Fsandbox%2Fdata"

    sign_in(client, db, settings, alice.user_id)
    page = client.get("/sandbox/data").text
    assert _items_cell(page, alice) == "2" and _items_cell(page, alice_2) == "1"
    assert _items_cell(page, bob) is None and "Bob's shop" not in page
    assert "Alice&#39;s shop" in page and 'href="/apis/default/orders/v/1.0.0"' in page
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', page), "the last change is shown"
    assert page.count('action="/sandbox/data/reset"') == 3  # a reset per row, and one for all

    # Bob sees an empty page, and cannot reset Alice's data by naming her key (page or htmx).
    client.cookies.clear()
    sign_in(client, db, settings, bob.user_id)
    bobs = client.get("/sandbox/data").text
    assert _items_cell(bobs, bob) == "3" and alice.key_id not in bobs and "Alice" not in bobs
    csrf = csrf_for(client, settings)
    stolen = {"credential": alice.key_id, "api": "default/orders", "version": "1.0.0", "csrf_token": csrf}
    assert client.post("/sandbox/data/reset", data=stolen).status_code == 404
    refused = client.post("/sandbox/data/reset", data=stolen, headers={"HX-Request": "true"})
    assert refused.status_code == 200 and "no sandbox credential" in refused.text
    assert _rows(db, alice) == 3  # two orders and the collection's marker

    # Alice resets one row with htmx: the section comes back without it; her other row stays.
    client.cookies.clear()
    sign_in(client, db, settings, alice.user_id)
    csrf = csrf_for(client, settings)
    assert client.post("/sandbox/data/reset", data={"credential": alice.key_id}).status_code == 403  # no CSRF token
    one = {"credential": alice.key_id, "api": "default/orders", "version": "1.0.0", "csrf_token": csrf}
    fragment = client.post("/sandbox/data/reset", data=one, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<section id="sandbox-data"')
    assert "forgot 3 rows" in fragment.text and "<html" not in fragment.text
    assert _items_cell(fragment.text, alice) is None and _items_cell(fragment.text, alice_2) == "1"
    assert _rows(db, alice) == 0 and _rows(db, bob) == 4
    again = gateway.get(f"/shop/orders/{orders[0]['id']}", headers={"x-api-key": alice.key})
    assert again.status_code == 200 and again.json() != orders[0], "generated again, not remembered"

    # Reset all, without JavaScript: a redirect back to the page, which says so and is empty.
    reset = client.post("/sandbox/data/reset", data={"csrf_token": csrf}, follow_redirects=False)
    assert reset.status_code == 303 and reset.headers["location"] == "/sandbox/data?deleted=2"
    empty = client.get(reset.headers["location"]).text
    assert "forgot 2 rows" in empty and "The sandbox remembers nothing for your applications" in empty
    assert 'action="/sandbox/data/reset"' not in empty
    assert _rows(db, alice_2) == 0 and _rows(db, bob) == 4
