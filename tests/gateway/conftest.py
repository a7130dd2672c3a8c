"""A small access world built through the apps services (as the portal would), for the gateway's tests.

Products: `payments` (/payments; plans free: api_key auto 5/s, gold: api_key manual, partner: oauth2 with
scopes) and `weather` (/weather; plans anon: keyless 3/s, open: api_key with the key in the query allowed).
Applications (owned by team-a):
- `keys`: free plan of payments (approved); a sandbox and a production key.
- `waiting`: gold plan of payments (pending) and open plan of weather (approved); a sandbox and a
  production key (the production key works on weather, not yet on payments).
- `partner`: partner plan of payments (approved); sandbox client credentials.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from devhub.apps import credentials, oauth
from devhub.apps import service as apps
from devhub.apps.models import ApiKey, Application, Plan, Product, Subscription
from devhub.apps.schemas import ApplicationIn, PlanIn, ProductIn
from devhub.audit.service import SYSTEM
from devhub.db import Database
from devhub.gateway.snapshot import Snapshot, load_snapshot
from devhub.identity.policy import OPERATOR
from devhub.settings import Settings

TEAM = "group:default/team-a"


@dataclass
class World:
    db: Database
    settings: Settings
    keys: dict[str, str] = field(default_factory=dict)  # name → the whole key as a developer holds it
    apps: dict[str, int] = field(default_factory=dict)  # name → application id
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # name → (client id, secret)
    products: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> Snapshot:
        return load_snapshot(self.db.engine)

    def key_id(self, name: str) -> str:
        return self.keys[name].split("_")[2]

    def token(self, name: str = "partner", scope: str | None = None) -> str:
        client_id, secret = self.clients[name]
        with self.db.session() as session:
            issued = oauth.issue_token(
                session,
                self.settings,
                grant_type="client_credentials",
                client_id=client_id,
                client_secret=secret,
                scope=scope,
            )
        return issued.token

    def sign(self, **overrides) -> str:
        """A token signed with the portal's current key, with claims of the partner app changed at will."""
        client_id, _ = self.clients["partner"]
        with self.db.session() as session:
            key = oauth.current_key(session)
            private = ECKey.import_key(
                json.loads(oauth._fernet(self.settings).decrypt(key.private_jwk_encrypted.encode()))
            )
            app_uid = session.get(Application, self.apps["partner"]).uid
        now = int(time.time())
        claims = {
            "iss": self.settings.base_url.rstrip("/"),
            "sub": client_id,
            "aud": self.settings.oauth_audience,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "client_id": client_id,
            "app": app_uid,
            "env": "sandbox",
            "scope": "payments:read",
        }
        claims.update(overrides)
        return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, claims, private)

    def console(self, credential: str, **overrides) -> str:
        return console_token(self.db, self.settings, credential, **overrides)

    def decide(self, app: str, action: str, product: str = "payments") -> None:
        from sqlalchemy import select

        with self.db.session() as session:
            sub = session.scalar(
                select(Subscription).where(
                    Subscription.application_id == self.apps[app],
                    Subscription.product_id == self.products[product],
                    Subscription.state.in_(apps.LIVE_STATES),
                )
            )
            apps.decide(session, self.settings, OPERATOR, sub, action, "because", SYSTEM)

    def key_row(self, name: str, session) -> ApiKey:
        from sqlalchemy import select

        return session.scalar(select(ApiKey).where(ApiKey.key_id == self.key_id(name)))


def console_token(db: Database, settings: Settings, credential: str, **overrides) -> str:
    """A try-it console token for a credential (key id or client id), as `oauth.issue_console_token` mints
    it (the portal's current signing key, audience devhub-console), with claims changed at will."""
    with db.session() as session:
        key = oauth.current_key(session) or oauth.create_signing_key(session, settings, SYSTEM)
        private = ECKey.import_key(json.loads(oauth._fernet(settings).decrypt(key.private_jwk_encrypted.encode())))
    now = int(time.time())
    claims = {
        "iss": settings.base_url.rstrip("/"),
        "aud": oauth.CONSOLE_AUDIENCE,
        "sub": credential,
        "iat": now,
        "exp": now + 60,
        "jti": f"t{now}",
    }
    claims.update(overrides)
    return jwt.encode({"alg": "ES256", "kid": key.kid}, claims, private)


def _plan(session, product: Product, **values) -> Plan:
    return apps.create_plan(session, OPERATOR, product, PlanIn(**values), SYSTEM)


def build_world(db: Database, settings: Settings) -> World:
    world = World(db, settings)
    with db.session() as session:
        payments = apps.create_product(
            session,
            OPERATOR,
            ProductIn(
                slug="payments",
                name="Payments",
                owner="team-a",
                visibility="public",
                sandbox_url="http://127.0.0.1:9/sandbox",
                production_url="https://payments.example.com",
            ),
            SYSTEM,
        )
        weather = apps.create_product(
            session,
            OPERATOR,
            ProductIn(slug="weather", name="Weather", owner="team-a", visibility="public", sandbox_url="http://w/"),
            SYSTEM,
        )
        world.products = {"payments": payments.id, "weather": weather.id}
        free = _plan(session, payments, slug="free", name="Free", rate_per_second=5, quota_per_day=1000)
        gold = _plan(session, payments, slug="gold", name="Gold", approval="manual", rate_per_minute=6000)
        partner = _plan(
            session,
            payments,
            slug="partner",
            name="Partner",
            credential_type="oauth2",
            scopes=["payments:read", "payments:write"],
        )
        _plan(session, weather, slug="anon", name="Anonymous", credential_type="keyless", rate_per_second=3)
        open_plan = _plan(session, weather, slug="open", name="Open", key_in_query=True)

        def app(name: str):
            created = apps.create_app(session, OPERATOR, ApplicationIn(name=name, team="team-a"), SYSTEM)
            world.apps[name] = created.id
            return created

        def key(name: str, application, environment: str, **kwargs):
            world.keys[name] = credentials.create_key(session, application, environment, name, SYSTEM, **kwargs).secret

        keys_app = app("keys")
        apps.subscribe(session, settings, OPERATOR, keys_app, free, SYSTEM)
        key("keys-test", keys_app, "sandbox")
        key("keys-live", keys_app, "production")

        waiting = app("waiting")
        apps.subscribe(session, settings, OPERATOR, waiting, gold, SYSTEM)
        apps.subscribe(session, settings, OPERATOR, waiting, open_plan, SYSTEM)
        key("waiting-test", waiting, "sandbox")
        key("waiting-live", waiting, "production")

        partner_app = app("partner")
        apps.subscribe(session, settings, OPERATOR, partner_app, partner, SYSTEM)
        issued = credentials.create_client(session, partner_app, "sandbox", SYSTEM)
        world.clients["partner"] = (issued.credential.client_id, issued.secret)
        key("partner-test", partner_app, "sandbox")
    return world


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    return build_world(db, settings)


@pytest.fixture
def apis_in_catalog(db: Database, settings: Settings, tmp_path) -> None:
    """`charges` and `refunds` API entities in the catalog, so products may offer them."""
    from tests.specs.conftest import register_apis

    register_apis(db, settings, tmp_path / "gateway-apis", ["charges", "refunds"])
