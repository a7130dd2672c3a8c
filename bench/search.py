"""Search latency on a believable catalog: `python bench/search.py [--entities N] [--queries N] [--backend B]`.

For each back-end: a fresh database (SQLite in a temporary directory; PostgreSQL `--postgres-url`,
default `DEVHUB_TEST_POSTGRES_URL` or `postgresql+psycopg://postgres@127.0.0.1:5432/test`, as a new
database dropped afterwards), N generated entities indexed, then a mix of queries timed end to end
(session, search with facets, commit), next to the round trip of a trivial `SELECT 1` measured the same
way in the same run. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from devhub.catalog.models import Entity, EntityTag
from devhub.db import Database, utcnow
from devhub.pagination import PageRequest
from devhub.search.service import index_entities, search

DEFAULT_POSTGRES_URL = os.environ.get("DEVHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

WORDS = [
    "payments", "ledger", "checkout", "user", "auth", "billing", "search", "notify", "invoice", "catalog",
    "inventory", "shipping", "orders", "cart", "pricing", "tax", "refund", "fraud", "identity", "session",
    "profile", "email", "sms", "push", "report", "analytics", "metrics", "audit", "config", "feature",
    "gateway", "router", "cache", "queue", "scheduler", "export", "import", "media", "image", "document",
]  # fmt: skip
SUFFIXES = ["api", "service", "db", "worker", "web", "gateway", "proxy", "store"]
TEAMS = [
    "payments", "ledger", "checkout", "identity", "platform", "data", "search", "growth", "mobile", "web",
    "infra", "security", "billing", "shipping", "support", "sre", "ml", "finance", "catalog", "notify",
]  # fmt: skip
TAGS = [
    "java", "kotlin", "go", "python", "typescript", "rust", "ruby", "scala", "postgres", "mysql", "redis",
    "kafka", "grpc", "rest", "graphql", "pci", "gdpr", "tier-1", "tier-2", "tier-3", "deprecated", "beta",
    "internal", "public", "batch", "realtime", "eu", "us", "legacy", "critical",
]  # fmt: skip
KINDS = ["Component"] * 6 + ["API"] * 2 + ["Resource", "System"]
VERBS = ["handles", "stores", "serves", "computes", "routes", "validates", "publishes", "exports"]
KIND_FILTERS = ["component", "api", "resource", "system"]


@dataclass
class Query:
    text: str
    kinds: list[str] | None = None
    tags: list[str] | None = None
    label: str = ""


# --- Data ---------------------------------------------------------------------------------------


def generate_entities(count: int, rng: random.Random) -> list[dict]:
    names: set[str] = set()
    rows = []
    now = utcnow()
    while len(rows) < count:
        first, second = rng.sample(WORDS, 2)
        name = f"{first}-{rng.choice(SUFFIXES)}" if rng.random() < 0.3 else f"{first}-{second}-{rng.choice(SUFFIXES)}"
        if name in names:
            name = f"{name}-{len(rows)}"
        names.add(name)
        kind = rng.choice(KINDS)
        team = rng.choice(TEAMS)
        tags = rng.sample(TAGS, rng.randint(1, 4))
        title = " ".join(part.capitalize() for part in name.split("-")) if rng.random() < 0.5 else None
        description = (
            f"{name.replace('-', ' ').capitalize()} {rng.choice(VERBS)} {first} {rng.choice(WORDS)} "
            f"for the {team} team. Part of the {second} platform; talks to {rng.choice(WORDS)} and "
            f"{rng.choice(WORDS)}."
        )
        metadata = {
            "name": name,
            "tags": tags,
            "annotations": {
                "github.com/project-slug": f"acme/{name}",
                "backstage.io/techdocs-ref": "dir:.",
                "pagerduty.com/service-id": f"P{rng.randint(100000, 999999)}",
            },
            "labels": {"tier": str(rng.randint(1, 3)), "region": rng.choice(["eu", "us", "apac"])},
        }
        rows.append(
            {
                "ref": f"{kind.lower()}:default/{name}",
                "kind": kind,
                "namespace": "default",
                "name": name,
                "api_version": "backstage.io/v1alpha1",
                "title": title,
                "description": description,
                "lifecycle": rng.choice(["production", "experimental", "deprecated"]),
                "owner_ref": f"group:default/team-{team}",
                "body": {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata},
                "content_hash": "x",
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


def generate_queries(count: int, entities: list[dict], rng: random.Random) -> list[Query]:
    def word() -> str:
        return rng.choice(WORDS + SUFFIXES)

    def middle(value: str) -> str:
        size = rng.randint(3, 4)
        start = rng.randint(1, max(1, len(value) - size - 1))
        return value[start : start + size]

    makers = [
        ("full name", 20, lambda: rng.choice(entities)["name"]),
        ("prefix", 20, lambda: word()[: rng.randint(3, 5)]),
        ("middle", 15, lambda: middle(word())),
        ("two terms", 15, lambda: f"{word()[: rng.randint(3, 8)]} {word()[: rng.randint(3, 8)]}"),
        ("word", 10, word),
        ("short", 5, lambda: word()[: rng.randint(1, 2)]),
        ("miss", 15, lambda: rng.choice(["zzqx", "nonexistent-thing", "qwv", "kubernetes-operator", "xylo"])),
    ]
    population = [(label, make) for label, weight, make in makers for _ in range(weight)]
    queries = []
    for _ in range(count):
        label, make = rng.choice(population)
        query = Query(make(), label=label)
        roll = rng.random()
        if roll < 0.2:
            query.kinds = [rng.choice(KIND_FILTERS)]
        elif roll < 0.35:
            query.tags = [rng.choice(TAGS)]
        elif roll < 0.4:
            query.kinds, query.tags = [rng.choice(KIND_FILTERS)], [rng.choice(TAGS)]
        queries.append(query)
    return queries


def load(db: Database, rows: list[dict]) -> float:
    started = time.perf_counter()
    with db.session() as session:
        session.execute(insert(Entity), rows)
    with db.session() as session:
        ids = {ref: id_ for ref, id_ in session.execute(select(Entity.ref, Entity.id))}
        tag_rows = [
            {"entity_id": ids[row["ref"]], "tag": tag} for row in rows for tag in row["body"]["metadata"]["tags"]
        ]
        session.execute(insert(EntityTag), tag_rows)
    with db.session() as session:
        index_entities(session, list(session.scalars(select(Entity))))
    with db.session() as session:
        session.execute(text("ANALYZE"))
    return time.perf_counter() - started


# --- Back-ends ----------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(backend: str, postgres_url: str) -> Iterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="devhub-bench-") as directory:
            yield f"sqlite:///{directory}/devhub.sqlite3"
        return
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"devhub_bench_search_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def time_queries(db: Database, queries: list[Query]) -> tuple[list[float], list[int]]:
    timings, totals = [], []
    page = PageRequest(page=1, size=25)
    for query in queries:
        started = time.perf_counter()
        with db.session() as session:
            results = search(session, query.text, kinds=query.kinds, tags=query.tags, page=page)
        timings.append((time.perf_counter() - started) * 1000)
        totals.append(results.total)
    return timings, totals


def time_baseline(db: Database, count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        with db.session() as session:
            session.execute(text("SELECT 1")).scalar()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def run(backend: str, args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    entities = generate_entities(args.entities, rng)
    queries = generate_queries(args.queries, entities, rng)
    with fresh_database(backend, args.postgres_url) as url:
        db = Database(url)
        try:
            db.upgrade()
            load_seconds = load(db, entities)
            time_queries(db, queries[:20])  # warm caches and the connection pool
            time_baseline(db, 20)
            timings, totals = time_queries(db, queries)
            baseline = time_baseline(db, args.queries)
        finally:
            db.dispose()
    slowest = max(range(len(queries)), key=timings.__getitem__)
    return {
        "backend": backend,
        "load_seconds": load_seconds,
        "count": len(timings),
        "p50": statistics.median(timings),
        "p95": percentile(timings, 0.95),
        "max": max(timings),
        "baseline": statistics.median(baseline),
        "hits": statistics.median(totals),
        "empty": sum(1 for total in totals if total == 0),
        "slowest": queries[slowest],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    rows = []
    for backend in backends:
        print(f"{backend}: {args.entities} entities, {args.queries} queries…", file=sys.stderr, flush=True)
        rows.append(run(backend, args))

    print(f"\n{args.entities} entities, {args.queries} queries (page size 25, facets included)\n")
    print("| back-end | load+index s | queries | median total hits | no hits | p50 ms | p95 ms | max ms "
          "| SELECT 1 ms | p95 / SELECT 1 |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(
            f"| {row['backend']} | {row['load_seconds']:.1f} | {row['count']} | {row['hits']:.0f} | {row['empty']} "
            f"| {row['p50']:.2f} | {row['p95']:.2f} | {row['max']:.2f} | {row['baseline']:.3f} "
            f"| {row['p95'] / row['baseline']:.0f}x |"
        )
    print()
    for row in rows:
        slowest = row["slowest"]
        print(
            f"slowest on {row['backend']}: {slowest.text!r} ({slowest.label}) kinds={slowest.kinds} tags={slowest.tags}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
