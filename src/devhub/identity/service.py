"""Accounts, sign-in, sessions, personal access tokens and team memberships (no HTTP here).

Security choices, in one place: passwords are hashed with argon2 (argon2-cffi's defaults); session,
token and invitation secrets are 256-bit random values stored as SHA-256 digests and compared with
`hmac.compare_digest`; email verification and password reset links are signed with the secret key
(itsdangerous), expire, and a reset link stops working once the password changes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session as DbSession

from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.db import utcnow
from devhub.identity.models import USER_STATES, AccessToken, Invitation, LoginFailure, Membership, Session, User
from devhub.mail import service as mail
from devhub.pagination import Page, PageRequest
from devhub.problems import BadRequest, NotFound, Problem
from devhub.settings import Settings

_hasher = PasswordHasher()
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 10
TOKEN_PREFIX = "dhp_"
TOKEN_SCOPES = ("read", "write", "admin", "scim")
VERIFY_MAX_AGE = 3 * 24 * 3600
RESET_MAX_AGE = 3600


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _hasher.hash("timing-equaliser")  # same work whether or not the account exists
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL.match(email) or len(email) > 320:
        raise BadRequest(f"{email!r} is not an email address")
    return email


def check_password_rules(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"the password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise BadRequest("the password is too long")
    if password.lower() == email.lower():
        raise BadRequest("the password must not be the email address")


# --- Users ----------------------------------------------------------------------------------------------


def get_user(db: DbSession, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def find_user(db: DbSession, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    db: DbSession,
    settings: Settings,
    *,
    email: str,
    display_name: str = "",
    password: str | None = None,
    status: str | None = None,
    username: str | None = None,
    actor: Actor = audit.SYSTEM,
) -> User:
    """Create an account. The status is `approved` when auto-approval is on, else `pending`,
    unless given; admins named in `admin_emails` are approved admins."""
    email = normalise_email(email)
    if find_user(db, email) is not None:
        raise Problem(409, "Conflict", f"an account for {email} already exists")
    if password is not None:
        check_password_rules(password, email)
    is_admin = email in {e.lower() for e in settings.admin_emails}
    if status is None:
        status = "approved" if settings.signup_auto_approve or is_admin else "pending"
    user = User(
        email=email,
        username=(username or email)[:320],
        display_name=(display_name or email.split("@")[0]).strip()[:255],
        password_hash=hash_password(password) if password else None,
        status=status,
        is_admin=is_admin,
        catalog_name=email.split("@")[0][:63],
    )
    db.add(user)
    db.flush()
    audit.record(db, actor, "user.create", email, status=status, admin=is_admin)
    return user


def list_users(db: DbSession, page: PageRequest, status: str | None = None, text: str | None = None) -> Page[User]:
    clauses = []
    if status:
        clauses.append(User.status == status)
    if text:
        pattern = text.strip().lower()
        clauses.append(
            or_(
                User.email.contains(pattern, autoescape=True),
                func.lower(User.display_name).contains(pattern, autoescape=True),
            )
        )
    total = db.scalar(select(func.count()).select_from(User).where(*clauses)) or 0
    query = select(User).where(*clauses).order_by(User.created_at.desc(), User.id.desc())
    return Page(list(db.scalars(query.offset(page.offset).limit(page.size))), total, page)


def set_status(
    db: DbSession, settings: Settings, user: User, status: str, actor: Actor, reason: str | None = None
) -> None:
    """Approve, reject or revoke a developer. Leaving `approved` ends their sessions and tokens."""
    if status not in USER_STATES:
        raise BadRequest(f"status must be one of {', '.join(USER_STATES)}")
    previous = user.status
    user.status = status
    user.status_reason = (reason or "").strip()[:2000] or None
    if status != "approved":
        end_sessions_and_tokens(db, user)
    db.flush()
    audit.record(
        db,
        actor,
        f"user.{ {'approved': 'approve', 'rejected': 'reject', 'revoked': 'revoke'}.get(status, 'status') }",
        user.email,
        previous=previous,
        status=status,
        reason=user.status_reason,
    )
    if status in ("approved", "rejected") and previous != status:
        word = "approved" if status == "approved" else "not approved"
        mail.send(
            db,
            settings,
            user.email,
            f"Your devhub account was {word}",
            f"Hello {user.display_name},\n\nYour devhub account was {word}."
            + (f"\nReason: {user.status_reason}" if user.status_reason else "")
            + f"\n\n{settings.base_url}/login\n",
        )


def set_admin(db: DbSession, user: User, is_admin: bool, actor: Actor) -> None:
    if user.is_admin == is_admin:
        return
    user.is_admin = is_admin
    db.flush()
    audit.record(db, actor, "user.role", user.email, admin=is_admin)


def end_sessions_and_tokens(db: DbSession, user: User) -> None:
    db.execute(delete(Session).where(Session.user_id == user.id))
    db.execute(
        update(AccessToken)
        .where(AccessToken.user_id == user.id, AccessToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# --- Sign-up, verification, password reset --------------------------------------------------------------


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.resolved_secret_key, salt=f"devhub.{purpose}")


def check_signup_allowed(db: DbSession, settings: Settings, email: str, invitation: str | None) -> Invitation | None:
    if settings.signup_policy == "closed":
        raise Problem(403, "Sign-up is closed", "ask an administrator for an account")
    if settings.signup_policy == "domains":
        domain = email.rsplit("@", 1)[-1]
        allowed = {d.lower().lstrip("@") for d in settings.signup_allowed_domains}
        if domain not in allowed:
            raise Problem(403, "Sign-up is limited", f"sign-up is open to addresses at {', '.join(sorted(allowed))}")
    if settings.signup_policy == "invite":
        found = _valid_invitation(db, invitation, email)
        if found is None:
            raise Problem(403, "Sign-up is by invitation", "use the link in your invitation email")
        return found
    return None


def _valid_invitation(db: DbSession, token: str | None, email: str) -> Invitation | None:
    if not token:
        return None
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == digest(token)))
    if invitation is None or invitation.accepted_at or invitation.expires_at < utcnow():
        return None
    return invitation if hmac.compare_digest(invitation.email, email) else None


def sign_up(
    db: DbSession,
    settings: Settings,
    *,
    email: str,
    password: str,
    display_name: str = "",
    invitation: str | None = None,
    actor: Actor = audit.SYSTEM,
) -> User:
    email = normalise_email(email)
    invite = check_signup_allowed(db, settings, email, invitation)
    user = create_user(
        db,
        settings,
        email=email,
        password=password,
        display_name=display_name,
        status="approved" if invite else None,
        actor=Actor(email, None, actor.ip, actor.request_id),
    )
    if invite is not None:
        invite.accepted_at = utcnow()
        user.email_verified_at = utcnow()  # the invitation reached this address
    else:
        send_verification(db, settings, user)
    if user.status == "pending":
        notify_admins(
            db,
            settings,
            f"New developer waiting for approval: {email}",
            f"{email} signed up and waits for approval.\n\n{settings.base_url}/admin/users?status=pending\n",
        )
    return user


def notify_admins(db: DbSession, settings: Settings, subject: str, body: str) -> None:
    for admin in db.scalars(select(User).where(User.is_admin.is_(True), User.status == "approved")):
        mail.send(db, settings, admin.email, subject, body)


def send_verification(db: DbSession, settings: Settings, user: User) -> None:
    token = _serializer(settings, "verify").dumps({"user": user.id, "email": user.email})
    mail.send(
        db,
        settings,
        user.email,
        "Confirm your email address for devhub",
        f"Hello {user.display_name},\n\nConfirm your address by opening this link within three days:\n"
        f"{settings.base_url}/verify-email?token={token}\n",
    )


def verify_email(db: DbSession, settings: Settings, token: str) -> User:
    try:
        data = _serializer(settings, "verify").loads(token, max_age=VERIFY_MAX_AGE)
    except SignatureExpired:
        raise BadRequest("this confirmation link has expired; sign in to get a new one") from None
    except BadSignature:
        raise BadRequest("this confirmation link is not valid") from None
    user = db.get(User, data.get("user"))
    if user is None or user.email != data.get("email"):
        raise BadRequest("this confirmation link is not valid")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record(db, Actor(user.email, user.id), "user.verify_email", user.email)
    return user


def _reset_fingerprint(user: User) -> str:
    return digest(user.password_hash or "none")[:16]


def request_password_reset(db: DbSession, settings: Settings, email: str) -> None:
    """Mail a reset link if the account exists; say nothing either way (no account enumeration)."""
    user = find_user(db, email)
    if user is None or user.status in ("rejected", "revoked"):
        return
    token = _serializer(settings, "reset").dumps({"user": user.id, "fp": _reset_fingerprint(user)})
    mail.send(
        db,
        settings,
        user.email,
        "Reset your devhub password",
        f"Someone asked to reset the password of {user.email}. If it was you, open this link within an "
        f"hour:\n{settings.base_url}/reset-password?token={token}\n\nIf it was not, ignore this message.\n",
    )
    audit.record(db, Actor(user.email, user.id), "user.password_reset_requested", user.email)


def reset_password(db: DbSession, settings: Settings, token: str, password: str, actor: Actor) -> User:
    try:
        data = _serializer(settings, "reset").loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise BadRequest("this reset link has expired; ask for a new one") from None
    except BadSignature:
        raise BadRequest("this reset link is not valid") from None
    user = db.get(User, data.get("user"))
    if user is None or not hmac.compare_digest(_reset_fingerprint(user), str(data.get("fp"))):
        raise BadRequest("this reset link was already used or is not valid")
    check_password_rules(password, user.email)
    user.password_hash = hash_password(password)
    end_sessions_and_tokens(db, user)
    audit.record(db, Actor(user.email, user.id, actor.ip, actor.request_id), "user.password_reset", user.email)
    return user


def create_invitation(db: DbSession, settings: Settings, email: str, actor: Actor, days: int = 7) -> str:
    email = normalise_email(email)
    token = secrets.token_urlsafe(32)
    db.add(
        Invitation(
            email=email, token_hash=digest(token), invited_by=actor.user_id, expires_at=utcnow() + timedelta(days=days)
        )
    )
    mail.send(
        db,
        settings,
        email,
        "You are invited to devhub",
        f"You are invited to the developer portal at {settings.base_url}.\n"
        f"Create your account within {days} days:\n{settings.base_url}/signup?invitation={token}\n",
    )
    audit.record(db, actor, "user.invite", email)
    return token


# --- Sign-in and throttling -----------------------------------------------------------------------------


class Throttled(Problem):
    def __init__(self, retry_after: int) -> None:
        super().__init__(429, "Too many failed sign-ins", f"try again in {retry_after} seconds")
        self.retry_after = retry_after


def _failures(db: DbSession, key: str, since: datetime) -> tuple[int, datetime | None]:
    row = db.execute(
        select(func.count(), func.min(LoginFailure.at)).where(LoginFailure.key == key, LoginFailure.at >= since)
    ).one()
    return int(row[0]), row[1]


def check_throttle(db: DbSession, settings: Settings, email: str, ip: str | None) -> None:
    now = utcnow()
    since = now - timedelta(seconds=settings.login_window_seconds)
    for key in (f"email:{email.strip().lower()}", f"ip:{ip}" if ip else None):
        if key is None:
            continue
        count, oldest = _failures(db, key, since)
        if count >= settings.login_max_failures and oldest is not None:
            retry = int((oldest + timedelta(seconds=settings.login_window_seconds) - now).total_seconds()) + 1
            raise Throttled(max(1, retry))


def authenticate(db: DbSession, settings: Settings, email: str, password: str, actor: Actor) -> User:
    """Check a password sign-in. Failures are counted per email and per IP, and audited."""
    check_throttle(db, settings, email, actor.ip)
    user = find_user(db, email) if email else None
    if user is None or not check_password(user.password_hash if user else None, password):
        now = utcnow()
        db.add(LoginFailure(key=f"email:{email.strip().lower()}"[:400], at=now))
        if actor.ip:
            db.add(LoginFailure(key=f"ip:{actor.ip}", at=now))
        audit.record(
            db,
            Actor(email.strip().lower()[:320] or "unknown", None, actor.ip, actor.request_id),
            "auth.login_failed",
            email.strip().lower(),
        )
        raise Problem(401, "Sign-in failed", "the email or the password is wrong")
    if user.status in ("rejected", "revoked"):
        audit.record(
            db,
            Actor(user.email, user.id, actor.ip, actor.request_id),
            "auth.login_refused",
            user.email,
            status=user.status,
        )
        raise Problem(403, "Account not active", f"this account is {user.status}")
    db.execute(delete(LoginFailure).where(LoginFailure.key == f"email:{user.email}"))
    return user


def start_session(
    db: DbSession, settings: Settings, user: User, actor: Actor, user_agent: str | None, method: str = "password"
) -> str:
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.add(
        Session(
            token_hash=digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=settings.session_hours),
            ip=actor.ip,
            user_agent=(user_agent or "")[:512],
        )
    )
    user.last_login_at = now
    db.flush()
    audit.record(db, Actor(user.email, user.id, actor.ip, actor.request_id), "auth.login", user.email, method=method)
    return token


def session_user(db: DbSession, token: str) -> User | None:
    found = db.execute(
        select(Session, User).join(User, User.id == Session.user_id).where(Session.token_hash == digest(token))
    ).first()
    if found is None:
        return None
    session, user = found
    if session.expires_at < utcnow() or user.status in ("rejected", "revoked"):
        return None
    return user


def end_session(db: DbSession, token: str, actor: Actor) -> None:
    session = db.scalar(select(Session).where(Session.token_hash == digest(token)))
    if session is not None:
        db.delete(session)
        audit.record(db, actor, "auth.logout", actor.name)


# --- Personal access tokens -----------------------------------------------------------------------------


@dataclass
class IssuedToken:
    token: AccessToken
    secret: str  # the whole token, shown once


def create_token(
    db: DbSession,
    settings: Settings,
    user: User,
    name: str,
    scopes: list[str],
    expires_in_days: int | None,
    actor: Actor,
) -> IssuedToken:
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise BadRequest("a token needs a name (at most 255 characters)")
    unknown = sorted(set(scopes) - set(TOKEN_SCOPES))
    if unknown or not scopes:
        raise BadRequest(
            f"scopes must be some of {', '.join(TOKEN_SCOPES)}" + (f"; not {', '.join(unknown)}" if unknown else "")
        )
    if ("admin" in scopes or "scim" in scopes) and not user.is_admin:
        raise Problem(403, "Forbidden", "only administrators may create admin or scim tokens")
    days = expires_in_days or settings.token_max_days
    if not 1 <= days <= settings.token_max_days:
        raise BadRequest(f"a token expires in 1 to {settings.token_max_days} days")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = AccessToken(
        user_id=user.id,
        name=name,
        prefix=prefix,
        secret_hash=digest(secret),
        scopes=sorted(set(scopes)),
        expires_at=utcnow() + timedelta(days=days),
    )
    db.add(token)
    db.flush()
    audit.record(db, actor, "token.create", f"{user.email}:{name}", prefix=prefix, scopes=token.scopes, days=days)
    return IssuedToken(token, f"{TOKEN_PREFIX}{prefix}_{secret}")


def token_user(db: DbSession, presented: str) -> tuple[User, AccessToken] | None:
    """The user and token behind a bearer token, if it is valid: found by prefix, compared in constant time."""
    if not presented.startswith(TOKEN_PREFIX) or presented.count("_") < 2:
        return None
    prefix, _, secret = presented[len(TOKEN_PREFIX) :].partition("_")
    found = db.execute(
        select(AccessToken, User).join(User, User.id == AccessToken.user_id).where(AccessToken.prefix == prefix)
    ).first()
    if found is None:
        return None
    token, user = found
    if not hmac.compare_digest(token.secret_hash, digest(secret)):
        return None
    if token.revoked_at or (token.expires_at and token.expires_at < utcnow()) or user.status != "approved":
        return None
    if token.last_used_at is None or (utcnow() - token.last_used_at) > timedelta(minutes=5):
        token.last_used_at = utcnow()
    return user, token


def list_tokens(db: DbSession, user: User) -> list[AccessToken]:
    query = select(AccessToken).where(AccessToken.user_id == user.id).order_by(AccessToken.created_at.desc())
    return list(db.scalars(query))


def revoke_token(db: DbSession, user: User, token_id: int, actor: Actor) -> None:
    token = db.get(AccessToken, token_id)
    if token is None or (token.user_id != user.id and not user.is_admin):
        raise NotFound(f"token {token_id} does not exist")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(db, actor, "token.revoke", f"{token.prefix}:{token.name}")


# --- Teams ----------------------------------------------------------------------------------------------


def set_membership(
    db: DbSession, user: User, team_ref: str, role: str | None, actor: Actor, source: str = "portal"
) -> None:
    """Give a user a role in a team (`member` or `owner`), or remove them (`role=None`)."""
    existing = db.scalar(
        select(Membership).where(
            Membership.user_id == user.id, Membership.team_ref == team_ref, Membership.source == source
        )
    )
    previous = existing.role if existing else None
    if role is None:
        if existing is not None:
            db.delete(existing)
    elif role not in ("member", "owner"):
        raise BadRequest("a team role is member or owner")
    elif existing is None:
        db.add(Membership(user_id=user.id, team_ref=team_ref, role=role, source=source))
    else:
        existing.role = role
    db.flush()
    if previous != role:
        audit.record(db, actor, "team.role", f"{user.email}@{team_ref}", previous=previous, role=role, source=source)


def team_members(db: DbSession, team_ref: str) -> list[tuple[User, Membership]]:
    query = (
        select(User, Membership)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.team_ref == team_ref)
        .order_by(User.email, Membership.source)
    )
    return [(user, membership) for user, membership in db.execute(query)]
