"""Identity JSON API: who am I, sign-up, access tokens, accounts, team members, audit log, outbox."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from devhub.audit import service as audit
from devhub.audit.service import Actor, AuditFilters
from devhub.catalog import service as catalog
from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity import service
from devhub.identity.deps import current_user, get_actor, get_principal
from devhub.identity.models import User
from devhub.identity.policy import Principal, Unauthorized, require
from devhub.identity.schemas import (
    AuditEventOut,
    AuditList,
    AuditVerification,
    InvitationIn,
    IssuedTokenOut,
    Me,
    MemberIn,
    MemberOut,
    OutboxList,
    OutboxOut,
    PasswordTokenIn,
    SignupIn,
    TokenIn,
    TokenOut,
    UserList,
    UserOut,
    UserUpdate,
)
from devhub.mail import service as mail
from devhub.pagination import PageMeta, PageRequest
from devhub.problems import NotFound, Problem
from devhub.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.get("/me", summary="Who the caller is: account, role, teams, token scopes")
def me(viewer: Principal = Depends(get_principal), user: User | None = Depends(current_user)) -> Me:
    return Me(
        id=viewer.user_id,
        email=viewer.email,
        display_name=user.display_name if user else None,
        status=viewer.status,
        role=viewer.role,
        is_admin=viewer.is_admin and viewer.signed_in,
        teams=sorted(viewer.teams),
        owned_teams=sorted(viewer.owned_teams),
        scopes=sorted(viewer.scopes) if viewer.scopes is not None else None,
    )


@router.post("/auth/signup", status_code=201, summary="Create a developer account (per the sign-up policy)")
def signup(
    body: SignupIn,
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(get_actor),
) -> UserOut:
    user = service.sign_up(
        db,
        settings,
        email=body.email,
        password=body.password,
        display_name=body.display_name,
        invitation=body.invitation,
        actor=actor,
    )
    return UserOut.model_validate(user)


@router.post("/auth/tokens", status_code=201, summary="Trade an email and password for an access token (CLI login)")
def password_token(
    body: PasswordTokenIn,
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(get_actor),
) -> IssuedTokenOut:
    try:
        user = service.authenticate(db, settings, body.email, body.password, actor)
    except Problem:
        db.commit()  # keep the failure count (throttling) and its audit record
        raise
    if user.status != "approved":
        raise Unauthorized("this account is not approved yet")
    acting = Actor(user.email, user.id, actor.ip, actor.request_id)
    issued = service.create_token(db, settings, user, body.name, body.scopes, body.expires_in_days, acting)
    return _issued(issued)


def _issued(issued: service.IssuedToken) -> IssuedTokenOut:
    """A new token's record with its secret, which is shown this once."""
    return IssuedTokenOut.model_validate({**TokenOut.model_validate(issued.token).model_dump(), "token": issued.secret})


def _signed_in_user(viewer: Principal, user: User | None, action: str) -> User:
    require(viewer, action)
    if user is None:
        raise Unauthorized()
    return user


@router.get("/me/tokens", summary="My access tokens")
def my_tokens(
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    user: User | None = Depends(current_user),
) -> list[TokenOut]:
    user = _signed_in_user(viewer, user, "tokens.manage")
    return [TokenOut.model_validate(token) for token in service.list_tokens(db, user)]


@router.post("/me/tokens", status_code=201, summary="Create an access token (shown once)")
def create_token(
    body: TokenIn,
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    user: User | None = Depends(current_user),
    actor: Actor = Depends(get_actor),
) -> IssuedTokenOut:
    user = _signed_in_user(viewer, user, "tokens.manage")
    issued = service.create_token(db, settings, user, body.name, body.scopes, body.expires_in_days, actor)
    return _issued(issued)


@router.delete("/me/tokens/{token_id}", status_code=204, summary="Revoke an access token")
def revoke_token(
    token_id: int,
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    user: User | None = Depends(current_user),
    actor: Actor = Depends(get_actor),
) -> Response:
    user = _signed_in_user(viewer, user, "tokens.manage")
    service.revoke_token(db, user, token_id, actor)
    return Response(status_code=204)


@router.get("/admin/users", summary="Accounts, filtered by status or text")
def list_users(
    status: str | None = Query(None, pattern="^(pending|approved|rejected|revoked)$"),
    q: str | None = Query(None, max_length=200),
    page: PageRequest = Depends(get_page),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> UserList:
    require(viewer, "users.read")
    result = service.list_users(db, page, status, q)
    return UserList(items=[UserOut.model_validate(u) for u in result.items], meta=PageMeta.of(result))


@router.patch("/admin/users/{user_id}", summary="Approve, reject or revoke an account; grant or remove admin")
def update_user(
    user_id: int,
    body: UserUpdate,
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> UserOut:
    require(viewer, "users.manage")
    user = service.get_user(db, user_id)
    if body.status is not None:
        service.set_status(db, settings, user, body.status, actor, body.reason)
    if body.is_admin is not None:
        service.set_admin(db, user, body.is_admin, actor)
    return UserOut.model_validate(user)


@router.post("/admin/invitations", status_code=201, summary="Invite someone by email")
def invite(
    body: InvitationIn,
    db: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> dict[str, str]:
    require(viewer, "users.manage")
    service.create_invitation(db, settings, body.email, actor, body.days)
    return {"status": "invited", "email": body.email.strip().lower()}


@router.get("/teams/{namespace}/{name}/members", summary="A team's accounts and their roles")
def team_members(
    namespace: str,
    name: str,
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> list[MemberOut]:
    require(viewer, "teams.read")
    team = catalog.visible_entity(db, "group", namespace, name, viewer)
    return [
        MemberOut(user_id=u.id, email=u.email, display_name=u.display_name, role=m.role, source=m.source)
        for u, m in service.team_members(db, team.ref)
    ]


@router.put("/teams/{namespace}/{name}/members", summary="Add a member, change their role, or remove them (role null)")
def set_member(
    namespace: str,
    name: str,
    body: MemberIn,
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> list[MemberOut]:
    team = catalog.visible_entity(db, "group", namespace, name, viewer)
    require(viewer, "teams.manage", team.ref)
    user = service.find_user(db, body.email)
    if user is None:
        raise NotFound(f"no account for {body.email}")
    service.set_membership(db, user, team.ref, body.role, actor)
    return team_members(namespace, name, db, viewer)


def audit_filters(
    actor: str | None = Query(None, max_length=320),
    action: str | None = Query(None, max_length=64),
    target: str | None = Query(None, max_length=512),
    since: datetime | None = None,
    until: datetime | None = None,
) -> AuditFilters:
    """The query parameters that filter the audit log, the same for its pages and its CSV export."""
    return AuditFilters(actor=actor, action=action, target=target, since=since, until=until)


@router.get("/audit", summary="The audit log, newest first")
def audit_log(
    filters: AuditFilters = Depends(audit_filters),
    page: PageRequest = Depends(get_page),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> AuditList:
    require(viewer, "audit.read")
    result = audit.list_events(db, filters, page)
    return AuditList(items=[AuditEventOut.model_validate(e) for e in result.items], meta=PageMeta.of(result))


@router.get("/audit/export.csv", summary="The audit log as CSV, oldest first", response_class=StreamingResponse)
def audit_export(
    filters: AuditFilters = Depends(audit_filters),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "audit.read")
    rows = list(audit.export_csv(db, filters))
    return StreamingResponse(
        iter(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="devhub-audit.csv"'},
    )


@router.get("/audit/verify", summary="Check the audit chain end to end")
def audit_verify(
    db: Session = Depends(get_session, scope="function"), viewer: Principal = Depends(get_principal)
) -> AuditVerification:
    require(viewer, "audit.read")
    result = audit.verify(db)
    return AuditVerification(ok=result.ok, checked=result.checked, broken_at=result.broken_at, reason=result.reason)


@router.get("/admin/outbox", summary="Mail the portal sent (the only delivery when SMTP is not configured)")
def outbox(
    to: str | None = Query(None, max_length=320),
    page: PageRequest = Depends(get_page),
    db: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> OutboxList:
    require(viewer, "outbox.read")
    result = mail.outbox(db, page, to)
    return OutboxList(items=[OutboxOut.model_validate(m) for m in result.items], meta=PageMeta.of(result))
