"""Shared fixtures: a real database per back-end (SQLite and PostgreSQL), made once per run and dropped after.

Tests that take `db` run twice, once per back-end. PostgreSQL is the server named by
`DEVHUB_TEST_POSTGRES_URL` (default: the local one); when it is unreachable those runs skip with the
reason, except under CI (`CI=true`), where a missing database is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from devhub.db import Database
from devhub.models import Base
from devhub.settings import Settings

FIXTURES = Path(__file__).parent / "catalog" / "fixtures"
POSTGRES_ADMIN_URL = os.environ.get("DEVHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
REDIS_TEST_URL = os.environ.get("DEVHUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _unavailable(reason: str, what: str = "PostgreSQL") -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: {what} must be there)")
    pytest.skip(reason)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def postgresql_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this run (and xdist worker), dropped at the end."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"devhub_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        _unavailable(f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string()} is unavailable: {exc}")
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis named by `DEVHUB_TEST_REDIS_URL` (default: the local one), shared by every test: use a
    unique key prefix and delete only your keys. Unreachable: skip, except under CI, where it fails."""
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        _unavailable(f"Redis at {REDIS_TEST_URL} is unavailable: {exc}", "Redis")
    finally:
        client.close()
    return REDIS_TEST_URL


@pytest.fixture(scope="session")
def sqlite_database(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'devhub.sqlite3'}"


_migrated: dict[str, Database] = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request) -> Iterator[Database]:
    """A migrated, empty database on each back-end."""
    url = request.getfixturevalue(f"{request.param}_database")
    database = _migrated.get(url)
    if database is None:
        database = _migrated[url] = Database(url)
        database.upgrade()
    yield database
    _empty(database)


def _empty(database: Database) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as connection:
        if database.is_sqlite:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))
        else:
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


def pytest_sessionfinish(session, exitstatus) -> None:
    for database in _migrated.values():
        database.dispose()


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db.url,
        import_roots=[FIXTURES],
        catalog_refresh_seconds=0,
        secret_key="test-secret",
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    from devhub.app import create_app

    with TestClient(create_app(settings, run_background_tasks=False)) as test_client:
        yield test_client


# --- Signing in as somebody ------------------------------------------------------------------------------


def csrf_for(client: TestClient, settings: Settings) -> str:
    """The CSRF token the portal expects from this browser (what its forms carry)."""
    import hashlib
    import hmac

    from devhub.identity.deps import BROWSER_COOKIE, SESSION_COOKIE

    subject = client.cookies.get(SESSION_COOKIE) or client.cookies.get(BROWSER_COOKIE) or ""
    key = settings.resolved_secret_key.encode()
    return hmac.new(key, f"csrf:{subject}".encode(), hashlib.sha256).hexdigest()


def make_account(
    db: Database,
    settings: Settings,
    email: str,
    *,
    admin: bool = False,
    status: str = "approved",
    teams: dict[str, str] | None = None,
    password: str = "correct horse battery",
):
    """An account with memberships {team ref: member|owner}, straight through the identity service."""
    from devhub.audit.service import SYSTEM
    from devhub.identity import service

    with db.session() as session:
        user = service.create_user(session, settings, email=email, password=password, status=status)
        user.is_admin = admin
        for team, role in (teams or {}).items():
            service.set_membership(session, user, team, role, SYSTEM)
        return user.id


def sign_in(client: TestClient, db: Database, settings: Settings, user_id: int) -> None:
    """Give the test client a session cookie for this account."""
    from devhub.audit.service import SYSTEM
    from devhub.identity import service
    from devhub.identity.deps import SESSION_COOKIE
    from devhub.identity.models import User

    with db.session() as session:
        token = service.start_session(session, settings, session.get(User, user_id), SYSTEM, "pytest")
    client.cookies.set(SESSION_COOKIE, token)


def bearer(db: Database, settings: Settings, user_id: int, scopes=("read", "write", "admin")) -> dict[str, str]:
    from devhub.audit.service import SYSTEM
    from devhub.identity import service
    from devhub.identity.models import User

    with db.session() as session:
        issued = service.create_token(session, settings, session.get(User, user_id), "pytest", list(scopes), 30, SYSTEM)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def admin_headers(db: Database, settings: Settings) -> dict[str, str]:
    """A bearer token of a portal admin."""
    return bearer(db, settings, make_account(db, settings, "root@example.com", admin=True))


@pytest.fixture
def admin_browser(client: TestClient, db: Database, settings: Settings):
    """The test client signed in as an admin; call it with form data to add the CSRF token."""
    sign_in(client, db, settings, make_account(db, settings, "admin@example.com", admin=True))
    return lambda data=None: {**(data or {}), "csrf_token": csrf_for(client, settings)}
