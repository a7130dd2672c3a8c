"""API keys and OAuth2 client credentials: issue, rotate with a grace period, revoke, verify.

A key reads `dh_test_<key id>_<secret>` (sandbox) or `dh_live_<key id>_<secret>` (production): the key id
(48 random bits, public) finds the row by a unique index, the secret (192 random bits) is compared with
the stored SHA-256 digest in constant time. Client secrets are `dhs_<secret>` (256 bits), checked the same
way. Rotation issues a new secret and keeps the old one working until the grace period ends
(`DEVHUB_KEY_ROTATION_GRACE_HOURS`, default 24); revocation ends it at once.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devhub.apps.models import KEY_PREFIXES, ApiKey, Application, ClientCredential
from devhub.apps.service import Conflict, Invalid, app_users, has_approved_subscription
from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.db import utcnow
from devhub.identity.service import digest
from devhub.notify.service import notify
from devhub.problems import NotFound
from devhub.settings import Settings

MAX_ACTIVE_KEYS = 20  # per application and environment
CLIENT_SECRET_PREFIX = "dhs_"


@dataclass
class IssuedKey:
    key: ApiKey
    secret: str  # the whole key, shown once


@dataclass
class IssuedClient:
    credential: ClientCredential
    secret: str  # shown once


def key_status(key: ApiKey, now: datetime | None = None) -> str:
    now = now or utcnow()
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    if key.replaced_by_id is not None:
        return "grace" if key.grace_until is not None and key.grace_until > now else "rotated"
    return "active"


def _production_allowed(session: Session, app: Application, environment: str) -> None:
    if environment == "production" and not has_approved_subscription(session, app):
        raise Conflict("production credentials need an approved subscription; request a plan first")


def create_key(
    session: Session,
    app: Application,
    environment: str,
    name: str,
    actor: Actor,
    expires_in_days: int | None = None,
) -> IssuedKey:
    if environment not in KEY_PREFIXES:
        raise Invalid(f"environment must be one of {', '.join(KEY_PREFIXES)}")
    _production_allowed(session, app, environment)
    active = session.scalar(
        select(func.count()).where(
            ApiKey.application_id == app.id,
            ApiKey.environment == environment,
            ApiKey.revoked_at.is_(None),
            ApiKey.replaced_by_id.is_(None),
        )
    )
    if (active or 0) >= MAX_ACTIVE_KEYS:
        raise Conflict(f"{app.name} has {MAX_ACTIVE_KEYS} active {environment} keys; revoke one first")
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(days=expires_in_days) if expires_in_days else None
    key = ApiKey(
        application_id=app.id,
        environment=environment,
        key_id=key_id,
        secret_hash=digest(secret),
        name=(name or "default").strip()[:255] or "default",
        created_by=actor.name,
        expires_at=expires,
    )
    session.add(key)
    session.flush()
    audit.record(session, actor, "key.create", f"{app.uid}:{key.prefix}", environment=environment)
    return IssuedKey(key, f"{key.prefix}_{secret}")


def app_keys(session: Session, app: Application) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.application_id == app.id).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return list(session.scalars(query))


def get_key(session: Session, app: Application, key_id: str) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.application_id == app.id, ApiKey.key_id == key_id))
    if key is None:
        raise NotFound(f"{app.name} has no key {key_id!r}")
    return key


def rotate_key(session: Session, settings: Settings, app: Application, key: ApiKey, actor: Actor) -> IssuedKey:
    """A new key like this one; this one keeps working through the grace period, then stops."""
    if key_status(key) != "active":
        raise Conflict(f"the key {key.prefix} is {key_status(key)}; only an active key can be rotated")
    days_left = (key.expires_at - utcnow()).days + 1 if key.expires_at else None
    issued = create_key(session, app, key.environment, key.name, actor, days_left)
    key.replaced_by_id = issued.key.id
    key.grace_until = utcnow() + timedelta(hours=settings.key_rotation_grace_hours)
    session.flush()
    audit.record(session, actor, "key.rotate", f"{app.uid}:{key.prefix}", new=issued.key.prefix)
    _tell(session, settings, app, f"Key rotated: {key.prefix}", f"It works until {key.grace_until:%Y-%m-%d %H:%M} UTC.")
    return issued


def revoke_key(session: Session, settings: Settings, app: Application, key: ApiKey, actor: Actor) -> None:
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    session.flush()
    audit.record(session, actor, "key.revoke", f"{app.uid}:{key.prefix}")
    _tell(session, settings, app, f"Key revoked: {key.prefix}", "Calls with it are refused from now on.")


@dataclass
class KeyMatch:
    key: ApiKey
    application: Application


def verify_key(session: Session, presented: str, now: datetime | None = None) -> KeyMatch | None:
    """The key and application behind a presented key when it works now, else None."""
    environment = next((env for env, prefix in KEY_PREFIXES.items() if presented.startswith(prefix)), None)
    if environment is None:
        return None
    key_id, _, secret = presented[len(KEY_PREFIXES[environment]) :].partition("_")
    if not key_id or not secret:
        return None
    key = session.scalar(select(ApiKey).where(ApiKey.key_id == key_id))
    if key is None or key.environment != environment:
        return None
    if not hmac.compare_digest(key.secret_hash, digest(secret)):
        return None
    if key_status(key, now) not in ("active", "grace"):
        return None
    return KeyMatch(key, session.get(Application, key.application_id))


# --- OAuth2 client credentials ----------------------------------------------------------------------------


def client_status(credential: ClientCredential) -> str:
    return "revoked" if credential.revoked_at is not None else "active"


def app_clients(session: Session, app: Application) -> list[ClientCredential]:
    query = select(ClientCredential).where(ClientCredential.application_id == app.id)
    return list(session.scalars(query.order_by(ClientCredential.created_at.desc(), ClientCredential.id.desc())))


def get_client(session: Session, app: Application, client_id: str) -> ClientCredential:
    credential = session.scalar(
        select(ClientCredential).where(
            ClientCredential.application_id == app.id, ClientCredential.client_id == client_id
        )
    )
    if credential is None:
        raise NotFound(f"{app.name} has no client {client_id!r}")
    return credential


def create_client(session: Session, app: Application, environment: str, actor: Actor) -> IssuedClient:
    """Client credentials for one environment; an application holds one active pair per environment."""
    if environment not in KEY_PREFIXES:
        raise Invalid(f"environment must be one of {', '.join(KEY_PREFIXES)}")
    _production_allowed(session, app, environment)
    existing = session.scalar(
        select(ClientCredential.client_id).where(
            ClientCredential.application_id == app.id,
            ClientCredential.environment == environment,
            ClientCredential.revoked_at.is_(None),
        )
    )
    if existing:
        raise Conflict(f"{app.name} has {environment} client credentials ({existing}); rotate their secret instead")
    secret = secrets.token_urlsafe(32)
    tag = "test" if environment == "sandbox" else "live"
    credential = ClientCredential(
        application_id=app.id,
        environment=environment,
        client_id=f"dhc_{tag}_{secrets.token_hex(8)}",
        secret_hash=digest(secret),
        created_by=actor.name,
    )
    session.add(credential)
    session.flush()
    audit.record(session, actor, "client.create", f"{app.uid}:{credential.client_id}", environment=environment)
    return IssuedClient(credential, CLIENT_SECRET_PREFIX + secret)


def rotate_client_secret(
    session: Session, settings: Settings, app: Application, credential: ClientCredential, actor: Actor
) -> IssuedClient:
    if credential.revoked_at is not None:
        raise Conflict(f"the client {credential.client_id} is revoked")
    secret = secrets.token_urlsafe(32)
    credential.previous_secret_hash = credential.secret_hash
    credential.previous_valid_until = utcnow() + timedelta(hours=settings.key_rotation_grace_hours)
    credential.secret_hash, credential.rotated_at = digest(secret), utcnow()
    session.flush()
    audit.record(session, actor, "client.rotate", f"{app.uid}:{credential.client_id}")
    until = f"{credential.previous_valid_until:%Y-%m-%d %H:%M} UTC"
    _tell(
        session, settings, app, f"Client secret rotated: {credential.client_id}", f"The old secret works until {until}."
    )
    return IssuedClient(credential, CLIENT_SECRET_PREFIX + secret)


def revoke_client(
    session: Session, settings: Settings, app: Application, credential: ClientCredential, actor: Actor
) -> None:
    if credential.revoked_at is not None:
        return
    credential.revoked_at = utcnow()
    session.flush()
    audit.record(session, actor, "client.revoke", f"{app.uid}:{credential.client_id}")
    _tell(session, settings, app, f"Client revoked: {credential.client_id}", "It can no longer get tokens.")


def authenticate_client(session: Session, client_id: str, secret: str) -> ClientCredential | None:
    """The client when the id and secret match (the previous secret too, during its grace period)."""
    credential = session.scalar(select(ClientCredential).where(ClientCredential.client_id == client_id))
    if credential is None or credential.revoked_at is not None or not secret.startswith(CLIENT_SECRET_PREFIX):
        return None
    presented = digest(secret[len(CLIENT_SECRET_PREFIX) :])
    if hmac.compare_digest(credential.secret_hash, presented):
        return credential
    previous_ok = credential.previous_secret_hash is not None and hmac.compare_digest(
        credential.previous_secret_hash, presented
    )
    if previous_ok and credential.previous_valid_until and credential.previous_valid_until > utcnow():
        return credential
    return None


def _tell(session: Session, settings: Settings, app: Application, subject: str, body: str) -> None:
    notify(session, settings, app_users(session, app), f"{app.name}: {subject}", body, f"/apps/{app.uid}")


@dataclass
class RegisteredApp:
    app: Application
    key: IssuedKey
    client: IssuedClient


def register_app(session: Session, viewer, data, actor: Actor) -> RegisteredApp:
    """Register an application with its sandbox credentials (a key and a client), usable at once: the one
    way every surface (REST, pages, Get access) creates applications."""
    from devhub.apps.service import create_app

    app = create_app(session, viewer, data, actor)
    return RegisteredApp(
        app, create_key(session, app, "sandbox", "sandbox", actor), create_client(session, app, "sandbox", actor)
    )
