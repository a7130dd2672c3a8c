"""Remembered resources on SQLite and PostgreSQL: lifecycle, per credential and version, bounds, reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from devhub.apps import credentials
from devhub.apps import service as apps
from devhub.apps.schemas import ApplicationIn
from devhub.audit.service import SYSTEM
from devhub.identity.deps import principal_for
from devhub.identity.models import User
from devhub.sandbox.models import sandbox_items
from tests.conftest import bearer, make_account
from tests.sandbox.conftest import signed
from tests.sandbox.specs import ORDERS_30

BASE = "/sandbox/default/orders/1.0.0"
ORDER = {"item": "tea", "quantity": 2}


@pytest.fixture
def orders(published, settings):
    return published("orders", ORDERS_30)


def test_a_created_order_is_seen_changed_listed_and_deleted(client, orders, settings):
    me = signed(settings, "key-1", orders)
    created = client.post(f"{BASE}/orders", json=ORDER, headers=me)
    assert created.status_code == 201
    order = created.json()
    assert order["item"] == "tea" and order["quantity"] == 2 and "id" in order
    path = f"{BASE}/orders/{order['id']}"
    assert client.get(path, headers=me).json() == order

    replaced = client.put(path, json={"item": "coffee", "quantity": 3}, headers=me)
    assert replaced.status_code == 200 and replaced.json() == {"item": "coffee", "quantity": 3, "id": order["id"]}
    patched = client.patch(
        path, content=b'{"quantity": 4, "note": "hot"}', headers={**me, "content-type": "application/merge-patch+json"}
    )
    assert patched.json() == {"item": "coffee", "quantity": 4, "note": "hot", "id": order["id"]}

    second = client.post(f"{BASE}/orders", json={"item": "cake", "quantity": 1}, headers=me).json()
    listed = client.get(f"{BASE}/orders", params={"status": "open"}, headers={**me, "x-trace": "0a1b2c3d"}).json()
    assert [o["item"] for o in listed] == ["coffee", "cake"]

    assert client.delete(path, headers=me).status_code == 204
    gone = client.get(path, headers=me)
    assert gone.status_code == 404 and gone.json()["status"] == 404
    assert client.delete(path, headers=me).status_code == 404
    assert client.get(f"{BASE}/orders/{second['id']}", headers=me).json()["item"] == "cake"
    again = client.post(f"{BASE}/orders", json={**ORDER, "id": second["id"]}, headers=me)
    assert again.status_code in (400, 409)  # id is readOnly: refused as invalid (or, were it writable, as taken)


def test_each_credential_and_version_has_its_own_data(client, orders, published, settings):
    mine, theirs = signed(settings, "key-1", orders), signed(settings, "key-2", orders)
    order = client.post(f"{BASE}/orders", json=ORDER, headers=mine).json()
    seen_by_other = client.get(f"{BASE}/orders/{order['id']}", headers=theirs)
    assert seen_by_other.status_code == 200 and seen_by_other.json() != order  # generated, not mine
    published("orders", ORDERS_30, version="2.0.0")
    v2 = signed(settings, "key-1", orders, "2.0.0")
    assert client.get(f"/sandbox/default/orders/2.0.0/orders/{order['id']}", headers=v2).json() != order


def test_the_sandbox_keeps_a_bounded_number_of_items(client, orders, settings, db):
    client.app.state.sandbox = None
    settings.sandbox_max_items = 10
    me = signed(settings, "key-1", orders)
    ids = [
        client.post(f"{BASE}/orders", json={**ORDER, "quantity": 1 + i % 9}, headers=me).json()["id"] for i in range(12)
    ]
    with db.engine.connect() as connection:
        rows = connection.execute(sandbox_items.select().where(sandbox_items.c.credential == "key-1")).all()
    assert len(rows) == 10
    assert client.get(f"{BASE}/orders/{ids[-1]}", headers=me).status_code == 200
    assert client.get(f"{BASE}/orders/{ids[0]}", headers=me).status_code == 404  # the oldest went first
    big = client.post(f"{BASE}/orders", json={**ORDER, "note": "x" * 70_000}, headers=me)
    assert big.status_code == 413


def _developer_with_key(db, settings, email: str) -> tuple[int, str]:
    user_id = make_account(db, settings, email)
    with db.session() as session:
        owner = principal_for(session, session.get(User, user_id))
        app = apps.create_app(session, owner, ApplicationIn(name=f"app of {email}"), SYSTEM)
        key = credentials.create_key(session, app, "sandbox", "default", SYSTEM).key.key_id
    return user_id, key


def test_developers_reset_their_own_data_by_rest(client, orders, settings, db):
    alice, alice_key = _developer_with_key(db, settings, "alice@example.com")
    _, bob_key = _developer_with_key(db, settings, "bob@example.com")
    for key in (alice_key, bob_key):
        client.post(f"{BASE}/orders", json=ORDER, headers=signed(settings, key, orders))
    headers = bearer(db, settings, alice, scopes=("read", "write"))
    listed = client.get("/api/v1/sandbox/data", headers=headers).json()["items"]
    last_change = listed[0].pop("last_change")
    assert listed == [{"credential": alice_key, "api": orders, "version": "1.0.0", "items": 1}]
    assert datetime.fromisoformat(last_change) > datetime.now(UTC) - timedelta(minutes=5)
    assert client.get("/api/v1/sandbox/data", params={"credential": bob_key}, headers=headers).status_code == 404
    assert client.delete("/api/v1/sandbox/data", params={"api": "default/orders"}, headers=headers).json() == {
        "deleted": 2  # the item and its collection's marker
    }
    assert client.get("/api/v1/sandbox/data", headers=headers).json()["items"] == []
    with db.engine.connect() as connection:
        left = connection.execute(sandbox_items.select()).all()
    assert {row.credential for row in left} == {bob_key}
    assert client.delete("/api/v1/sandbox/data").status_code == 401
    version_only = client.delete("/api/v1/sandbox/data", params={"version": "1.0.0"}, headers=headers)
    assert version_only.status_code == 400


def test_the_cli_resets_through_the_portal(client, orders, settings, db, monkeypatch):
    alice, key = _developer_with_key(db, settings, "carol@example.com")
    client.post(f"{BASE}/orders", json=ORDER, headers=signed(settings, key, orders))
    token = bearer(db, settings, alice, scopes=("read", "write"))

    def portal_call(method, path, data=None):
        return client.request(method, path, headers=token)

    from devhub.sandbox import cli

    monkeypatch.setattr(cli, "portal_call", portal_call)
    runner = CliRunner()
    shown = runner.invoke(cli.sandbox_app, ["data"])
    assert shown.exit_code == 0 and f"{orders} 1.0.0  {key}  1 items" in shown.output
    reset = runner.invoke(cli.sandbox_app, ["reset", "--api", "default/orders", "--version", "1.0.0"])
    assert reset.exit_code == 0 and "2 rows forgotten" in reset.output
    assert "remembers nothing" in runner.invoke(cli.sandbox_app, ["data"]).output


def test_compiled_definitions_are_cached_and_invalidated(client, orders, settings):
    me = signed(settings, "key-1", orders)
    client.get(f"{BASE}/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427", headers=me)
    sandbox = client.app.state.sandbox
    cached = sandbox.cache.get(("api:default/orders", "1.0.0"), _hash(client, orders))
    assert cached is not None
    sandbox.cache.invalidate("api:default/orders")
    assert len(sandbox.cache) == 0
    client.get(f"{BASE}/orders/1b4e28ba-2fa1-11d2-883f-0016d3cca427", headers=me)
    assert sandbox.cache.get(("api:default/orders", "1.0.0"), _hash(client, orders)) is not cached
    assert sandbox.cache.get(("api:default/orders", "1.0.0"), "another-hash") is None  # re-published: recompiled


def _hash(client, api_ref: str) -> str:
    from sqlalchemy import select

    from devhub.specs.models import SpecVersion

    with client.app.state.db.engine.connect() as connection:
        return connection.scalar(select(SpecVersion.content_hash).where(SpecVersion.api_ref == api_ref))


def test_twilio_style_resources_with_suffixes_form_fields_and_post_updates(client, published, settings):
    from tests.sandbox.specs import MESSAGES

    me = signed(settings, "key-1", published("messages", MESSAGES))
    messages = f"/sandbox/default/messages/1.0.0/Accounts/AC{'0' * 32}/Messages"
    sent = client.post(f"{messages}.json", data={"To": "+15555550100", "Body": "hello"}, headers=me)
    assert sent.status_code == 201
    message = sent.json()
    assert message["to"] == "+15555550100" and message["body"] == "hello"
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert client.get(f"{messages}/{message['sid']}.json", headers=me).json() == message
    updated = client.post(
        f"{messages}/{message['sid']}.json", data={"StatusCallback": "https://example.com/cb"}, headers=me
    )
    assert updated.json() == {**message, "status_callback": "https://example.com/cb"}
    page = client.get(f"{messages}.json", headers=me).json()
    assert page["messages"] == [updated.json()] and isinstance(page["page"], int)
    assert client.delete(f"{messages}/{message['sid']}.json", headers=me).status_code == 204
    assert client.get(f"{messages}.json", headers=me).json()["messages"] == []
