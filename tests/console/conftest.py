"""The console's world: a real `devhub gateway` process (one per database, started on first use and reloading
its snapshot as each test writes), a real loopback upstream that records what reached it, and the portal
(TestClient) set up through its REST API: an API `petstore` published from the catalog, a product `pets`
offering it with an API-key plan and an OAuth2 plan, and a developer with an application."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from devhub.db import Database
from devhub.settings import Settings
from tests.conftest import bearer, make_account, sign_in
from tests.loopback import http_server

SRC = Path(__file__).resolve().parents[2] / "src"
TEAM = "group:default/team-a"
SECRET = "test-secret"  # the portal's (tests/conftest.py settings) and the gateway process's

PETSTORE = {
    "openapi": "3.0.3",
    "info": {"title": "Petstore", "version": "1.0.0"},
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "summary": "Get a pet",
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}, "example": "42"},
                    {"name": "verbose", "in": "query", "schema": {"type": "boolean"}, "example": True},
                    {
                        "name": "tags",
                        "in": "query",
                        "schema": {"type": "array", "items": {"type": "string"}},
                        "example": ["a", "b"],
                    },
                    {"name": "X-Trace", "in": "header", "schema": {"type": "string"}, "example": "trace-1"},
                    {"name": "Host", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": {
                        "description": "The pet",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["id", "name"],
                                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                                },
                                "example": {"id": "42", "name": "Rex"},
                            }
                        },
                    }
                },
            }
        },
        "/pets": {
            "post": {
                "operationId": "createPet",
                "summary": "Add a pet",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}, "example": {"name": "Rex"}}},
                },
                "responses": {"201": {"description": "Created"}},
            }
        },
    },
}


# --- the upstream: records every request and echoes it -----------------------------------------------------


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict] = []

    def log_message(self, *args) -> None:
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode(errors="replace"),
        }
        type(self).seen.append(record)
        payload = json.dumps(record).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-upstream", "echo")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


@pytest.fixture(scope="session")
def upstream() -> Iterator[str]:
    with http_server(_Upstream) as url:
        yield url


@pytest.fixture
def seen() -> list[dict]:
    """What reached the upstream during this test."""
    _Upstream.seen.clear()
    return _Upstream.seen


# --- the gateway: a `devhub gateway` process per database ----------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_gateway(database_url: str, port: int, data_dir: Path, **extra_env: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DEVHUB_DATABASE_URL": database_url,
        "DEVHUB_DATA_DIR": str(data_dir),
        "DEVHUB_SECRET_KEY": SECRET,
        "DEVHUB_GATEWAY_POLL_SECONDS": "0.05",
        **extra_env,
    }
    env.pop("DEVHUB_REDIS_URL", None)
    command = [sys.executable, "-c", "from devhub.cli import app; app()", "gateway", "--port", str(port)]
    log_path = data_dir / "gateway.log"  # a file, not a pipe nobody reads (it would fill and block the gateway)
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = log_path
    return process


def gateway_log(process: subprocess.Popen) -> str:
    return Path(process.log_path).read_text(errors="replace")[-5000:]


def wait_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90  # a loaded CI machine starts Python processes slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited: {gateway_log(process)}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not come up")


@pytest.fixture(scope="module")
def portal_port() -> int:
    """Where `live_portal` listens: the gateway sends built-in sandbox calls there."""
    return free_port()


@pytest.fixture(scope="module")
def gateways(tmp_path_factory, portal_port) -> Iterator[dict[str, int]]:
    """Running gateway processes by database URL (their port); stopped when the module is done."""
    running: dict[str, tuple[subprocess.Popen, int]] = {}
    ports: dict[str, int] = {}

    class Ports(dict):
        def __missing__(self, url: str) -> int:
            port = free_port()
            sandbox = f"http://127.0.0.1:{portal_port}"
            process = spawn_gateway(url, port, tmp_path_factory.mktemp("gateway"), DEVHUB_SANDBOX_URL=sandbox)
            running[url] = (process, port)
            wait_up(f"http://127.0.0.1:{port}", process)
            self[url] = port
            return port

    ports = Ports()
    yield ports
    for process, _ in running.values():
        process.terminate()
    for process, _ in running.values():
        process.wait(15)
        print(gateway_log(process))


@pytest.fixture
def console_settings(settings: Settings, db: Database, gateways) -> Settings:
    port = gateways[db.url]
    return settings.model_copy(update={"gateway_port": port, "gateway_url": "https://gw.example.com"})


@pytest.fixture
def portal(console_settings: Settings) -> Iterator[TestClient]:
    from devhub.app import create_app

    with TestClient(create_app(console_settings, run_background_tasks=False)) as test_client:
        yield test_client


@pytest.fixture
def live_portal(console_settings: Settings, portal_port: int) -> Iterator[str]:
    """The portal on a real port (uvicorn in a thread), for the gateway to reach its built-in sandbox."""
    import uvicorn

    from devhub.app import create_app

    app = create_app(console_settings, run_background_tasks=False)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=portal_port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the portal did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{portal_port}"
    server.should_exit = server.force_exit = True  # the gateway's idle keep-alive connections need no goodbye
    thread.join(10)


# --- the world, through the REST API --------------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    db: Database
    settings: Settings
    owner: dict[str, str]
    developer: dict[str, str]
    developer_id: int
    app: dict
    key: str  # the whole sandbox key, as the developer holds it
    key_id: str
    page: str  # the getPet operation page
    seen: list[dict] = field(default_factory=list)

    def call(self, expected: int = 200, **body) -> dict:
        payload = {"api": "default/petstore", "version": "1.0.0", "operation": "getPet", "credential": self.key_id}
        payload.update(body)
        response = self.client.post("/api/v1/console/calls", headers=self.developer, json=payload)
        assert response.status_code == expected, response.text
        return response.json()

    def wait_for_gateway(self) -> dict:
        """The first call, repeated until the gateway's snapshot has the product and the key (a poll away)."""
        deadline = time.monotonic() + 5
        while True:
            result = self.call(parameters={"path": {"petId": "0"}})
            if result["status"] not in (401, 403, 404) or time.monotonic() > deadline:
                return result
            time.sleep(0.05)

    def browse_as(self, user_id: int) -> None:
        self.client.cookies.clear()
        sign_in(self.client, self.db, self.settings, user_id)


def register_petstore(db: Database, settings: Settings, tmp_path: Path, document: dict = PETSTORE) -> None:
    """The API in the catalog with its definition, which publishing turns into version 1.0.0."""
    from devhub.catalog.service import register_location

    folder = tmp_path / "catalog-petstore"
    folder.mkdir(exist_ok=True)
    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "petstore", "annotations": {"devhub.io/visibility": "public"}},
        "spec": {
            "type": "openapi",
            "lifecycle": "production",
            "owner": "team-a",
            "definition": yaml.safe_dump(document),
        },
    }
    (folder / "catalog-info.yaml").write_text(yaml.safe_dump(entity))
    with db.session() as session:
        register_location(session, settings, str(folder / "catalog-info.yaml"), "file", trusted=True)


def build_world(client: TestClient, db: Database, settings: Settings, tmp_path: Path, upstream: str) -> World:
    register_petstore(db, settings, tmp_path)
    owner_id = make_account(db, settings, "owner@example.com", teams={TEAM: "owner"})
    owner = bearer(db, settings, owner_id, scopes=("read", "write"))
    product = {
        "slug": "pets",
        "name": "Pets",
        "owner": "team-a",
        "visibility": "public",
        "sandbox_url": f"{upstream}/base",
        "apis": [{"api": "petstore"}],
    }
    response = client.post("/api/v1/products", headers=owner, json=product)
    assert response.status_code == 201, response.text
    for plan in (
        {"slug": "free", "name": "Free", "rate_per_second": 100},
        {
            "slug": "partner",
            "name": "Partner",
            "credential_type": "oauth2",
            "scopes": ["pets:read"],
            "rate_per_second": 100,
        },
    ):
        assert client.post("/api/v1/products/pets/plans", headers=owner, json=plan).status_code == 201
    developer_id = make_account(db, settings, "dev@example.com")
    developer = bearer(db, settings, developer_id, scopes=("read", "write"))
    app = client.post("/api/v1/apps", headers=developer, json={"name": "Checkout"}).json()
    body = {"product": "pets", "plan": "free"}
    assert client.post(f"/api/v1/apps/{app['id']}/subscriptions", headers=developer, json=body).status_code == 201
    key = app["sandbox_key"]["key"]
    page = "/apis/default/petstore/v/1.0.0/operations/get-pet"
    return World(client, db, settings, owner, developer, developer_id, app, key, key.split("_")[2], page)


@pytest.fixture
def world(portal, db, console_settings, tmp_path, upstream, seen) -> World:
    built = build_world(portal, db, console_settings, tmp_path, upstream)
    built.seen = seen
    return built
