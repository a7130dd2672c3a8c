"""`devhub usage …` from a terminal: the roll-up on the database, the rest against a real portal on loopback."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select
from typer.testing import CliRunner

from devhub.cli import app as cli_app
from devhub.db import utcnow
from devhub.gateway.models import GatewayCall
from tests.apps.test_cli import serve
from tests.conftest import bearer, make_account


@pytest.fixture
def devhub(tmp_path, monkeypatch, settings):
    from devhub.settings import get_settings

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DEVHUB_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("DEVHUB_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(cli_app, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result

    yield run
    get_settings.cache_clear()


def test_usage_from_the_terminal(client, db, settings, devhub):
    developer = bearer(db, settings, make_account(db, settings, "dev@example.com"), ("read", "write"))
    app = client.post("/api/v1/apps", headers=developer, json={"name": "Terminal"}).json()
    with db.session() as session:
        from devhub.apps.models import Application

        app_id = session.query(Application.id).filter(Application.uid == app["id"]).scalar()
    now = utcnow()
    call = {"app_id": app_id, "app_uid": app["id"], "api_ref": "api:default/pets", "method": "GET", "path": "/p"}
    rows = [
        {**call, "at": now - timedelta(minutes=i), "status": 500 if i % 5 == 0 else 200, "latency_ms": 10.0 + i}
        for i in range(20)
    ]
    with db.engine.begin() as connection:
        connection.execute(insert(GatewayCall), rows)

    assert "rolled up 20 calls" in devhub("usage", "rollup").output
    assert "rolled up 0 calls" in devhub("usage", "rollup", "--once").output

    admin_token = bearer(db, settings, make_account(db, settings, "root@example.com", admin=True))
    with serve(settings) as url:
        devhub("login", "--url", url, "--token", developer["Authorization"].split()[1])
        listed = devhub("usage", "apps").output
        assert "Terminal" in listed and "20" in listed
        detail = json.loads(devhub("usage", "app", app["id"], "--period", "7d", "--json").output)
        assert detail["total"]["calls"] == 20 and detail["total"]["server_errors"] == 4
        assert "error (400)" in devhub("usage", "app", app["id"], "--period", "1y", ok=False).output
        month = datetime.now(UTC).strftime("%Y-%m")
        exported = list(csv.DictReader(io.StringIO(devhub("usage", "export", month).output)))
        assert [(r["application"], r["calls"], r["server_errors"]) for r in exported] == [(app["id"], "20", "4")]
        assert "error (403)" in devhub("usage", "funnel", ok=False).output

        devhub("login", "--url", url, "--token", admin_token["Authorization"].split()[1])
        funnel = devhub("usage", "funnel").output
        assert "First successful call" in funnel and "2 developers" in funnel


def test_usage_prune_from_the_terminal(db, devhub):
    now = utcnow()
    call = {"api_ref": "api:default/pets", "method": "GET", "path": "/p", "status": 200, "latency_ms": 1.0}
    with db.engine.begin() as connection:
        connection.execute(insert(GatewayCall), [{**call, "at": now - timedelta(days=40 - i % 2)} for i in range(6)])
        connection.execute(insert(GatewayCall), [{**call, "at": now - timedelta(days=2)} for _ in range(4)])
    assert "would delete 0 calls" in devhub("usage", "prune", "--dry-run").output  # nothing rolled up yet
    devhub("usage", "rollup")
    with db.engine.begin() as connection:  # a late record, past the retention but not rolled up
        connection.execute(insert(GatewayCall), [{**call, "at": now - timedelta(days=50)}])

    dry = devhub("usage", "prune", "--dry-run").output
    assert "would delete 6 calls" in dry and "(30 days)" in dry and "kept 1 older calls that are not rolled up" in dry
    assert "every call is kept" in devhub("usage", "prune", "--days", "0").output
    assert "deleted 6 calls" in devhub("usage", "prune").output
    assert "deleted 4 calls" in devhub("usage", "prune", "--days", "1").output
    assert "Invalid value" in devhub("usage", "prune", "--days", "-1", ok=False).output
    with db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(GatewayCall)) == 1
