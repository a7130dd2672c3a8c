"""SCIM 2.0 at /scim/v2: discovery, users, groups, filters, pagination, PATCH, authentication, and scim2-tester."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from devhub.audit.models import AuditEvent
from devhub.audit.service import SYSTEM
from devhub.catalog import service as catalog
from devhub.catalog.models import Entity
from devhub.db import Database
from devhub.identity import scim
from devhub.identity import service as identity
from devhub.identity.models import Membership, User
from devhub.settings import Settings

TOKEN = "test-scim-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCIM_JSON = "application/scim+json"
BASE = "http://testserver/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def _paths(routes) -> set[str]:
    found: set[str] = set()
    for route in routes:
        if hasattr(route, "original_router"):
            found |= _paths(route.original_router.routes)
        elif getattr(route, "path", None):
            found.add(route.path)
    return found


def _app(settings: Settings):
    from devhub.app import create_app

    app = create_app(settings, run_background_tasks=False)
    if "/scim/v2/Users" not in _paths(app.routes):  # until app.py includes the router
        app.include_router(scim.router)
    return app


@pytest.fixture
def scim_settings(settings: Settings) -> Settings:
    settings.scim_token = TOKEN
    settings.base_url = "http://testserver"
    return settings


@pytest.fixture
def api(scim_settings: Settings) -> Iterator[TestClient]:
    """A client of the SCIM service, authenticated with the SCIM token; paths are relative to /scim/v2."""
    with TestClient(_app(scim_settings), base_url=BASE, headers=AUTH) as client:
        yield client


def new_user(api: TestClient, user_name: str, email: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"schemas": [USER], "userName": user_name, "emails": [{"value": email or user_name, "type": "work"}]}
    response = api.post("/Users", json={**body, **extra})
    assert response.status_code == 201, response.text
    return response.json()


def new_group(api: TestClient, name: str, members: list[str] = (), **extra: Any) -> dict[str, Any]:
    body = {"schemas": [GROUP], "displayName": name, "members": [{"value": m} for m in members], **extra}
    response = api.post("/Groups", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def patch(api: TestClient, path: str, *operations: dict[str, Any], **params: str):
    return api.patch(path, json={"schemas": [PATCH], "Operations": list(operations)}, params=params)


def assert_error(response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["Resources"]]


def user_row(db: Database, user_id: str) -> User:
    with db.session() as session:
        user = session.get(User, int(user_id))
        session.expunge(user)
        return user


def audit_actions(db: Database, actor: str = "scim") -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(AuditEvent.action).where(AuditEvent.actor == actor).order_by(AuditEvent.id)))


# --- Discovery ------------------------------------------------------------------------------------------


def test_service_provider_config_announces_what_devhub_supports(api):
    response = api.get("/ServiceProviderConfig")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    config = response.json()
    assert config["patch"] == {"supported": True}
    assert config["bulk"]["supported"] is False
    assert config["filter"]["supported"] is True
    assert config["sort"]["supported"] is True
    assert config["etag"]["supported"] is False
    assert config["changePassword"]["supported"] is False
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert config["meta"]["location"] == f"{BASE}/ServiceProviderConfig"


def test_resource_types_and_schemas(api):
    types = api.get("/ResourceTypes").json()
    assert types["schemas"] == [LIST]
    assert {(t["id"], t["endpoint"], t["schema"]) for t in types["Resources"]} == {
        ("User", "/Users", USER),
        ("Group", "/Groups", GROUP),
    }
    assert api.get("/ResourceTypes/Group").json()["endpoint"] == "/Groups"
    assert_error(api.get("/ResourceTypes/Pet"), 404)

    schemas = api.get("/Schemas").json()["Resources"]
    assert {s["id"] for s in schemas} >= {USER, GROUP, "urn:ietf:params:scim:schemas:core:2.0:ResourceType"}
    user_schema = api.get(f"/Schemas/{USER}").json()
    assert user_schema["name"] == "User"
    attributes = {a["name"]: a for a in user_schema["attributes"]}
    # Only what devhub keeps is published: a client can tell that title or phoneNumbers are not stored.
    assert set(attributes) == {"userName", "name", "displayName", "active", "emails", "groups"}
    assert attributes["userName"]["uniqueness"] == "server"
    assert attributes["groups"]["mutability"] == "readOnly"
    assert_error(api.get("/Schemas/urn:example:nothing"), 404)


def test_discovery_endpoints_only_answer_get(api):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = api.request(method, "/ServiceProviderConfig")
        assert_error(response, 405)
        assert "GET" in response.headers["allow"]


def test_unknown_paths_and_unsupported_operations(api):
    assert_error(api.get("/Pets"), 404)
    assert_error(api.delete("/Users"), 405)
    assert_error(api.post("/Bulk", json={}), 501)
    assert_error(api.post("/.search", json={}), 501)
    assert_error(api.get("/Me"), 501)


# --- Authentication -------------------------------------------------------------------------------------


def test_scim_is_off_without_a_token(settings):
    assert settings.scim_token is None
    with TestClient(_app(settings), base_url=BASE, headers=AUTH) as client:
        assert_error(client.get("/Users"), 404)
        assert_error(client.get("/ServiceProviderConfig"), 404)


def test_a_bearer_token_is_required(scim_settings, db):
    with TestClient(_app(scim_settings), base_url=BASE) as client:
        response = client.get("/Users")
        assert_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert_error(client.get("/Users", headers={"Authorization": "Bearer wrong-token"}), 401)
        assert_error(client.get("/Users", headers={"Authorization": "Basic dGVzdDp0ZXN0"}), 401)
        assert_error(client.get("/Users", headers={"Authorization": "Bearer dhp_nope_nope"}), 401)
        assert_error(client.post("/Users", json={"userName": "x"}), 401)
        assert client.get("/Users", headers=AUTH).status_code == 200


def _account(db: Database, settings: Settings, email: str, *, admin: bool) -> int:
    with db.session() as session:
        user = identity.create_user(session, settings, email=email, status="approved")
        user.is_admin = admin
        return user.id


def _token(db: Database, settings: Settings, user_id: int, scopes: list[str]) -> str:
    with db.session() as session:
        return identity.create_token(session, settings, session.get(User, user_id), "idp", scopes, 30, SYSTEM).secret


def test_an_admins_token_with_the_scim_scope_is_accepted(scim_settings, db):
    admin = _account(db, scim_settings, "root@example.com", admin=True)
    developer = _account(db, scim_settings, "dev@example.com", admin=False)
    scim_token = _token(db, scim_settings, admin, ["scim"])
    read_token = _token(db, scim_settings, admin, ["read"])
    developers_token = _token(db, scim_settings, developer, ["read", "write"])
    with TestClient(_app(scim_settings), base_url=BASE) as client:
        response = client.post(
            "/Users",
            json={"schemas": [USER], "userName": "pat@example.com"},
            headers={"Authorization": f"Bearer {scim_token}"},
        )
        assert response.status_code == 201, response.text
        assert_error(client.get("/Users", headers={"Authorization": f"Bearer {read_token}"}), 403)
        assert_error(client.get("/Users", headers={"Authorization": f"Bearer {developers_token}"}), 403)
        # A browser session is not a SCIM credential, even an admin's (SCIM skips CSRF protection).
        with db.session() as session:
            cookie = identity.start_session(session, scim_settings, session.get(User, admin), SYSTEM, "pytest")
        client.cookies.set("devhub_session", cookie)
        assert_error(client.get("/Users"), 401)
    with db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "scim.user.create"))
        assert (event.actor, event.actor_id) == ("scim", admin)


def test_a_demoted_admins_token_stops_working(scim_settings, db):
    admin = _account(db, scim_settings, "root@example.com", admin=True)
    token = _token(db, scim_settings, admin, ["scim"])
    with db.session() as session:
        identity.set_admin(session, session.get(User, admin), False, SYSTEM)
    with TestClient(_app(scim_settings), base_url=BASE) as client:
        assert_error(client.get("/Users", headers={"Authorization": f"Bearer {token}"}), 403)


# --- Users ----------------------------------------------------------------------------------------------


def test_create_a_user_the_way_entra_sends_it(api, db):
    body = {
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a",
        "userName": "BJensen",
        "active": True,
        "emails": [
            {"value": "b@home.example", "type": "home"},
            {"value": "Barbara@Example.com", "type": "work", "primary": True},
        ],
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "title": "Tour guide",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Tours"},
        "meta": {"resourceType": "User"},
    }
    response = api.post("/Users", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    created = response.json()
    assert response.headers["location"] == created["meta"]["location"] == f"{BASE}/Users/{created['id']}"
    assert created["userName"] == "BJensen"
    assert created["emails"] == [{"value": "barbara@example.com", "type": "work"}]  # the primary address
    assert created["displayName"] == "Barbara Jensen"
    assert created["name"] == {"formatted": "Barbara Jensen"}
    assert created["active"] is True
    assert created["externalId"] == "0a21f0f2-8d2a"
    assert created["meta"]["resourceType"] == "User"
    assert "title" not in created  # not kept: ignored rather than refused
    assert api.get(f"/Users/{created['id']}").json() == created

    user = user_row(db, created["id"])
    assert (user.email, user.username, user.status, user.external_id) == (
        "barbara@example.com",
        "BJensen",
        "approved",
        "0a21f0f2-8d2a",
    )
    assert user.email_verified_at is not None
    assert audit_actions(db) == ["user.create", "scim.user.create"]


def test_a_user_name_that_is_an_address_is_enough(api, db):
    response = api.post("/Users", json={"schemas": [USER], "userName": "Solo@Example.com"})
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["emails"] == [{"value": "solo@example.com", "type": "work"}]
    assert created["displayName"] == "solo"  # the portal's default when none is given
    inactive = api.post("/Users", json={"userName": "off@example.com", "active": False}).json()
    assert inactive["active"] is False
    assert user_row(db, inactive["id"]).status == "revoked"


def test_creating_a_user_checks_what_devhub_needs(api):
    new_user(api, "taken@example.com")
    assert (
        "already taken"
        in assert_error(api.post("/Users", json={"userName": "TAKEN@example.com"}), 409, "uniqueness")["detail"]
    )
    conflict = api.post("/Users", json={"userName": "other", "emails": [{"value": "taken@example.com"}]})
    assert_error(conflict, 409, "uniqueness")
    assert_error(api.post("/Users", json={"emails": [{"value": "x@example.com"}]}), 400, "invalidValue")
    assert_error(api.post("/Users", json={"userName": "no-address"}), 400, "invalidValue")
    assert_error(
        api.post("/Users", json={"userName": "u", "emails": [{"value": "not an address"}]}), 400, "invalidValue"
    )
    assert_error(api.post("/Users", json={"userName": 42, "emails": [{"value": "n@example.com"}]}), 400, "invalidValue")
    assert_error(api.post("/Users", content=b"{not json", headers={"content-type": SCIM_JSON}), 400, "invalidSyntax")
    assert_error(api.post("/Users", json=[{"userName": "list@example.com"}]), 400, "invalidSyntax")
    assert_error(api.post("/Users", content=b""), 400, "invalidSyntax")
    assert_error(api.post("/Users", content=b"x" * (scim.MAX_BODY_BYTES + 1)), 413)


def test_unknown_users_are_not_found(api):
    assert_error(api.get("/Users/999999"), 404)
    assert_error(api.get("/Users/abc"), 404)
    assert_error(api.put("/Users/999999", json={"userName": "x@example.com"}), 404)
    assert_error(patch(api, "/Users/999999", {"op": "replace", "path": "displayName", "value": "x"}), 404)
    assert_error(api.delete("/Users/999999"), 404)


def test_replace_a_user(api, db):
    user = new_user(api, "put@example.com", displayName="Before", externalId="ext")
    replacement = {
        "schemas": [USER],
        "id": "ignored",
        "userName": "put-renamed",
        "displayName": "After",
        "emails": [{"value": "put-new@example.com", "type": "work", "primary": True}],
    }
    response = api.put(f"/Users/{user['id']}", json=replacement)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["id"] == user["id"]
    assert (replaced["userName"], replaced["displayName"]) == ("put-renamed", "After")
    assert replaced["emails"] == [{"value": "put-new@example.com", "type": "work"}]
    assert "externalId" not in replaced  # left out of a replacement: cleared
    assert replaced["active"] is True  # left out: unchanged
    # Without emails the address stays (devhub needs one), even when the userName is another address.
    kept = api.put(f"/Users/{user['id']}", json={"userName": "someone-else@example.com"}).json()
    assert kept["emails"] == [{"value": "put-new@example.com", "type": "work"}]
    assert "scim.user.update" in audit_actions(db)


def test_a_failed_request_writes_nothing(api, db):
    new_user(api, "taken@example.com")
    user = new_user(api, "keep@example.com", displayName="Keep")
    # userName is written before the address is found taken: the whole request is rolled back.
    conflict = {"userName": "renamed", "displayName": "Renamed", "emails": [{"value": "taken@example.com"}]}
    assert_error(api.put(f"/Users/{user['id']}", json=conflict), 409, "uniqueness")
    assert (user_row(db, user["id"]).username, user_row(db, user["id"]).display_name) == ("keep@example.com", "Keep")
    assert "scim.user.update" not in audit_actions(db)


def test_patch_a_user(api, db):
    user = new_user(api, "pat@example.com", displayName="Pat", externalId="p-1")
    path = f"/Users/{user['id']}"

    changed = patch(api, path, {"op": "replace", "path": "displayName", "value": "Patricia"}).json()
    assert (changed["displayName"], changed["name"]) == ("Patricia", {"formatted": "Patricia"})
    changed = patch(api, path, {"op": "replace", "path": "name", "value": {"formatted": "Pat Smith"}}).json()
    assert changed["displayName"] == "Pat Smith"
    # Entra: capitalised operations and a value selection on the work address.
    changed = patch(
        api, path, {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "Pat.Smith@example.com"}
    ).json()
    assert changed["emails"] == [{"value": "pat.smith@example.com", "type": "work"}]
    # Okta: adding an address switches to it (devhub keeps one).
    changed = patch(
        api, path, {"op": "add", "path": "emails", "value": [{"value": "p@example.org", "primary": True}]}
    ).json()
    assert changed["emails"] == [{"value": "p@example.org", "type": "work"}]
    # No path: the value's attributes, unknown ones ignored.
    changed = patch(
        api,
        path,
        {"op": "replace", "value": {"externalId": "p-2", "userName": "psmith", "nickName": "P", "name.givenName": "x"}},
    ).json()
    assert (changed["externalId"], changed["userName"]) == ("p-2", "psmith")
    changed = patch(api, path, {"op": "remove", "path": "externalId"}, {"op": "remove", "path": "displayName"}).json()
    assert "externalId" not in changed and "displayName" not in changed and "name" not in changed
    assert api.get(path, params={"attributes": "userName"}).json() == {
        "schemas": [USER],
        "id": user["id"],
        "userName": "psmith",
    }
    stored = user_row(db, user["id"])
    assert (stored.email, stored.username, stored.display_name, stored.external_id) == (
        "p@example.org",
        "psmith",
        "",
        None,
    )


def test_patch_errors_leave_the_user_unchanged(api):
    new_user(api, "first@example.com")
    user = new_user(api, "second@example.com", displayName="Second")
    path = f"/Users/{user['id']}"
    # Atomic: the first operation is undone when the second fails.
    response = patch(
        api,
        path,
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "userName", "value": "FIRST@example.com"},
    )
    assert_error(response, 409, "uniqueness")
    assert api.get(path).json()["displayName"] == "Second"
    assert_error(patch(api, path, {"op": "remove", "path": "userName"}), 400, "mutability")
    assert_error(patch(api, path, {"op": "remove", "path": "emails"}), 400, "mutability")
    assert_error(patch(api, path, {"op": "replace", "path": "id", "value": "7"}), 400, "mutability")
    assert_error(patch(api, path, {"op": "replace", "path": "groups", "value": []}), 400, "mutability")
    assert_error(patch(api, path, {"op": "move", "path": "displayName", "value": "x"}), 400, "invalidValue")
    assert_error(patch(api, path, {"op": "replace", "path": "emails[type", "value": "x"}), 400, "invalidPath")
    assert_error(patch(api, path, {"op": "replace", "path": "active", "value": "maybe"}), 400, "invalidValue")
    bad_address = {"op": "replace", "path": 'emails[type eq "work"].value', "value": "nope"}
    assert_error(patch(api, path, bad_address), 400, "invalidValue")
    assert_error(api.patch(path, json={"schemas": [PATCH]}), 400, "invalidValue")
    assert api.get(path).json()["displayName"] == "Second"


def _session_and_token(db: Database, settings: Settings, user_id: str) -> tuple[str, str]:
    with db.session() as session:
        user = session.get(User, int(user_id))
        cookie = identity.start_session(session, settings, user, SYSTEM, "pytest")
        token = identity.create_token(session, settings, user, "laptop", ["read"], 30, SYSTEM).secret
    with db.session() as session:
        assert identity.session_user(session, cookie) is not None
        assert identity.token_user(session, token) is not None
    return cookie, token


def _signed_out(db: Database, cookie: str, token: str) -> bool:
    with db.session() as session:
        return identity.session_user(session, cookie) is None and identity.token_user(session, token) is None


def test_deactivating_a_user_ends_their_sessions_and_tokens(api, db, scim_settings):
    user = new_user(api, "leaver@example.com")
    cookie, token = _session_and_token(db, scim_settings, user["id"])
    entities = "http://testserver/api/v1/catalog/entities"
    assert api.get(entities, headers={"Authorization": f"Bearer {token}"}).status_code == 200

    # Entra deactivates with a capitalised operation and a string.
    response = patch(api, f"/Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"})
    assert response.status_code == 200, response.text
    assert response.json()["active"] is False
    assert _signed_out(db, cookie, token)
    assert api.get(entities, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    stored = user_row(db, user["id"])
    assert (stored.status, stored.status_reason) == ("revoked", scim.DEACTIVATED_REASON)
    assert "user.revoke" in audit_actions(db)
    assert ids(api.get("/Users", params={"filter": "active eq false"})) == [user["id"]]

    # Back on: the account may sign in again, but the ended sessions and tokens stay ended.
    back = api.put(f"/Users/{user['id']}", json={"userName": "leaver@example.com", "active": True})
    assert back.json()["active"] is True
    assert user_row(db, user["id"]).status == "approved"
    assert _signed_out(db, cookie, token)


def test_deactivating_with_put_or_a_pathless_patch_ends_sessions_too(api, db, scim_settings):
    first = new_user(api, "first@example.com")
    cookie, token = _session_and_token(db, scim_settings, first["id"])
    replaced = api.put(f"/Users/{first['id']}", json={"userName": "first@example.com", "active": False})
    assert replaced.json()["active"] is False
    assert _signed_out(db, cookie, token)

    second = new_user(api, "second@example.com")
    cookie, token = _session_and_token(db, scim_settings, second["id"])
    assert patch(api, f"/Users/{second['id']}", {"op": "replace", "value": {"active": False}}).status_code == 200
    assert _signed_out(db, cookie, token)


def test_a_pending_sign_up_reports_inactive_and_stays_pending(api, db, scim_settings):
    with db.session() as session:
        pending = identity.create_user(session, scim_settings, email="new@example.com", status="pending").id
    found = api.get("/Users", params={"filter": 'userName eq "new@example.com"'}).json()["Resources"]
    assert [(u["id"], u["active"]) for u in found] == [(str(pending), False)]
    api.put(f"/Users/{pending}", json={"userName": "new@example.com", "active": False, "displayName": "New"})
    assert user_row(db, str(pending)).status == "pending"  # active false and pending agree: nothing to do
    patch(api, f"/Users/{pending}", {"op": "replace", "path": "active", "value": True})
    assert user_row(db, str(pending)).status == "approved"


def test_deleting_a_user_revokes_and_hides_the_account(api, db, scim_settings):
    user = new_user(api, "gone@example.com", displayName="Gone", externalId="g-9")
    group = new_group(api, "Leavers", members=[user["id"]])
    cookie, token = _session_and_token(db, scim_settings, user["id"])

    assert api.delete(f"/Users/{user['id']}").status_code == 204
    assert_error(api.get(f"/Users/{user['id']}"), 404)
    assert_error(api.delete(f"/Users/{user['id']}"), 404)
    assert_error(patch(api, f"/Users/{user['id']}", {"op": "replace", "path": "active", "value": True}), 404)
    assert ids(api.get("/Users")) == []
    assert ids(api.get("/Users", params={"filter": 'userName eq "gone@example.com"'})) == []
    assert "members" not in api.get(f"/Groups/{group['id']}").json()
    assert _signed_out(db, cookie, token)
    stored = user_row(db, user["id"])  # kept for the audit trail
    assert (stored.status, stored.status_reason) == ("revoked", scim.DELETED_REASON)
    assert stored.username == f"deleted-{user['id']}-gone@example.com"
    assert "scim.user.delete" in audit_actions(db)
    assert_error(
        api.post("/Groups", json={"displayName": "Again", "members": [{"value": user["id"]}]}), 400, "invalidValue"
    )

    # Provisioned again: the same account comes back.
    again = new_user(api, "gone@example.com", displayName="Back")
    assert again["id"] == user["id"]
    assert (again["active"], again["displayName"]) == (True, "Back")
    assert "externalId" not in again
    assert user_row(db, user["id"]).status_reason is None


# --- Filters, sorting, pagination and attributes ----------------------------------------------------------


@pytest.fixture
def three(api) -> dict[str, str]:
    alice = new_user(api, "alice@example.com", displayName="Alice Liddell", externalId="A-1")
    bob = new_user(api, "Bob", email="bob@example.org", displayName="Bob Builder", externalId="b-2", active=False)
    carol = new_user(api, "carol@example.com", displayName="Carol")
    return {"alice": alice["id"], "bob": bob["id"], "carol": carol["id"]}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName eq "ALICE@example.com"', ["alice"]),
        ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "car"', ["carol"]),
        ('externalId eq "a-1"', []),  # externalId is case-exact
        ('externalId eq "A-1"', ["alice"]),
        ('emails[type eq "work" and value co "example.org"]', ["bob"]),
        ('emails.value ew ".COM"', ["alice", "carol"]),
        ('emails co "@example.org"', ["bob"]),
        ('displayName sw "b"', ["bob"]),
        ('name.formatted eq "carol"', ["carol"]),
        ("active eq false", ["bob"]),
        ("active ne false", ["alice", "carol"]),
        ("externalId pr", ["alice", "bob"]),
        ("not (externalId pr)", ["carol"]),
        ('externalId ne "A-1"', ["bob", "carol"]),
        ('userName eq "bob" or (displayName co "LID" and active eq true)', ["alice", "bob"]),
        ('not (userName eq "bob" or userName eq "carol@example.com")', ["alice"]),
        ('meta.created lt "2000-01-01T00:00:00Z"', []),
        ('meta.lastModified ge "2000-01-01T00:00:00Z"', ["alice", "bob", "carol"]),
        ('meta.resourceType eq "User"', ["alice", "bob", "carol"]),
        ('userName gt "b"', ["bob", "carol"]),
        ('id eq "nope"', []),
    ],
)
def test_filter_users(api, three, expression, expected):
    found = ids(api.get("/Users", params={"filter": expression}))
    assert found == [three[name] for name in expected]
    searched = api.post(
        "/Users/.search",
        json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": expression},
    )
    assert ids(searched) == found


def test_filter_users_by_id_and_group(api, three):
    assert ids(api.get("/Users", params={"filter": f'id eq "{three["bob"]}"'})) == [three["bob"]]
    group = new_group(api, "Builders", members=[three["bob"], three["carol"]])
    by_group = ids(api.get("/Users", params={"filter": f'groups.value eq "{group["id"]}"'}))
    assert by_group == [three["bob"], three["carol"]]
    assert ids(api.get("/Users", params={"filter": f'groups[value eq "{group["id"]}"]'})) == by_group
    assert ids(api.get("/Users", params={"filter": "groups pr"})) == by_group
    bob = api.get(f"/Users/{three['bob']}").json()
    assert bob["groups"] == [{"value": group["id"], "$ref": f"{BASE}/Groups/{group['id']}", "display": "Builders"}]


@pytest.mark.parametrize(
    "expression",
    [
        'title eq "boss"',
        "userName eq",
        "active gt true",
        'active eq "yes"',
        'meta.created gt "yesterday"',
        'emails[type eq "work"',
        'groups sw "1"',
        'urn:example:other:userName eq "x"',
        "(" * 3000,
    ],
)
def test_bad_filters_are_refused(api, three, expression):
    assert_error(api.get("/Users", params={"filter": expression}), 400, "invalidFilter")


def test_pagination(api, scim_settings):
    created = [new_user(api, f"user{i}@example.com")["id"] for i in range(7)]
    page = api.get("/Users", params={"startIndex": 3, "count": 2}).json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (7, 3, 2)
    assert [u["id"] for u in page["Resources"]] == created[2:4]
    counted = api.get("/Users", params={"count": 0}).json()
    assert (counted["totalResults"], counted["itemsPerPage"], counted["Resources"]) == (7, 0, [])
    assert ids(api.get("/Users", params={"count": -3})) == []
    assert ids(api.get("/Users", params={"startIndex": 0, "count": 1})) == created[:1]  # below 1 means 1
    past_the_end = api.get("/Users", params={"startIndex": 50}).json()
    assert (past_the_end["totalResults"], past_the_end["Resources"]) == (7, [])
    assert ids(api.get("/Users", params={"startIndex": 10**20})) == []
    filtered = api.get("/Users", params={"filter": 'userName sw "user1"', "count": 5}).json()
    assert (filtered["totalResults"], [u["id"] for u in filtered["Resources"]]) == (1, created[1:2])
    descending = ids(api.get("/Users", params={"sortBy": "userName", "sortOrder": "descending", "count": 3}))
    assert descending == created[::-1][:3]
    assert ids(api.get("/Users", params={"sortBy": "emails.value"})) == created
    searched = api.post("/Users/.search", json={"startIndex": 2, "count": 2, "sortBy": "userName"}).json()
    assert [u["id"] for u in searched["Resources"]] == created[1:3]
    assert_error(api.get("/Users", params={"sortBy": "title"}), 400, "invalidValue")
    assert_error(api.get("/Users", params={"sortOrder": "sideways"}), 400, "invalidValue")
    assert_error(api.get("/Users", params={"startIndex": "two"}), 400, "invalidValue")
    assert_error(api.get("/Users", params={"count": "1.5"}), 400, "invalidValue")


def test_the_page_size_is_capped(scim_settings):
    scim_settings.max_page_size = 3
    with TestClient(_app(scim_settings), base_url=BASE, headers=AUTH) as client:
        for i in range(5):
            new_user(client, f"u{i}@example.com")
        page = client.get("/Users", params={"count": 1000}).json()
        assert (page["totalResults"], page["itemsPerPage"]) == (5, 3)
        assert client.get("/ServiceProviderConfig").json()["filter"]["maxResults"] == 3


def test_attributes_and_excluded_attributes(api, three):
    listed = api.get("/Users", params={"attributes": "userName", "filter": 'userName eq "bob"'}).json()
    assert listed["Resources"] == [{"schemas": [USER], "id": three["bob"], "userName": "Bob"}]
    one = api.get(f"/Users/{three['alice']}", params={"excludedAttributes": "emails,meta"}).json()
    assert "emails" not in one and "meta" not in one and one["userName"] == "alice@example.com"
    assert_error(
        api.get("/Users", params={"attributes": "userName", "excludedAttributes": "emails"}), 400, "invalidValue"
    )


# --- Groups ---------------------------------------------------------------------------------------------


def _memberships(db: Database, ref: str) -> list[tuple[int, str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(Membership.user_id, Membership.role, Membership.source)
            .where(Membership.team_ref == ref)
            .order_by(Membership.user_id)
        )
        return [tuple(row) for row in rows]


def test_group_lifecycle(api, db):
    a, b, c = (new_user(api, f"{n}@example.com")["id"] for n in "abc")
    response = api.post(
        "/Groups",
        json={
            "schemas": [GROUP],
            "displayName": "Payments Team",
            "externalId": "G-1",
            "members": [{"value": b}, {"value": a, "type": "User"}],
        },
    )
    assert response.status_code == 201, response.text
    group = response.json()
    gid = group["id"]
    assert response.headers["location"] == group["meta"]["location"] == f"{BASE}/Groups/{gid}"
    assert group["displayName"] == "Payments Team"
    assert group["externalId"] == "G-1"
    assert group["members"] == [
        {"value": a, "$ref": f"{BASE}/Users/{a}", "type": "User"},
        {"value": b, "$ref": f"{BASE}/Users/{b}", "type": "User"},
    ]
    ref = "group:default/payments-team"
    with db.session() as session:
        entity = catalog.get_entity_by_ref(session, ref)
        assert entity.title == "Payments Team"
        assert entity.body["spec"] == {"type": "team", "children": []}
        assert entity.body["metadata"]["annotations"][scim.SCIM_ID] == gid
    assert _memberships(db, ref) == [(int(a), "member", "scim"), (int(b), "member", "scim")]
    assert api.get(f"/Groups/{gid}").json() == group

    assert ids(api.get("/Groups", params={"filter": 'displayName eq "payments team"'})) == [gid]
    assert ids(api.get("/Groups", params={"filter": f'members[value eq "{a}"]'})) == [gid]
    assert ids(api.get("/Groups", params={"filter": f'members.value eq "{c}"'})) == []
    assert ids(api.get("/Groups", params={"filter": 'externalId eq "G-1" and members pr'})) == [gid]
    assert ids(api.get("/Groups", params={"filter": f'id eq "{gid}"'})) == [gid]

    def members(response) -> list[str]:
        assert response.status_code == 200, response.text
        return [m["value"] for m in response.json().get("members", [])]

    path = f"/Groups/{gid}"
    assert members(patch(api, path, {"op": "add", "path": "members", "value": [{"value": c}]})) == [a, b, c]
    assert members(patch(api, path, {"op": "remove", "path": f'members[value eq "{a}"]'})) == [b, c]
    # Entra removes with a value instead of a filter.
    assert members(patch(api, path, {"op": "Remove", "path": "members", "value": [{"value": b}]})) == [c]
    assert members(patch(api, path, {"op": "replace", "path": "members", "value": [{"value": a}, {"value": b}]})) == [
        a,
        b,
    ]
    renamed = patch(api, path, {"op": "replace", "value": {"id": gid, "displayName": "Payments"}}).json()
    assert renamed["displayName"] == "Payments"
    with db.session() as session:
        assert catalog.get_entity_by_ref(session, ref).title == "Payments"  # the ref stays
    assert members(api.put(path, json={"schemas": [GROUP], "displayName": "Payments", "members": [{"value": c}]})) == [
        c
    ]
    assert members(patch(api, path, {"op": "remove", "path": "members"})) == []
    assert _memberships(db, ref) == []

    # A membership granted in the portal is not SCIM's, but it goes with the team.
    with db.session() as session:
        identity.set_membership(session, session.get(User, int(a)), ref, "owner", SYSTEM)
    assert members(api.get(path)) == []
    assert api.delete(path).status_code == 204
    assert_error(api.get(path), 404)
    assert_error(api.delete(path), 404)
    assert _memberships(db, ref) == []
    with db.session() as session:
        assert session.scalar(select(Entity).where(Entity.ref == ref)) is None
    actions = audit_actions(db)
    assert {"scim.group.create", "scim.group.update", "scim.group.delete", "team.role"} <= set(actions)


def test_group_members_are_users_that_exist(api):
    user = new_user(api, "member@example.com")["id"]
    assert_error(api.post("/Groups", json={"displayName": "X", "members": [{"value": "999999"}]}), 400, "invalidValue")
    assert_error(api.post("/Groups", json={"displayName": "X", "members": [{"value": "abc"}]}), 400, "invalidValue")
    nested = {"displayName": "X", "members": [{"value": user, "type": "Group"}]}
    assert_error(api.post("/Groups", json=nested), 400, "invalidValue")
    assert_error(api.post("/Groups", json={"members": [{"value": user}]}), 400, "invalidValue")
    assert_error(api.post("/Groups", json={"displayName": "   "}), 400, "invalidValue")
    assert ids(api.get("/Groups")) == []
    group = new_group(api, "Ok", members=[user])
    add_unknown = {"op": "add", "path": "members", "value": [{"value": "999999"}]}
    assert_error(patch(api, f"/Groups/{group['id']}", add_unknown), 400, "invalidValue")
    assert_error(patch(api, f"/Groups/{group['id']}", {"op": "remove", "path": "displayName"}), 400, "mutability")
    assert [m["value"] for m in api.get(f"/Groups/{group['id']}").json()["members"]] == [user]
    assert_error(api.get("/Groups/not-a-group"), 404)


def test_a_group_name_taken_in_the_catalog_is_refused(api, db):
    new_group(api, "Platform")
    assert_error(api.post("/Groups", json={"displayName": "platform"}), 409, "uniqueness")
    with db.session() as session:
        catalog.put_managed_entity(
            session,
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Group",
                "metadata": {"name": "data"},
                "spec": {"type": "team", "children": []},
            },
            managed_by="portal",
        )
    assert (
        "group:default/data"
        in assert_error(api.post("/Groups", json={"displayName": "Data"}), 409, "uniqueness")["detail"]
    )
    # Names without letters or digits still make a valid entity name.
    odd = new_group(api, "Équipe ✨")
    assert odd["displayName"] == "Équipe ✨"
    assert new_group(api, "✨✨")["displayName"] == "✨✨"


def test_list_groups(api):
    created = [new_group(api, name)["id"] for name in ("Gamma", "alpha", "Beta")]
    page = api.get("/Groups", params={"count": 2, "sortBy": "displayName"}).json()
    assert page["totalResults"] == 3
    assert [g["displayName"] for g in page["Resources"]] == ["alpha", "Beta"]
    assert ids(api.get("/Groups", params={"sortBy": "meta.created", "sortOrder": "descending"})) == created[::-1]
    user = new_user(api, "m@example.com")["id"]
    patch(api, f"/Groups/{created[0]}", {"op": "add", "path": "members", "value": [{"value": user}]})
    without = api.get("/Groups", params={"excludedAttributes": "members"}).json()["Resources"]
    assert all("members" not in g for g in without)
    only_names = api.get("/Groups", params={"attributes": "displayName"}).json()["Resources"]
    assert {tuple(sorted(g)) for g in only_names} == {("displayName", "id", "schemas")}
    created_quietly = api.post("/Groups", json={"displayName": "Quiet"}, params={"attributes": "displayName"})
    assert created_quietly.headers["location"] == f"{BASE}/Groups/{created_quietly.json()['id']}"
    assert "meta" not in created_quietly.json()
    searched = api.post("/Groups/.search", json={"filter": f'members eq "{user}"'})
    assert ids(searched) == [created[0]]
    assert_error(api.get("/Groups", params={"filter": 'members co "1"'}), 400, "invalidFilter")


def test_the_openapi_document_lists_scim_under_its_tag(api):
    paths = api.get("http://testserver/api/v1/openapi.json").json()["paths"]
    assert paths["/scim/v2/Users"]["get"]["tags"] == ["scim"]
    assert "/scim/v2/{path}" not in paths


# --- scim2-tester ---------------------------------------------------------------------------------------

# Findings of scim2-tester that do not apply to devhub, each with the reason. Keys are (check title, a
# fragment of its reason). Keep this empty unless a finding is truly not applicable.
NOT_APPLICABLE: dict[tuple[str, str], str] = {}


def test_scim2_tester_finds_nothing_serious(api):
    from scim2_client import BaseSyncSCIMClient
    from scim2_tester import Status, check_server

    class TestClientSCIM(BaseSyncSCIMClient):
        """scim2-client over the FastAPI TestClient (an httpx client), which carries the bearer token."""

        def __init__(self, http: TestClient) -> None:
            super().__init__()
            self.http = http

        def request(self, method: str, url: str, **kwargs: Any):
            return self.http.request(method, url, **kwargs)

    results = check_server(TestClientSCIM(api))
    passed = {(r.title, r.resource_type) for r in results if r.status == Status.SUCCESS}
    for resource_type in ("User", "Group"):  # the checks did run, for both resource types
        for check in ("object_creation", "object_replacement", "object_deletion", "check_replace_attribute"):
            assert (check, resource_type) in passed
    serious = [r for r in results if r.status in (Status.ERROR, Status.CRITICAL)]
    findings = [r for r in serious if not any(t == r.title and f in (r.reason or "") for t, f in NOT_APPLICABLE)]
    for finding in findings:
        print(f"{finding.status.name} {finding.resource_type or '-'} {finding.title}: {finding.reason}")
    assert findings == []
