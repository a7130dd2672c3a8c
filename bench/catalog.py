"""Catalog benchmarks: import and refresh 10,000 entities from files, and the filtered catalog list page.

    python bench/catalog.py [--entities 10000] [--backend sqlite|postgresql|both] [--requests 200]

Prints, per back-end: import time and peak memory (against parsing the same files with libyaml alone,
run side by side), refresh of the unchanged location, and p50/p95 of the catalog list page with mixed
filters (against the health endpoint through the same client). The machine is shared and noisy: read
the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import yaml
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from devhub.catalog import service  # noqa: E402
from devhub.db import Database  # noqa: E402
from devhub.settings import Settings  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WORDS = [
    "payments",
    "ledger",
    "checkout",
    "user",
    "auth",
    "billing",
    "search",
    "notify",
    "orders",
    "catalog",
    "pricing",
    "risk",
    "fraud",
    "kyc",
    "invoice",
    "refund",
    "shipping",
    "inventory",
    "identity",
    "session",
    "audit",
    "report",
    "export",
    "import",
]
LIFECYCLES = ["production", "experimental", "deprecated"]
TAGS = [f"tag{i}" for i in range(30)] + ["java", "python", "go", "rust", "kafka", "grpc", "rest"]


def write_catalog(folder: Path, count: int, per_file: int = 100) -> Path:
    """A root Location with a glob over files of `per_file` entities each: groups, users, systems, the rest."""
    rng = random.Random(7)
    teams = [f"team-{i}" for i in range(max(4, count // 200))]
    systems = [f"system-{i}" for i in range(max(2, count // 100))]
    docs: list[dict] = []
    for team in teams:
        docs.append(
            {
                "kind": "Group",
                "metadata": {"name": team, "title": team.replace("-", " ").title()},
                "spec": {"type": "team", "children": []},
            }
        )
    for system in systems:
        docs.append({"kind": "System", "metadata": {"name": system}, "spec": {"owner": rng.choice(teams)}})
    index = 0
    while len(docs) < count:
        index += 1
        word = f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{index}"
        kind = rng.choice(["Component", "Component", "API", "Resource", "User"])
        metadata = {
            "name": word,
            "title": word.replace("-", " ").title(),
            "description": f"The {word} {kind.lower()} of the {rng.choice(WORDS)} platform.",
            "tags": rng.sample(TAGS, 3),
            "annotations": {"github.com/project-slug": f"acme/{word}"},
        }
        owner, system = rng.choice(teams), rng.choice(systems)
        if kind == "Component":
            spec = {
                "type": rng.choice(["service", "website", "library"]),
                "lifecycle": rng.choice(LIFECYCLES),
                "owner": owner,
                "system": system,
                "dependsOn": [f"resource:{word}-db"],
            }
        elif kind == "API":
            spec = {
                "type": "openapi",
                "lifecycle": rng.choice(LIFECYCLES),
                "owner": owner,
                "system": system,
                "definition": "openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n",
            }
        elif kind == "Resource":
            spec = {"type": "database", "owner": owner, "system": system}
        else:
            spec = {"memberOf": [owner]}
        docs.append({"kind": kind, "metadata": metadata, "spec": spec})
    (folder / "entities").mkdir(parents=True)
    for start in range(0, len(docs), per_file):
        chunk = [{"apiVersion": "backstage.io/v1alpha1", **doc} for doc in docs[start : start + per_file]]
        (folder / "entities" / f"part-{start // per_file:04d}.yaml").write_text(yaml.safe_dump_all(chunk))
    root = folder / "catalog-info.yaml"
    root.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Location",
                "metadata": {"name": "bench"},
                "spec": {"targets": ["./entities/*.yaml"]},
            }
        )
    )
    return root


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fresh_database(backend: str, folder: Path) -> tuple[str, callable]:
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: None
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"devhub_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def bench_backend(backend: str, root: Path, requests: int) -> dict[str, float]:
    from fastapi.testclient import TestClient

    from devhub.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(backend, Path(tmp))
        try:
            database = Database(url)
            database.upgrade()
            settings = Settings(data_dir=Path(tmp), database_url=url, catalog_refresh_seconds=0, secret_key="x")

            started = time.perf_counter()
            for path in sorted((root.parent / "entities").glob("*.yaml")):
                list(yaml.load_all(path.read_bytes(), Loader=yaml.CSafeLoader))
            parse_seconds = time.perf_counter() - started

            rss_before = peak_rss_mb()
            started = time.perf_counter()
            with database.session() as session:
                location, report = service.register_location(session, settings, str(root), "file", trusted=True)
            import_seconds = time.perf_counter() - started
            assert report.errors == 0, service
            rss_after = peak_rss_mb()

            started = time.perf_counter()
            with database.session() as session:
                refreshed = service.refresh_location(
                    session, settings, service.get_location(session, location.id), trusted=True
                )
            refresh_seconds = time.perf_counter() - started
            assert refreshed.unchanged == report.added

            page_times, base_times = list_page_times(
                TestClient(create_app(settings, run_background_tasks=False)), requests
            )
            database.dispose()
        finally:
            drop()
    return {
        "entities": report.added,
        "parse_s": parse_seconds,
        "import_s": import_seconds,
        "rss_before_mb": rss_before,
        "rss_peak_mb": rss_after,
        "refresh_s": refresh_seconds,
        "page_p50_ms": statistics.median(page_times),
        "page_p95_ms": percentile(page_times, 0.95),
        "base_p50_ms": statistics.median(base_times),
        "base_p95_ms": percentile(base_times, 0.95),
    }


def list_page_times(client, requests: int) -> tuple[list[float], list[float]]:
    rng = random.Random(11)
    choices = [
        {},
        {"kind": "Component"},
        {"kind": "API", "lifecycle": "production"},
        {"owner": "team-3"},
        {"tag": "java"},
        {"tag": "tag7", "kind": "Component"},
        {"system": "system-12"},
        {"text": "pay"},
        {"sort": "-updated"},
        {"kind": "Component", "page": "5"},
        {"namespace": "default", "sort": "kind"},
    ]
    page_times, base_times = [], []
    with client:
        for _ in range(10):  # warm-up
            client.get("/catalog")
        for _ in range(requests):
            params = rng.choice(choices)
            started = time.perf_counter()
            response = client.get("/catalog", params=params)
            page_times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            started = time.perf_counter()
            client.get("/api/v1/health")
            base_times.append((time.perf_counter() - started) * 1000)
    return page_times, base_times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        root = write_catalog(Path(tmp), args.entities)
        rows = {backend: bench_backend(backend, root, args.requests) for backend in backends}
    print(f"\nCatalog at {args.entities:,} entities ({args.requests} list-page requests per back-end)\n")
    print(
        "| back-end | import | vs. libyaml parse alone | peak RSS | refresh unchanged | list page p50 / p95 "
        "| health p50 / p95 | p95 ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for backend, r in rows.items():
        print(
            f"| {backend} | {r['import_s']:.1f} s | {r['import_s'] / r['parse_s']:.1f}x | {r['rss_peak_mb']:.0f} MB "
            f"(before {r['rss_before_mb']:.0f}) | {r['refresh_s']:.1f} s | {r['page_p50_ms']:.1f} / "
            f"{r['page_p95_ms']:.1f} ms | {r['base_p50_ms']:.1f} / {r['base_p95_ms']:.1f} ms | "
            f"{r['page_p95_ms'] / r['base_p95_ms']:.1f}x |"
        )


if __name__ == "__main__":
    main()
