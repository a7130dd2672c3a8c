"""Self-serve access pages through the real HTTP path, on both databases: the four steps from a new account to
a sandbox key shown once, the owners' queue, key rotation and revocation, production refused without approval,
other people's applications, escaping; refused forms; OAuth2 clients and their last use."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from devhub.apps import credentials
from devhub.apps import service as apps
from devhub.apps.models import Application, ClientCredential, Subscription
from devhub.apps.schemas import PlanIn, ProductIn
from devhub.audit.service import SYSTEM
from devhub.identity.policy import OPERATOR
from tests.conftest import csrf_for, make_account, sign_in

TEAM = "group:default/shop-team"
XSS = "<script>alert(1)</script>"
SECRET = re.compile(r'value="(dh_(?:test|live)_[A-Za-z0-9_-]+)"')


@pytest.fixture
def shop(db, settings) -> str:
    """A public product of shop-team (its name tries an injection) with an automatic and a manual plan."""
    with db.session() as session:
        data = ProductIn(
            slug="shop", name=f"Shop {XSS}", description=f"Sell **things**. {XSS}", owner=TEAM, visibility="public"
        )
        product = apps.create_product(session, OPERATOR, data, SYSTEM)
        apps.create_plan(session, OPERATOR, product, PlanIn(slug="free", name="Free", rate_per_second=5), SYSTEM)
        apps.create_plan(session, OPERATOR, product, PlanIn(slug="gold", name="Gold", approval="manual"), SYSTEM)
    return "shop"


def post(client, settings, path: str, **data):
    return client.post(path, data={**data, "csrf_token": csrf_for(client, settings)}, follow_redirects=False)


def as_user(client, db, settings, email: str, **kwargs) -> int:
    client.cookies.clear()
    user_id = make_account(db, settings, email, **kwargs)
    sign_in(client, db, settings, user_id)
    return user_id


def app_uid(db, name: str) -> str:
    with db.session() as session:
        return session.scalar(select(Application.uid).where(Application.name == name))


def test_four_steps_from_a_new_account_to_a_sandbox_key_shown_once(client, db, settings, shop):
    settings.signup_auto_approve = True
    client.get("/signup")  # the browser cookie the sign-up form's CSRF token is bound to
    # 1. Sign up.
    signed_up = post(client, settings, "/signup", email="new@example.com", password="a long enough password")
    assert signed_up.status_code == 303
    # 2. Products (in the header of every page).
    listing = client.get("/products")
    assert 'href="/products"' in listing.text and 'href="/products/shop"' in listing.text
    # 3. The product: sanitised description, plans with their limits, the "Get access" form.
    page = client.get("/products/shop")
    assert page.status_code == 200 and "<strong>things</strong>" in page.text and "Get access" in page.text
    assert XSS not in page.text and "&lt;script&gt;" in page.text
    # 4. Get access with a new application: its sandbox key is on the result page, once.
    result = post(client, settings, "/products/shop/access", plan="free", app="", app_name=f"My {XSS}")
    assert result.status_code == 201, result.text
    assert XSS not in result.text and "My &lt;script&gt;" in result.text
    key = SECRET.search(result.text).group(1)
    assert key.startswith("dh_test_") and 'data-copy="new-key-value"' in result.text
    assert "dhs_" in result.text  # the sandbox OAuth2 client secret too
    with db.session() as session:
        assert credentials.verify_key(session, key) is not None
    uid = app_uid(db, f"My {XSS}")
    again = client.get(f"/apps/{uid}")
    assert again.status_code == 200 and key not in again.text and key[:20] in again.text
    assert "dhs_" not in again.text and "approved" in again.text


def test_manual_plan_goes_to_the_owners_queue_and_production_waits_for_approval(client, db, settings, shop):
    as_user(client, db, settings, "dev@example.com")
    created = post(client, settings, "/apps/new", name="Till")
    assert created.status_code == 201 and SECRET.search(created.text)
    uid = app_uid(db, "Till")
    requested = post(client, settings, f"/apps/{uid}/subscriptions", plan="shop/gold")
    assert requested.status_code == 201 and "pending" in requested.text
    refused = post(client, settings, f"/apps/{uid}/keys", name="live", environment="production")
    assert refused.status_code == 409 and "need an approved subscription" in refused.text
    assert not SECRET.search(refused.text)
    with db.session() as session:
        sub = session.scalar(select(Subscription.uid).join(Application).where(Application.uid == uid))

    as_user(client, db, settings, "owner@example.com", teams={TEAM: "owner"})
    queue = client.get("/requests")
    assert queue.status_code == 200 and "Till" in queue.text and f'action="/requests/{sub}"' in queue.text
    no_reason = post(client, settings, f"/requests/{sub}", action="reject", reason="", tab="pending")
    assert no_reason.status_code == 422 and "give a reason" in no_reason.text
    approved = post(client, settings, f"/requests/{sub}", action="approve", tab="pending")
    assert approved.status_code == 303 and approved.headers["location"] == "/requests?state=pending"
    assert "Till" not in client.get("/requests").text and "Till" in client.get("/requests?state=approved").text

    client.cookies.clear()
    sign_in(client, db, settings, make_account(db, settings, "dev2@example.com"))  # someone else
    assert client.get(f"/apps/{uid}").status_code == 404
    assert post(client, settings, f"/apps/{uid}/keys", name="x").status_code == 404

    client.cookies.clear()
    with db.session() as session:
        from devhub.identity.models import User

        dev_id = session.scalar(select(User.id).where(User.email == "dev@example.com"))
    sign_in(client, db, settings, dev_id)
    page = client.get(f"/apps/{uid}")
    assert "approved" in page.text and "Notifications <span" in page.text  # the unread count in the header
    live = post(client, settings, f"/apps/{uid}/keys", name="live", environment="production", expires_in_days="30")
    assert live.status_code == 201 and SECRET.search(live.text).group(1).startswith("dh_live_")
    notes = client.get("/notifications")
    assert "Access approved" in notes.text
    assert post(client, settings, "/notifications/read-all").status_code == 303
    assert "Notifications <span" not in client.get("/notifications").text


def test_rotate_and_revoke_a_key_through_the_page(client, db, settings, shop):
    assert client.get("/apps", follow_redirects=False).headers["location"] == "/login?next=%2Fapps"
    as_user(client, db, settings, "dev@example.com")
    listing = client.get("/apps").text
    assert "Browse products" in listing  # the empty state's call to action
    assert 'href="/sandbox/data"' in listing  # where the sandbox's remembered items are seen and reset
    first = SECRET.search(post(client, settings, "/apps/new", name="Kiosk").text).group(1)
    uid = app_uid(db, "Kiosk")
    key_id = first.split("_")[2]
    rotated = post(client, settings, f"/apps/{uid}/keys/{key_id}/rotate")
    second = SECRET.search(rotated.text).group(1)
    assert rotated.status_code == 201 and second != first and "keeps working until" in rotated.text
    with db.session() as session:
        assert credentials.verify_key(session, first) is not None  # the grace period
    assert "grace" in client.get(f"/apps/{uid}").text
    revoked = post(client, settings, f"/apps/{uid}/keys/{key_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == f"/apps/{uid}"
    with db.session() as session:
        assert credentials.verify_key(session, first) is None and credentials.verify_key(session, second)
    again = post(client, settings, f"/apps/{uid}/keys/{key_id}/rotate")
    assert again.status_code == 409 and "only an active key can be rotated" in again.text
    invalid = post(client, settings, f"/apps/{uid}/keys", name="x", expires_in_days="0")
    assert invalid.status_code == 422 and "expires in days" in invalid.text


def test_refused_product_and_plan_forms_keep_what_was_typed_and_write_nothing(client, db, settings, shop):
    as_user(client, db, settings, "owner@example.com", teams={TEAM: "owner"})
    invalid = post(client, settings, "/products/new", slug="Bad Slug", name="Typed name", owner="shop-team")
    assert invalid.status_code == 422 and 'id="form-error"' in invalid.text and "slug: " in invalid.text
    assert 'value="Typed name"' in invalid.text
    taken = post(client, settings, "/products/new", slug="shop", name="Again", owner="shop-team")
    assert taken.status_code == 409 and "a product &#39;shop&#39; exists already" in taken.text

    edit = {"name": "Renamed", "visibility": "public", "status": "active"}
    no_api = post(client, settings, "/products/shop/edit", apis="nope", **edit)
    assert no_api.status_code == 422 and "no API api:default/nope" in no_api.text and 'value="Renamed"' in no_api.text
    assert TEAM in no_api.text  # the owner is shown again, from the product
    plan = {"name": "Silver", "rate_per_second": "0"}
    too_low = post(client, settings, "/products/shop/plans/new", slug="silver", **plan)
    assert too_low.status_code == 422 and "rate per second: " in too_low.text and 'value="Silver"' in too_low.text
    same_slug = post(client, settings, "/products/shop/plans/new", slug="free", name="Free again")
    assert same_slug.status_code == 409 and "has a plan &#39;free&#39; already" in same_slug.text
    bad_limit = post(client, settings, "/products/shop/plans/free/edit", name="Free", quota_per_day="lots")
    assert bad_limit.status_code == 422 and "quota per day: " in bad_limit.text
    with db.session() as session:
        product = apps.get_product(session, "shop", OPERATOR)
        assert product.name == f"Shop {XSS}" and sorted(p.slug for p in product.plans) == ["free", "gold"]
        assert apps.get_plan(product, "free", OPERATOR).quota_per_day is None

    saved = post(client, settings, "/products/shop/plans/free/edit", name="Free", quota_per_day="100")
    assert saved.status_code == 303 and saved.headers["location"] == "/products/shop#plans"
    added = post(client, settings, "/products/shop/plans/new", slug="silver", name="Silver")
    assert added.status_code == 303 and added.headers["location"] == "/products/shop#plans"


def test_refused_application_posts_show_the_page_again_with_the_problem(client, db, settings, shop):
    as_user(client, db, settings, "dev@example.com")
    nameless = post(client, settings, "/apps/new", name="", description="Typed")
    assert nameless.status_code == 422 and "name: " in nameless.text and "Typed" in nameless.text
    assert post(client, settings, "/apps/new", name="Till").status_code == 201
    uid = app_uid(db, "Till")
    renamed = post(client, settings, f"/apps/{uid}/edit", name="", description="Kept")
    assert renamed.status_code == 422 and "name: " in renamed.text and "Kept" in renamed.text
    assert post(client, settings, f"/apps/{uid}/edit", name="Till 2").headers["location"] == f"/apps/{uid}"

    no_plan = post(client, settings, f"/apps/{uid}/subscriptions", plan="shop/nope")
    assert no_plan.status_code == 404 and 'id="form-error"' in no_plan.text and "Till 2" in no_plan.text
    granted = post(client, settings, f"/apps/{uid}/subscriptions", plan="shop/free")
    assert granted.status_code == 201 and "Till 2 has the Free plan of Shop" in granted.text
    twice = post(client, settings, "/products/shop/access", plan="gold", app=uid)
    assert twice.status_code == 409 and "already holds the Free plan" in twice.text and "Get access" in twice.text
    with db.session() as session:
        other = apps.get_app(session, uid, OPERATOR)
        sub = session.scalar(select(Subscription.uid).where(Subscription.application_id == other.id))
    assert post(client, settings, "/apps/new", name="Kiosk").status_code == 201
    kiosk = app_uid(db, "Kiosk")
    not_its_own = post(client, settings, f"/apps/{kiosk}/subscriptions/{sub}/cancel")
    assert not_its_own.status_code == 404 and f"Kiosk has no subscription &#39;{sub}&#39;" in not_its_own.text
    cancelled = post(client, settings, f"/apps/{uid}/subscriptions/{sub}/cancel")
    assert cancelled.status_code == 303 and cancelled.headers["location"] == f"/apps/{uid}"
    with db.session() as session:
        state = session.scalar(select(Subscription).where(Subscription.uid == sub))
        assert (state.state, state.reason) == ("revoked", "cancelled by dev@example.com")


def test_oauth2_clients_through_the_page(client, db, settings, shop):
    as_user(client, db, settings, "dev@example.com")
    assert post(client, settings, "/apps/new", name="Till").status_code == 201
    uid = app_uid(db, "Till")
    another = post(client, settings, f"/apps/{uid}/clients", environment="sandbox")
    assert another.status_code == 409 and "rotate their secret instead" in another.text and "dhs_" not in another.text
    with db.session() as session:
        client_id = credentials.app_clients(session, apps.get_app(session, uid, OPERATOR))[0].client_id
    rotated = post(client, settings, f"/apps/{uid}/clients/{client_id}/rotate")
    assert rotated.status_code == 201 and "dhs_" in rotated.text
    assert f"The previous secret of {client_id} keeps working until" in rotated.text
    revoked = post(client, settings, f"/apps/{uid}/clients/{client_id}/revoke")
    assert revoked.status_code == 303 and revoked.headers["location"] == f"/apps/{uid}"
    again = post(client, settings, f"/apps/{uid}/clients/{client_id}/rotate")
    assert again.status_code == 409 and f"the client {client_id} is revoked" in again.text
    fresh = post(client, settings, f"/apps/{uid}/clients", environment="sandbox")
    assert fresh.status_code == 201 and "dhs_" in fresh.text and "Client secret of dhc_test_" in fresh.text
    assert post(client, settings, f"/apps/{uid}/delete").headers["location"] == "/apps?deleted=Till"


def _client_cells(page: str, client_id: str) -> dict[str, str]:
    """The application page's OAuth2 client row, by column header, as text."""
    table = page[page.index('id="clients-title"') : page.index('id="danger-title"')]
    headers = re.findall(r'<th scope="col">([^<]*)</th>', table)
    row = next(row for row in re.findall(r"<tr>(.*?)</tr>", table, re.S) if client_id in row)
    cells = [re.sub(r"<[^>]+>|\s+", " ", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    return dict(zip(headers, cells, strict=False))


def test_a_clients_last_use_shows_in_the_api_and_on_the_page(client, db, settings, shop):
    as_user(client, db, settings, "dev@example.com")
    assert post(client, settings, "/apps/new", name="Till").status_code == 201
    uid = app_uid(db, "Till")
    [listed] = client.get(f"/api/v1/apps/{uid}").json()["clients"]
    assert listed["last_used_at"] is None
    assert _client_cells(client.get(f"/apps/{uid}").text, listed["client_id"])["Last used"] == "never"

    used = datetime(2026, 11, 20, 8, 15, 30, tzinfo=UTC)  # as the gateway's metering flush would set it
    with db.session() as session:
        session.execute(
            update(ClientCredential).where(ClientCredential.client_id == listed["client_id"]).values(last_used_at=used)
        )
    [listed] = client.get(f"/api/v1/apps/{uid}").json()["clients"]
    assert datetime.fromisoformat(listed["last_used_at"]) == used
    cells = _client_cells(client.get(f"/apps/{uid}").text, listed["client_id"])
    assert cells["Last used"] == "2026-11-20 08:15 UTC" and cells["Secret rotated"] == "never"
