"""Impact from real traffic: a breaking publish names the applications that called what it breaks, and
tells exactly their owners."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, select

from devhub.apps.models import Application
from devhub.db import utcnow
from devhub.gateway.models import GatewayCall
from devhub.notify.models import Notification
from tests.conftest import bearer, make_account
from tests.specs.conftest import register_apis

SPECS = Path(__file__).parent / "specs"
BASE = "/api/v1/apis/default/pets/versions"


def test_a_breaking_publish_tells_the_owners_of_the_apps_that_called_it(client, db, settings, tmp_path):
    register_apis(db, settings, tmp_path / "catalog", ["pets"])
    owner_id = make_account(db, settings, "owner@example.com", teams={"group:default/team-a": "member"})
    owner = bearer(db, settings, owner_id, scopes=("read", "write"))
    publish = lambda name, version, **extra: client.post(  # noqa: E731
        BASE, headers=owner, json={"version": version, "definition": (SPECS / f"pets-{name}.yaml").read_text(), **extra}
    )
    assert publish("1.0.0", "1.0.0").status_code == 201
    apps = {}
    for email in ("caller@example.com", "idle@example.com", "old@example.com"):
        headers = bearer(db, settings, make_account(db, settings, email), scopes=("read", "write"))
        apps[email] = client.post("/api/v1/apps", headers=headers, json={"name": email.split("@")[0]}).json()["id"]
    with db.session() as session:
        ids = {uid: app_id for uid, app_id in session.execute(select(Application.uid, Application.id))}
        call = {
            "api_ref": "api:default/pets",
            "version": "1.0.0",
            "method": "POST",
            "path": "/pets",
            "status": 200,
            "latency_ms": 1.0,
            "bytes_in": 0,
            "bytes_out": 0,
        }
        session.execute(
            insert(GatewayCall),
            [
                {**call, "at": utcnow(), "app_id": ids[apps["caller@example.com"]], "operation": "addPet"},
                {**call, "at": utcnow(), "app_id": ids[apps["idle@example.com"]], "operation": "listPets"},
                {
                    **call,
                    "at": utcnow() - timedelta(days=40),
                    "app_id": ids[apps["old@example.com"]],
                    "operation": "addPet",
                },
            ],
        )
    assert publish("removed", "2.0.0").status_code == 201  # a new major version may break

    impact = client.get(f"{BASE}/2.0.0/impact", headers=owner).json()
    removed = [f for f in impact["findings"] if "addPet" in (f["operation"] or "")]
    assert removed and [a["name"] for a in removed[0]["applications"]] == ["caller"]
    with db.session() as session:
        subjects = {
            (user_email, subject)
            for user_email, subject in session.execute(
                select(Notification.user_id, Notification.subject).where(Notification.subject.startswith("Breaking"))
            )
        }
    assert len(subjects) == 1 and next(iter(subjects))[1] == "Breaking change in api:default/pets 2.0.0 affects caller"
    outsider = bearer(db, settings, make_account(db, settings, "x@example.com"), scopes=("read", "write"))
    assert client.get(f"{BASE}/2.0.0/impact", headers=outsider).status_code in (403, 404)
    page = client.get("/apis/default/pets/v/2.0.0/governance", headers=owner)
    assert "Consumers affected" in page.text and "caller" in page.text


def test_the_gateway_snapshot_carries_deprecation_headers(client, db, settings, tmp_path):
    from devhub.gateway.snapshot import load_snapshot

    register_apis(db, settings, tmp_path / "catalog", ["pets"])
    owner = bearer(
        db,
        settings,
        make_account(db, settings, "o@example.com", teams={"group:default/team-a": "member"}),
        scopes=("read", "write"),
    )
    text = (SPECS / "pets-1.0.0.yaml").read_text()
    assert client.post(BASE, headers=owner, json={"version": "1.0.0", "definition": text}).status_code == 201
    assert load_snapshot(db.engine).deprecation_headers("api:default/pets", "1.0.0", "getPet") == ()
    put = lambda **body: client.put(f"{BASE}/1.0.0/deprecation", headers=owner, json=body)  # noqa: E731
    assert put(operation="getPet", sunset="2031-01-01").status_code == 200
    snapshot = load_snapshot(db.engine)
    headers = dict(snapshot.deprecation_headers("api:default/pets", "1.0.0", "getPet"))
    assert headers["Sunset"] == "Wed, 01 Jan 2031 00:00:00 GMT" and headers["Deprecation"].startswith("@")
    assert (
        dict(snapshot.deprecation_headers("api:default/pets", "1.0.0", "GET /pets/{id}")) == headers
    )  # by template too
    assert snapshot.deprecation_headers("api:default/pets", "1.0.0", "addPet") == ()
    assert put(sunset="2030-06-01").status_code == 200  # the whole version, earlier: every operation says so
    snapshot = load_snapshot(db.engine)
    assert dict(snapshot.deprecation_headers("api:default/pets", "1.0.0", "addPet"))["Sunset"].endswith(
        "2030 00:00:00 GMT"
    )
    assert "01 Jun 2030" in dict(snapshot.deprecation_headers("api:default/pets", "1.0.0", "getPet"))["Sunset"]
