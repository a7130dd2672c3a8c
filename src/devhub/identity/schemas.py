"""Shapes of the identity API: accounts, tokens, memberships, audit events, outbox messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from devhub.pagination import PageMeta


class Me(BaseModel):
    id: int | None
    email: str | None
    display_name: str | None = None
    status: str | None
    role: str = Field(description="anonymous, external_developer, team_member, team_owner or portal_admin")
    is_admin: bool
    teams: list[str]
    owned_teams: list[str]
    scopes: list[str] | None = Field(None, description="The token's scopes; null for a browser session.")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    email: str
    display_name: str
    status: str
    status_reason: str | None
    is_admin: bool
    email_verified_at: datetime | None
    created_at: datetime
    last_login_at: datetime | None


class UserList(BaseModel):
    items: list[UserOut]
    meta: PageMeta


class SignupIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=1024)
    display_name: str = Field("", max_length=255)
    invitation: str | None = Field(None, max_length=200)


class UserUpdate(BaseModel):
    status: str | None = Field(None, pattern="^(pending|approved|rejected|revoked)$")
    reason: str | None = Field(None, max_length=2000)
    is_admin: bool | None = None


class InvitationIn(BaseModel):
    email: str = Field(max_length=320)
    days: int = Field(7, ge=1, le=90)


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    scopes: list[str] = Field(default_factory=lambda: ["read"], description="read, write, admin, scim")
    expires_in_days: int | None = Field(None, ge=1, description="Defaults to the longest allowed.")


class PasswordTokenIn(TokenIn):
    """For `devhub login`: trade an email and password for a personal access token."""

    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(TokenOut):
    token: str = Field(description="The whole token. It is shown this once; store it now.")


class MemberOut(BaseModel):
    user_id: int
    email: str
    display_name: str
    role: str
    source: str


class MemberIn(BaseModel):
    email: str = Field(max_length=320)
    role: str | None = Field("member", pattern="^(member|owner)$", description="null removes the member")


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    ip: str | None
    request_id: str | None
    details: dict[str, Any]
    hash: str


class AuditList(BaseModel):
    items: list[AuditEventOut]
    meta: PageMeta


class AuditVerification(BaseModel):
    ok: bool
    checked: int
    broken_at: int | None
    reason: str | None


class OutboxOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    to: str
    subject: str
    body: str
    created_at: datetime
    sent_at: datetime | None
    error: str | None


class OutboxList(BaseModel):
    items: list[OutboxOut]
    meta: PageMeta
