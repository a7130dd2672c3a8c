"""Time to first key: from sign-up to a working sandbox API key through the REST API, in server time.

    python bench/first_key.py [--runs 20] [--backend sqlite|postgresql|both]

Each run signs up a new developer (auto-approve on), trades the password for an access token, and registers
an application, whose answer carries the sandbox key; the key is then checked the way the gateway will.
Requests go through the ASGI app in process (TestClient), so the time is the server's: routing, validation,
two argon2 hashes (sign-up and sign-in), the database writes and the audit records. The baseline, run side
by side, is `GET /api/v1/health`. Target: under 1 s per developer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
warnings.filterwarnings("ignore")

from fastapi.testclient import TestClient  # noqa: E402

from catalog import fresh_database, percentile  # noqa: E402
from devhub.app import create_app  # noqa: E402
from devhub.apps import credentials  # noqa: E402
from devhub.db import Database  # noqa: E402
from devhub.settings import Settings  # noqa: E402

PASSWORD = "a long enough password"


def sign_up_to_app(client, email: str, steps: dict[str, float]) -> tuple[dict[str, str], dict]:
    """Sign up, trade the password for a token, register an application: the developer's first steps, each
    timed into `steps` (ms). Any client with httpx's `request` will do: the in-process TestClient here, a
    loopback `httpx.Client` in first_call.py. Returns the authorization headers and the application."""

    def timed(name: str, method: str, path: str, **kwargs) -> dict:
        started = time.perf_counter()
        response = client.request(method, path, **kwargs)
        steps[name] = (time.perf_counter() - started) * 1000
        assert response.status_code < 300, response.text
        return response.json()

    timed("sign up", "POST", "/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    token = timed(
        "token",
        "POST",
        "/api/v1/auth/tokens",
        json={"email": email, "password": PASSWORD, "name": "cli", "scopes": ["read", "write"]},
    )
    headers = {"Authorization": f"Bearer {token['token']}"}
    return headers, timed("application + key", "POST", "/api/v1/apps", headers=headers, json={"name": "First app"})


def first_key(client: TestClient, n: int) -> tuple[float, dict[str, float], str]:
    steps: dict[str, float] = {}
    _, app = sign_up_to_app(client, f"dev{n}@example.com", steps)
    return sum(steps.values()), steps, app["sandbox_key"]["key"]


def bench(backend: str, runs: int) -> tuple[list[float], dict[str, list[float]], list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(backend, Path(tmp))
        try:
            database = Database(url)
            database.upgrade()
            settings = Settings(
                data_dir=Path(tmp),
                database_url=url,
                secret_key="x",
                catalog_refresh_seconds=0,
                signup_auto_approve=True,
            )
            totals, health = [], []
            per_step: dict[str, list[float]] = {}
            with TestClient(create_app(settings, run_background_tasks=False)) as client:
                first_key(client, -1)  # warm-up
                for n in range(runs):
                    started = time.perf_counter()
                    client.get("/api/v1/health")
                    health.append((time.perf_counter() - started) * 1000)
                    total, steps, key = first_key(client, n)
                    totals.append(total)
                    for name, ms in steps.items():
                        per_step.setdefault(name, []).append(ms)
                    with database.session() as session:
                        assert credentials.verify_key(session, key) is not None, "the key does not work"
            database.dispose()
        finally:
            drop()
    return totals, per_step, health


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"\nTime to first key through the REST API, {args.runs} new developers per back-end\n")
    print("| back-end | sign-up to key p50 | p95 | sign up | token | application + key | health (baseline) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for backend in backends:
        totals, steps, health = bench(backend, args.runs)
        parts = " | ".join(
            f"{statistics.median(steps[name]):.0f} ms" for name in ("sign up", "token", "application + key")
        )
        print(
            f"| {backend} | {statistics.median(totals):.0f} ms | {percentile(totals, 0.95):.0f} ms | {parts} "
            f"| {statistics.median(health):.1f} ms |"
        )


if __name__ == "__main__":
    main()
