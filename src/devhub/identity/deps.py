"""Authentication per request: the principal (from a bearer token or the session cookie), the audit actor,
CSRF protection for every form and cookie-authenticated write, and request ids.

CSRF tokens are HMACs of the session (or, before sign-in, of a random per-browser cookie) under the secret
key: nothing to store, and a token from one browser is worthless in another.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from devhub.audit.service import Actor
from devhub.catalog.models import Relation
from devhub.deps import get_session
from devhub.identity import service
from devhub.identity.models import Membership, User
from devhub.identity.policy import ANONYMOUS, Principal
from devhub.problems import Problem

SESSION_COOKIE = "devhub_session"
BROWSER_COOKIE = "devhub_browser"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Endpoints authenticated by credentials in each request (SCIM's bearer token, OAuth2 client secrets), never
# by a cookie, so a cross-site form gains nothing there: CSRF tokens are not asked for.
OWN_CREDENTIAL_PATHS = ("/scim/", "/oauth2/token")


def principal_for(db: DbSession, user: User, scopes: frozenset[str] | None = None, token_id=None) -> Principal:
    """A user's teams: memberships granted in the portal, SCIM or SSO, and their catalog User's groups."""
    rows = db.execute(select(Membership.team_ref, Membership.role).where(Membership.user_id == user.id)).all()
    teams = {team for team, _ in rows}
    owned = {team for team, role in rows if role == "owner"}
    if user.catalog_name:
        user_ref = f"user:default/{user.catalog_name}".lower()
        teams |= set(
            db.scalars(select(Relation.target_ref).where(Relation.source_ref == user_ref, Relation.type == "memberOf"))
        )
    return Principal(
        user_id=user.id,
        email=user.email,
        status=user.status,
        is_admin=user.is_admin,
        teams=frozenset(teams),
        owned_teams=frozenset(owned),
        scopes=scopes,
        token_id=token_id,
    )


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def get_principal(request: Request, db: DbSession = Depends(get_session, scope="function")) -> Principal:
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    principal = ANONYMOUS
    bearer = _bearer(request)
    if bearer is not None and bearer.startswith(service.TOKEN_PREFIX):
        found = service.token_user(db, bearer)
        if found is None:
            raise Problem(401, "Invalid token", "the access token is unknown, expired or revoked")
        user, token = found
        principal = principal_for(db, user, frozenset(token.scopes), token.id)
    elif (cookie := request.cookies.get(SESSION_COOKIE)) and (user := service.session_user(db, cookie)):
        principal = principal_for(db, user)
    request.state.principal = principal
    return principal


def current_user(
    request: Request,
    db: DbSession = Depends(get_session, scope="function"),
    principal: Principal = Depends(get_principal),
) -> User | None:
    return db.get(User, principal.user_id) if principal.user_id else None


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def request_id(request: Request) -> str:
    return getattr(request.state, "request_id", None) or request.headers.get("x-request-id") or uuid.uuid4().hex


def get_actor(request: Request, principal: Principal = Depends(get_principal)) -> Actor:
    return Actor(principal.email or "anonymous", principal.user_id, client_ip(request), request_id(request))


# --- CSRF -----------------------------------------------------------------------------------------------


def _csrf_subject(request: Request) -> str:
    return (
        request.cookies.get(SESSION_COOKIE)
        or request.cookies.get(BROWSER_COOKIE)
        or getattr(request.state, "browser_id", "")
    )


def csrf_token(request: Request) -> str:
    """The token forms carry (templates call this). Makes a browser id when the browser has none yet."""
    has_cookie = request.cookies.get(SESSION_COOKIE) or request.cookies.get(BROWSER_COOKIE)
    if not has_cookie and not getattr(request.state, "browser_id", None):
        request.state.browser_id = secrets.token_urlsafe(24)
    key = request.app.state.settings.resolved_secret_key.encode()
    return hmac.new(key, f"csrf:{_csrf_subject(request)}".encode(), hashlib.sha256).hexdigest()


async def csrf_protect(request: Request) -> None:
    """Every form post, and every write authenticated by the session cookie, must carry the CSRF token."""
    if request.method not in UNSAFE or _bearer(request) or request.url.path.startswith(OWN_CREDENTIAL_PATHS):
        return
    content_type = request.headers.get("content-type", "")
    is_form = content_type.startswith(FORM_TYPES)
    if not is_form and not request.cookies.get(SESSION_COOKIE):
        return  # no ambient credentials to abuse
    presented = request.headers.get(CSRF_HEADER)
    if presented is None and is_form:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        presented = value if isinstance(value, str) else None
    if not _csrf_subject(request) or not presented or not hmac.compare_digest(presented, csrf_token(request)):
        raise Problem(
            403, "Form expired", "the form's security token is missing or stale; reload the page and try again"
        )
