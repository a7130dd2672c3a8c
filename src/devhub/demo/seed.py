"""Seed the demo organisation: the catalog files shipped in `demo/data`, imported as one location, and two
accounts to try the portal with: an administrator and an approved developer in the Payments Core team."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from devhub.audit.service import SYSTEM
from devhub.catalog import service
from devhub.demo import ROOT_CATALOG
from devhub.identity import service as identity
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
