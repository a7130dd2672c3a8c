"""Products, plans, applications, subscriptions, API keys, OAuth2 client credentials and signing keys.

Secrets (API keys, client secrets) are long random values stored as SHA-256 digests: a slow hash adds
nothing against guessing 128+ random bits, and the gateway checks a key on every call. They are found by a
short public id carried in the key itself (`dh_test_<key_id>_<secret>`) and compared in constant time.
Signing keys' private halves are encrypted with a key derived from the portal's secret key.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from itertools import chain

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    inspect,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from devhub.catalog.models import REF_LENGTH
from devhub.db import Base, UTCDateTime, utcnow

ENVIRONMENTS = ("sandbox", "production")
CREDENTIAL_TYPES = ("api_key", "oauth2", "keyless")
APPROVALS = ("auto", "manual")
SUBSCRIPTION_STATES = ("pending", "approved", "rejected", "suspended", "revoked")
KEY_PREFIXES = {"sandbox": "dh_test_", "production": "dh_live_"}


class Product(Base):
    """One or more API versions offered together, with plans; owned by a team."""

    __tablename__ = "apps_products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_ref: Mapped[str] = mapped_column(String(REF_LENGTH), index=True)
    visibility: Mapped[str] = mapped_column(String(16), default="internal")
    access_teams: Mapped[list] = mapped_column(JSON, default=list)  # for private products
    gateway_path: Mapped[str] = mapped_column(String(255), unique=True)  # the gateway's path prefix
    hosts: Mapped[list] = mapped_column(JSON, default=list)  # host names routed to it (no port), lowercase
    sandbox_url: Mapped[str | None] = mapped_column(String(2048))
    production_url: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    apis: Mapped[list[ProductApi]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="(ProductApi.api_ref, ProductApi.id)"
    )
    plans: Mapped[list[Plan]] = relationship(
        back_populates="product", cascade="all, delete-orphan", passive_deletes=True, order_by="Plan.id"
    )


class ProductApi(Base):
    """An API offered by a product: one version (pinned), or the newest published one when `version` is None.

    `path` is the entry's own segment under the product's gateway prefix (`v1` → `/payments/v1/...`), so
    that two versions of one API can be served side by side; without it the entry is served at the prefix
    itself. One product offers an API version once, and each path once (checked by the service).
    """

    __tablename__ = "apps_product_apis"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("apps_products.id", ondelete="CASCADE"), index=True)
    api_ref: Mapped[str] = mapped_column(String(REF_LENGTH))
    version: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str | None] = mapped_column(String(255))  # "v1" or "v1/beta": lowercase, no outer slashes


class Plan(Base):
    __tablename__ = "apps_plans"
    __table_args__ = (UniqueConstraint("product_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("apps_products.id", ondelete="CASCADE"), index=True)
    slug: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    credential_type: Mapped[str] = mapped_column(String(16), default="api_key")
    approval: Mapped[str] = mapped_column(String(16), default="auto")
    visibility: Mapped[str] = mapped_column(String(16), default="public")
    access_teams: Mapped[list] = mapped_column(JSON, default=list)
    rate_per_second: Mapped[int | None] = mapped_column(Integer)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer)
    rate_per_hour: Mapped[int | None] = mapped_column(Integer)
    quota_per_day: Mapped[int | None] = mapped_column(Integer)
    quota_per_month: Mapped[int | None] = mapped_column(Integer)
    scopes: Mapped[list] = mapped_column(JSON, default=list)  # OAuth2 scopes the plan grants
    key_in_query: Mapped[bool] = mapped_column(Boolean, default=False)  # the gateway accepts ?api_key=
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | retired
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    product: Mapped[Product] = relationship(back_populates="plans")


class Application(Base):
    """A developer's or a team's client of APIs; it holds subscriptions and credentials."""

    __tablename__ = "apps_applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)  # the id in URLs: not guessable, not a count
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("identity_users.id", ondelete="CASCADE"), index=True)
    owner_team_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), index=True)
    callback_urls: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="application", cascade="all, delete-orphan", passive_deletes=True, order_by="Subscription.id"
    )


class Subscription(Base):
    """An application's access to a plan. Its state governs production; sandbox access needs no approval."""

    __tablename__ = "apps_subscriptions"
    __table_args__ = (UniqueConstraint("application_id", "plan_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("apps_applications.id", ondelete="CASCADE"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("apps_plans.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("apps_products.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(320))
    decided_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    application: Mapped[Application] = relationship(back_populates="subscriptions")
    plan: Mapped[Plan] = relationship()


class ApiKey(Base):
    __tablename__ = "apps_api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("apps_applications.id", ondelete="CASCADE"), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)  # public, part of the key: how it is found
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(Integer)  # the key that rotated this one out
    grace_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a rotated key works until then
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def prefix(self) -> str:
        """What identifies the key on screen and in logs: never the secret."""
        return f"{KEY_PREFIXES[self.environment]}{self.key_id}"


class ClientCredential(Base):
    """OAuth2 client credentials of an application in one environment (RFC 6749 §4.4)."""

    __tablename__ = "apps_client_credentials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("apps_applications.id", ondelete="CASCADE"), index=True)
    environment: Mapped[str] = mapped_column(String(16))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    previous_secret_hash: Mapped[str | None] = mapped_column(String(64))  # works until previous_valid_until
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set by the gateway's metering


class SigningKey(Base):
    """A key pair that signs access tokens; the newest active one signs, all unretired ones verify (JWKS)."""

    __tablename__ = "apps_signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict] = mapped_column(JSON)
    private_jwk_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AccessState(Base):
    """One row: a random token replaced by every change that the gateway must see (keys, clients,
    subscriptions, plans, products). Gateway processes poll it and reload their snapshot when it moves."""

    __tablename__ = "apps_access_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


WATCHED = (Product, ProductApi, Plan, Application, Subscription, ApiKey, ClientCredential, SigningKey)


@event.listens_for(Session, "before_flush")
def _bump_access_version(session: Session, flush_context, instances) -> None:
    """Replace the access token in the same transaction as any change the gateway must see, wherever in
    the code the change is made: a missed call site would leave a revoked key working."""
    changed = chain(session.new, session.dirty, session.deleted)
    if not any(isinstance(row, WATCHED) or _gateway_relevant(row) for row in changed):
        return
    token = secrets.randbits(62)
    if session.execute(update(AccessState).where(AccessState.id == 1).values(version=token)).rowcount == 0:
        session.add(AccessState(id=1, version=token))


def _gateway_relevant(row: object) -> bool:
    """Other rows the gateway reads: a person's account status (their applications' credentials follow
    it) and deprecations (the `Deprecation`/`Sunset` headers it adds)."""
    from devhub.identity.models import User

    if getattr(row, "__tablename__", None) == "governance_deprecations":
        return True
    return isinstance(row, User) and inspect(row).attrs.status.history.has_changes()


def access_version(session: Session) -> int:
    return session.scalar(select(AccessState.version).where(AccessState.id == 1)) or 0
