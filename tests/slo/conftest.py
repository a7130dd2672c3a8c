"""Fixtures for the SLO tests: API entities with or without SLO annotations, owned by a team with a member,
metered calls written as the gateway writes them and rolled up by the analytics roll-up, and a real HTTP
receiver on loopback for alert webhooks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from sqlalchemy import insert

from devhub.catalog import service as catalog_service
from devhub.db import Database, utcnow
from devhub.gateway.models import GatewayCall
from devhub.settings import Settings
from tests.conftest import bearer, make_account

TEAM = "group:default/team-slo"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, with webhooks allowed to the loopback receiver."""
    return settings.model_copy(update={"slo_webhook_allowed_hosts": ["127.0.0.1"]})


def register_api(db: Database, settings: Settings, folder: Path, name: str, annotations: dict | None = None) -> str:
    metadata: dict = {"name": name, "annotations": {"devhub.io/visibility": "internal", **(annotations or {})}}
    document = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": metadata,
        "spec": {"type": "openapi", "lifecycle": "production", "owner": "team-slo", "definition": "separately"},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    with db.session() as session:
        catalog_service.register_location(session, settings, str(path), "file", trusted=True)
    return f"api:default/{name}"


@dataclass
class People:
    owner_id: int
    owner: dict[str, str]  # bearer headers of a member of the owning team
    reader: dict[str, str]  # a member of another team: sees internal APIs, does not own this one


@pytest.fixture
def people(db: Database, settings: Settings) -> People:
    owner_id = make_account(db, settings, "owner@example.com", teams={TEAM: "member"})
    reader_id = make_account(db, settings, "reader@example.com", teams={"group:default/other": "member"})
    return People(
        owner_id,
        bearer(db, settings, owner_id, scopes=("read", "write")),
        bearer(db, settings, reader_id, scopes=("read", "write")),
    )


def calls(
    db: Database,
    api_ref: str,
    start: datetime,
    end: datetime,
    *,
    every: timedelta,
    good: int = 0,
    errors: int = 0,
    slow: int = 0,
    environment: str = "production",
    latency_ms: float = 40.0,
    slow_ms: float = 2000.0,
) -> int:
    """At every step from `start` to `end` (exclusive): `good` fast 200s, `errors` fast 503s, `slow` slow 200s."""
    rows = []
    moment = start
    while moment < end:
        for status, latency, count in ((200, latency_ms, good), (503, latency_ms, errors), (200, slow_ms, slow)):
            rows.extend(_row(api_ref, moment, status, latency, environment) for _ in range(count))
        moment += every
    with db.session() as session:
        if rows:
            session.execute(insert(GatewayCall), rows)
    return len(rows)


def _row(api_ref: str, at: datetime, status: int, latency_ms: float, environment: str) -> dict:
    return {
        "at": at,
        "api_ref": api_ref,
        "version": "1.0.0",
        "operation": "getThing",
        "method": "GET",
        "path": "/things/1",
        "status": status,
        "latency_ms": latency_ms,
        "bytes_in": 0,
        "bytes_out": 10,
        "environment": environment,
        "app_id": 1,
        "app_uid": "app_slo",
    }


def roll_up(db: Database, settings: Settings) -> int:
    """The analytics roll-up, as its background loop runs it."""
    from devhub.analytics.rollup import run_until_caught_up

    return run_until_caught_up(db, settings)


@pytest.fixture
def now() -> datetime:
    """The moment the test evaluates at: whole minute, so minute buckets line up with the windows."""
    moment = utcnow()
    return moment.replace(second=0, microsecond=0)


# --- a webhook receiver ------------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    received: list[dict] = field(default_factory=list)
    status: int = 204


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free loopback port that keeps the JSON bodies POSTed to it."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            state.received.append(
                {"path": self.path, "body": json.loads(body), "content_type": self.headers.get("content-type")}
            )
            self.send_response(state.status)
            self.send_header("content-length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/slo"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
