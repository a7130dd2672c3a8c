"""Accounts through the real pages and API: sign-up policies, approval, email confirmation, password reset,
sign-in throttling, cookies, CSRF, personal access tokens, the audit chain and the outbox."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from devhub import settings as settings_module
from devhub.audit.models import AuditEvent
from devhub.db import utcnow
from devhub.identity.models import AccessToken, User
from devhub.mail.models import OutboxMessage
from tests.conftest import bearer, csrf_for, make_account, sign_in

PASSWORD = "a long enough password"


def form(client, settings, data: dict) -> dict:
    client.get("/login")  # a first visit gives the browser the cookie its CSRF token is bound to
    return {**data, "csrf_token": csrf_for(client, settings)}


def signup(client, settings, email: str, **extra):
    return client.post(
        "/signup", data=form(client, settings, {"email": email, "password": PASSWORD, **extra}), follow_redirects=False
    )


def last_mail(db, to: str) -> OutboxMessage:
    with db.session() as session:
        return session.scalars(
            select(OutboxMessage).where(OutboxMessage.to == to).order_by(OutboxMessage.id.desc())
        ).first()


def link_in(message: OutboxMessage) -> str:
    link = re.search(r"http://\S+\?\S+", message.body).group(0)  # the one with a token in it
    return link.replace("http://127.0.0.1:8000", "")


def user(db, email: str) -> User:
    with db.session() as session:
        return session.scalar(select(User).where(User.email == email))


def test_open_signup_creates_a_pending_developer_signed_in_and_tells_the_admins(client, db, settings):
    make_account(db, settings, "boss@example.com", admin=True)
    response = signup(client, settings, "Dev@Example.com", display_name="Dev")
    assert response.status_code == 303 and response.headers["location"] == "/account?welcome=1"
    cookie = response.headers["set-cookie"]
    assert "devhub_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # http base URL; Secure is set under https
    assert user(db, "dev@example.com").status == "pending"
    assert "waits for approval" in last_mail(db, "boss@example.com").body
    assert "Confirm your address" in last_mail(db, "dev@example.com").body
    me = client.get("/api/v1/me").json()
    assert me["email"] == "dev@example.com" and me["role"] == "anonymous"  # pending: browses as anonymous


def test_cookies_are_secure_under_https(db, settings):
    from fastapi.testclient import TestClient

    from devhub.app import create_app

    settings.base_url = "https://portal.example.com"
    with TestClient(create_app(settings, run_background_tasks=False), base_url="https://testserver") as browser:
        response = signup(browser, settings, "secure@example.com")
    assert "Secure" in response.headers["set-cookie"]


def test_auto_approve_and_allowed_domains(client, db, settings):
    settings.signup_auto_approve = True
    settings.signup_policy = "domains"
    settings.signup_allowed_domains = ["acme.example"]
    refused = signup(client, settings, "someone@other.example")
    assert refused.status_code == 403 and "acme.example" in refused.text
    assert signup(client, settings, "someone@acme.example").status_code == 303
    assert user(db, "someone@acme.example").status == "approved"


def test_invite_only_signup_needs_the_invitation_for_that_address(client, db, settings, admin_headers):
    settings.signup_policy = "invite"
    assert signup(client, settings, "guest@example.com").status_code == 403
    assert (
        client.post("/api/v1/admin/invitations", json={"email": "guest@example.com"}, headers=admin_headers).status_code
        == 201
    )
    token = link_in(last_mail(db, "guest@example.com")).split("invitation=")[1]
    assert signup(client, settings, "other@example.com", invitation=token).status_code == 403
    assert signup(client, settings, "guest@example.com", invitation=token).status_code == 303
    invited = user(db, "guest@example.com")
    assert invited.status == "approved" and invited.email_verified_at is not None
    assert signup(client, settings, "guest2@example.com", invitation=token).status_code == 403  # used up


def test_closed_signup_and_bad_input_are_clear(client, db, settings):
    weak = signup(client, settings, "weak@example.com", password="short")
    assert weak.status_code == 400 and "at least 10 characters" in weak.text
    assert signup(client, settings, "not-an-email").status_code == 400
    settings.signup_policy = "closed"
    assert "closed" in signup(client, settings, "late@example.com").text


def test_admin_approves_and_the_developer_is_told(client, db, settings, admin_headers):
    signup(client, settings, "dev@example.com")
    dev = user(db, "dev@example.com")
    pending = client.get("/api/v1/admin/users?status=pending", headers=admin_headers).json()
    assert [u["email"] for u in pending["items"]] == ["dev@example.com"]
    answer = client.patch(f"/api/v1/admin/users/{dev.id}", json={"status": "approved"}, headers=admin_headers)
    assert answer.json()["status"] == "approved"
    assert "was approved" in last_mail(db, "dev@example.com").subject
    assert client.get("/api/v1/me").json()["role"] == "external_developer"


def test_revoking_ends_sessions_and_tokens(client, db, settings, admin_headers):
    dev_id = make_account(db, settings, "dev@example.com")
    sign_in(client, db, settings, dev_id)
    token = bearer(db, settings, dev_id, ("read",))
    assert client.get("/api/v1/me", headers=token).json()["email"] == "dev@example.com"
    client.patch(f"/api/v1/admin/users/{dev_id}", json={"status": "revoked", "reason": "left"}, headers=admin_headers)
    assert client.get("/api/v1/me").json()["email"] is None
    assert client.get("/api/v1/me", headers=token).status_code == 401


def test_email_confirmation_link(client, db, settings):
    signup(client, settings, "dev@example.com")
    link = link_in(last_mail(db, "dev@example.com"))
    assert "confirmed" in client.get(link).text
    assert user(db, "dev@example.com").email_verified_at is not None
    assert client.get("/verify-email?token=forged").status_code == 400


def test_password_reset_works_once_and_signs_out_everywhere(client, db, settings):
    dev_id = make_account(db, settings, "dev@example.com")
    sign_in(client, db, settings, dev_id)
    answer = client.post("/forgot-password", data=form(client, settings, {"email": "dev@example.com"}))
    assert "If an account exists" in answer.text
    client.post("/forgot-password", data=form(client, settings, {"email": "nobody@example.com"}))
    assert last_mail(db, "nobody@example.com") is None  # nothing tells whether an account exists
    token = link_in(last_mail(db, "dev@example.com")).split("token=")[1]
    data = form(client, settings, {"token": token, "password": "brand new password"})
    assert "Password changed" in client.post("/reset-password", data=data).text
    assert client.get("/api/v1/me").json()["email"] is None  # the old session ended
    again = client.post("/reset-password", data=form(client, settings, {"token": token, "password": "another one!!"}))
    assert again.status_code == 400 and "already used" in again.text
    login = client.post(
        "/login",
        data=form(client, settings, {"email": "dev@example.com", "password": "brand new password"}),
        follow_redirects=False,
    )
    assert login.status_code == 303


def test_failed_sign_ins_are_throttled_and_audited(client, db, settings):
    settings.login_max_failures = 3
    make_account(db, settings, "dev@example.com")
    wrong = {"email": "dev@example.com", "password": "wrong password"}
    for _ in range(3):
        assert client.post("/login", data=form(client, settings, wrong)).status_code == 401
    throttled = client.post("/login", data=form(client, settings, {**wrong, "password": "correct horse battery"}))
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    token_attempt = client.post("/api/v1/auth/tokens", json={**wrong, "name": "cli"})
    assert token_attempt.status_code == 429
    with db.session() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(AuditEvent.action == "auth.login_failed")))
    assert len(actions) == 3


def test_forms_without_the_csrf_token_are_refused(client, db, settings):
    make_account(db, settings, "dev@example.com")
    client.get("/login")
    response = client.post("/login", data={"email": "dev@example.com", "password": "correct horse battery"})
    assert response.status_code == 403 and "security token" in response.text
    forged = client.post(
        "/login", data={"email": "dev@example.com", "password": "correct horse battery", "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403


def test_cookie_authenticated_api_writes_need_the_csrf_header(client, db, settings):
    sign_in(client, db, settings, make_account(db, settings, "dev@example.com"))
    assert client.post("/api/v1/me/tokens", json={"name": "t", "scopes": ["read"]}).status_code == 403
    ok = client.post(
        "/api/v1/me/tokens",
        json={"name": "t", "scopes": ["read"]},
        headers={"x-csrf-token": csrf_for(client, settings)},
    )
    assert ok.status_code == 201


def test_tokens_are_shown_once_scoped_expiring_and_revocable(client, db, settings):
    dev_id = make_account(db, settings, "dev@example.com", teams={"group:default/payments": "owner"})
    sign_in(client, db, settings, dev_id)
    headers = {"x-csrf-token": csrf_for(client, settings)}
    issued = client.post(
        "/api/v1/me/tokens", json={"name": "ci", "scopes": ["read"], "expires_in_days": 7}, headers=headers
    ).json()
    assert issued["token"].startswith(f"dhp_{issued['prefix']}_")
    listed = client.get("/api/v1/me/tokens").json()
    assert "token" not in listed[0] and listed[0]["prefix"] == issued["prefix"]
    with db.session() as session:
        hashes = list(session.scalars(select(AccessToken.secret_hash)))
    assert issued["token"] not in str(hashes) and issued["token"].rsplit("_", 1)[1] not in str(hashes)
    read_only = {"Authorization": f"Bearer {issued['token']}"}
    client.cookies.clear()
    me = client.get("/api/v1/me", headers=read_only).json()
    assert me["scopes"] == ["read"] and me["role"] == "team_owner"
    assert client.post("/api/v1/me/tokens", json={"name": "x"}, headers=read_only).status_code == 403
    assert (
        client.post(
            "/api/v1/me/tokens",
            json={"name": "x", "scopes": ["admin"]},
            headers=bearer(db, settings, dev_id, ("write",)),
        ).status_code
        == 403
    )  # not an admin
    sign_in(client, db, settings, dev_id)
    client.delete(f"/api/v1/me/tokens/{issued['id']}", headers={"x-csrf-token": csrf_for(client, settings)})
    client.cookies.clear()
    assert client.get("/api/v1/me", headers=read_only).status_code == 401
    with db.session() as session:
        session.execute(update(User).values(status="approved"))
    expired = bearer(db, settings, dev_id, ("read",))

    with db.session() as session:
        session.execute(update(AccessToken).values(expires_at=utcnow()))
    assert client.get("/api/v1/me", headers=expired).status_code == 401


def test_token_page_shows_the_secret_once(client, db, settings):
    sign_in(client, db, settings, make_account(db, settings, "dev@example.com"))
    page = client.post(
        "/account/tokens", data={"name": "laptop", "scopes": ["read"], "csrf_token": csrf_for(client, settings)}
    )
    secret = re.search(r"dhp_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}", page.text).group(0)
    assert secret not in client.get("/account").text


def test_audit_chain_detects_tampering_and_exports_csv(client, db, settings, admin_headers, monkeypatch):
    make_account(db, settings, "dev@example.com")
    client.post("/login", data=form(client, settings, {"email": "dev@example.com", "password": "nope nope"}))
    verified = client.get("/api/v1/audit/verify", headers=admin_headers).json()
    assert verified["ok"] and verified["checked"] >= 3
    csv = client.get("/api/v1/audit/export.csv?action=auth.", headers=admin_headers)
    assert csv.headers["content-type"].startswith("text/csv")
    assert "auth.login_failed" in csv.text and "user.create" not in csv.text

    monkeypatch.setenv("DEVHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("DEVHUB_DATA_DIR", str(settings.data_dir))
    settings_module.get_settings.cache_clear()
    from devhub.cli import app

    assert CliRunner().invoke(app, ["audit", "verify"]).exit_code == 0
    with db.session() as session:
        session.execute(update(AuditEvent).where(AuditEvent.action == "auth.login_failed").values(target="x"))
    assert not client.get("/api/v1/audit/verify", headers=admin_headers).json()["ok"]
    broken = CliRunner().invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN" in broken.output
    settings_module.get_settings.cache_clear()


def test_admin_pages_and_outbox(client, db, settings, admin_browser):
    signup_client_mail = "dev@example.com"
    make_account(db, settings, signup_client_mail, status="pending")
    users_page = client.get("/admin/users?status=pending")
    assert signup_client_mail in users_page.text
    dev = user(db, signup_client_mail)
    response = client.post(f"/admin/users/{dev.id}", data=admin_browser({"status": "approved"}), follow_redirects=False)
    assert response.status_code == 303
    assert "was approved" in client.get("/admin/outbox").text
    audit_page = client.get("/admin/audit?action=user.")
    assert "user.approve" in audit_page.text


def test_cli_users_create_makes_an_admin(db, settings, monkeypatch, tmp_path):
    monkeypatch.setenv("DEVHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("DEVHUB_DATA_DIR", str(tmp_path))
    settings_module.get_settings.cache_clear()
    from devhub.cli import app

    result = CliRunner().invoke(
        app, ["users", "create", "ops@example.com", "--admin", "--password-stdin"], input=f"{PASSWORD}\n"
    )
    assert result.exit_code == 0, result.output
    assert user(db, "ops@example.com").is_admin
    settings_module.get_settings.cache_clear()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example", "/\\evil.example"])
def test_login_never_redirects_off_site(client, db, settings, target):
    make_account(db, settings, "dev@example.com")
    response = client.post(
        "/login",
        data=form(client, settings, {"email": "dev@example.com", "password": "correct horse battery", "next": target}),
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"
