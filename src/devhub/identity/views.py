"""Account pages: sign in and out, sign up, email confirmation, password reset, my account and tokens;
and the administrators' pages: accounts, invitations, team members, the outbox and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from sqlalchemy.orm import Session

from devhub.audit import service as audit
from devhub.audit.service import Actor, AuditFilters
from devhub.catalog import service as catalog
from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity import service
from devhub.identity.deps import SESSION_COOKIE, current_user, get_actor, get_principal
from devhub.identity.models import USER_STATES, User
from devhub.identity.policy import Principal, Unauthorized, can, require
from devhub.identity.service import TOKEN_SCOPES, Throttled
from devhub.mail import service as mail
from devhub.pagination import PageRequest
from devhub.problems import Problem
from devhub.settings import Settings
from devhub.web import render, sign_in_redirect

router = APIRouter(include_in_schema=False)


def safe_next(value: str | None) -> str:
    """Only local paths: never redirect a signed-in user to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _signed_in_response(request: Request, settings: Settings, token: str, target: str) -> RedirectResponse:
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_hours * 3600,
        path="/",
    )
    return response


# --- Sign in and out ------------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None, settings: Settings = Depends(get_settings_dep)):
    return render(request, "identity/login.html", next=safe_next(next), error=None, email="", settings=settings)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    email: str = Form("", max_length=320),
    password: str = Form("", max_length=1024),
    next: str = Form("/"),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(get_actor),
):
    try:
        user = service.authenticate(db, settings, email, password, actor)
    except Problem as exc:
        db.commit()  # keep the failure count and the audit record
        response = render(
            request,
            "identity/login.html",
            status_code=exc.status,
            next=safe_next(next),
            error=exc.detail,
            email=email,
            settings=settings,
        )
        if isinstance(exc, Throttled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    token = service.start_session(db, settings, user, actor, request.headers.get("user-agent"))
    return _signed_in_response(request, settings, token, safe_next(next))


@router.post("/logout")
def logout(request: Request, db: Session = Depends(get_session, scope="function"), actor: Actor = Depends(get_actor)):
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        service.end_session(db, token, actor)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- Sign up, confirm, reset ----------------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_page(
    request: Request,
    invitation: str | None = None,
    next: str | None = None,
    settings: Settings = Depends(get_settings_dep),
):
    return render(
        request,
        "identity/signup.html",
        error=None,
        email="",
        display_name="",
        invitation=invitation,
        next=_after_signup(next),
        settings=settings,
    )


def _after_signup(next: str | None) -> str:
    """Where a new account lands: the page that sent the person to sign up (e.g. an operation's try-it
    console), else their account page with its welcome."""
    target = safe_next(next)
    return target if target != "/" else "/account?welcome=1"


@router.post("/signup", response_class=HTMLResponse)
def signup(
    request: Request,
    email: str = Form("", max_length=320),
    password: str = Form("", max_length=1024),
    display_name: str = Form("", max_length=255),
    invitation: str | None = Form(None, max_length=200),
    next: str = Form("", max_length=2048),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(get_actor),
):
    try:
        user = service.sign_up(
            db, settings, email=email, password=password, display_name=display_name, invitation=invitation, actor=actor
        )
    except Problem as exc:
        return render(
            request,
            "identity/signup.html",
            status_code=exc.status,
            error=exc.detail,
            email=email,
            display_name=display_name,
            invitation=invitation,
            next=_after_signup(next),
            settings=settings,
        )
    token = service.start_session(db, settings, user, actor, request.headers.get("user-agent"), method="signup")
    return _signed_in_response(request, settings, token, _after_signup(next))


@router.get("/verify-email", response_class=HTMLResponse)
def verify_email(
    request: Request,
    token: str = Query("", max_length=1000),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
):
    try:
        user = service.verify_email(db, settings, token)
    except Problem as exc:
        return render(
            request,
            "identity/message.html",
            status_code=exc.status,
            title="Email not confirmed",
            message=exc.detail,
            variant="error",
        )
    return render(
        request,
        "identity/message.html",
        title="Email confirmed",
        message=f"{user.email} is confirmed. Thank you.",
        variant="success",
    )


@router.get("/forgot-password", response_class=HTMLResponse)
def forgot_page(request: Request):
    return render(request, "identity/forgot.html", sent=False, email="")


@router.post("/forgot-password", response_class=HTMLResponse)
def forgot(
    request: Request,
    email: str = Form("", max_length=320),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
):
    service.request_password_reset(db, settings, email)
    return render(request, "identity/forgot.html", sent=True, email=email)


@router.get("/reset-password", response_class=HTMLResponse)
def reset_page(request: Request, token: str = Query("", max_length=1000)):
    return render(request, "identity/reset.html", token=token, error=None)


@router.post("/reset-password", response_class=HTMLResponse)
def reset(
    request: Request,
    token: str = Form("", max_length=1000),
    password: str = Form("", max_length=1024),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(get_actor),
):
    try:
        service.reset_password(db, settings, token, password, actor)
    except Problem as exc:
        return render(request, "identity/reset.html", status_code=exc.status, token=token, error=exc.detail)
    return render(
        request,
        "identity/message.html",
        title="Password changed",
        message="Your password was changed and your other sessions were signed out. Sign in again.",
        variant="success",
        action_url="/login",
        action_label="Sign in",
    )


# --- My account and tokens ------------------------------------------------------------------------------


def _require_account(request: Request, viewer: Principal, user: User | None) -> User:
    if user is None:
        raise Unauthorized()
    require(viewer, "account.read")
    return user


@router.get("/account", response_class=HTMLResponse)
def account(
    request: Request,
    welcome: bool = False,
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    user: User | None = Depends(current_user),
):
    if user is None:
        return sign_in_redirect("/account")
    tokens = service.list_tokens(db, user) if viewer.signed_in else []
    return render(
        request,
        "identity/account.html",
        user=user,
        tokens=tokens,
        scopes=TOKEN_SCOPES,
        issued=None,
        error=None,
        welcome=welcome,
        teams=sorted(viewer.teams),
        owned=sorted(viewer.owned_teams),
    )


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    name: str = Form("", max_length=255),
    scopes: list[str] = Form(["read"]),
    expires_in_days: int | None = Form(None),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    user: User | None = Depends(current_user),
    actor: Actor = Depends(get_actor),
):
    user = _require_account(request, viewer, user)
    require(viewer, "tokens.manage")
    issued, error = None, None
    try:
        issued = service.create_token(db, settings, user, name, scopes, expires_in_days, actor)
    except Problem as exc:
        error = exc.detail
    return render(
        request,
        "identity/account.html",
        status_code=201 if issued else 422,
        user=user,
        tokens=service.list_tokens(db, user),
        scopes=TOKEN_SCOPES,
        issued=issued,
        error=error,
        welcome=False,
        teams=sorted(viewer.teams),
        owned=sorted(viewer.owned_teams),
    )


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token(
    token_id: int,
    request: Request,
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    user: User | None = Depends(current_user),
    actor: Actor = Depends(get_actor),
):
    user = _require_account(request, viewer, user)
    require(viewer, "tokens.manage")
    service.revoke_token(db, user, token_id, actor)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/resend-confirmation")
def resend_confirmation(
    request: Request,
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    user: User | None = Depends(current_user),
):
    user = _require_account(request, viewer, user)
    if user.email_verified_at is None:
        service.send_verification(db, settings, user)
    return RedirectResponse("/account", status_code=303)


# --- Administration -------------------------------------------------------------------------------------


@router.get("/admin/users", response_class=HTMLResponse)
def admin_users(
    request: Request,
    status: str | None = Query(None, pattern="^(pending|approved|rejected|revoked)?$"),
    q: str | None = Query(None, max_length=200),
    page: PageRequest = Depends(get_page),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "users.read")
    return render(
        request,
        "identity/admin_users.html",
        page=service.list_users(db, page, status or None, q),
        status=status or "",
        q=q or "",
        states=USER_STATES,
        invited=request.query_params.get("invited"),
    )


@router.post("/admin/users/{user_id}")
def admin_update_user(
    user_id: int,
    status: str | None = Form(None),
    reason: str | None = Form(None, max_length=2000),
    is_admin: str | None = Form(None),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
):
    require(viewer, "users.manage")
    user = service.get_user(db, user_id)
    if status:
        service.set_status(db, settings, user, status, actor, reason)
    if is_admin in ("true", "false"):
        service.set_admin(db, user, is_admin == "true", actor)
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/invitations")
def admin_invite(
    email: str = Form("", max_length=320),
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
):
    require(viewer, "users.manage")
    service.create_invitation(db, settings, email, actor)
    return RedirectResponse(f"/admin/users?invited={quote(email.strip().lower())}", status_code=303)


@router.get("/teams/{namespace}/{name}/members", response_class=HTMLResponse)
def team_members(
    request: Request,
    namespace: str,
    name: str,
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "teams.read")
    team = catalog.visible_entity(db, "group", namespace, name, viewer)
    return render(
        request,
        "identity/team_members.html",
        team=team,
        members=service.team_members(db, team.ref),
        can_manage=can(viewer, "teams.manage", team.ref),
        error=None,
    )


@router.post("/teams/{namespace}/{name}/members", response_class=HTMLResponse)
def set_team_member(
    request: Request,
    namespace: str,
    name: str,
    email: str = Form("", max_length=320),
    role: str = Form("member"),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
):
    team = catalog.visible_entity(db, "group", namespace, name, viewer)
    require(viewer, "teams.manage", team.ref)
    user = service.find_user(db, email)
    if user is None:
        return render(
            request,
            "identity/team_members.html",
            status_code=404,
            team=team,
            members=service.team_members(db, team.ref),
            can_manage=True,
            error=f"No account for {email}. Invite them first.",
        )
    service.set_membership(db, user, team.ref, None if role == "remove" else role, actor)
    return RedirectResponse(f"/teams/{team.namespace}/{team.name}/members", status_code=303)


@router.get("/admin/outbox", response_class=HTMLResponse)
def admin_outbox(
    request: Request,
    to: str | None = Query(None, max_length=320),
    page: PageRequest = Depends(get_page),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "outbox.read")
    return render(request, "identity/outbox.html", page=mail.outbox(db, page, to or None), to=to or "")


def _parse_day(value: str | None, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.fromisoformat(value)
    except ValueError:
        raise Problem(422, "Invalid date", f"{value!r} is not a date (YYYY-MM-DD)") from None
    if day.tzinfo is None:
        day = day.replace(tzinfo=UTC)
    return day.replace(hour=23, minute=59, second=59) if end and len(value) <= 10 else day


def _filters(actor: str | None, action: str | None, target: str | None, since: str | None, until: str | None):
    return AuditFilters(
        actor=actor or None,
        action=action or None,
        target=target or None,
        since=_parse_day(since),
        until=_parse_day(until, end=True),
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def admin_audit(
    request: Request,
    actor: str | None = Query(None, max_length=320),
    action: str | None = Query(None, max_length=64),
    target: str | None = Query(None, max_length=512),
    since: str | None = Query(None, max_length=32),
    until: str | None = Query(None, max_length=32),
    page: PageRequest = Depends(get_page),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "audit.read")
    filters = _filters(actor, action, target, since, until)
    return render(
        request,
        "identity/audit.html",
        page=audit.list_events(db, filters, page),
        filters={
            "actor": actor or "",
            "action": action or "",
            "target": target or "",
            "since": since or "",
            "until": until or "",
        },
        verification=audit.verify(db) if request.query_params.get("verify") else None,
    )


@router.get("/admin/audit.csv")
def admin_audit_csv(
    actor: str | None = Query(None, max_length=320),
    action: str | None = Query(None, max_length=64),
    target: str | None = Query(None, max_length=512),
    since: str | None = Query(None, max_length=32),
    until: str | None = Query(None, max_length=32),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "audit.read")
    rows = list(audit.export_csv(db, _filters(actor, action, target, since, until)))
    return StreamingResponse(
        iter(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="devhub-audit.csv"'},
    )
