"""Time to first call: from a new account to a successful sandbox call through the gateway, by the REST API.

    python bench/first_call.py [--runs 10] [--backend sqlite|postgresql|both]

Set up once (not timed): the API `petstore` published from the catalog, a product `pets` offering it with
an automatic free plan and no sandbox URL, so devhub's built-in spec-driven sandbox answers; the portal
(uvicorn, a thread of this process) and a `devhub gateway` process on free loopback ports.

Each run is a new developer, over HTTP on loopback (so the times are the servers' plus a loopback round
trip): sign up (auto-approve on), trade the password for an access token, register an application (its
answer carries the sandbox key), subscribe it to the free plan, then call `GET /pets/pets/42` on the gateway
with the key until it answers 200. That last step includes the wait for the gateway to see the new key and
subscription (it polls the access state every `DEVHUB_GATEWAY_POLL_SECONDS`, 0.25 s by default), which is
part of a developer's time to first call; the successful call's own latency is shown beside it. Baselines,
run side by side: the portal's `GET /api/v1/health` and the gateway's `GET /healthz`. Target: under 2 s.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
warnings.filterwarnings("ignore")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
import yaml  # noqa: E402

from catalog import fresh_database, percentile  # noqa: E402
from devhub.app import create_app  # noqa: E402
from devhub.db import Database  # noqa: E402
from devhub.settings import Settings  # noqa: E402
from first_key import sign_up_to_app  # noqa: E402

SECRET = "bench-secret"
STEPS = ("sign up", "token", "application + key", "subscribe", "first call")
PETSTORE = {
    "openapi": "3.0.3",
    "info": {"title": "Petstore", "version": "1.0.0"},
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "parameters": [{"name": "petId", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {
                    "200": {
                        "description": "The pet",
                        "content": {"application/json": {"example": {"id": "42", "name": "Rex"}}},
                    }
                },
            }
        }
    },
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def set_up(database: Database, settings: Settings, folder: Path) -> None:
    """The API, its owner team and the product, straight through the services (not timed)."""
    from devhub.apps import service as apps
    from devhub.apps.schemas import PlanIn, ProductApiIn, ProductIn
    from devhub.audit.service import SYSTEM
    from devhub.catalog.service import register_location
    from devhub.identity.policy import OPERATOR

    entity = {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "API",
        "metadata": {"name": "petstore", "annotations": {"devhub.io/visibility": "public"}},
        "spec": {
            "type": "openapi",
            "lifecycle": "production",
            "owner": "team-a",
            "definition": yaml.safe_dump(PETSTORE),
        },
    }
    (folder / "catalog-info.yaml").write_text(yaml.safe_dump(entity))
    with database.session() as session:
        register_location(session, settings, str(folder / "catalog-info.yaml"), "file", trusted=True)
    with database.session() as session:
        data = ProductIn(
            slug="pets", name="Pets", owner="team-a", visibility="public", apis=[ProductApiIn(api="petstore")]
        )
        product = apps.create_product(session, OPERATOR, data, SYSTEM)
        apps.create_plan(session, OPERATOR, product, PlanIn(slug="free", name="Free", rate_per_second=1000), SYSTEM)


class Portal:
    """The portal on a real port, in a thread: the gateway reaches its built-in sandbox over HTTP."""

    def __init__(self, settings: Settings) -> None:
        config = uvicorn.Config(create_app(settings, run_background_tasks=False), port=settings.port, log_level="error")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True  # graceful: lifespan shutdown runs (force_exit cancels it mid-wait)
        self.thread.join(10)


def spawn_gateway(url: str, settings: Settings, folder: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DEVHUB_DATABASE_URL": url,
        "DEVHUB_DATA_DIR": str(folder),
        "DEVHUB_SECRET_KEY": SECRET,
        "DEVHUB_BASE_URL": settings.base_url,
        "DEVHUB_SANDBOX_URL": settings.base_url,
    }
    env.pop("DEVHUB_REDIS_URL", None)
    command = [
        sys.executable,
        "-c",
        "from devhub.cli import app; app()",
        "gateway",
        "--port",
        str(settings.gateway_port),
    ]
    log = open(folder / "gateway.log", "wb")  # noqa: SIM115 (kept open for the process's life)
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{settings.gateway_port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"the gateway did not start: {(folder / 'gateway.log').read_text()[-2000:]}")


def first_call(portal: httpx.Client, gateway: httpx.Client, n: int) -> tuple[dict[str, float], float]:
    steps: dict[str, float] = {}
    headers, app = sign_up_to_app(portal, f"dev{n}-{time.time_ns()}@example.com", steps)
    started = time.perf_counter()
    body = {"product": "pets", "plan": "free"}
    response = portal.post(f"/api/v1/apps/{app['id']}/subscriptions", headers=headers, json=body)
    steps["subscribe"] = (time.perf_counter() - started) * 1000
    assert response.status_code < 300, response.text

    key = {"x-api-key": app["sandbox_key"]["key"]}
    started = time.perf_counter()
    while True:
        attempt = time.perf_counter()
        response = gateway.get("/pets/pets/42", headers=key)
        if response.status_code == 200:
            break
        assert response.status_code in (401, 403), response.text  # not seen by the gateway yet
        assert time.perf_counter() - started < 10, "the gateway never took the new key"
        time.sleep(0.01)
    steps["first call"] = (time.perf_counter() - started) * 1000
    assert response.json() == {"id": "42", "name": "Rex"}, response.text
    return steps, (time.perf_counter() - attempt) * 1000


def bench(backend: str, runs: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, drop = fresh_database(backend, folder)
        process = portal_server = None
        try:
            database = Database(url)
            database.upgrade()
            port = free_port()
            settings = Settings(
                data_dir=folder,
                database_url=url,
                secret_key=SECRET,
                catalog_refresh_seconds=0,
                signup_auto_approve=True,
                port=port,
                base_url=f"http://127.0.0.1:{port}",
                gateway_port=free_port(),
            )
            set_up(database, settings, folder)
            portal_server = Portal(settings)
            process = spawn_gateway(url, settings, folder)
            results: dict[str, list[float]] = {name: [] for name in (*STEPS, "total", "call", "health", "healthz")}
            with (
                httpx.Client(base_url=settings.base_url, timeout=30) as portal,
                httpx.Client(base_url=f"http://127.0.0.1:{settings.gateway_port}", timeout=30) as gateway,
            ):
                first_call(portal, gateway, -1)  # warm-up
                for n in range(runs):
                    for name, client, path in (("health", portal, "/api/v1/health"), ("healthz", gateway, "/healthz")):
                        started = time.perf_counter()
                        client.get(path)
                        results[name].append((time.perf_counter() - started) * 1000)
                    steps, call = first_call(portal, gateway, n)
                    for name, ms in steps.items():
                        results[name].append(ms)
                    results["total"].append(sum(steps.values()))
                    results["call"].append(call)
            database.dispose()
            return results
        finally:
            if process is not None:
                process.terminate()
                process.wait(15)
            if portal_server is not None:
                portal_server.stop()
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"\nTime to first call through the REST API and the gateway, {args.runs} new developers per back-end\n")
    columns = " | ".join(STEPS)
    print(f"| back-end | sign-up to first 200, p50 | p95 | {columns} | the 200 call itself | health / healthz |")
    print("|---|---:|---:|" + "---:|" * (len(STEPS) + 2))
    for backend in backends:
        results = bench(backend, args.runs)
        parts = " | ".join(f"{statistics.median(results[name]):.0f} ms" for name in STEPS)
        print(
            f"| {backend} | {statistics.median(results['total']):.0f} ms | {percentile(results['total'], 0.95):.0f} ms "
            f"| {parts} | {statistics.median(results['call']):.1f} ms "
            f"| {statistics.median(results['health']):.1f} / {statistics.median(results['healthz']):.1f} ms |"
        )


if __name__ == "__main__":
    main()
