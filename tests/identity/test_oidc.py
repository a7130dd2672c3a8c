"""Single sign-on with OpenID Connect, end to end: the portal (TestClient) against a real OpenID provider on
loopback (tests/identity/oidc_provider.py). The browser's trip to the provider is a real HTTP request; the
portal's discovery, JWKS, token and userinfo requests are real HTTP requests too. Nothing is mocked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from types import SimpleNamespace
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from devhub.app import create_app
from devhub.audit.models import AuditEvent
from devhub.audit.service import SYSTEM
from devhub.db import Database
from devhub.identity import oidc, service
from devhub.identity.deps import SESSION_COOKIE, get_principal
from devhub.identity.models import Membership, User
from devhub.identity.models import Session as LoginSession
from devhub.identity.policy import Principal
from devhub.settings import Settings
from tests.identity.oidc_provider import Provider, TestUser

CLIENT_ID = "devhub-portal"
CLIENT_SECRET = "s3cret-" + "x" * 24
CALLBACK = "http://testserver/auth/sso/callback"
HTML = {"accept": "text/html"}


# --- Fixtures -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    running = Provider(CLIENT_ID, CLIENT_SECRET, [CALLBACK]).start()
    yield running
    running.stop()


@pytest.fixture
def idp(provider: Provider) -> Iterator[Provider]:
    provider.reset()
    provider.users.clear()
    provider.add_user(
        TestUser(
            sub="alice-sub",
            email="Alice@Example.com",
            name="Alice Liddell",
            groups=["payments", "group:default/platform", "user:default/bob", "not a ref!"],
        )
    )
    provider.login_as = "alice-sub"
    yield provider
    provider.reset()


@pytest.fixture
def sso_settings(settings: Settings, idp: Provider) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": idp.url,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_scopes": "openid email profile groups",
            "base_url": "http://testserver",
            "signup_allowed_domains": ["example.com"],
        }
    )


def make_portal(settings: Settings) -> TestClient:
    app = create_app(settings, run_background_tasks=False)
    if not any(getattr(route, "path", None) == "/auth/sso/login" for route in app.routes):
        app.include_router(oidc.router)

    @app.get("/_test/whoami")
    def whoami(principal: Principal = Depends(get_principal)) -> dict:
        return {"email": principal.email, "status": principal.status, "teams": sorted(principal.teams)}

    return TestClient(app)


@pytest.fixture
def portal(sso_settings: Settings) -> Iterator[TestClient]:
    with make_portal(sso_settings) as client:
        yield client


# --- Helpers --------------------------------------------------------------------------------------------


def start(portal: TestClient, idp: Provider, next: str | None = None) -> str:
    """GET /auth/sso/login; the provider's authorization URL it redirects to."""
    response = portal.get("/auth/sso/login", params={"next": next} if next else None, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(f"{idp.url}/authorize?"), location
    return location


def visit_provider(url: str) -> str:
    """The browser at the provider (a real HTTP request): where the provider sends it back."""
    with httpx.Client(trust_env=False, timeout=10) as browser:
        response = browser.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def sign_in(portal: TestClient, idp: Provider, next: str | None = None, headers=HTML) -> httpx.Response:
    back = visit_provider(start(portal, idp, next))
    assert back.startswith(CALLBACK + "?"), back
    return portal.get(back, headers=headers, follow_redirects=False)


def users(db: Database) -> list[User]:
    with db.session() as s:
        return list(s.scalars(select(User).order_by(User.id)))


def teams(db: Database, user_id: int, source: str = "oidc") -> dict[str, str]:
    with db.session() as s:
        rows = s.scalars(select(Membership).where(Membership.user_id == user_id, Membership.source == source))
        return {m.team_ref: m.role for m in rows}


def sessions(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(LoginSession)) or 0


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def assert_refused(response: httpx.Response, status: int, words: str, db: Database, reason: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert words in text_of(response.text), text_of(response.text)
    assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
    assert sessions(db) == 0
    failed = events(db, "auth.sso_failed")
    assert failed and failed[-1].details["reason"].startswith(reason), [e.details for e in failed]


# --- The whole flow -------------------------------------------------------------------------------------


def test_first_login_creates_the_user_with_teams_from_the_groups_claim(portal, idp, db):
    response = sign_in(portal, idp)

    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "max-age=43200" in cookie.lower() and "path=/" in cookie.lower()
    assert "secure" not in cookie.lower()  # base_url is http

    (user,) = users(db)
    assert (user.email, user.display_name, user.status) == ("alice@example.com", "Alice Liddell", "approved")
    assert (user.oidc_issuer, user.oidc_subject) == (idp.url, "alice-sub")
    assert user.password_hash is None and user.email_verified_at is not None
    # names and refs map to Groups; the user ref and the invalid value are ignored
    assert teams(db, user.id) == {"group:default/payments": "member", "group:default/platform": "member"}
    assert sessions(db) == 1

    me = portal.get("/_test/whoami").json()
    assert me == {
        "email": "alice@example.com",
        "status": "approved",
        "teams": ["group:default/payments", "group:default/platform"],
    }
    assert [e.details for e in events(db, "auth.login")] == [{"method": "oidc"}]
    assert [e.target for e in events(db, "user.create")] == ["alice@example.com"]
    assert len(events(db, "team.role")) == 2
    assert idp.userinfo_calls == 0  # everything was in the ID token

    (request,) = idp.authorize_requests
    assert request["response_type"] == "code" and request["client_id"] == CLIENT_ID
    assert request["redirect_uri"] == CALLBACK
    assert set(request["scope"].split()) == {"openid", "email", "profile", "groups"}
    assert request["code_challenge_method"] == "S256" and len(request["code_challenge"]) >= 43
    assert len(request["state"]) >= 32 and len(request["nonce"]) >= 16


def test_an_address_outside_the_allowed_domains_waits_for_approval(portal, idp, db):
    idp.add_user(TestUser(sub="eve-sub", email="eve@elsewhere.org", groups=[]))
    idp.login_as = "eve-sub"

    assert sign_in(portal, idp).status_code == 303

    (user,) = users(db)
    assert (user.email, user.status) == ("eve@elsewhere.org", "pending")
    assert portal.get("/_test/whoami").json()["status"] == "pending"


def test_second_login_replaces_the_sso_teams_and_keeps_the_others(portal, idp, db):
    assert sign_in(portal, idp).status_code == 303
    (user,) = users(db)
    with db.session() as s:
        service.set_membership(s, s.get(User, user.id), "group:default/admins", "owner", SYSTEM, source="portal")

    idp.users["alice-sub"].groups = ["platform", "Security"]
    assert sign_in(portal, idp).status_code == 303

    assert [u.id for u in users(db)] == [user.id]
    assert teams(db, user.id) == {"group:default/platform": "member", "group:default/security": "member"}
    assert teams(db, user.id, "portal") == {"group:default/admins": "owner"}
    removed = [e for e in events(db, "team.role") if e.details.get("role") is None]
    assert [e.target for e in removed] == ["alice@example.com@group:default/payments"]
    assert sessions(db) == 2

    idp.users["alice-sub"].groups = None  # no claim at all: no SSO teams
    assert sign_in(portal, idp).status_code == 303
    assert teams(db, user.id) == {}


def test_groups_only_in_userinfo_are_read_from_there(portal, idp, db):
    idp.groups_in_id_token = False

    assert sign_in(portal, idp).status_code == 303

    (user,) = users(db)
    assert teams(db, user.id) == {"group:default/payments": "member", "group:default/platform": "member"}
    assert idp.userinfo_calls == 1


def test_next_is_where_the_browser_lands(portal, idp):
    response = sign_in(portal, idp, next="/catalog?kind=api")

    assert response.status_code == 303
    assert response.headers["location"] == "/catalog?kind=api"


# --- Linking --------------------------------------------------------------------------------------------


def test_links_an_existing_password_account_by_verified_email(portal, idp, db, sso_settings):
    with db.session() as s:
        existing = service.create_user(
            s, sso_settings, email="alice@example.com", password="correct horse battery", status="approved"
        )
        existing_id, password_hash = existing.id, existing.password_hash

    assert sign_in(portal, idp).status_code == 303

    (user,) = users(db)
    assert user.id == existing_id
    assert (user.oidc_issuer, user.oidc_subject) == (idp.url, "alice-sub")
    assert user.password_hash == password_hash  # the password still works
    assert [e.target for e in events(db, "user.sso_link")] == ["alice@example.com"]
    assert teams(db, user.id) == {"group:default/payments": "member", "group:default/platform": "member"}

    assert sign_in(portal, idp).status_code == 303  # found by subject from now on
    assert len(events(db, "user.sso_link")) == 1


@pytest.mark.parametrize("verified", [False, None, "false"])
def test_an_unverified_email_neither_links_nor_creates(portal, idp, db, sso_settings, verified):
    idp.users["alice-sub"].email_verified = verified
    with db.session() as s:
        service.create_user(s, sso_settings, email="alice@example.com", password="correct horse battery")

    response = sign_in(portal, idp)

    assert_refused(response, 403, "has not verified alice@example.com", db, "email_unverified")
    (user,) = users(db)
    assert user.oidc_subject is None

    idp.add_user(TestUser(sub="mallory-sub", email="new@example.com", email_verified=verified))
    idp.login_as = "mallory-sub"
    assert_refused(sign_in(portal, idp), 403, "Email address not verified", db, "email_unverified")
    assert [u.email for u in users(db)] == ["alice@example.com"]


def test_an_account_linked_to_another_identity_is_not_taken_over(portal, idp, db):
    assert sign_in(portal, idp).status_code == 303
    portal.cookies.clear()
    idp.add_user(TestUser(sub="other-sub", email="alice@example.com"))
    idp.login_as = "other-sub"
    with db.session() as s:
        s.query(LoginSession).delete()

    response = sign_in(portal, idp)

    assert_refused(response, 409, "linked to another single sign-on identity", db, "linked_to_another_identity")
    (user,) = users(db)
    assert user.oidc_subject == "alice-sub"


# --- Refusals -------------------------------------------------------------------------------------------


def test_a_revoked_user_is_refused(portal, idp, db, sso_settings):
    assert sign_in(portal, idp).status_code == 303
    with db.session() as s:
        user = s.scalar(select(User))
        service.set_status(s, sso_settings, user, "revoked", SYSTEM, reason="left the company")
    assert sessions(db) == 0

    response = sign_in(portal, idp)

    assert_refused(response, 403, "your devhub account is revoked", db, "account_revoked")
    assert "left the company" in response.text


def test_a_rejected_password_account_is_not_linked(portal, idp, db, sso_settings):
    with db.session() as s:
        user = service.create_user(s, sso_settings, email="alice@example.com", password="correct horse battery")
        service.set_status(s, sso_settings, user, "rejected", SYSTEM)

    assert_refused(sign_in(portal, idp), 403, "your devhub account is rejected", db, "account_rejected")
    (user,) = users(db)
    assert user.oidc_subject is None


def test_access_denied_at_the_provider_shows_a_clear_page(portal, idp, db):
    idp.deny = True

    response = sign_in(portal, idp)

    assert_refused(response, 403, "Sign-in cancelled", db, "provider_error:access_denied")
    assert users(db) == []


def test_a_tampered_state_is_refused(portal, idp, db):
    back = visit_provider(start(portal, idp))
    parts = urlsplit(back)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = query["state"][:-4] + "AAAA"

    response = portal.get(urlunsplit(parts._replace(query=urlencode(query))), headers=HTML, follow_redirects=False)

    assert_refused(response, 400, "start signing in again", db, "state_mismatch")
    assert users(db) == []

    forged = portal.get(f"{CALLBACK}?error=access_denied&state=made-up", headers=HTML, follow_redirects=False)
    assert_refused(forged, 400, "start signing in again", db, "state_mismatch")


def test_a_callback_from_another_browser_is_refused(portal, idp, db, sso_settings):
    back = visit_provider(start(portal, idp))
    with make_portal(sso_settings) as other_browser:  # no devhub_sso cookie: a login CSRF attempt
        response = other_browser.get(back, headers=HTML, follow_redirects=False)

    assert_refused(response, 400, "not started in this browser", db, "state_mismatch")
    assert users(db) == []


@pytest.mark.parametrize(
    ("misbehaviour", "reason"),
    [
        ({"nonce": "not-the-nonce-we-sent"}, "invalid_id_token:invalid_claim: nonce"),
        ({"aud": ["another-client"]}, "invalid_id_token:invalid_claim: aud"),
        ({"aud": ["another-client"], "azp": CLIENT_ID}, "invalid_id_token:invalid_claim: aud"),
        ({"iss": "https://impostor.example"}, "invalid_id_token:invalid_claim: iss"),
        ({"exp": int(time.time()) - 3600}, "invalid_id_token:expired_token"),
        ("rogue_key", "invalid_id_token:bad_signature"),
    ],
    ids=["nonce", "aud", "aud-with-azp", "iss", "exp", "signature"],
)
def test_a_bad_id_token_is_refused(portal, idp, db, misbehaviour, reason):
    if misbehaviour == "rogue_key":
        idp.rogue_key = True
    else:
        idp.id_token_claims = misbehaviour

    response = sign_in(portal, idp)

    assert_refused(response, 401, "ID token was refused", db, reason)
    assert users(db) == []


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example",
        "/\t/evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "catalog",
    ],
)
def test_next_must_be_a_local_path(portal, idp, target):
    response = portal.get("/auth/sso/login", params={"next": target}, headers=HTML, follow_redirects=False)

    assert response.status_code == 400, response.text
    assert "must be a path on this site" in text_of(response.text)
    assert idp.authorize_requests == []


def test_safe_next():
    assert oidc.safe_next("/catalog/default/api/payments?x=1#y") == "/catalog/default/api/payments?x=1#y"
    for bad in ("", None, "//x", "/\\x", "https://x", "x", "/a\nb", "/" + "a" * 3000):
        assert oidc.safe_next(bad) is None, bad


def test_sso_is_off_when_not_configured(settings):
    with make_portal(settings) as client:
        response = client.get("/auth/sso/login", follow_redirects=False)
    assert response.status_code == 404


# --- The button -----------------------------------------------------------------------------------------


def render_button(settings: Settings, query: dict[str, str] | None = None) -> str:
    from devhub.web import templates

    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(settings=settings)), query_params=dict(query or {})
    )
    return templates.env.get_template("identity/_sso_button.html").render(request=request)


def test_the_sso_button_shows_only_when_configured(settings, sso_settings):
    assert render_button(settings).strip() == ""

    html = render_button(sso_settings.model_copy(update={"oidc_button_label": "Sign in with <Okta>"}))
    assert 'href="/auth/sso/login"' in html
    assert "Sign in with &lt;Okta&gt;" in html

    html = render_button(sso_settings, {"next": "/catalog?kind=api"})
    assert 'href="/auth/sso/login?next=/catalog%3Fkind%3Dapi"' in html
    assert "next=" not in render_button(sso_settings, {"next": "https://evil.example"})
