"""Usage analytics end to end: a real loopback upstream, the real gateway in a thread (the pattern of
tests/gateway/test_proxy.py), access set up through the portal's REST API, calls sent over HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import bearer, make_account
from tests.gateway.running import RunningGateway
from tests.loopback import http_server
from tests.specs.conftest import register_apis

TEAM = "group:default/team-a"
PETS_V1 = """openapi: 3.0.3
info: {title: Pets, version: 1.0.0}
paths:
  /pets/{id}:
    get:
      operationId: getPet
      parameters:
        - {name: id, in: path, required: true, schema: {type: string}}
      responses:
        "200": {description: ok}
  /pets:
    post:
      operationId: addPet
      responses: {"201": {description: created}}
"""


class _Upstream(BaseHTTPRequestHandler):
    """Answers `?status=` (default 200 or 201 for POST) after `?ms=` milliseconds."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _handle(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        if "ms" in query:
            time.sleep(float(query["ms"][0]) / 1000)
        status = int(query.get("status", ["201" if self.command == "POST" else "200"])[0])
        body = b'{"ok": true}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _handle


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with http_server(_Upstream) as url:
        yield url


@dataclass
class Portal:
    """Who is who: the API's owner, a developer with an application subscribed to the pets product."""

    owner: dict[str, str]
    developer: dict[str, str]
    admin: dict[str, str]
    app_uid: str
    key: str
    key_id: str
    outsider: dict[str, str] = field(default_factory=dict)


@pytest.fixture
def portal(client, db, settings, upstream, tmp_path: Path) -> Portal:
    register_apis(db, settings, tmp_path / "catalog", ["pets"])
    owner = bearer(
        db, settings, make_account(db, settings, "owner@example.com", teams={TEAM: "owner"}), ("read", "write")
    )
    published = client.post(
        "/api/v1/apis/default/pets/versions", headers=owner, json={"version": "1.0.0", "definition": PETS_V1}
    )
    assert published.status_code == 201, published.text
    deprecated = client.put(
        "/api/v1/apis/default/pets/versions/1.0.0/deprecation", headers=owner, json={"operation": "addPet"}
    )
    assert deprecated.status_code in (200, 201), deprecated.text
    product = {
        "slug": "pets",
        "name": "Pets",
        "owner": "team-a",
        "visibility": "public",
        "sandbox_url": f"{upstream}/base",
        "apis": [{"api": "pets", "version": "1.0.0"}],
    }
    assert client.post("/api/v1/products", headers=owner, json=product).status_code == 201
    plan = {"slug": "free", "name": "Free", "quota_per_day": 1000, "quota_per_month": 5000}
    assert client.post("/api/v1/products/pets/plans", headers=owner, json=plan).status_code == 201
    developer = bearer(db, settings, make_account(db, settings, "dev@example.com"), ("read", "write"))
    app = client.post("/api/v1/apps", headers=developer, json={"name": "Checkout"}).json()
    subscribed = client.post(
        f"/api/v1/apps/{app['id']}/subscriptions", headers=developer, json={"product": "pets", "plan": "free"}
    )
    assert subscribed.status_code == 201, subscribed.text
    key = app["sandbox_key"]["key"]
    admin = bearer(db, settings, make_account(db, settings, "root@example.com", admin=True))
    outsider = bearer(db, settings, make_account(db, settings, "other@example.com"), ("read", "write"))
    return Portal(owner, developer, admin, app["id"], key, key.split("_")[2], outsider)


@pytest.fixture
def gateway(portal, db, settings) -> Iterator[RunningGateway]:
    running = RunningGateway(settings.model_copy(update={"gateway_poll_seconds": 0.05}), db.engine)
    yield running
    running.stop()
