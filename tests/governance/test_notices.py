"""Deprecation notices reach exactly the subscribers of the deprecated API, once per stage."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from devhub.db import utcnow
from devhub.governance.notices import send_due_notices
from devhub.notify.models import Notification
from tests.conftest import bearer, make_account
from tests.specs.conftest import register_apis

SPECS = Path(__file__).parent / "specs"


def test_subscribers_are_told_at_deprecation_and_before_the_sunset(client, db, settings, tmp_path):
    register_apis(db, settings, tmp_path / "catalog", ["pets", "other"])
    owner = bearer(
        db,
        settings,
        make_account(db, settings, "owner@example.com", teams={"group:default/team-a": "member"}),
        scopes=("read", "write"),
    )
    text = (SPECS / "pets-1.0.0.yaml").read_text()
    assert (
        client.post(
            "/api/v1/apis/default/pets/versions", headers=owner, json={"version": "1.0.0", "definition": text}
        ).status_code
        == 201
    )
    for slug, api in (("pets", "pets"), ("others", "other")):
        product = {"slug": slug, "name": slug, "owner": "team-a", "visibility": "public", "apis": [{"api": api}]}
        assert client.post("/api/v1/products", headers=owner, json=product).status_code == 201
        assert (
            client.post(
                f"/api/v1/products/{slug}/plans", headers=owner, json={"slug": "free", "name": "Free"}
            ).status_code
            == 201
        )
    subscriber = bearer(db, settings, make_account(db, settings, "sub@example.com"), scopes=("read", "write"))
    bystander = bearer(db, settings, make_account(db, settings, "by@example.com"), scopes=("read", "write"))
    for headers, product in ((subscriber, "pets"), (bystander, "others")):
        app = client.post("/api/v1/apps", headers=headers, json={"name": f"{product} app"}).json()
        client.post(
            f"/api/v1/apps/{app['id']}/subscriptions", headers=headers, json={"product": product, "plan": "free"}
        )

    sunset = (utcnow() + timedelta(days=60)).date().isoformat()
    put = client.put(
        "/api/v1/apis/default/pets/versions/1.0.0/deprecation",
        headers=owner,
        json={"sunset": sunset, "reason": "v2 is out", "replacement": "pets 2.0.0"},
    )
    assert put.status_code == 200, put.text

    with db.session() as session:
        assert send_due_notices(session, settings) == 1  # the announcement, to the one subscriber
        assert send_due_notices(session, settings) == 0  # once
        assert send_due_notices(session, settings, utcnow() + timedelta(days=20)) == 0  # 40 days left: nothing due
        assert send_due_notices(session, settings, utcnow() + timedelta(days=54)) == 1  # 6 days left: the 7-day one
        assert send_due_notices(session, settings, utcnow() + timedelta(days=55)) == 0
        assert send_due_notices(session, settings, utcnow() + timedelta(days=61)) == 0  # past the sunset
        deprecated = Notification.subject.startswith("Deprecated")
        rows = session.execute(
            select(Notification.user_id, Notification.subject, Notification.body).where(deprecated)
        ).all()
    assert len(rows) == 2 and all(subject.startswith("Deprecated: api:default/pets 1.0.0") for _, subject, _ in rows)
    assert f"stops working on {sunset}" in rows[0][1] and "Use instead: pets 2.0.0" in rows[0][2]
    told = lambda headers: [n["subject"] for n in client.get("/api/v1/notifications", headers=headers).json()["items"]]  # noqa: E731
    assert not any(subject.startswith("Deprecated") for subject in told(bystander))
    assert sum(subject.startswith("Deprecated") for subject in told(subscriber)) == 2
