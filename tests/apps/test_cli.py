"""`devhub apps|keys|clients|requests|products` against a real portal served on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import uvicorn
from sqlalchemy import update
from typer.testing import CliRunner

from devhub.apps.models import ClientCredential
from devhub.cli import app as cli_app


@contextmanager
def serve(settings) -> Iterator[str]:
    from devhub.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(create_app(settings, run_background_tasks=False), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def devhub(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    runner = CliRunner()

    def run(*args: str, ok: bool = True):
        result = runner.invoke(cli_app, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result

    return run


def test_a_developer_and_an_owner_work_from_the_terminal(db, settings, access, devhub):
    dev_token = access.developer(db, settings, "dev@example.com")["Authorization"].split()[1]
    owner_token = access.owner["Authorization"].split()[1]
    with serve(settings) as url:
        devhub("login", "--url", url, "--token", dev_token)
        created = json.loads(devhub("apps", "create", "Terminal app", "--json").output)
        app_id, first_key = created["id"], created["sandbox_key"]
        assert first_key["key"].startswith("dh_test_")
        assert "no applications" not in devhub("apps", "list").output

        issued = devhub("keys", "create", app_id, "--name", "ci").output
        assert issued.startswith("dh_test_") and "not shown again" in issued
        rotated = devhub("keys", "rotate", app_id, first_key["id"]).output
        assert f"replaces {first_key['id']}" in rotated
        devhub("keys", "revoke", app_id, first_key["id"])
        listed = devhub("keys", "list", app_id).output
        assert first_key["id"] in listed and "revoked" in listed
        client_id = created["sandbox_client"]["client_id"]
        shown = devhub("apps", "show", app_id).output
        assert f"{client_id}" in shown and "never used" in shown.split("clients:")[1]
        with db.engine.begin() as connection:
            connection.execute(
                update(ClientCredential)
                .where(ClientCredential.client_id == client_id)
                .values(last_used_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
            )
        assert "last used 2026-11-20 09:30" in devhub("apps", "show", app_id).output.split("clients:")[1]

        refused = devhub("keys", "create", app_id, "--environment", "production", ok=False)
        assert "approved subscription" in refused.output
        pending = devhub("apps", "subscribe", app_id, "payments", "gold").output
        assert "payments/gold pending" in pending
        subscription = pending.split()[1].rstrip(":")
        assert "gold" in devhub("products", "list").output

        devhub("login", "--url", url, "--token", owner_token)
        assert subscription in devhub("requests", "list").output
        assert devhub("requests", "reject", subscription, ok=False).exit_code == 1  # a refusal needs a reason
        assert devhub("requests", "approve", subscription).output.strip() == f"{subscription}: approved"

        devhub("login", "--url", url, "--token", dev_token)
        assert devhub("keys", "create", app_id, "--environment", "production").output.startswith("dh_live_")
        client = json.loads(
            devhub("clients", "rotate", app_id, created["sandbox_client"]["client_id"], "--json").output
        )
        assert client["client_secret"].startswith("dhs_")
        devhub("apps", "delete", app_id, "--yes")
        assert devhub("apps", "show", app_id, ok=False).exit_code == 1
