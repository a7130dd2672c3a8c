"""The demo organisation is believable and imports cleanly; the portal lists itself in its catalog."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from devhub.catalog import service
from devhub.catalog.models import Entity
from devhub.demo import DATA_DIR
from devhub.demo.seed import seed


def kinds(db) -> Counter:
    with db.session() as session:
        return Counter(session.scalars(select(Entity.kind)))


def test_demo_seeds_a_believable_organisation_without_errors(db, settings):
    with db.session() as session:
        report = seed(session, settings)
        errors = service.location_errors(session, report.location_id)
    assert errors == []
    counts = kinds(db)
    assert counts["Group"] >= 4 and counts["User"] >= 8
    assert counts["Domain"] >= 3 and counts["System"] >= 3
    assert counts["Component"] >= 12 and counts["API"] >= 10
    assert counts["Dashboard"] == 1  # an unknown kind, kept


def test_demo_apis_carry_corpus_definitions_with_licences(db, settings):
    with db.session() as session:
        seed(session, settings)
        apis = session.scalars(select(Entity).where(Entity.kind == "API")).all()
    assert all(len(str(api.body["spec"]["definition"])) > 200 for api in apis)
    licences = {p.name for p in (DATA_DIR / "apis").glob("LICENSE*")}
    assert {"LICENSE-oai", "LICENSE-twilio", "LICENSE-asyncapi"} <= licences


def test_seeding_twice_changes_nothing(db, settings):
    with db.session() as session:
        first = seed(session, settings)
    with db.session() as session:
        second = seed(session, settings)
    assert second.added == 0 and second.updated == 0 and second.unchanged == first.added


def test_the_portal_lists_its_own_api_in_its_catalog(db, settings):
    from devhub.app import create_app
    from devhub.system.selfcatalog import register_self

    app = create_app(settings, run_background_tasks=False)
    with db.session() as session:
        report = register_self(session, settings, app)
        api = service.get_entity(session, "api", "default", "devhub-api")
    assert report.errors == 0
    assert '"/api/v1/catalog/entities"' in api.body["spec"]["definition"]
    assert api.owner_ref == "group:default/devhub-admins"


def test_demo_accounts_are_made_once_with_private_passwords(db, settings):
    import stat
    from pathlib import Path

    from devhub.demo.seed import seed_accounts
    from devhub.identity import service as identity

    with db.session() as session:
        first = seed_accounts(session, settings)
        again = seed_accounts(session, settings)
        admin = identity.find_user(session, "admin@example.com")
    assert first.created and not again.created
    assert admin.is_admin and admin.status == "approved"
    path = Path(first.credentials_file)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    email, password = path.read_text().splitlines()[0].split()
    with db.session() as session:
        assert identity.check_password(identity.find_user(session, email).password_hash, password)


def test_demo_products_offer_plans_once(db, settings, client):
    from devhub.demo.seed import seed_products

    with db.session() as session:
        seed(session, settings)
        assert seed_products(session) == 2
        assert seed_products(session) == 0
    products = client.get("/api/v1/products").json()["items"]
    assert {p["slug"]: [plan["slug"] for plan in p["plans"]] for p in products} == {
        "merchant-catalog": ["free", "business"],
        "messaging": ["trial", "partner"],
    }
