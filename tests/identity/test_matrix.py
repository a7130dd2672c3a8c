"""The authorization matrix: every route by every role by every visibility, allow or deny, and no leaks.

Each route of the app must have an entry in ROUTES (a new route without one fails
`test_every_route_has_a_matrix_entry`). An entry says which rule decides (`expect(role, visibility)`) and how
to build a request for an entity of a given visibility. A case passes when an allowed role is not refused
(no 401/403, and no 404 for a thing it may see) and a refused role is refused (401/403, 404 for a thing it
may not see, or a redirect to sign in). Every response any role gets is also searched for the names of
entities that role may not see: private names must never appear anywhere, internal ones never to outsiders.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from devhub.apps.models import Application, ClientCredential
from devhub.audit.service import SYSTEM
from devhub.catalog import service as catalog
from devhub.identity import service as identity
from devhub.identity.models import User
from devhub.identity.policy import OPERATOR
from tests.conftest import make_account

ROLES = ("anonymous", "external", "member", "owner", "admin")
VISIBILITIES = ("public", "internal", "private")
API_FOR = {"public": "open-weather", "internal": "inside-billing", "private": "zz-secret-ledger"}
TEAM_FOR = {"public": "alpha-team", "internal": "beta-team", "private": "secret-squad"}
# What each role may see: the owner owns alpha-team (which owns every API and may see secret-squad);
# the member is in beta-team; the external developer is in no team.
SEES = {
    "anonymous": {"public"},
    "external": {"public"},
    "member": {"public", "internal"},
    "owner": {"public", "internal", "private"},
    "admin": {"public", "internal", "private"},
}
SECRET_NAMES = ("zz-secret-ledger", "secret-squad")  # private: nobody outside may ever read these names
INTERNAL_NAMES = ("inside-billing",)  # internal: not for anonymous visitors or external developers
BROWSER = "matrix-browser"
# Products owned by alpha-team, one per visibility, named so the leak check covers them too.
PRODUCT_FOR = {"public": "open-weather-plans", "internal": "inside-billing-plans", "private": "zz-secret-ledger-plans"}
APP_OWNER = "external"  # the applications of the world belong to the external developer


# --- Rules, as the test expects them ----------------------------------------------------------------------


def anyone(role, vis) -> bool:
    return True


def sees(role, vis) -> bool:
    return vis in SEES[role]


def signed_in(role, vis) -> bool:
    return role != "anonymous"


def admin_only(role, vis) -> bool:
    return role == "admin"


def owner_team(role, vis) -> bool:
    """Owners of the thing's owner team (alpha-team owns every API) and admins."""
    return sees(role, vis) and role in ("owner", "admin")


def team_manager(role, vis) -> bool:
    """The owner owns alpha-team (the public team) only."""
    return sees(role, vis) and (role == "admin" or (role == "owner" and vis == "public"))


def team_reader(role, vis) -> bool:
    return sees(role, vis) and role != "anonymous"


def anyone_or_absent(role, vis) -> bool | None:
    """Open to all, but may answer 404 when the feature is off: only 5xx and leaks fail."""
    return None


def app_owner(role, vis) -> bool:
    """The application's owner (the external developer) and admins; nobody else even learns it exists."""
    return role in (APP_OWNER, "admin")


def app_or_product_owner(role, vis) -> bool:
    """A subscription: its application's owner and its (public) product's owners."""
    return role in (APP_OWNER, "owner", "admin")


def own_credentials(role, vis) -> bool | None:
    """Authenticated by credentials in the request (OAuth2 client secrets), not by who browses."""
    return None


def nobody_with_a_session(role, vis) -> bool:
    """SCIM takes its own bearer token, never a browser session."""
    return False


# --- The world every route is tried in -------------------------------------------------------------------


@dataclass
class World:
    tmp: Path
    db: object
    settings: object
    tokens: dict[str, str | None]
    users: dict[str, int]
    location_id: int

    def entity_path(self, vis: str) -> str:
        return f"default/api/{API_FOR[vis]}"

    def new_token_id(self, role: str) -> int:
        with self.db.session() as session:
            user = session.get(User, self.users.get(role, self.users["external"]))
            return identity.create_token(session, self.settings, user, "matrix", ["read"], 1, SYSTEM).token.id

    def new_user_id(self) -> int:
        with self.db.session() as session:
            count = session.query(User).count()
        return make_account(self.db, self.settings, f"target{count}@example.com", status="pending")

    def new_location_id(self) -> int:
        folder = self.tmp / f"extra{self.new_user_id()}"
        folder.mkdir()
        (folder / "catalog-info.yaml").write_text(
            yaml.safe_dump(_entity("Group", f"extra-{folder.name}", "public", {"type": "team", "children": []}))
        )
        with self.db.session() as session:
            location, _ = catalog.register_location(session, self.settings, str(folder), "file", trusted=True)
            return location.id

    def new_app(self, role: str = APP_OWNER, subscribe: bool = True, client: bool = True) -> str:
        """A new application of `role` with a sandbox key (and client), subscribed to the public free plan."""
        from devhub.apps import credentials
        from devhub.apps import service as apps
        from devhub.apps.schemas import ApplicationIn
        from devhub.identity.deps import principal_for

        with self.db.session() as session:
            owner = principal_for(session, session.get(User, self.users[role]))
            app = apps.create_app(session, owner, ApplicationIn(name=f"matrix app {self.new_user_id()}"), SYSTEM)
            credentials.create_key(session, app, "sandbox", "default", SYSTEM)
            if client:
                credentials.create_client(session, app, "sandbox", SYSTEM)
            if subscribe:
                plan = apps.get_plan(apps.get_product(session, PRODUCT_FOR["public"], owner), "free", owner)
                apps.subscribe(session, self.settings, owner, app, plan, SYSTEM)
            return app.uid

    def new_key(self, app_uid: str) -> str:
        from devhub.apps import credentials
        from devhub.apps import service as apps

        with self.db.session() as session:
            app = apps.get_app(session, app_uid, OPERATOR)
            return credentials.create_key(session, app, "sandbox", "extra", SYSTEM).key.key_id

    def new_client(self, app_uid: str) -> str:

        with self.db.session() as session:
            app_id = session.scalar(select(Application.id).where(Application.uid == app_uid))
            return session.scalar(select(ClientCredential.client_id).where(ClientCredential.application_id == app_id))

    def new_subscription(self, vis: str = "public", plan: str = "gold") -> str:
        """A pending request of a new application of the external developer for a manual plan."""
        from devhub.apps import service as apps

        app_uid = self.new_app(subscribe=False)
        with self.db.session() as session:
            app = apps.get_app(session, app_uid, OPERATOR)
            chosen = apps.get_plan(apps.get_product(session, PRODUCT_FOR[vis], OPERATOR), plan, OPERATOR)
            return apps.subscribe(session, self.settings, OPERATOR, app, chosen, SYSTEM).uid

    def new_notification(self, role: str) -> int:
        from devhub.notify.models import Notification

        with self.db.session() as session:
            note = Notification(user_id=self.users.get(role, self.users["external"]), subject="Hello")
            session.add(note)
            session.flush()
            return note.id

    def old_signing_key(self) -> str:
        """A signing key that no longer signs (a newer one does), so it may be retired."""
        from devhub.apps import oauth

        with self.db.session() as session:
            old = oauth.create_signing_key(session, self.settings, SYSTEM).kid
            session.flush()
            oauth.create_signing_key(session, self.settings, SYSTEM)
            return old

    def new_guide(self, vis: str) -> str:
        from devhub.docs import service as docs

        slug = f"guide-{self.new_user_id()}"
        with self.db.session() as session:
            docs.save_guide(session, f"api:default/{API_FOR[vis]}", slug, "A guide", "Hello.", 0, "matrix")
        return slug


def _entity(kind: str, name: str, visibility: str, spec: dict, **annotations) -> dict:
    notes = {"devhub.io/visibility": visibility, **annotations}
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "description": f"The {name}.", "annotations": notes},
        "spec": spec,
    }


def _api(name: str, visibility: str) -> dict:
    pong = {"description": "pong", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pong"}}}}
    definition = yaml.safe_dump(
        {
            "openapi": "3.0.3",
            "info": {"title": name, "version": "1.0.0"},
            "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": pong}}}},
            "components": {"schemas": {"Pong": {"type": "object", "properties": {"ok": {"type": "boolean"}}}}},
        }
    )
    return _entity(
        "API",
        name,
        visibility,
        {"type": "openapi", "lifecycle": "production", "owner": "alpha-team", "definition": definition},
    )


def build_world(db, settings, tmp: Path) -> World:
    team = {"type": "team", "children": []}
    documents = [
        _entity("Group", "alpha-team", "public", team),
        _entity("Group", "beta-team", "internal", team),
        _entity("Group", "secret-squad", "private", team, **{"devhub.io/visible-to": "alpha-team"}),
        _api("open-weather", "public"),
        _api("inside-billing", "internal"),
        _api("zz-secret-ledger", "private"),
        _entity(
            "Component",
            "consumer-app",
            "public",
            {
                "type": "service",
                "lifecycle": "production",
                "owner": "beta-team",
                "consumesApis": ["open-weather", "inside-billing", "zz-secret-ledger"],
            },
        ),
    ]
    folder = tmp / "world"
    folder.mkdir()
    (folder / "catalog-info.yaml").write_text(yaml.safe_dump_all(documents))
    with db.session() as session:
        location, report = catalog.register_location(session, settings, str(folder), "file", trusted=True)
        assert report.errors == 0
        location_id = location.id
    users = {
        "external": make_account(db, settings, "external@example.com"),
        "member": make_account(db, settings, "member@example.com", teams={"group:default/beta-team": "member"}),
        "owner": make_account(db, settings, "owner@example.com", teams={"group:default/alpha-team": "owner"}),
        "admin": make_account(db, settings, "admin@example.com", admin=True),
    }
    with db.session() as session:
        _products(session, settings)
    tokens: dict[str, str | None] = {"anonymous": None}
    with db.session() as session:
        for role, user_id in users.items():
            tokens[role] = identity.start_session(session, settings, session.get(User, user_id), SYSTEM, "matrix")
    return World(tmp, db, settings, tokens, users, location_id)


def _products(session, settings) -> None:
    """One product per visibility, owned by alpha-team, each with a free (automatic), a gold (manual) and a
    partner (OAuth2) plan."""
    from devhub.apps import service as apps
    from devhub.apps.schemas import PlanIn, ProductApiIn, ProductIn

    for vis, slug in PRODUCT_FOR.items():
        data = ProductIn(
            slug=slug, name=slug, owner="alpha-team", visibility=vis, apis=[ProductApiIn(api=API_FOR[vis])]
        )
        product = apps.create_product(session, OPERATOR, data, SYSTEM)
        apps.create_plan(session, OPERATOR, product, PlanIn(slug="free", name="Free"), SYSTEM)
        apps.create_plan(session, OPERATOR, product, PlanIn(slug="gold", name="Gold", approval="manual"), SYSTEM)
        partner = PlanIn(slug="partner", name="Partner", credential_type="oauth2", scopes=["read"])
        apps.create_plan(session, OPERATOR, product, partner, SYSTEM)


# --- Routes ----------------------------------------------------------------------------------------------

Builder = Callable[[World, str, str], tuple[str, dict]]


@dataclass(frozen=True)
class Entry:
    expect: Callable[[str, str], bool]
    build: Builder = lambda world, role, vis: ("", {})
    by_visibility: bool = False


def url(path: str, **kwargs) -> Builder:
    return lambda world, role, vis: (
        path.format(
            entity=world.entity_path(vis),
            team=TEAM_FOR[vis],
            api=API_FOR[vis],
            location=world.location_id,
            product=PRODUCT_FOR[vis],
        ),
        kwargs,
    )


def entity_entry(expect, path: str, **kwargs) -> Entry:
    return Entry(expect, url(path, **kwargs), by_visibility=True)


def token_delete(world, role, vis):
    return f"/api/v1/me/tokens/{world.new_token_id(role)}", {}


def token_revoke_page(world, role, vis):
    return f"/account/tokens/{world.new_token_id(role)}/revoke", {}


def user_patch(world, role, vis):
    return f"/api/v1/admin/users/{world.new_user_id()}", {"json": {"status": "approved"}}


def user_post(world, role, vis):
    return f"/admin/users/{world.new_user_id()}", {"data": {"status": "approved"}}


def location_of(action: str, method_path: str) -> Builder:
    return lambda world, role, vis: (method_path.format(id=world.new_location_id()), {})


def app_route(path: str, method_kwargs: dict | None = None, **app_options) -> Builder:
    """`{app}`, `{key}`, `{client}` of a new application of the external developer; `{n}` a fresh number."""

    def build(world, role, vis):
        app_uid = world.new_app(**app_options)
        key = world.new_key(app_uid) if "{key}" in path else ""
        client = world.new_client(app_uid) if "{client}" in path else ""
        return path.format(app=app_uid, key=key, client=client), dict(method_kwargs or {})

    return build


def fresh_slug(path: str, field: str = "slug", **body) -> Builder:
    """A JSON body with a slug never used before (creating twice would be a conflict, not a refusal)."""
    return lambda world, role, vis: (
        path.format(product=PRODUCT_FOR[vis]),
        {"json": {**body, field: f"matrix-{world.new_user_id()}"}},
    )


def subscription(path: str, **kwargs) -> Builder:
    return lambda world, role, vis: (path.format(sub=world.new_subscription()), kwargs)


def guide(path: str, **kwargs) -> Builder:
    def build(world, role, vis):
        slug = world.new_guide(vis)
        return path.format(entity=world.entity_path(vis), slug=slug), kwargs

    return build


ROUTES: dict[tuple[str, str], Entry] = {
    # The system, open to all.
    ("GET", "/api/v1/openapi.json"): Entry(anyone, url("/api/v1/openapi.json")),
    ("GET", "/api/v1/health"): Entry(anyone, url("/api/v1/health")),
    # Single sign-on (off in these tests: 404 for everyone, which is neither a grant nor a leak).
    ("GET", "/auth/sso/login"): Entry(anyone_or_absent, url("/auth/sso/login")),
    ("GET", "/auth/sso/callback"): Entry(anyone_or_absent, url("/auth/sso/callback?code=x&state=y")),
    # Accounts and sign-in.
    ("GET", "/api/v1/me"): Entry(anyone, url("/api/v1/me")),
    ("POST", "/api/v1/auth/signup"): Entry(
        anyone, url("/api/v1/auth/signup", json={"email": "new-api@example.com", "password": "a long enough password"})
    ),
    ("POST", "/api/v1/auth/tokens"): Entry(
        anyone,
        url(
            "/api/v1/auth/tokens",
            json={"email": "external@example.com", "password": "correct horse battery", "name": "cli"},
        ),
    ),
    ("GET", "/api/v1/me/tokens"): Entry(signed_in, url("/api/v1/me/tokens")),
    ("POST", "/api/v1/me/tokens"): Entry(signed_in, url("/api/v1/me/tokens", json={"name": "t", "scopes": ["read"]})),
    ("DELETE", "/api/v1/me/tokens/{token_id}"): Entry(signed_in, token_delete),
    ("GET", "/login"): Entry(anyone, url("/login")),
    # A wrong password answers 401 to everyone: the route itself is open.
    ("POST", "/login"): Entry(anyone_or_absent, url("/login", data={"email": "nobody@example.com", "password": "x"})),
    ("POST", "/logout"): Entry(anyone, url("/logout")),
    ("GET", "/signup"): Entry(anyone, url("/signup")),
    ("POST", "/signup"): Entry(anyone, url("/signup", data={"email": "x", "password": "short"})),
    ("GET", "/verify-email"): Entry(anyone, url("/verify-email?token=bogus")),
    ("GET", "/forgot-password"): Entry(anyone, url("/forgot-password")),
    ("POST", "/forgot-password"): Entry(anyone, url("/forgot-password", data={"email": "nobody@example.com"})),
    ("GET", "/reset-password"): Entry(anyone, url("/reset-password?token=bogus")),
    ("POST", "/reset-password"): Entry(anyone, url("/reset-password", data={"token": "bogus", "password": "x"})),
    ("GET", "/account"): Entry(signed_in, url("/account")),
    ("POST", "/account/tokens"): Entry(signed_in, url("/account/tokens", data={"name": "t", "scopes": "read"})),
    ("POST", "/account/tokens/{token_id}/revoke"): Entry(signed_in, token_revoke_page),
    ("POST", "/account/resend-confirmation"): Entry(signed_in, url("/account/resend-confirmation")),
    # Administration.
    ("GET", "/api/v1/admin/users"): Entry(admin_only, url("/api/v1/admin/users")),
    ("PATCH", "/api/v1/admin/users/{user_id}"): Entry(admin_only, user_patch),
    ("POST", "/api/v1/admin/invitations"): Entry(
        admin_only, url("/api/v1/admin/invitations", json={"email": "invitee@example.com"})
    ),
    ("GET", "/api/v1/audit"): Entry(admin_only, url("/api/v1/audit")),
    ("GET", "/api/v1/audit/export.csv"): Entry(admin_only, url("/api/v1/audit/export.csv")),
    ("GET", "/api/v1/audit/verify"): Entry(admin_only, url("/api/v1/audit/verify")),
    ("GET", "/api/v1/admin/outbox"): Entry(admin_only, url("/api/v1/admin/outbox")),
    ("GET", "/admin/users"): Entry(admin_only, url("/admin/users")),
    ("POST", "/admin/users/{user_id}"): Entry(admin_only, user_post),
    ("POST", "/admin/invitations"): Entry(admin_only, url("/admin/invitations", data={"email": "inv@example.com"})),
    ("GET", "/admin/outbox"): Entry(admin_only, url("/admin/outbox")),
    ("GET", "/admin/audit"): Entry(admin_only, url("/admin/audit")),
    ("GET", "/admin/audit.csv"): Entry(admin_only, url("/admin/audit.csv")),
    # Teams.
    ("GET", "/api/v1/teams/{namespace}/{name}/members"): entity_entry(
        team_reader, "/api/v1/teams/default/{team}/members"
    ),
    ("PUT", "/api/v1/teams/{namespace}/{name}/members"): entity_entry(
        team_manager, "/api/v1/teams/default/{team}/members", json={"email": "external@example.com", "role": "member"}
    ),
    ("GET", "/teams/{namespace}/{name}/members"): entity_entry(team_reader, "/teams/default/{team}/members"),
    ("POST", "/teams/{namespace}/{name}/members"): entity_entry(
        team_manager, "/teams/default/{team}/members", data={"email": "external@example.com", "role": "member"}
    ),
    # The catalog.
    ("GET", "/"): Entry(anyone, url("/")),
    ("GET", "/catalog"): Entry(anyone, url("/catalog")),
    ("GET", "/search"): Entry(anyone, url("/search?q=e")),
    ("GET", "/api/v1/search"): Entry(anyone, url("/api/v1/search?q=e")),
    ("GET", "/api/v1/catalog/entities"): Entry(anyone, url("/api/v1/catalog/entities?size=100")),
    ("GET", "/api/v1/catalog/facets"): Entry(anyone, url("/api/v1/catalog/facets")),
    ("GET", "/api/v1/catalog/schemas"): Entry(anyone, url("/api/v1/catalog/schemas")),
    ("GET", "/api/v1/catalog/entities/{kind}/{namespace}/{name}"): entity_entry(
        sees, "/api/v1/catalog/entities/api/default/{api}"
    ),
    ("GET", "/api/v1/catalog/entities/{kind}/{namespace}/{name}/related/{relation}"): entity_entry(
        sees, "/api/v1/catalog/entities/api/default/{api}/related/apiConsumedBy"
    ),
    ("GET", "/catalog/{namespace}/{kind}/{name}"): entity_entry(sees, "/catalog/default/api/{api}"),
    ("PUT", "/api/v1/catalog/entities/{kind}/{namespace}/{name}/visibility"): Entry(
        owner_team,
        lambda w, r, v: (
            f"/api/v1/catalog/entities/api/default/{API_FOR[v]}/visibility",
            {"json": {"visibility": v, "teams": []}},
        ),
        by_visibility=True,
    ),
    ("POST", "/catalog/{namespace}/{kind}/{name}/visibility"): Entry(
        owner_team,
        lambda w, r, v: (f"/catalog/default/api/{API_FOR[v]}/visibility", {"data": {"visibility": v}}),
        by_visibility=True,
    ),
    # Locations name the server's files: administrators only.
    ("GET", "/api/v1/catalog/locations"): Entry(admin_only, url("/api/v1/catalog/locations")),
    ("POST", "/api/v1/catalog/locations"): Entry(
        admin_only, url("/api/v1/catalog/locations", json={"target": "/nonexistent/catalog-info.yaml"})
    ),
    ("GET", "/api/v1/catalog/locations/{location_id}"): Entry(admin_only, url("/api/v1/catalog/locations/{location}")),
    ("POST", "/api/v1/catalog/locations/{location_id}/refresh"): Entry(
        admin_only, url("/api/v1/catalog/locations/{location}/refresh")
    ),
    ("DELETE", "/api/v1/catalog/locations/{location_id}"): Entry(
        admin_only, location_of("delete", "/api/v1/catalog/locations/{id}")
    ),
    ("GET", "/locations"): Entry(admin_only, url("/locations")),
    ("POST", "/locations"): Entry(admin_only, url("/locations", data={"target": "/nonexistent"})),
    ("GET", "/locations/{location_id}"): Entry(admin_only, url("/locations/{location}")),
    ("POST", "/locations/{location_id}/refresh"): Entry(admin_only, url("/locations/{location}/refresh")),
    ("POST", "/locations/{location_id}/delete"): Entry(admin_only, location_of("delete", "/locations/{id}/delete")),
    # API definitions: readers of the API read its versions and docs; the owner team publishes.
    ("GET", "/api/v1/apis/{namespace}/{name}/versions"): entity_entry(sees, "/api/v1/apis/default/{api}/versions"),
    ("GET", "/api/v1/apis/{namespace}/{name}/versions/{version}"): entity_entry(
        sees, "/api/v1/apis/default/{api}/versions/1.0.0"
    ),
    ("GET", "/api/v1/apis/{namespace}/{name}/versions/{version}/definition"): entity_entry(
        sees, "/api/v1/apis/default/{api}/versions/1.0.0/definition?format=yaml"
    ),
    ("POST", "/api/v1/apis/{namespace}/{name}/versions"): entity_entry(
        owner_team,
        "/api/v1/apis/default/{api}/versions",
        json={"version": "2.0.0", "definition": "openapi: 3.0.3\ninfo: {title: T, version: 2.0.0}\npaths: {}\n"},
    ),
    ("PATCH", "/api/v1/apis/{namespace}/{name}/versions/{version}"): entity_entry(
        owner_team, "/api/v1/apis/default/{api}/versions/1.0.0", json={"lifecycle": "stable"}
    ),
    ("GET", "/apis/{namespace}/{name}/versions"): entity_entry(sees, "/apis/default/{api}/versions"),
    ("GET", "/apis/{namespace}/{name}/publish"): entity_entry(owner_team, "/apis/default/{api}/publish"),
    ("POST", "/apis/{namespace}/{name}/publish"): entity_entry(
        owner_team,
        "/apis/default/{api}/publish",
        data={"version": "3.0.0", "lifecycle": "stable"},
        files={"file": ("api.yaml", b"openapi: 3.0.3\ninfo: {title: T, version: 3.0.0}\npaths: {}\n")},
    ),
    ("GET", "/apis/{namespace}/{name}"): entity_entry(sees, "/apis/default/{api}"),
    ("GET", "/apis/{namespace}/{name}/v/{version}"): entity_entry(sees, "/apis/default/{api}/v/1.0.0"),
    ("GET", "/apis/{namespace}/{name}/v/{version}/operations/{anchor}"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/operations/ping"
    ),
    # The try-it console: the page follows the API's visibility; calls only with one's own applications'
    # credentials (admins included: the console acts as the developer). The allowed call is refused later,
    # as invalid (an undeclared parameter, a sandbox key for production), so no gateway is needed here.
    ("GET", "/apis/{namespace}/{name}/v/{version}/operations/{anchor}/try"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/operations/ping/try"
    ),
    ("POST", "/apis/{namespace}/{name}/v/{version}/operations/{anchor}/try"): Entry(
        lambda role, vis: role == APP_OWNER,
        lambda world, role, vis: (
            "/apis/default/open-weather/v/1.0.0/operations/ping/try",
            {
                "data": {
                    "credential": f"{world.new_key(world.new_app())}@open-weather-plans",
                    "environment": "production",
                }
            },
        ),
    ),
    ("GET", "/api/v1/console/credentials"): entity_entry(
        sees, "/api/v1/console/credentials?api=default/{api}&version=1.0.0&operation=ping"
    ),
    ("POST", "/api/v1/console/calls"): Entry(
        lambda role, vis: role == APP_OWNER,
        lambda world, role, vis: (
            "/api/v1/console/calls",
            {
                "json": {
                    "api": "default/open-weather",
                    "version": "1.0.0",
                    "operation": "ping",
                    "credential": world.new_key(world.new_app()),
                    "parameters": {"query": {"undeclared": "1"}},
                }
            },
        ),
    ),
    ("GET", "/apis/{namespace}/{name}/v/{version}/schemas"): entity_entry(sees, "/apis/default/{api}/v/1.0.0/schemas"),
    ("GET", "/apis/{namespace}/{name}/v/{version}/schemas.md"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/schemas.md"
    ),
    ("GET", "/apis/{namespace}/{name}/v/{version}/schemas/{schema:path}"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/schemas/Pong"
    ),
    ("GET", "/apis/{namespace}/{name}/v/{version}/changes"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/changes?from=1.0.0"
    ),
    ("GET", "/apis/{namespace}/{name}/v/{version}/changes.md"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/changes.md?from=1.0.0"
    ),
    ("GET", "/apis/{namespace}/{name}/v/{version}/switch"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/switch?to=1.0.0"
    ),
    # Self-serve access (JSON): products follow visibility, owners manage; applications are their owner's.
    ("GET", "/api/v1/products"): Entry(anyone, url("/api/v1/products?size=100")),
    ("POST", "/api/v1/products"): Entry(
        lambda role, vis: owner_team(role, "public"),
        fresh_slug("/api/v1/products", name="Matrix product", owner="alpha-team"),
    ),
    ("GET", "/api/v1/products/{slug}"): entity_entry(sees, "/api/v1/products/{product}"),
    ("PATCH", "/api/v1/products/{slug}"): entity_entry(
        owner_team, "/api/v1/products/{product}", json={"description": "Changed."}
    ),
    ("POST", "/api/v1/products/{slug}/plans"): Entry(
        owner_team, fresh_slug("/api/v1/products/{product}/plans", name="Matrix plan"), by_visibility=True
    ),
    ("PATCH", "/api/v1/products/{slug}/plans/{plan}"): entity_entry(
        owner_team, "/api/v1/products/{product}/plans/free", json={"rate_per_second": 5}
    ),
    ("GET", "/api/v1/usage/apps"): Entry(signed_in, url("/api/v1/usage/apps")),
    ("GET", "/api/v1/usage/apps/{uid}"): Entry(app_owner, app_route("/api/v1/usage/apps/{app}")),
    ("GET", "/api/v1/usage/apis/{namespace}/{name}"): entity_entry(owner_team, "/api/v1/usage/apis/default/{api}"),
    ("GET", "/api/v1/usage/exports/{month}"): Entry(signed_in, url("/api/v1/usage/exports/2026-11")),
    ("GET", "/api/v1/usage/funnel"): Entry(admin_only, url("/api/v1/usage/funnel")),
    ("GET", "/api/v1/usage/funnel/developers"): Entry(admin_only, url("/api/v1/usage/funnel/developers")),
    ("GET", "/api/v1/usage/rollup"): Entry(admin_only, url("/api/v1/usage/rollup")),
    ("POST", "/api/v1/usage/rollup"): Entry(admin_only, url("/api/v1/usage/rollup")),
    ("GET", "/usage"): Entry(signed_in, url("/usage")),
    ("GET", "/usage/apps/{uid}"): Entry(app_owner, app_route("/usage/apps/{app}")),
    ("GET", "/usage/apis/{namespace}/{name}"): entity_entry(owner_team, "/usage/apis/default/{api}"),
    ("GET", "/usage/exports"): Entry(signed_in, url("/usage/exports")),
    ("GET", "/admin/funnel"): Entry(admin_only, url("/admin/funnel")),
    ("GET", "/api/v1/apps"): Entry(signed_in, url("/api/v1/apps")),
    ("POST", "/api/v1/apps"): Entry(signed_in, url("/api/v1/apps", json={"name": "Matrix app"})),
    ("GET", "/api/v1/apps/{app_id}"): Entry(app_owner, app_route("/api/v1/apps/{app}")),
    ("PATCH", "/api/v1/apps/{app_id}"): Entry(app_owner, app_route("/api/v1/apps/{app}", {"json": {"name": "x"}})),
    ("DELETE", "/api/v1/apps/{app_id}"): Entry(app_owner, app_route("/api/v1/apps/{app}")),
    ("POST", "/api/v1/apps/{app_id}/subscriptions"): Entry(
        app_owner,
        app_route(
            "/api/v1/apps/{app}/subscriptions",
            {"json": {"product": PRODUCT_FOR["public"], "plan": "gold"}},
            subscribe=False,
        ),
    ),
    ("POST", "/api/v1/apps/{app_id}/keys"): Entry(app_owner, app_route("/api/v1/apps/{app}/keys", {"json": {}})),
    ("POST", "/api/v1/apps/{app_id}/keys/{key_id}/rotate"): Entry(
        app_owner, app_route("/api/v1/apps/{app}/keys/{key}/rotate")
    ),
    ("DELETE", "/api/v1/apps/{app_id}/keys/{key_id}"): Entry(app_owner, app_route("/api/v1/apps/{app}/keys/{key}")),
    ("POST", "/api/v1/apps/{app_id}/clients"): Entry(
        app_owner, app_route("/api/v1/apps/{app}/clients", {"json": {}}, client=False)
    ),
    ("POST", "/api/v1/apps/{app_id}/clients/{client_id}/rotate"): Entry(
        app_owner, app_route("/api/v1/apps/{app}/clients/{client}/rotate")
    ),
    ("DELETE", "/api/v1/apps/{app_id}/clients/{client_id}"): Entry(
        app_owner, app_route("/api/v1/apps/{app}/clients/{client}")
    ),
    ("GET", "/api/v1/subscriptions"): Entry(signed_in, url("/api/v1/subscriptions?state=all")),
    ("GET", "/api/v1/subscriptions/{subscription_id}"): Entry(
        app_or_product_owner, subscription("/api/v1/subscriptions/{sub}")
    ),
    ("POST", "/api/v1/subscriptions/{subscription_id}/decision"): Entry(
        lambda role, vis: owner_team(role, "public"),
        subscription("/api/v1/subscriptions/{sub}/decision", json={"action": "approve"}),
    ),
    ("GET", "/api/v1/admin/signing-keys"): Entry(admin_only, url("/api/v1/admin/signing-keys")),
    ("POST", "/api/v1/admin/signing-keys"): Entry(admin_only, url("/api/v1/admin/signing-keys")),
    ("DELETE", "/api/v1/admin/signing-keys/{kid}"): Entry(
        admin_only, lambda world, role, vis: (f"/api/v1/admin/signing-keys/{world.old_signing_key()}", {})
    ),
    ("POST", "/oauth2/token"): Entry(
        own_credentials, url("/oauth2/token", data={"grant_type": "client_credentials", "client_id": "x"})
    ),
    # The sandbox: authenticated by the gateway's signature, not by who browses; private APIs answer 404 unsigned.
    ("GET", "/sandbox/{namespace}/{name}/{version}/{path:path}"): Entry(
        own_credentials, url("/sandbox/default/{api}/1.0.0/pets"), by_visibility=True
    ),
    ("POST", "/sandbox/{namespace}/{name}/{version}/{path:path}"): Entry(
        own_credentials, url("/sandbox/default/{api}/1.0.0/pets", json={"name": "rex"})
    ),
    ("PUT", "/sandbox/{namespace}/{name}/{version}/{path:path}"): Entry(
        own_credentials, url("/sandbox/default/{api}/1.0.0/pets/1", json={"name": "rex"})
    ),
    ("PATCH", "/sandbox/{namespace}/{name}/{version}/{path:path}"): Entry(
        own_credentials, url("/sandbox/default/{api}/1.0.0/pets/1", json={"name": "rex"})
    ),
    ("DELETE", "/sandbox/{namespace}/{name}/{version}/{path:path}"): Entry(
        own_credentials, url("/sandbox/default/{api}/1.0.0/pets/1")
    ),
    ("OPTIONS", "/sandbox/{namespace}/{name}/{version}/{path:path}"): Entry(
        own_credentials, url("/sandbox/default/{api}/1.0.0/pets")
    ),
    ("TRACE", "/sandbox/{namespace}/{name}/{version}/{path:path}"): Entry(
        own_credentials, url("/sandbox/default/{api}/1.0.0/pets")
    ),
    ("GET", "/api/v1/sandbox/data"): Entry(signed_in, url("/api/v1/sandbox/data")),
    ("DELETE", "/api/v1/sandbox/data"): Entry(signed_in, url("/api/v1/sandbox/data")),
    ("GET", "/sandbox/data"): Entry(signed_in, url("/sandbox/data")),
    ("POST", "/sandbox/data/reset"): Entry(signed_in, url("/sandbox/data/reset")),
    ("GET", "/.well-known/jwks.json"): Entry(anyone, url("/.well-known/jwks.json")),
    ("GET", "/.well-known/oauth-authorization-server"): Entry(anyone, url("/.well-known/oauth-authorization-server")),
    ("GET", "/api/v1/notifications"): Entry(signed_in, url("/api/v1/notifications")),
    ("POST", "/api/v1/notifications/read"): Entry(signed_in, url("/api/v1/notifications/read")),
    ("POST", "/api/v1/notifications/{notification_id}/read"): Entry(
        signed_in, lambda world, role, vis: (f"/api/v1/notifications/{world.new_notification(role)}/read", {})
    ),
    # Governance: a version's findings follow the API's visibility; the owner team deprecates.
    ("GET", "/api/v1/apis/{namespace}/{name}/versions/{version}/lint"): entity_entry(
        sees, "/api/v1/apis/default/{api}/versions/1.0.0/lint"
    ),
    ("GET", "/api/v1/apis/{namespace}/{name}/versions/{version}/impact"): entity_entry(
        owner_team, "/api/v1/apis/default/{api}/versions/1.0.0/impact"
    ),
    ("GET", "/api/v1/apis/{namespace}/{name}/versions/{version}/breaking-changes"): entity_entry(
        sees, "/api/v1/apis/default/{api}/versions/1.0.0/breaking-changes"
    ),
    ("GET", "/api/v1/apis/{namespace}/{name}/deprecations"): entity_entry(
        sees, "/api/v1/apis/default/{api}/deprecations"
    ),
    ("PUT", "/api/v1/apis/{namespace}/{name}/versions/{version}/deprecation"): entity_entry(
        owner_team, "/api/v1/apis/default/{api}/versions/1.0.0/deprecation", json={"sunset": "2031-01-01"}
    ),
    ("DELETE", "/api/v1/apis/{namespace}/{name}/versions/{version}/deprecation"): entity_entry(
        owner_team, "/api/v1/apis/default/{api}/versions/1.0.0/deprecation"
    ),
    ("GET", "/api/v1/governance/scorecards"): Entry(anyone, url("/api/v1/governance/scorecards")),
    ("GET", "/api/v1/governance/ruleset"): Entry(anyone, url("/api/v1/governance/ruleset")),
    ("GET", "/apis/{namespace}/{name}/v/{version}/governance"): entity_entry(
        sees, "/apis/default/{api}/v/1.0.0/governance"
    ),
    ("POST", "/apis/{namespace}/{name}/v/{version}/deprecation"): entity_entry(
        owner_team, "/apis/default/{api}/v/1.0.0/deprecation", data={"operation": "ping", "sunset": "2031-01-01"}
    ),
    ("GET", "/governance/scorecards"): Entry(anyone, url("/governance/scorecards")),
    # SLOs: readers of the API see them; its owner team sets them.
    ("GET", "/api/v1/slos"): Entry(anyone, url("/api/v1/slos")),
    ("GET", "/api/v1/apis/{namespace}/{name}/slo"): entity_entry(sees, "/api/v1/apis/default/{api}/slo"),
    ("PATCH", "/api/v1/apis/{namespace}/{name}/slo"): entity_entry(
        owner_team, "/api/v1/apis/default/{api}/slo", json={"availability_target": 99.5}
    ),
    ("DELETE", "/api/v1/apis/{namespace}/{name}/slo"): entity_entry(owner_team, "/api/v1/apis/default/{api}/slo"),
    ("POST", "/api/v1/apis/{namespace}/{name}/slo/webhook-secret"): entity_entry(
        owner_team, "/api/v1/apis/default/{api}/slo/webhook-secret"
    ),
    ("GET", "/api/v1/apis/{namespace}/{name}/slo/alerts"): entity_entry(sees, "/api/v1/apis/default/{api}/slo/alerts"),
    ("GET", "/slos"): Entry(anyone, url("/slos")),
    ("GET", "/apis/{namespace}/{name}/slo"): entity_entry(sees, "/apis/default/{api}/slo"),
    ("POST", "/apis/{namespace}/{name}/slo"): entity_entry(
        owner_team,
        "/apis/default/{api}/slo",
        data={"availability_target": "99.5", "latency_target": "99", "latency_ms": "300"},
    ),
    # Guides belong to the entity: readers see them, the owner team writes them.
    ("GET", "/api/v1/docs/{namespace}/{kind}/{name}/guides"): entity_entry(sees, "/api/v1/docs/{entity}/guides"),
    ("GET", "/api/v1/docs/{namespace}/{kind}/{name}/guides/{slug:path}"): Entry(
        sees, guide("/api/v1/docs/{entity}/guides/{slug}"), by_visibility=True
    ),
    ("PUT", "/api/v1/docs/{namespace}/{kind}/{name}/guides/{slug:path}"): Entry(
        owner_team, guide("/api/v1/docs/{entity}/guides/{slug}", json={"title": "T", "body": "B"}), by_visibility=True
    ),
    ("DELETE", "/api/v1/docs/{namespace}/{kind}/{name}/guides/{slug:path}"): Entry(
        owner_team, guide("/api/v1/docs/{entity}/guides/{slug}"), by_visibility=True
    ),
    ("GET", "/docs/{namespace}/{kind}/{name}"): entity_entry(sees, "/docs/{entity}"),
    ("GET", "/docs/{namespace}/{kind}/{name}/new"): entity_entry(owner_team, "/docs/{entity}/new"),
    ("POST", "/docs/{namespace}/{kind}/{name}/new"): entity_entry(
        owner_team, "/docs/{entity}/new", data={"title": "New", "slug": "new-guide", "body": "Hi", "position": "0"}
    ),
    ("GET", "/docs/{namespace}/{kind}/{name}/{slug:path}"): Entry(
        sees, guide("/docs/{entity}/{slug}"), by_visibility=True
    ),
    ("GET", "/docs/{namespace}/{kind}/{name}/{slug:path}/edit"): Entry(
        owner_team, guide("/docs/{entity}/{slug}/edit"), by_visibility=True
    ),
    ("POST", "/docs/{namespace}/{kind}/{name}/{slug:path}/edit"): Entry(
        owner_team,
        guide("/docs/{entity}/{slug}/edit", data={"title": "T", "slug": "", "body": "B", "position": "0"}),
        by_visibility=True,
    ),
    ("POST", "/docs/{namespace}/{kind}/{name}/{slug:path}/delete"): Entry(
        owner_team, guide("/docs/{entity}/{slug}/delete"), by_visibility=True
    ),
    # Self-serve access pages.
    ("GET", "/products"): Entry(anyone, url("/products?size=100")),
    ("GET", "/products/new"): Entry(lambda role, vis: role in ("member", "owner", "admin"), url("/products/new")),
    ("POST", "/products/new"): Entry(
        lambda role, vis: owner_team(role, "public"),
        lambda w, r, v: (
            "/products/new",
            {"data": {"slug": f"page-{w.new_user_id()}", "name": "P", "owner": "alpha-team"}},
        ),
    ),
    ("GET", "/products/{slug}"): entity_entry(sees, "/products/{product}"),
    ("POST", "/products/{slug}/access"): entity_entry(
        team_reader, "/products/{product}/access", data={"plan": "free", "app_name": "Matrix page app"}
    ),
    ("GET", "/products/{slug}/edit"): entity_entry(owner_team, "/products/{product}/edit"),
    ("POST", "/products/{slug}/edit"): Entry(
        owner_team,
        lambda w, r, v: (
            f"/products/{PRODUCT_FOR[v]}/edit",
            {"data": {"name": PRODUCT_FOR[v], "visibility": v, "apis": API_FOR[v], "description": "Edited."}},
        ),
        by_visibility=True,
    ),
    ("GET", "/products/{slug}/plans/new"): entity_entry(owner_team, "/products/{product}/plans/new"),
    ("POST", "/products/{slug}/plans/new"): Entry(
        owner_team,
        lambda w, r, v: (
            f"/products/{PRODUCT_FOR[v]}/plans/new",
            {"data": {"slug": f"page-{w.new_user_id()}", "name": "Page plan"}},
        ),
        by_visibility=True,
    ),
    ("GET", "/products/{slug}/plans/{plan}/edit"): entity_entry(owner_team, "/products/{product}/plans/free/edit"),
    ("POST", "/products/{slug}/plans/{plan}/edit"): entity_entry(
        owner_team, "/products/{product}/plans/free/edit", data={"name": "Free", "rate_per_second": "5"}
    ),
    ("GET", "/apps"): Entry(signed_in, url("/apps")),
    ("GET", "/apps/new"): Entry(signed_in, url("/apps/new")),
    ("POST", "/apps/new"): Entry(signed_in, url("/apps/new", data={"name": "Matrix page app"})),
    ("GET", "/apps/{app_id}"): Entry(app_owner, app_route("/apps/{app}")),
    ("GET", "/apps/{app_id}/edit"): Entry(app_owner, app_route("/apps/{app}/edit")),
    ("POST", "/apps/{app_id}/edit"): Entry(app_owner, app_route("/apps/{app}/edit", {"data": {"name": "Renamed"}})),
    ("POST", "/apps/{app_id}/delete"): Entry(app_owner, app_route("/apps/{app}/delete")),
    ("POST", "/apps/{app_id}/keys"): Entry(app_owner, app_route("/apps/{app}/keys", {"data": {"name": "k"}})),
    ("POST", "/apps/{app_id}/keys/{key_id}/rotate"): Entry(app_owner, app_route("/apps/{app}/keys/{key}/rotate")),
    ("POST", "/apps/{app_id}/keys/{key_id}/revoke"): Entry(app_owner, app_route("/apps/{app}/keys/{key}/revoke")),
    ("POST", "/apps/{app_id}/clients"): Entry(
        app_owner, app_route("/apps/{app}/clients", {"data": {"environment": "sandbox"}}, client=False)
    ),
    ("POST", "/apps/{app_id}/clients/{client_id}/rotate"): Entry(
        app_owner, app_route("/apps/{app}/clients/{client}/rotate")
    ),
    ("POST", "/apps/{app_id}/clients/{client_id}/revoke"): Entry(
        app_owner, app_route("/apps/{app}/clients/{client}/revoke")
    ),
    ("POST", "/apps/{app_id}/subscriptions"): Entry(
        app_owner,
        app_route("/apps/{app}/subscriptions", {"data": {"plan": f"{PRODUCT_FOR['public']}/gold"}}, subscribe=False),
    ),
    ("POST", "/apps/{app_id}/subscriptions/{sub_id}/cancel"): Entry(app_owner, lambda w, r, v: _page_cancel(w)),
    ("GET", "/requests"): Entry(signed_in, url("/requests?state=all")),
    ("POST", "/requests/{sub_id}"): Entry(
        lambda role, vis: owner_team(role, "public"), subscription("/requests/{sub}", data={"action": "approve"})
    ),
    ("GET", "/notifications"): Entry(signed_in, url("/notifications")),
    ("POST", "/notifications/read-all"): Entry(signed_in, url("/notifications/read-all")),
}


def _page_cancel(world: World) -> tuple[str, dict]:
    """Cancel (from the application's page) the pending request of a new application of the external developer."""
    from devhub.apps.models import Subscription

    sub_uid = world.new_subscription()
    with world.db.session() as session:
        app_uid = session.scalar(
            select(Application.uid)
            .join(Subscription, Subscription.application_id == Application.id)
            .where(Subscription.uid == sub_uid)
        )
    return f"/apps/{app_uid}/subscriptions/{sub_uid}/cancel", {"data": {"reason": "no longer needed"}}


# --- The test --------------------------------------------------------------------------------------------


def app_routes(app) -> set[tuple[str, str]]:
    """Every route but SCIM's, which takes only its own bearer token (tests/identity/test_scim.py checks
    that sessions, other users' tokens and admin tokens without the scim scope are all refused)."""
    found: set[tuple[str, str]] = set()

    def walk(routes) -> None:
        for route in routes:
            if hasattr(route, "original_router"):
                walk(route.original_router.routes)
            elif getattr(route, "methods", None) and not route.path.startswith("/scim/"):
                found.update((method, route.path) for method in route.methods - {"HEAD"})

    walk(app.routes)
    return found


def test_every_route_has_a_matrix_entry(client):
    missing = sorted(app_routes(client.app) - set(ROUTES))
    assert missing == [], f"add these routes to the authorization matrix: {missing}"
    stale = sorted(set(ROUTES) - app_routes(client.app))
    assert stale == [], f"these matrix entries name routes that no longer exist: {stale}"


def _headers(world: World, role: str) -> dict[str, str]:
    token = world.tokens[role]
    subject = token or BROWSER
    cookie = f"devhub_session={token}" if token else f"devhub_browser={BROWSER}"
    csrf = hmac.new(world.settings.resolved_secret_key.encode(), f"csrf:{subject}".encode(), hashlib.sha256)
    return {"cookie": cookie, "x-csrf-token": csrf.hexdigest(), "accept": "text/html,application/json"}


def _refused(status: int, location: str | None) -> bool:
    return status in (401, 403, 404) or (status in (302, 303, 307) and (location or "").startswith("/login"))


def _invisible_names(role: str) -> tuple[str, ...]:
    names = () if "private" in SEES[role] else SECRET_NAMES
    return names + (() if "internal" in SEES[role] else INTERNAL_NAMES)


@pytest.mark.parametrize("route", sorted(ROUTES), ids=lambda r: f"{r[0]} {r[1]}")
def test_route_allows_and_denies_as_the_policy_says(route, db, settings, tmp_path):
    from devhub.app import create_app

    method, _ = route
    entry = ROUTES[route]
    world = build_world(db, settings, tmp_path)
    visibilities = VISIBILITIES if entry.by_visibility else ("public",)
    # Refused roles first (they must change nothing), then the allowed ones, weakest first.
    cases = [(role, vis) for vis in visibilities for role in ROLES]
    cases.sort(key=lambda case: (bool(entry.expect(*case)), ROLES.index(case[0])))
    failures = []
    with TestClient(create_app(settings, run_background_tasks=False), follow_redirects=False) as client:
        for role, vis in cases:
            path, kwargs = entry.build(world, role, vis)
            response = client.request(method, path, headers=_headers(world, role), **kwargs)
            client.cookies.clear()
            allowed = entry.expect(role, vis)
            refused = _refused(response.status_code, response.headers.get("location"))
            if response.status_code >= 500 or (allowed is not None and allowed == refused):
                failures.append(
                    f"{role}/{vis}: {method} {path} -> {response.status_code} "
                    f"(expected {'allow' if allowed else 'deny'}) {response.text[:200]}"
                )
            if allowed and entry.by_visibility and response.status_code == 404:
                failures.append(f"{role}/{vis}: {path} hid a thing the role may see")
            # A 404 may repeat the name the request itself carried; anything else is a leak.
            leaked = [name for name in _invisible_names(role) if name in response.text and name not in path]
            if leaked:
                failures.append(f"{role}/{vis}: {method} {path} leaked {leaked}")
    assert not failures, "\n".join(failures)


def test_operator_principal_sees_everything(db, settings, tmp_path):
    build_world(db, settings, tmp_path)
    with db.session() as session:
        page = catalog.list_entities(
            session, catalog.CatalogFilters(kind=["API"]), catalog.PageRequest(1, 50), OPERATOR
        )
    assert {e.name for e in page.items} == set(API_FOR.values())
