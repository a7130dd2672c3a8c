"""Seed the demo organisation: the catalog files shipped in `demo/data`, imported as one location; two
products with plans to try self-serve access on; and two accounts to try the portal with: an administrator
and an approved developer in the Payments Core team.

The demo products have no sandbox URL: sandbox keys are answered by devhub's built-in sandbox (from the
published definitions), so a new developer's first call works with nothing else running. Merchant Catalog
serves its v2 API at its prefix and the deprecated v1 beside it under `/v1`."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from devhub.audit.service import SYSTEM
from devhub.catalog import service
from devhub.demo import ROOT_CATALOG
from devhub.identity import service as identity
from devhub.pagination import PageRequest
from devhub.settings import Settings

ADMIN_EMAIL = "admin@example.com"
DEVELOPER_EMAIL = "dev@example.com"
DEVELOPER_TEAM = "group:default/payments-core"


@dataclass
class DemoAccounts:
    created: bool
    credentials_file: str


def seed(session: Session, settings: Settings) -> service.RefreshReport:
    """Import (or refresh) the demo catalog; running it again changes nothing."""
    _, report = service.register_location(session, settings, str(ROOT_CATALOG), "file", trusted=True)
    return report


DEMO_PRODUCTS = [
    {
        "product": {
            "slug": "merchant-catalog",
            "name": "Merchant Catalog",
            "description": "The product catalogue of Acme merchants: list, create and fetch items.",
            "owner": "merchant-experience",
            "visibility": "public",
            "apis": [{"api": "merchant-catalog-v2-api"}, {"api": "merchant-catalog-api", "path": "v1"}],
            "production_url": "https://catalog.acme-payments.example.com",
        },
        "plans": [
            {"slug": "free", "name": "Free", "rate_per_second": 5, "quota_per_day": 10_000},
            {"slug": "business", "name": "Business", "approval": "manual", "rate_per_second": 100},
        ],
    },
    {
        "product": {
            "slug": "messaging",
            "name": "Messaging",
            "description": "Send SMS to customers. Partners call it with OAuth2 client credentials.",
            "owner": "platform",
            "visibility": "public",
            "apis": [{"api": "sms-messaging-api"}],
        },
        "plans": [
            {"slug": "trial", "name": "Trial", "rate_per_minute": 60, "quota_per_month": 1000},
            {
                "slug": "partner",
                "name": "Partner",
                "credential_type": "oauth2",
                "approval": "manual",
                "scopes": ["sms:send", "sms:read"],
                "rate_per_second": 50,
            },
        ],
    },
]


def seed_products(session: Session) -> int:
    """Create the demo products and plans that do not exist yet; returns how many products were added."""
    from devhub.apps import service as apps
    from devhub.apps.schemas import PlanIn, ProductIn
    from devhub.identity.policy import OPERATOR

    added = 0
    for item in DEMO_PRODUCTS:
        data = ProductIn(**item["product"])
        if apps.list_products(session, OPERATOR, PageRequest(1, 100), data.slug).total:
            _use_built_in_sandbox(session, data.slug)
            continue
        product = apps.create_product(session, OPERATOR, data, SYSTEM)
        for plan in item["plans"]:
            apps.create_plan(session, OPERATOR, product, PlanIn(**plan), SYSTEM)
        added += 1
    return added


_DEAD_SANDBOX = "http://127.0.0.1:8100/sandbox/"  # what earlier demos pointed at: nothing listens there


def _use_built_in_sandbox(session: Session, slug: str) -> None:
    """A demo database seeded by an earlier version points its products at a sandbox that never ran; the
    built-in sandbox answers instead."""
    from devhub.apps import service as apps
    from devhub.apps.schemas import ProductUpdate
    from devhub.identity.policy import OPERATOR

    product = apps.get_product(session, slug, OPERATOR)
    if (product.sandbox_url or "").startswith(_DEAD_SANDBOX):
        apps.update_product(session, OPERATOR, product, ProductUpdate(sandbox_url=None), SYSTEM)


def seed_accounts(session: Session, settings: Settings) -> DemoAccounts:
    """Create the demo accounts once, with random passwords written to a file only the owner can read."""
    path = settings.data_dir / "demo-credentials.txt"
    if identity.find_user(session, ADMIN_EMAIL) is not None:
        return DemoAccounts(False, str(path))
    passwords = {email: secrets.token_urlsafe(12) for email in (ADMIN_EMAIL, DEVELOPER_EMAIL)}
    admin = identity.create_user(
        session,
        settings,
        email=ADMIN_EMAIL,
        display_name="Demo Admin",
        password=passwords[ADMIN_EMAIL],
        status="approved",
    )
    identity.set_admin(session, admin, True, SYSTEM)
    developer = identity.create_user(
        session,
        settings,
        email=DEVELOPER_EMAIL,
        display_name="Demo Developer",
        password=passwords[DEVELOPER_EMAIL],
        status="approved",
    )
    identity.set_membership(session, developer, DEVELOPER_TEAM, "member", SYSTEM)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"{email} {password}\n" for email, password in passwords.items())
    return DemoAccounts(True, str(path))
