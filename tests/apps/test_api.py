"""Self-serve access through the REST API: products, applications, subscriptions, keys, on both databases."""

from __future__ import annotations

from datetime import timedelta

from devhub.apps import credentials
from devhub.db import utcnow
from devhub.mail.models import OutboxMessage
from devhub.notify.models import Notification
from tests.apps.conftest import TEAM


def verify(db, key: str, now=None):
    with db.session() as session:
        match = credentials.verify_key(session, key, now)
        return None if match is None else (match.application.uid, match.key.environment)


def test_a_developer_gets_a_sandbox_key_at_once_and_production_after_approval(db, settings, access):
    dev = access.developer(db, settings, "dev@example.com")
    app = access.new_app(dev, callback_urls=["https://checkout.example.com/cb"])
    key = app["sandbox_key"]["key"]
    key_id, _, secret = key.removeprefix("dh_test_").partition("_")
    assert key.startswith("dh_test_") and len(secret) >= 32  # 192 random bits, url-safe base64
    assert verify(db, key) == (app["id"], "sandbox")
    assert app["sandbox_client"]["client_secret"].startswith("dhs_")
    shown_again = access.client.get(f"/api/v1/apps/{app['id']}", headers=dev).json()
    assert key not in str(shown_again) and shown_again["keys"][0]["prefix"] == f"dh_test_{key_id}"

    refused = access.client.post(f"/api/v1/apps/{app['id']}/keys", headers=dev, json={"environment": "production"})
    assert refused.status_code == 409 and "approved subscription" in refused.json()["detail"]

    pending = access.subscribe(dev, app["id"], "gold")
    assert pending["state"] == "pending"
    queue = access.client.get("/api/v1/subscriptions", headers=access.owner).json()
    assert [s["id"] for s in queue["items"]] == [pending["id"]]
    assert access.client.get("/api/v1/subscriptions", headers=dev).json()["items"] == []  # not the dev's product
    dev_cannot_approve = access.client.post(
        f"/api/v1/subscriptions/{pending['id']}/decision", headers=dev, json={"action": "approve"}
    )
    assert dev_cannot_approve.status_code == 403

    approved = access.client.post(
        f"/api/v1/subscriptions/{pending['id']}/decision", headers=access.owner, json={"action": "approve"}
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    live = access.client.post(f"/api/v1/apps/{app['id']}/keys", headers=dev, json={"environment": "production"})
    assert live.status_code == 201 and live.json()["key"].startswith("dh_live_")
    assert verify(db, live.json()["key"]) == (app["id"], "production")

    with db.session() as session:  # the developer was told in the portal and by mail; the owner of the request
        notes = {n.subject for n in session.query(Notification)}
        mail = {(m.to, m.subject) for m in session.query(OutboxMessage)}
    assert "Access approved: Checkout → Payments (Gold)" in notes
    assert ("dev@example.com", "Access approved: Checkout → Payments (Gold)") in mail
    assert ("owner@example.com", "Access request: Checkout → Payments (Gold)") in mail
    mine = access.client.get("/api/v1/notifications?unread=true", headers=dev).json()
    assert mine["unread"] == 2 and access.client.post("/api/v1/notifications/read", headers=dev).json()["marked"] == 2


def test_automatic_plans_grant_at_once_and_one_plan_per_product(db, settings, access):
    dev = access.developer(db, settings, "dev@example.com")
    app = access.new_app(dev)
    assert access.subscribe(dev, app["id"], "free")["state"] == "approved"
    again = access.subscribe(dev, app["id"], "gold", expected=409)
    assert "already holds the Free plan" in again["detail"]


def test_states_reasons_and_cancelling(db, settings, access):
    dev = access.developer(db, settings, "dev@example.com")
    app = access.new_app(dev)
    sub = access.subscribe(dev, app["id"], "gold")
    decide = lambda headers, **body: access.client.post(  # noqa: E731
        f"/api/v1/subscriptions/{sub['id']}/decision", headers=headers, json=body
    )
    assert decide(access.owner, action="reject").status_code == 422  # a refusal needs a reason
    assert decide(access.owner, action="suspend", reason="abuse").status_code == 409  # pending cannot be suspended
    rejected = decide(access.owner, action="reject", reason="use the free plan").json()
    assert (rejected["state"], rejected["reason"]) == ("rejected", "use the free plan")
    assert access.subscribe(dev, app["id"], "gold")["state"] == "pending"  # asking again reopens it
    assert decide(access.owner, action="approve").json()["state"] == "approved"
    assert decide(access.owner, action="suspend", reason="unpaid").json()["state"] == "suspended"
    assert decide(access.owner, action="resume").json()["state"] == "approved"
    cancelled = decide(dev, action="revoke").json()  # the developer cancels; no reason needed from them
    assert (cancelled["state"], cancelled["reason"]) == ("revoked", "cancelled by dev@example.com")


def test_rotation_grace_expiry_and_revocation(db, settings, access):
    dev = access.developer(db, settings, "dev@example.com")
    app = access.new_app(dev)
    old_key, old_id = app["sandbox_key"]["key"], app["sandbox_key"]["id"]
    rotated = access.client.post(f"/api/v1/apps/{app['id']}/keys/{old_id}/rotate", headers=dev).json()
    assert verify(db, rotated["key"]) and verify(db, old_key)  # the old key works through the grace period
    assert verify(db, old_key, utcnow() + timedelta(hours=settings.key_rotation_grace_hours, minutes=1)) is None
    keys = {k["id"]: k["status"] for k in access.client.get(f"/api/v1/apps/{app['id']}", headers=dev).json()["keys"]}
    assert keys == {old_id: "grace", rotated["id"]: "active"}
    twice = access.client.post(f"/api/v1/apps/{app['id']}/keys/{old_id}/rotate", headers=dev)
    assert twice.status_code == 409

    expiring = access.client.post(f"/api/v1/apps/{app['id']}/keys", headers=dev, json={"expires_in_days": 1}).json()
    assert verify(db, expiring["key"]) and verify(db, expiring["key"], utcnow() + timedelta(days=2)) is None

    revoke = access.client.delete(f"/api/v1/apps/{app['id']}/keys/{rotated['id']}", headers=dev)
    assert revoke.status_code == 204 and verify(db, rotated["key"]) is None
    assert verify(db, rotated["key"][:-1] + ("A" if rotated["key"][-1] != "A" else "B")) is None  # one char off
    assert verify(db, "dh_live_" + rotated["key"][len("dh_test_") :]) is None  # wrong environment prefix

    assert access.client.delete(f"/api/v1/apps/{app['id']}", headers=dev).status_code == 204
    assert verify(db, expiring["key"]) is None  # deleting the application ends its keys


def test_developers_never_see_each_others_applications(db, settings, access):
    alice = access.developer(db, settings, "alice@example.com")
    bob = access.developer(db, settings, "bob@example.com")
    team_mate = access.developer(db, settings, "carol@example.com", teams={"group:default/team-b": "member"})
    team_b = access.developer(db, settings, "dave@example.com", teams={"group:default/team-b": "member"})
    app = access.new_app(alice)
    shared = access.new_app(team_mate, name="Team B app", team="team-b")
    for path in (f"/api/v1/apps/{app['id']}", f"/api/v1/apps/{app['id']}/keys"):
        method = access.client.get if path.endswith(app["id"]) else access.client.post
        assert method(path, headers=bob, **({} if method == access.client.get else {"json": {}})).status_code == 404
    assert access.client.get("/api/v1/apps", headers=bob).json()["items"] == []
    assert [a["id"] for a in access.client.get("/api/v1/apps", headers=team_b).json()["items"]] == [shared["id"]]
    sub = access.subscribe(alice, app["id"], "gold")
    assert access.client.get(f"/api/v1/subscriptions/{sub['id']}", headers=bob).status_code == 404
    not_a_member = access.client.post("/api/v1/apps", headers=bob, json={"name": "x", "team": "team-b"})
    assert not_a_member.status_code == 403


def test_products_validate_and_hide_what_they_must(db, settings, access, client):
    bad = client.post(
        "/api/v1/products", headers=access.owner, json={"slug": "Bad Slug", "name": "x", "owner": "team-a"}
    )
    assert bad.status_code == 422
    again = client.post(
        "/api/v1/products", headers=access.owner, json={"slug": "payments", "name": "x", "owner": "team-a"}
    )
    assert again.status_code == 409
    no_api = {"slug": "other", "name": "x", "owner": "team-a", "apis": [{"api": "nope"}]}
    assert (
        "no API api:default/nope" in client.post("/api/v1/products", headers=access.owner, json=no_api).json()["detail"]
    )
    not_mine = {"slug": "stolen", "name": "x", "owner": "team-z"}
    assert client.post("/api/v1/products", headers=access.owner, json=not_mine).status_code == 403
    private = {"slug": "secret-deal", "name": "Secret deal", "owner": "team-a", "visibility": "private"}
    assert client.post("/api/v1/products", headers=access.owner, json=private).status_code == 201
    dev = access.developer(db, settings, "dev@example.com")
    assert [p["slug"] for p in client.get("/api/v1/products", headers=dev).json()["items"]] == ["payments"]
    assert client.get("/api/v1/products/secret-deal", headers=dev).status_code == 404
    assert client.get("/api/v1/products/secret-deal", headers=access.owner).status_code == 200
    limits = client.patch("/api/v1/products/payments/plans/free", headers=access.owner, json={"rate_per_second": None})
    assert limits.json()["rate_per_second"] is None and limits.json()["quota_per_day"] == 1000
    assert client.patch("/api/v1/products/payments/plans/free", headers=dev, json={"name": "x"}).status_code == 403
    with db.session() as session:
        from devhub.apps.models import Product

        assert session.query(Product).filter_by(slug="payments").one().owner_ref == TEAM


def test_every_access_change_moves_the_token_the_gateway_polls(db, settings, access):
    from devhub.apps.models import access_version

    def version():
        with db.session() as session:
            return access_version(session)

    dev = access.developer(db, settings, "dev@example.com")
    before = version()
    app = access.new_app(dev)
    after_app = version()
    assert after_app not in (0, before)
    access.client.post("/api/v1/notifications/read", headers=dev)  # not an access change
    assert version() == after_app
    access.client.delete(f"/api/v1/apps/{app['id']}/keys/{app['sandbox_key']['id']}", headers=dev)
    assert version() != after_app


def test_revoking_a_developer_stops_their_applications_keys(db, settings, access):
    from devhub.apps.models import access_version
    from devhub.audit.service import SYSTEM
    from devhub.gateway.snapshot import load_snapshot
    from devhub.identity import service as identity

    dev = access.developer(db, settings, "dev@example.com")
    app = access.new_app(dev)
    key_id = app["sandbox_key"]["id"]
    assert load_snapshot(db.engine).key(key_id) is not None
    with db.session() as session:
        before = access_version(session)
        identity.set_status(session, settings, identity.find_user(session, "dev@example.com"), "revoked", SYSTEM)
    with db.session() as session:
        assert access_version(session) != before  # the gateway reloads
    assert load_snapshot(db.engine).key(key_id) is None
