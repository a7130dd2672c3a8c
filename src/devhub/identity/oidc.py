"""Single sign-on with OpenID Connect: the relying-party side, through Authlib's Starlette client.

Any provider works that publishes discovery at `<issuer>/.well-known/openid-configuration`. The flow:
`GET /auth/sso/login` redirects to the provider with `state`, `nonce` and a PKCE S256 challenge, all kept in
the short-lived `devhub_sso` cookie session; `GET /auth/sso/callback` checks the state, exchanges the code
(with the PKCE verifier and the client secret), and validates the ID token: signature against the provider's
JWKS, `iss` (the configured issuer), `aud` (our client id), `exp` and `nonce`.

The person is then found by (issuer, subject); else an existing account with the same email is linked, but
only when the provider says the email is verified; else an account is made (approved when its domain is in
`signup_allowed_domains` or auto-approval is on, pending otherwise). Unverified emails never link nor make
accounts: anyone can type any address into some providers. Revoked and rejected accounts are refused. The
groups claim (`oidc_groups_claim`, in the ID token or the userinfo response) replaces the user's memberships
with `source="oidc"`; a missing claim means no groups, so a person removed from every group loses them.

Every failure is audited as `auth.sso_failed` with a reason, and answered with a problem page; the request's
transaction is committed before answering, so the audit event is kept and the session row exists by the
time the browser follows the redirect.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.starlette_client import OAuth
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from joserfc.errors import ClaimError, JoseError
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from starlette.concurrency import run_in_threadpool

from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.catalog.kinds import RefError, parse_ref
from devhub.db import utcnow
from devhub.deps import get_session, get_settings_dep
from devhub.identity import service
from devhub.identity.deps import SESSION_COOKIE, client_ip, request_id
from devhub.identity.models import Membership, User
from devhub.problems import BadRequest, NotFound, Problem, problem_response, wants_html
from devhub.settings import Settings

log = logging.getLogger(__name__)

router = APIRouter(tags=["identity"], include_in_schema=False)

CLIENT_NAME = "oidc"  # Authlib keeps the round trip under `_state_oidc_<state>` in the devhub_sso session
NEXT_KEY = "devhub_sso_next"
CALLBACK_PATH = "/auth/sso/callback"
MAX_GROUPS = 500
STALE = "this sign-in link is stale or was not started in this browser; start signing in again"
# A local path: one leading slash, not followed by another slash or a backslash (browsers read `/\host`
# as `//host`), and no whitespace or control characters (browsers drop tabs and newlines from URLs).
_LOCAL_PATH = re.compile(r"^/(?![/\\])[^\\\s\x00-\x1f\x7f]*$")


# --- Authlib client, one per app ------------------------------------------------------------------------


def _scopes(settings: Settings) -> str:
    scopes = settings.oidc_scopes.split()
    if "openid" not in scopes:  # without it there is no ID token, hence no nonce and no signature to check
        scopes.insert(0, "openid")
    return " ".join(dict.fromkeys(scopes))


def oidc_client(request: Request):
    """The app's Authlib client, registered on first use from the app's settings."""
    settings: Settings = request.app.state.settings
    if not settings.oidc_enabled:
        raise NotFound("single sign-on is not configured on this portal")
    oauth = getattr(request.app.state, "oidc_oauth", None)
    if oauth is None:
        oauth = OAuth()
        oauth.register(
            CLIENT_NAME,
            client_id=settings.oidc_client_id,
            client_secret=settings.oidc_client_secret,
            server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": _scopes(settings),
                "code_challenge_method": "S256",
                "timeout": settings.http_timeout_seconds,
            },
        )
        request.app.state.oidc_oauth = oauth
    return oauth.create_client(CLIENT_NAME)


def callback_url(settings: Settings) -> str:
    """Where the provider sends the browser back: from the configured base URL, never the Host header."""
    return settings.base_url.rstrip("/") + CALLBACK_PATH


def safe_next(value: str | None) -> str | None:
    """`value` when it is a path on this site, else None."""
    if not value:
        return None
    if len(value) > 2000 or not _LOCAL_PATH.match(value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


# --- Routes ---------------------------------------------------------------------------------------------


@router.get("/auth/sso/login")
async def sso_login(
    request: Request,
    next: str | None = Query(None, description="A path on this site to go to after signing in."),
    settings: Settings = Depends(get_settings_dep),
):
    client = oidc_client(request)
    target = safe_next(next)
    if next and target is None:
        raise BadRequest("`next` must be a path on this site, such as /catalog")
    try:
        metadata = await client.load_server_metadata()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("OIDC discovery at %s failed: %s", settings.oidc_issuer, exc)
        raise Problem(
            502, "Single sign-on is unavailable", "the identity provider could not be reached; try again later"
        ) from exc
    if _issuer_mismatch(metadata, settings):
        raise Problem(
            502,
            "Single sign-on is misconfigured",
            "the identity provider's discovery document names another issuer than the one configured",
        )
    state = secrets.token_urlsafe(32)
    request.session[NEXT_KEY] = {"state": state, "next": target}
    return await client.authorize_redirect(request, callback_url(settings), state=state)


@router.get(CALLBACK_PATH)
async def sso_callback(
    request: Request,
    db: DbSession = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
):
    client = oidc_client(request)
    actor = Actor("anonymous", None, client_ip(request), request_id(request))
    pending_next = request.session.pop(NEXT_KEY, None) or {}

    error = request.query_params.get("error")
    if error:
        description = (request.query_params.get("error_description") or "")[:300]
        started_here = f"_state_{CLIENT_NAME}_{request.query_params.get('state')}" in request.session
        _clear_state(request)
        if not started_here:  # only report a provider's answer to a sign-in this browser started
            problem = BadRequest(STALE)
            return await _fail(request, db, actor, "state_mismatch", problem)
        if error == "access_denied":
            problem = Problem(
                403, "Sign-in cancelled", "the identity provider did not allow the sign-in (access_denied)"
            )
        else:
            detail = f"the identity provider answered {error[:80]!r}" + (f": {description}" if description else "")
            problem = Problem(400, "Single sign-on failed", detail)
        return await _fail(request, db, actor, f"provider_error:{error[:80]}", problem)

    try:
        metadata = await client.load_server_metadata()
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("OIDC discovery at %s failed: %s", settings.oidc_issuer, exc)
        problem = Problem(502, "Single sign-on failed", "the identity provider could not be reached; try again")
        return await _fail(request, db, actor, "provider_unreachable", problem)
    if _issuer_mismatch(metadata, settings):
        problem = Problem(502, "Single sign-on is misconfigured", "the provider names another issuer than configured")
        return await _fail(request, db, actor, "issuer_mismatch", problem)

    try:
        token = await client.authorize_access_token(
            request,
            claims_options={
                "iss": {"essential": True, "value": metadata["issuer"]},
                "aud": {"essential": True, "value": settings.oidc_client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
            },
        )
    except MismatchingStateError:
        problem = BadRequest(STALE)
        return await _fail(request, db, actor, "state_mismatch", problem)
    except JoseError as exc:
        reason = _jose_reason(exc)
        problem = Problem(401, "Single sign-on failed", f"the identity provider's ID token was refused ({reason})")
        return await _fail(request, db, actor, f"invalid_id_token:{reason}", problem)
    except OAuthError as exc:
        detail = f"the identity provider refused the sign-in code ({exc.error or 'error'})"
        return await _fail(
            request, db, actor, f"token_error:{exc.error}", Problem(502, "Single sign-on failed", detail)
        )
    except (httpx.HTTPError, ValueError) as exc:
        log.warning("OIDC token exchange with %s failed: %s", settings.oidc_issuer, exc)
        problem = Problem(502, "Single sign-on failed", "the identity provider could not be reached; try again")
        return await _fail(request, db, actor, "provider_unreachable", problem)

    claims = token.get("userinfo")
    if not claims:
        problem = Problem(502, "Single sign-on failed", "the identity provider sent no ID token")
        return await _fail(request, db, actor, "no_id_token", problem)
    claims = dict(claims)

    if _needs_userinfo(claims, settings) and metadata.get("userinfo_endpoint"):
        try:
            extra = dict(await client.userinfo(token=token))
        except (OAuthError, httpx.HTTPError, ValueError) as exc:
            # Fail closed: signing in without the groups would silently drop the person's teams.
            log.warning("OIDC userinfo from %s failed: %s", settings.oidc_issuer, exc)
            problem = Problem(502, "Single sign-on failed", "the identity provider's user info could not be read")
            return await _fail(request, db, actor, "userinfo_failed", problem)
        if extra.get("sub") != claims.get("sub"):  # OIDC Core 5.3.2: must not be used otherwise
            problem = Problem(502, "Single sign-on failed", "the identity provider's user info is for someone else")
            return await _fail(request, db, actor, "userinfo_subject_mismatch", problem)
        for key, value in extra.items():
            claims.setdefault(key, value)

    outcome = await run_in_threadpool(_sign_in, db, settings, claims, actor, request.headers.get("user-agent"))
    if isinstance(outcome, _Refusal):
        return await _fail(request, db, outcome.actor, outcome.reason, outcome.problem, outcome.target)

    target = pending_next.get("next") if pending_next.get("state") == request.query_params.get("state") else None
    response = RedirectResponse(safe_next(target) or "/", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        outcome,
        max_age=settings.session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )
    await run_in_threadpool(db.commit)
    return response


# --- Helpers --------------------------------------------------------------------------------------------


def _issuer_mismatch(metadata: dict[str, Any], settings: Settings) -> bool:
    issuer = str(metadata.get("issuer") or "")
    return issuer.rstrip("/") != (settings.oidc_issuer or "").rstrip("/")


def _clear_state(request: Request) -> None:
    for key in [k for k in request.session if k.startswith(f"_state_{CLIENT_NAME}_")]:
        request.session.pop(key, None)


def _jose_reason(exc: JoseError) -> str:
    """`invalid_claim: nonce`, `expired_token: exp`, `bad_signature`..."""
    name = exc.error or exc.__class__.__name__
    claim = exc.claim if isinstance(exc, ClaimError) else None
    return f"{name}: {claim}" if claim else name


def _needs_userinfo(claims: dict[str, Any], settings: Settings) -> bool:
    return any(key not in claims for key in ("email", "email_verified", settings.oidc_groups_claim))


async def _fail(
    request: Request, db: DbSession, actor: Actor, reason: str, problem: Problem, target: str = ""
) -> Response:
    """Audit the failure, keep the audit event, and answer with the problem (HTML for browsers)."""

    def record() -> None:
        db.rollback()  # nothing half-done survives; only the audit event
        audit.record(db, actor, "auth.sso_failed", target, reason=reason, issuer=request.app.state.settings.oidc_issuer)
        db.commit()

    await run_in_threadpool(record)
    if wants_html(request):
        from devhub.web import render_error_page

        return render_error_page(request, problem.status, problem.title, problem.detail)
    return problem_response(problem)


@dataclass
class _Refusal:
    reason: str
    problem: Problem
    actor: Actor
    target: str = ""


def _email_verified(claims: dict[str, Any]) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _sign_in(
    db: DbSession, settings: Settings, claims: dict[str, Any], actor: Actor, user_agent: str | None
) -> str | _Refusal:
    """Find, link or create the user, sync their teams and start a session; the raw session token."""
    issuer = str(claims["iss"])
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255 or len(issuer) > 512:
        return _Refusal(
            "invalid_subject",
            Problem(502, "Single sign-on failed", "the identity provider sent no usable subject"),
            actor,
        )
    raw_email = claims.get("email")
    who = Actor(str(raw_email or subject)[:320], None, actor.ip, actor.request_id)

    user = db.scalar(select(User).where(User.oidc_issuer == issuer, User.oidc_subject == subject))
    if user is None:
        if not isinstance(raw_email, str) or not raw_email.strip():
            return _Refusal(
                "email_missing",
                Problem(
                    403,
                    "Single sign-on failed",
                    "the identity provider did not share an email address; allow the email scope for devhub",
                ),
                who,
                subject,
            )
        try:
            email = service.normalise_email(raw_email)
        except Problem:
            return _Refusal(
                "email_invalid",
                Problem(403, "Single sign-on failed", "the identity provider's email address is not valid"),
                who,
                subject,
            )
        who = Actor(email, None, actor.ip, actor.request_id)
        if not _email_verified(claims):
            return _Refusal(
                "email_unverified",
                Problem(
                    403,
                    "Email address not verified",
                    f"the identity provider has not verified {email}, so devhub cannot sign you in with it; "
                    "verify the address with your identity provider, or ask an administrator",
                ),
                who,
                email,
            )
        existing = service.find_user(db, email)
        if existing is not None:
            who = Actor(existing.email, existing.id, actor.ip, actor.request_id)
            if existing.oidc_subject and (existing.oidc_issuer, existing.oidc_subject) != (issuer, subject):
                return _Refusal(
                    "linked_to_another_identity",
                    Problem(
                        409,
                        "Account linked to another identity",
                        f"the devhub account for {email} is linked to another single sign-on identity; "
                        "ask an administrator",
                    ),
                    who,
                    email,
                )
            refusal = _refuse_inactive(existing, who)
            if refusal is not None:
                return refusal
            existing.oidc_issuer, existing.oidc_subject = issuer, subject
            existing.email_verified_at = existing.email_verified_at or utcnow()
            db.flush()
            audit.record(db, who, "user.sso_link", existing.email, issuer=issuer, subject=subject)
            user = existing
        else:
            domain = email.rsplit("@", 1)[-1]
            allowed = {d.lower().lstrip("@") for d in settings.signup_allowed_domains}
            user = service.create_user(
                db,
                settings,
                email=email,
                display_name=_display_name(claims),
                status="approved" if domain in allowed else None,
                actor=who,
            )
            user.oidc_issuer, user.oidc_subject = issuer, subject
            user.email_verified_at = utcnow()
            db.flush()
    who = Actor(user.email, user.id, actor.ip, actor.request_id)
    refusal = _refuse_inactive(user, who)
    if refusal is not None:
        return refusal
    sync_groups(db, user, claims.get(settings.oidc_groups_claim), who)
    return service.start_session(db, settings, user, who, user_agent, method="oidc")


def _refuse_inactive(user: User, who: Actor) -> _Refusal | None:
    if user.status not in ("rejected", "revoked"):
        return None
    reason = f" Reason: {user.status_reason}" if user.status_reason else ""
    return _Refusal(
        f"account_{user.status}",
        Problem(403, "Account not active", f"your devhub account is {user.status}; ask an administrator.{reason}"),
        who,
        user.email,
    )


def _display_name(claims: dict[str, Any]) -> str:
    for key in ("name", "preferred_username", "given_name"):
        value = claims.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def team_refs(value: Any) -> set[str]:
    """The Group refs named by a groups claim: names (`payments`) or refs (`group:default/payments`).
    Values that are not valid Group references are ignored."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return set()
    refs: set[str] = set()
    for item in value[:MAX_GROUPS]:
        if not isinstance(item, str):
            continue
        try:
            ref = parse_ref(item, default_kind="group")
        except RefError:
            continue
        if ref.kind == "group":
            refs.add(str(ref))
    return refs


def sync_groups(db: DbSession, user: User, claim: Any, actor: Actor) -> None:
    """Make the user's `oidc` memberships exactly the groups in the claim, as member."""
    wanted = team_refs(claim)
    current = {
        m.team_ref: m.role
        for m in db.scalars(select(Membership).where(Membership.user_id == user.id, Membership.source == "oidc"))
    }
    for team in sorted(set(current) - wanted):
        service.set_membership(db, user, team, None, actor, source="oidc")
    for team in sorted(wanted):
        if current.get(team) != "member":
            service.set_membership(db, user, team, "member", actor, source="oidc")
