"""What the apps API takes and returns. Inputs are validated here; rules needing the database live in
the service (owner team membership, plan visibility, one active subscription per product)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from devhub.pagination import PageMeta

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
Visibility = Literal["public", "internal", "private"]
Environment = Literal["sandbox", "production"]


def _urls(values: list[str]) -> list[str]:
    cleaned = [value.strip() for value in values if value and value.strip()]
    for url in cleaned:
        if not url.startswith(("https://", "http://")) or len(url) > 2048:
            raise ValueError(f"{url!r} is not an http(s) URL")
    return list(dict.fromkeys(cleaned))


def _scopes(values: list[str]) -> list[str]:
    """OAuth2 scope tokens (RFC 6749 §3.3: printable ASCII but space, quote and backslash), deduplicated."""
    cleaned = list(dict.fromkeys(value.strip() for value in values if value.strip()))
    for scope in cleaned:
        if not all(33 <= ord(c) <= 126 and c not in '"\\' for c in scope):
            raise ValueError(f"{scope!r} is not a valid OAuth2 scope")
    return cleaned


def _optional_url(value: str | None) -> str | None:
    return _urls([value])[0] if value and value.strip() else None


_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


def _hosts(values: list[str] | None) -> list[str] | None:
    """Host names as the gateway compares them (lower case, no port, no trailing dot), deduplicated."""
    if values is None:
        return None
    cleaned = list(dict.fromkeys(value.strip().lower().rstrip(".") for value in values if value and value.strip()))
    for host in cleaned:
        if not _HOST.match(host):
            raise ValueError(f"{host!r} is not a host name (letters, digits and hyphens between dots; no port)")
    return cleaned


class ProductApiIn(BaseModel):
    api: str = Field(description="The catalog API: name, namespace/name or api:namespace/name.")
    version: str | None = Field(None, description="One published version; the newest published when omitted.")
    path: str | None = Field(
        None,
        description="Its own path segment under the product's gateway prefix (`v1` serves it at /<prefix>/v1); "
        "at the prefix itself when omitted. Two versions of one API need two paths.",
    )

    @classmethod
    def parse_line(cls, line: str) -> ProductApiIn | None:
        """`api [version] [/path]`, as typed in the product form and the CLI: `payments 1.0 /v1`."""
        parts = line.replace(",", " ").split()
        if not parts:
            return None
        path = next((part for part in parts[1:] if part.startswith("/")), None)
        rest = [part for part in parts[1:] if not part.startswith("/")]
        return cls(api=parts[0], version=rest[0] if rest else None, path=path)


class ProductIn(BaseModel):
    slug: str = Field(pattern=SLUG_PATTERN, description="Lower-case id used in URLs and the gateway path.")
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=20_000)
    owner: str = Field(description="The owning team (group ref or name); you must be a member.")
    visibility: Visibility = "internal"
    access_teams: list[str] = Field(default_factory=list, description="Teams that see a private product.")
    apis: list[ProductApiIn] = Field(default_factory=list)
    gateway_path: str | None = Field(None, description="The gateway's path prefix; /<slug> by default.")
    sandbox_url: str | None = Field(
        None, description="Upstream base URL of the sandbox environment; devhub's built-in sandbox when empty."
    )
    production_url: str | None = Field(None, description="Upstream base URL of production.")
    hosts: list[str] = Field(
        default_factory=list, description="Host names the gateway routes to this product (the prefix is then optional)."
    )

    _check_urls = field_validator("sandbox_url", "production_url")(_optional_url)
    _check_hosts = field_validator("hosts")(_hosts)


class ProductUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=20_000)
    visibility: Visibility | None = None
    access_teams: list[str] | None = None
    apis: list[ProductApiIn] | None = None
    sandbox_url: str | None = None
    production_url: str | None = None
    hosts: list[str] | None = None
    status: Literal["active", "retired"] | None = None

    _check_urls = field_validator("sandbox_url", "production_url")(_optional_url)
    _check_hosts = field_validator("hosts")(_hosts)


class PlanIn(BaseModel):
    slug: str = Field(pattern=SLUG_PATTERN)
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=10_000)
    credential_type: Literal["api_key", "oauth2", "keyless"] = "api_key"
    approval: Literal["auto", "manual"] = "auto"
    visibility: Visibility = "public"
    access_teams: list[str] = Field(default_factory=list)
    rate_per_second: int | None = Field(None, ge=1)
    rate_per_minute: int | None = Field(None, ge=1)
    rate_per_hour: int | None = Field(None, ge=1)
    quota_per_day: int | None = Field(None, ge=1)
    quota_per_month: int | None = Field(None, ge=1)
    scopes: list[str] = Field(default_factory=list, description="OAuth2 scopes the plan grants.")
    key_in_query: bool = Field(False, description="Let the gateway accept the key as a query parameter.")

    _check_scopes = field_validator("scopes")(lambda cls, v: _scopes(v))


class PlanUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=10_000)
    approval: Literal["auto", "manual"] | None = None
    visibility: Visibility | None = None
    access_teams: list[str] | None = None
    rate_per_second: int | None = Field(None, ge=1)
    rate_per_minute: int | None = Field(None, ge=1)
    rate_per_hour: int | None = Field(None, ge=1)
    quota_per_day: int | None = Field(None, ge=1)
    quota_per_month: int | None = Field(None, ge=1)
    scopes: list[str] | None = None
    key_in_query: bool | None = None
    status: Literal["active", "retired"] | None = None

    _check_scopes = field_validator("scopes")(lambda cls, v: None if v is None else _scopes(v))


class ApplicationIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field("", max_length=5000)
    team: str | None = Field(None, description="Register it for a team you belong to; yours alone when omitted.")
    callback_urls: list[str] = Field(default_factory=list, max_length=20)

    _check_urls = field_validator("callback_urls")(lambda cls, v: _urls(v))


class ApplicationUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=255)
    description: str | None = Field(None, max_length=5000)
    callback_urls: list[str] | None = Field(None, max_length=20)

    _check_urls = field_validator("callback_urls")(lambda cls, v: None if v is None else _urls(v))


class SubscriptionIn(BaseModel):
    product: str = Field(description="The product's slug.")
    plan: str = Field(description="The plan's slug within the product.")


class DecisionIn(BaseModel):
    action: Literal["approve", "reject", "suspend", "resume", "revoke"]
    reason: str | None = Field(None, max_length=2000, description="Required to reject, suspend or revoke.")


class KeyIn(BaseModel):
    name: str = Field("default", min_length=1, max_length=255)
    environment: Environment = "sandbox"
    expires_in_days: int | None = Field(None, ge=1, le=3650, description="Never expires when omitted.")


class ClientIn(BaseModel):
    environment: Environment = "sandbox"


# --- output -----------------------------------------------------------------------------------------------


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    description: str
    credential_type: str
    approval: str
    visibility: str
    rate_per_second: int | None
    rate_per_minute: int | None
    rate_per_hour: int | None
    quota_per_day: int | None
    quota_per_month: int | None
    scopes: list[str]
    key_in_query: bool
    status: str


class ProductApiOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    api_ref: str
    version: str | None
    path: str | None
    gateway_prefix: str = Field("", description="Where the gateway serves this API's spec paths.")


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    name: str
    description: str
    owner_ref: str
    visibility: str
    gateway_path: str
    hosts: list[str]
    sandbox_url: str | None = Field(description="Empty: calls with sandbox credentials go to the built-in sandbox.")
    production_url: str | None
    status: str
    apis: list[ProductApiOut]
    plans: list[PlanOut] = Field(default_factory=list, description="The plans you may see.")
    created_at: datetime


class ProductList(BaseModel):
    items: list[ProductOut]
    meta: PageMeta


class SubscriptionOut(BaseModel):
    id: str
    application: str
    application_name: str
    product: str
    plan: str
    state: str
    reason: str | None
    requested_by: str
    decided_by: str | None
    created_at: datetime
    decided_at: datetime | None


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]
    meta: PageMeta


class KeyOut(BaseModel):
    id: str = Field(description="The key's public id (it is part of the key).")
    prefix: str = Field(description="How the key starts; identifies it without the secret.")
    name: str
    environment: str
    status: str = Field(description="active, grace (rotated, still working), expired, revoked or rotated.")
    created_at: datetime
    expires_at: datetime | None
    grace_until: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class IssuedKeyOut(KeyOut):
    key: str = Field(description="The whole key. Shown once: store it now.")


class ClientOut(BaseModel):
    client_id: str
    environment: str
    status: str
    created_at: datetime
    rotated_at: datetime | None
    previous_secret_valid_until: datetime | None
    last_used_at: datetime | None = Field(
        description="The latest call through the gateway with a token issued to it (null: never)."
    )


class IssuedClientOut(ClientOut):
    client_secret: str = Field(description="Shown once: store it now.")


class ApplicationOut(BaseModel):
    id: str
    name: str
    description: str
    owner: str = Field(description="The owning user's email or the owning team's ref.")
    callback_urls: list[str]
    created_at: datetime
    subscriptions: list[SubscriptionOut]
    keys: list[KeyOut]
    clients: list[ClientOut]


class CreatedApplicationOut(ApplicationOut):
    sandbox_key: IssuedKeyOut = Field(description="The sandbox API key, usable at once. Shown once.")
    sandbox_client: IssuedClientOut = Field(description="Sandbox OAuth2 client credentials. Shown once.")


class ApplicationList(BaseModel):
    items: list[ApplicationOut]
    meta: PageMeta


class SigningKeyOut(BaseModel):
    kid: str
    algorithm: str
    created_at: datetime
    retired_at: datetime | None
    current: bool
