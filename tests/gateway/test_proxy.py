"""The gateway end to end: a real upstream on loopback, the real gateway (in a thread, or as `devhub gateway`
processes), the real database, access set up through the portal's REST API."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from devhub.apps.models import ApiKey
from devhub.db import Database
from devhub.gateway.models import GatewayCall
from devhub.settings import Settings
from tests.conftest import bearer, make_account
from tests.gateway.running import RunningGateway
from tests.loopback import http_server

SRC = Path(__file__).resolve().parents[2] / "src"
TEAM = "group:default/team-a"


# --- the upstream: echoes what it got, streams, sleeps, fails ------------------------------------------------


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path.endswith("/sleep"):
            time.sleep(float(query["s"][0]))
        if parts.path.endswith("/fail"):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = self._body()
        if parts.path.endswith("/stream"):
            size = int(query["n"][0])
            self.send_response(200)
            self.send_header("content-type", "application/octet-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            block = b"x" * 65536
            sent = 0
            while sent < size:
                piece = block[: min(len(block), size - sent)]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            self.wfile.write(b"0\r\n\r\n")
            return
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_length": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("connection", "keep-alive, x-upstream-hop")
        self.send_header("x-upstream-hop", "secret")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle


@pytest.fixture(scope="module")
def upstream() -> Iterator[str]:
    with http_server(_Upstream) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- access, through the portal's REST API -------------------------------------------------------------------


@dataclass
class World:
    key: str  # a sandbox key of an app subscribed to payments (free: 5 calls a second)
    other_key: str  # a sandbox key of an app without subscription
    app_uid: str
    subscription_uid: str
    app_id: str
    developer: dict[str, str]


def _setup(client, db: Database, settings: Settings, upstream: str) -> World:
    owner_id = make_account(db, settings, "owner@example.com", teams={TEAM: "owner"})
    owner = bearer(db, settings, owner_id, scopes=("read", "write"))
    for slug, url in (("payments", f"{upstream}/base"), ("down", f"http://127.0.0.1:{_free_port()}")):
        product = {"slug": slug, "name": slug.title(), "owner": "team-a", "visibility": "public", "sandbox_url": url}
        assert client.post("/api/v1/products", headers=owner, json=product).status_code == 201
        plan = {"slug": "free", "name": "Free", "rate_per_second": 5 if slug == "payments" else None}
        response = client.post(f"/api/v1/products/{slug}/plans", headers=owner, json=plan)
        assert response.status_code == 201, response.text
    developer = bearer(db, settings, make_account(db, settings, "dev@example.com"), scopes=("read", "write"))
    app = client.post("/api/v1/apps", headers=developer, json={"name": "Checkout"}).json()
    for slug in ("payments", "down"):
        body = {"product": slug, "plan": "free"}
        subscription = client.post(f"/api/v1/apps/{app['id']}/subscriptions", headers=developer, json=body)
        assert subscription.status_code == 201, subscription.text
    other = client.post("/api/v1/apps", headers=developer, json={"name": "Other"}).json()
    subs = client.get(f"/api/v1/apps/{app['id']}", headers=developer).json()["subscriptions"]
    payments = next(s for s in subs if s["product"] == "payments")
    return World(
        app["sandbox_key"]["key"], other["sandbox_key"]["key"], app["id"], payments["id"], app["id"], developer
    )


@pytest.fixture
def world(client, db, settings, upstream) -> World:
    return _setup(client, db, settings, upstream)


# --- the gateway in a thread of this process -------------------------------------------------------------------


@pytest.fixture
def gateway_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "gateway_read_timeout": 0.5,
            "gateway_connect_timeout": 0.5,
            "gateway_breaker_failures": 3,
            "gateway_breaker_seconds": 30.0,
            "gateway_poll_seconds": 0.05,
        }
    )


@pytest.fixture
def gateway(world, db, gateway_settings) -> Iterator[RunningGateway]:
    running = RunningGateway(gateway_settings, db.engine)
    yield running
    running.stop()


def _calls(db: Database) -> int:
    with db.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(GatewayCall))


def _start_of_second() -> None:
    """Wait for the next second to begin: the plan's per-second window is aligned to the clock."""
    now = time.time()
    time.sleep(1 - (now - int(now)) + 0.01)


def _is_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"]
    return body


# --- the stories -------------------------------------------------------------------------------------------


def test_proxied_call_carries_identity_not_the_key_and_is_metered(gateway, world, db):
    headers = {
        "x-api-key": world.key,
        "x-devhub-app": "forged",
        "x-request-id": "req-123",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "x-forwarded-for": "10.0.0.1",
    }
    with httpx.Client(base_url=gateway.url) as http:
        response = http.get("/payments/pets/1?x=1", headers=headers)
        assert response.status_code == 200, response.text
        seen = response.json()
        assert seen["method"] == "GET" and seen["path"] == "/base/pets/1?x=1"
        up = seen["headers"]
        assert "x-api-key" not in up and world.key not in json.dumps(seen)
        assert up["x-devhub-app"] == world.app_uid and up["x-devhub-subscription"] == world.subscription_uid
        assert up["x-devhub-plan"] == "free" and up["x-devhub-environment"] == "sandbox"
        assert up["x-request-id"] == "req-123" and up["traceparent"] == headers["traceparent"]
        assert up["x-forwarded-for"] == "10.0.0.1, 127.0.0.1" and up["x-forwarded-proto"] == "http"
        assert up["x-forwarded-host"] == f"127.0.0.1:{gateway.port}"
        assert up["host"] == urlsplit(gateway.gateway.store.current.routes["/payments"].upstreams["sandbox"]).netloc
        assert response.headers["x-request-id"] == "req-123"
        assert response.headers["ratelimit-limit"] == "5" and int(response.headers["ratelimit-remaining"]) <= 4
        assert "ratelimit-reset" in response.headers
        assert "x-upstream-hop" not in response.headers  # named by the upstream's Connection header

        # A key in the Authorization header works too; without a trace, one is started and an id made.
        second = http.post("/payments/orders", headers={"authorization": f"ApiKey {world.key}"}, content=b"{}")
        up = second.json()["headers"]
        assert second.status_code == 200 and "authorization" not in up
        assert len(up["x-request-id"]) == 32 and up["traceparent"].startswith("00-")
        assert second.json()["body_length"] == 2
    gateway.stop()
    assert _calls(db) == 2


def test_hop_by_hop_headers_are_not_forwarded(gateway, world):
    request = (
        "GET /payments/hop HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\n"
        "Keep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\nTrailer: x\r\n"
        f"X-Api-Key: {world.key}\r\nX-Kept: yes\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(request.encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            data += sock.recv(65536)
    up = json.loads(data.split(b"\r\n\r\n", 1)[1])["headers"]
    assert up["x-kept"] == "yes"
    for name in ("x-hop", "keep-alive", "te", "proxy-authorization", "trailer", "x-api-key"):
        assert name not in up, name
    assert up.get("connection", "keep-alive") == "keep-alive"  # the gateway's own, if any


def test_refusals_are_problem_documents(gateway, world):
    with httpx.Client(base_url=gateway.url) as http:
        missing = http.get("/payments/pets")
        assert _is_problem(missing, 401) and missing.headers["www-authenticate"].startswith("ApiKey")
        bad = http.get("/payments/pets", headers={"x-api-key": world.key[:-2] + "xx"})
        assert _is_problem(bad, 401) and "www-authenticate" in bad.headers
        _is_problem(http.get("/payments/pets", headers={"x-api-key": world.other_key}), 403)
        _is_problem(http.get("/nowhere/pets", headers={"x-api-key": world.key}), 404)

        statuses = []
        _start_of_second()
        for _ in range(12):
            response = http.get("/payments/pets", headers={"x-api-key": world.key})
            statuses.append(response.status_code)
            if response.status_code == 429:
                _is_problem(response, 429)
                assert int(response.headers["retry-after"]) >= 1
                assert response.headers["ratelimit-remaining"] == "0"
                break
        assert 429 in statuses and statuses.count(200) <= 5

        metrics = http.get("/metrics").text
    assert 'devhub_gateway_requests_total{product="payments",status="200"}' in metrics
    assert 'devhub_gateway_rejections_total{reason="rate_limited"} 1.0' in metrics
    assert 'devhub_gateway_rejections_total{reason="unauthorized"} 2.0' in metrics
    assert "devhub_gateway_request_seconds_bucket" in metrics


def test_upstream_failures_timeouts_and_the_breaker(gateway, world):
    key = {"x-api-key": world.key}
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        slow = http.get("/payments/sleep", params={"s": "1.5"}, headers=key)
        _is_problem(slow, 504)
        time.sleep(1.0)  # the free plan allows 5 a second
        _is_problem(http.post("/payments/fail", headers=key), 502)
        for _ in range(3):  # nothing listens there: refused (retried once, as GET), 502 each
            _is_problem(http.get("/down/x", headers=key), 502)
        opened = http.get("/down/x", headers=key)
        assert _is_problem(opened, 503) and int(opened.headers["retry-after"]) >= 1
        metrics = http.get("/metrics").text
    assert 'devhub_gateway_upstream_errors_total{kind="read_timeout",product="payments"} 1.0' in metrics
    assert 'devhub_gateway_upstream_errors_total{kind="connect",product="down"} 3.0' in metrics
    assert 'devhub_gateway_upstream_errors_total{kind="circuit_open",product="down"} 1.0' in metrics


def test_large_bodies_stream_both_ways(gateway, world):
    body = os.urandom(8 << 20)
    with httpx.Client(base_url=gateway.url, timeout=30) as http:
        up = http.put("/payments/upload", headers={"x-api-key": world.key}, content=body)
        assert up.status_code == 200 and up.json()["body_length"] == len(body)
        assert up.json()["body_sha256"] == hashlib.sha256(body).hexdigest()

        def chunks():
            for start in range(0, len(body), 1 << 20):
                yield body[start : start + (1 << 20)]

        chunked = http.post("/payments/upload", headers={"x-api-key": world.key}, content=chunks())
        assert chunked.status_code == 200, chunked.text
        assert chunked.json()["headers"]["transfer-encoding"] == "chunked"
        assert chunked.json()["body_sha256"] == hashlib.sha256(body).hexdigest()
        size = 20 << 20
        with http.stream("GET", "/payments/stream", params={"n": size}, headers={"x-api-key": world.key}) as down:
            assert down.status_code == 200
            assert sum(len(part) for part in down.iter_bytes()) == size


def _rows(db: Database) -> list:
    with db.engine.connect() as connection:
        return connection.execute(select(GatewayCall).order_by(GatewayCall.id)).all()


def test_many_calls_leave_exactly_as_many_metering_rows(gateway, world, db):
    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.url) as http:
            return await asyncio.gather(
                *(http.get(f"/payments/n/{n}", headers={"x-api-key": world.key}) for n in range(40))
            )

    replies = asyncio.run(burst())
    statuses = [reply.status_code for reply in replies]
    assert statuses.count(200) >= 5 and set(statuses) <= {200, 429}
    gateway.stop()
    rows = _rows(db)  # the refused calls too, each with the request id its caller got
    assert len(rows) == 40
    assert sorted((row.status, row.request_id) for row in rows) == sorted(
        (reply.status_code, reply.headers["x-request-id"]) for reply in replies
    )
    assert {row.app_uid for row in rows} == {world.app_uid}


def test_refused_calls_are_recorded_with_the_identity_known(gateway, world, db):
    """The gateway's own refusals are call records too (analytics counts them): unknown path, no or
    invalid credential (no identity: a key id with a wrong secret proves nothing), a valid key without a
    subscription (its application is known), over the plan's limit, no upstream."""
    key_id = world.other_key.split("_")[2]
    with httpx.Client(base_url=gateway.url) as http:
        assert http.get("/nowhere/x").status_code == 404
        assert http.get("/payments/a").status_code == 401
        assert http.get("/payments/a", headers={"x-api-key": world.key[:-2] + "zz"}).status_code == 401
        assert http.get("/payments/a", headers={"x-api-key": world.other_key}).status_code == 403
        _start_of_second()
        statuses = [http.get("/payments/a", headers={"x-api-key": world.key}).status_code for _ in range(7)]
    gateway.stop()
    assert statuses.count(429) >= 1
    rows = _rows(db)
    assert len(rows) == 4 + 7
    assert [(row.status, row.path, row.product_id is None) for row in rows[:4]] == [
        (404, "/nowhere/x", True),
        (401, "/a", False),
        (401, "/a", False),
        (403, "/a", False),
    ]
    assert [row.app_uid for row in rows[:3]] == [None, None, None]
    assert rows[3].credential == key_id and rows[3].app_uid is not None and rows[3].environment == "sandbox"
    assert sorted(row.status for row in rows[4:]) == sorted(statuses)
    assert all(row.request_id and len(row.request_id) == 32 for row in rows)
    with db.engine.connect() as connection:  # a refused key was not "used"; a proxied one was
        used = dict(connection.execute(select(ApiKey.key_id, ApiKey.last_used_at)).all())
    assert used[key_id] is None and used[world.key.split("_")[2]] is not None


# --- two `devhub gateway` processes sharing PostgreSQL and Redis ---------------------------------------------


def _spawn_gateway(database_url: str, redis_url: str, port: int, data_dir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DEVHUB_DATABASE_URL": database_url,
        "DEVHUB_REDIS_URL": redis_url,
        "DEVHUB_DATA_DIR": str(data_dir),
        "DEVHUB_SECRET_KEY": "test-secret",
        "DEVHUB_GATEWAY_POLL_SECONDS": "0.1",
    }
    command = [sys.executable, "-c", "from devhub.cli import app; app()", "gateway", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _wait_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the gateway exited: {process.stdout.read().decode()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("the gateway did not come up")


@pytest.mark.postgres
def test_two_gateway_processes_share_limits_and_see_a_revocation_within_a_second(
    client, db, settings, upstream, redis_url, tmp_path
):
    if db.is_sqlite:
        pytest.skip("several gateway processes share PostgreSQL")
    world = _setup(client, db, settings, upstream)
    ports = [_free_port(), _free_port()]
    processes = [_spawn_gateway(db.url, redis_url, port, tmp_path) for port in ports]
    try:
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url, process in zip(urls, processes, strict=True):
            _wait_up(url, process)
        key = {"x-api-key": world.key}
        with httpx.Client() as http:
            # The plan allows 5 a second, counted in Redis: 10 calls alternating between processes inside
            # one second let 5 through.
            _start_of_second()
            statuses = [http.get(f"{urls[n % 2]}/payments/x", headers=key).status_code for n in range(10)]
            assert statuses.count(200) == 5 and statuses.count(429) == 5, statuses
            time.sleep(1.0)

            key_id = world.key.split("_")[2]
            revoked = client.delete(f"/api/v1/apps/{world.app_id}/keys/{key_id}", headers=world.developer)
            assert revoked.status_code == 204, revoked.text
            deadline = time.monotonic() + 1.0
            refused: set[str] = set()
            while len(refused) < 2 and time.monotonic() < deadline:
                for url in urls:
                    if url not in refused and http.get(f"{url}/payments/x", headers=key).status_code == 401:
                        refused.add(url)
                time.sleep(0.02)
            assert refused == set(urls), "the revoked key still works after a second"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(15)
    assert all(process.returncode == 0 for process in processes), [p.stdout.read() for p in processes]


def test_expect_100_continue_is_answered_by_the_gateway(gateway, world):
    body = b"a" * 1000
    head = (
        f"POST /payments/upload HTTP/1.1\r\nHost: gw\r\nX-Api-Key: {world.key}\r\nExpect: 100-continue\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(head.encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        data = b""
        while not data.rstrip().endswith(b"}"):
            data += sock.recv(65536)
    assert data.startswith(b"HTTP/1.1 200 ")
    seen = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert seen["body_length"] == len(body) and "expect" not in seen["headers"]


def test_breaker_opens_after_consecutive_failures_and_one_probe_closes_it(monkeypatch):
    from devhub.gateway import upstream

    clock = [100.0]
    monkeypatch.setattr(upstream.time, "monotonic", lambda: clock[0])
    breaker = upstream.CircuitBreaker(threshold=2, open_seconds=5)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert breaker.state == "open" and not breaker.allow() and breaker.retry_after() == 5
    clock[0] += 5
    assert breaker.allow() and not breaker.allow()  # one probe at a time
    breaker.failure()  # the probe failed: open again
    assert breaker.state == "open"
    clock[0] += 5
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()


def test_cli_has_the_gateway_and_serve_can_leave_it_out():
    from typer.testing import CliRunner

    from devhub.cli import app

    runner = CliRunner()
    assert "--workers" in runner.invoke(app, ["gateway", "--help"]).output
    assert "--no-gateway" in runner.invoke(app, ["serve", "--help"]).output


def test_idle_and_slow_clients_are_disconnected(monkeypatch, world, db, gateway_settings):
    from devhub.gateway import server

    monkeypatch.setattr(server, "SWEEP_SECONDS", 0.05)
    monkeypatch.setattr(server, "KEEPALIVE_SECONDS", 0.3)
    monkeypatch.setattr(server, "HEAD_SECONDS", 0.1)
    running = RunningGateway(gateway_settings, db.engine)
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as slow:
            slow.sendall(b"GET /payments/x HTTP/1.1\r\nHost: gw\r\n")  # never finishes its head
            assert slow.recv(100) == b""
        with socket.create_connection(("127.0.0.1", running.port), timeout=5) as idle:
            idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n")
            reply = b""
            while not reply.endswith(b"}"):
                reply += idle.recv(1000)
            assert reply.startswith(b"HTTP/1.1 200 ")
            started = time.monotonic()
            assert idle.recv(100) == b""  # closed after the keep-alive timeout
            assert time.monotonic() - started >= 0.2
    finally:
        running.stop()


def test_calls_to_a_deprecated_operation_carry_deprecation_and_sunset(gateway, world, client, db, settings, tmp_path):
    from tests.specs.conftest import register_apis

    register_apis(db, settings, tmp_path / "catalog", ["pets"])
    owner = bearer(
        db, settings, make_account(db, settings, "pets@example.com", teams={TEAM: "member"}), ("read", "write")
    )
    spec = (Path(__file__).parent.parent / "governance" / "specs" / "pets-1.0.0.yaml").read_text()
    published = client.post(
        "/api/v1/apis/default/pets/versions", headers=owner, json={"version": "1.0.0", "definition": spec}
    )
    assert published.status_code == 201, published.text
    assert client.patch("/api/v1/products/payments", headers=owner, json={"apis": [{"api": "pets"}]}).status_code == 200
    deprecation = {"operation": "getPet", "sunset": "2031-01-01"}
    assert (
        client.put("/api/v1/apis/default/pets/versions/1.0.0/deprecation", headers=owner, json=deprecation).status_code
        == 200
    )
    time.sleep(0.3)  # the gateway polls the access token every 0.05 s here
    with httpx.Client(base_url=gateway.url, headers={"x-api-key": world.key}) as http:
        deprecated = http.get("/payments/pets/7")
        assert deprecated.status_code == 200
        assert deprecated.headers["sunset"] == "Wed, 01 Jan 2031 00:00:00 GMT"
        assert deprecated.headers["deprecation"].startswith("@")
        assert "sunset" not in http.post("/payments/pets", content=b"{}").headers  # addPet is not deprecated
    gateway.stop()
    with db.engine.connect() as connection:
        operations = set(connection.scalars(select(GatewayCall.operation)))
    assert operations == {"getPet", "addPet"}  # matched once, used for the headers and the record
