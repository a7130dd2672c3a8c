"""Sandbox response time for corpus definitions through the real portal route on loopback.

    python bench/sandbox.py [--requests 600] [--backend sqlite|postgresql|both]

A portal process (uvicorn, one worker, its own port on 127.0.0.1) serves four published corpus definitions
(petstore-expanded, api-with-examples, Twilio's api v2010 and messaging v1: the largest). One keep-alive
client alternates a sandbox call with the baseline, `GET /api/v1/health` (the portal's own small JSON route,
one database query), so both see the same machine load. Sandbox calls cycle through every GET operation of
the four (with their required parameters filled from the schemas, signed as the gateway signs them), and
every tenth call creates a pet (a stateful write; the petstore's list then answers from the database).
Reported: p50 and p95 of each and the sandbox/baseline ratio, and, as "in process", the same GETs through
`Sandbox.handle` directly: the sandbox's own share of the time. Target: sandbox p95 under 20 ms.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")

import httpx  # noqa: E402

from catalog import fresh_database, percentile  # noqa: E402
from devhub.db import Database  # noqa: E402
from devhub.sandbox.compile import compile_spec  # noqa: E402
from devhub.sandbox.trust import CREDENTIAL_HEADER, SIGNATURE_HEADER, gateway_signature  # noqa: E402
from devhub.settings import Settings  # noqa: E402
from devhub.specs.bundle import bundle  # noqa: E402

CORPUS = ROOT / "tests" / "docs" / "corpus"
SPECS = {
    "petstore-expanded": "oai/petstore-expanded.yaml",
    "api-with-examples": "oai/api-with-examples.yaml",
    "twilio-api-v2010": "twilio/twilio_api_v2010.json",
    "twilio-messaging-v1": "twilio/twilio_messaging_v1.json",
}
SECRET = "bench-secret"
SERVER = textwrap.dedent(
    """
    import socket, sys, warnings
    warnings.filterwarnings("ignore")
    import uvicorn
    from devhub.app import create_app
    from devhub.settings import Settings
    settings = Settings(data_dir=sys.argv[1], database_url=sys.argv[2], secret_key=sys.argv[3],
                        catalog_refresh_seconds=0)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(create_app(settings, run_background_tasks=False), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    """
)


def publish_corpus(url: str, folder: Path) -> None:
    from tests.sandbox.conftest import publish
    from tests.specs.conftest import register_apis

    database = Database(url)
    database.upgrade()
    settings = Settings(data_dir=folder, database_url=url, secret_key=SECRET, catalog_refresh_seconds=0)
    register_apis(database, settings, folder / "catalog", list(SPECS), visibility="public")
    for api, path in SPECS.items():
        publish(database, settings, api, (CORPUS / path).read_text())
    database.dispose()


def calls() -> list[tuple[str, str, dict, dict]]:
    """(method, url path, query, headers) of every GET of the four definitions, then a stateful pair."""
    from tests.sandbox.test_corpus import _valid_call

    found = []
    for api, path in SPECS.items():
        signed = signed_headers(api)
        document = bundle(path, {path: (CORPUS / path).read_text()}).document
        spec = compile_spec(document, "3.0")
        for template in spec.paths:
            operation = template.operations.get("get")
            if operation is not None:
                call = _valid_call(spec, template, operation)
                found.append(
                    ("GET", f"/sandbox/default/{api}/1.0.0{call.path}", call.query, {**signed, **call.headers})
                )
    return found


def signed_headers(api: str) -> dict[str, str]:
    signature = gateway_signature(SECRET, "bench-key", f"api:default/{api}", "1.0.0")
    return {CREDENTIAL_HEADER: "bench-key", SIGNATURE_HEADER: signature}


def start_portal(folder: Path, url: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(folder), url, SECRET], stdout=subprocess.PIPE, env=env, text=True
    )
    port = int(process.stdout.readline())
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if httpx.get(base + "/api/v1/health").status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the portal did not start")


def run(backend: str, requests: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url, drop = fresh_database(backend, folder)
        process = None
        try:
            publish_corpus(url, folder)
            process, base = start_portal(folder, url)
            timings: dict[str, list[float]] = {"baseline": [], "sandbox": []}
            plan = calls()
            pet_headers = signed_headers("petstore-expanded")
            with httpx.Client(base_url=base) as client:
                for method, path, query, headers in plan:  # warm-up: every definition compiled once
                    client.request(method, path, params=query, headers=headers)
                for n in range(requests):
                    started = time.perf_counter()
                    client.get("/api/v1/health")
                    timings["baseline"].append((time.perf_counter() - started) * 1000)
                    started = time.perf_counter()
                    if n % 10 == 9:  # stateful: create a pet (a database write)
                        created = client.post(
                            "/sandbox/default/petstore-expanded/1.0.0/pets",
                            json={"name": f"pet {n}"},
                            headers=pet_headers,
                        )
                        assert created.status_code < 300, created.text
                    else:
                        method, path, query, headers = plan[n % len(plan)]
                        answered = client.request(method, path, params=query, headers=headers)
                        assert answered.status_code < 300, (path, answered.text)
                    timings["sandbox"].append((time.perf_counter() - started) * 1000)
            timings["in process"] = in_process(url, plan, requests)
            return timings
        finally:
            if process is not None:
                process.terminate()
                process.wait(10)
            drop()


def in_process(url: str, plan: list, requests: int) -> list[float]:
    """The sandbox's own share: `Sandbox.handle` called directly (version check, validation, state, answer),
    without HTTP, uvicorn or the portal's middleware."""
    from urllib.parse import urlsplit

    from devhub.sandbox.service import Sandbox
    from devhub.sandbox.validate import SandboxRequest

    database = Database(url)
    sandbox = Sandbox(database.engine, SECRET)
    calls = []
    for method, path, query, headers in plan:
        _, _, namespace, name, version, *rest = urlsplit(path).path.split("/")
        request = SandboxRequest(method, "/" + "/".join(rest), list(query), {**headers}, {}, b"")
        calls.append((f"api:{namespace}/{name}", version, request))
    for api_ref, version, request in calls:
        sandbox.handle(api_ref, version, request)
    timings = []
    for n in range(requests):
        api_ref, version, request = calls[n % len(calls)]
        started = time.perf_counter()
        sandbox.handle(api_ref, version, request)
        timings.append((time.perf_counter() - started) * 1000)
    database.dispose()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(f"{'backend':<11} {'route':<10} {'p50 ms':>7} {'p95 ms':>7}  p95 / baseline")
    for backend in backends:
        timings = run(backend, args.requests)
        base95 = percentile(timings["baseline"], 0.95)
        for name, values in timings.items():
            p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
            print(f"{backend:<11} {name:<10} {p50:7.2f} {p95:7.2f}  {p95 / base95:5.2f}x")


if __name__ == "__main__":
    main()
