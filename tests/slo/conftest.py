"""Fixtures for the SLO tests: API entities with or without SLO annotations, owned by a team with a member,
metered calls written as the gateway writes them and rolled up by the analytics roll-up, a real HTTP
receiver on loopback for alert webhooks that checks their signatures as a receiver would, and the portal
served on a free loopback port for the CLI (`slo_cli`: `devhub slo` signed in against it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import uvicorn
import yaml
from sqlalchemy import insert
from typer.testing import CliRunner

from devhub.catalog import service as catalog_service
from devhub.db import Database, utcnow
from devhub.gateway.models import GatewayCall
from devhub.settings import Settings
from tests.conftest import bearer, make_account
from tests.loopback import http_server

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


class BadSignature(Exception):
    pass


def verify(secret: str, headers: dict[str, str], body: bytes, tolerance_seconds: int = 300) -> dict:
    """What a receiver does with a delivery, written from the Standard Webhooks specification (not with
    devhub's code): the payload when one `v1` signature of `{id}.{timestamp}.{body}` matches the HMAC-SHA256
    keyed with the secret's base64 part and the timestamp is recent; BadSignature otherwise."""
    message_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance_seconds:
        raise BadSignature("timestamp too old or too new")
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    for signature in headers.get("webhook-signature", "").split():
        version, _, value = signature.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(value), expected):
            return json.loads(body)
    raise BadSignature("no signature matches")


@dataclass
class Receiver:
    url: str
    received: list[dict] = field(default_factory=list)
    status: int = 204
    secret: str | None = None  # when set, answers 401 to deliveries whose signature does not verify with it


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on a free loopback port that keeps what is POSTed to it (JSON body, raw bytes,
    headers in lower case) and, given a secret, refuses what it cannot verify with it."""
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            status = state.status
            if state.secret is not None:
                try:
                    verify(state.secret, headers, body)
                except (BadSignature, KeyError):
                    status = 401
            state.received.append(
                {
                    "path": self.path,
                    "body": json.loads(body),
                    "raw": body,
                    "headers": headers,
                    "content_type": self.headers.get("content-type"),
                    "answered": status,
                }
            )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

    with http_server(Handler) as base:
        state.url = f"{base}/hooks/slo"
        yield state


# --- the portal, served for the CLI ------------------------------------------------------------------------


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """The portal on a free loopback port, for as long as the block runs."""
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


@contextmanager
def slo_cli(settings: Settings, token: str, config_dir: Path, monkeypatch) -> Iterator[Callable[..., str]]:
    """`devhub slo` against the portal served on loopback, after `devhub login` with `token`: yields
    `run(*args)`, which runs `devhub slo *args`, checks it succeeded and returns its output."""
    from devhub.cli import app as cli_app
    from devhub.slo.cli import slo_app

    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_dir))
    runner = CliRunner()

    def run_in(app, *args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    with serve(settings) as url:
        run_in(cli_app, "login", "--url", url, "--token", token)
        yield lambda *args: run_in(slo_app, *args)
