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


DESCRIPTIONS = [
    "{Subject} {verb} {object} for the {team} team.",
    "Owns {object} and {other}; called by {caller} on every request.",
    "{Subject}: the source of truth for {object}.",
    "Batch jobs that {verb_base} {object} nightly and feed {other}.",
    "Thin {suffix} in front of {caller}, with retries and rate limits.",
    "Keeps {object} in sync with {other}. Pages {team} when it lags.",
    "Legacy {object} {suffix}; being replaced by {caller}.",
    "",
]
VERB_BASES = ["handle", "store", "serve", "compute", "route", "validate", "publish", "export"]


def generate_entities(count: int, rng: random.Random) -> list[dict]:
    names: set[str] = set()
    rows = []
    now = utcnow()
    while len(rows) < count:
        first, second = rng.sample(WORDS, 2)
        suffix = rng.choice(SUFFIXES)
        name = f"{first}-{suffix}" if rng.random() < 0.3 else f"{first}-{second}-{suffix}"
        if name in names:
            name = f"{name}-{len(rows)}"
        names.add(name)
        kind = rng.choice(KINDS)
        team = rng.choice(TEAMS)
        tags = rng.sample(TAGS, rng.randint(0, 4))
        title = " ".join(part.capitalize() for part in name.split("-")) if rng.random() < 0.5 else None
        description = rng.choice(DESCRIPTIONS).format(
            Subject=name.replace("-", " ").capitalize(),
            verb=rng.choice(VERBS),
            verb_base=rng.choice(VERB_BASES),
            object=f"{first} {rng.choice(WORDS)}",
            other=rng.choice(WORDS),
            caller=f"{rng.choice(WORDS)}-{rng.choice(SUFFIXES)}",
            team=team,
            suffix=suffix,
        )
        # Annotations as real catalogs have them: the same few keys on most entities.
        annotations = {}
        if rng.random() < 0.9:
            annotations["github.com/project-slug"] = f"acme/{name}"
        if rng.random() < 0.6:
            annotations["backstage.io/techdocs-ref"] = "dir:."
        if rng.random() < 0.3:
            annotations["pagerduty.com/service-id"] = f"P{rng.randint(100000, 999999)}"
        metadata = {
            "name": name,
            "tags": tags,
            "annotations": annotations,
            "labels": {"tier": str(rng.randint(1, 3))} if rng.random() < 0.5 else {},
        }
        rows.append(
            {
                "ref": f"{kind.lower()}:default/{name}",
                "kind": kind,
                "namespace": "default",
                "name": name,
                "api_version": "backstage.io/v1alpha1",
                "title": title,
                "sort_key": (title or name).lower(),
                "description": description or None,
                "lifecycle": rng.choice(["production", "experimental", "deprecated"]),
                "owner_ref": f"group:default/team-{team}",
                "body": {"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": metadata},
                "content_hash": "x",
                "created_at": now,
                "updated_at": now,
            }
        )
    return rows


MISSES = ["zzqx", "nonexistent-thing", "qwv", "kubernetes-operator", "xylophone", "payments-ledger-zzz"]
# Queries that match (nearly) the whole catalog: one letter, or a fragment of an annotation key that
# most entities carry. Not part of the mix; timed apart to show the worst case.
CATALOG_WIDE = ["a", "e", "s", "git", "github", "acme", "com", "slug", "proj"]


def generate_queries(count: int, entities: list[dict], rng: random.Random) -> list[Query]:
    words = WORDS + [suffix for suffix in SUFFIXES if len(suffix) >= 3]

    def prefix() -> str:
        return rng.choice(words)[: rng.randint(3, 5)]

    def middle() -> str:
        value = rng.choice([w for w in words if len(w) >= 5])
        size = rng.randint(3, min(4, len(value) - 2))
        start = rng.randint(1, len(value) - size - 1)
        return value[start : start + size]

    def two_terms() -> str:
        entity = rng.choice(entities)["name"].split("-")
        return " ".join(part[: rng.randint(3, 6)] for part in rng.sample(entity, min(2, len(entity))))

    makers = [
        ("full name", 25, lambda: rng.choice(entities)["name"]),
        ("prefix", 25, prefix),
        ("middle", 20, middle),
        ("two terms", 20, two_terms),
        ("miss", 10, lambda: rng.choice(MISSES)),
    ]
    population = [(label, make) for label, weight, make in makers for _ in range(weight)]
    queries = []
    for _ in range(count):
        label, make = rng.choice(population)
        queries.append(with_filters(Query(make(), label=label), rng))
    return queries


def with_filters(query: Query, rng: random.Random) -> Query:
    roll = rng.random()
    if roll < 0.2:
        query.kinds = [rng.choice(KIND_FILTERS)]
    elif roll < 0.35:
        query.tags = [rng.choice(TAGS)]
    elif roll < 0.4:
        query.kinds, query.tags = [rng.choice(KIND_FILTERS)], [rng.choice(TAGS)]
    return query


def load(db: Database, rows: list[dict], analyze: bool = True) -> float:
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
    if analyze:  # what autovacuum would soon do; --no-analyze shows the moment right after an import
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


@dataclass
class Timing:
    query: Query
    ms: float
    total: int
    baseline_ms: float


def time_queries(db: Database, queries: list[Query]) -> list[Timing]:
    """Each query end to end (session, search, commit), each followed by a `SELECT 1` timed the
    same way, so that load on the machine weighs on both alike."""
    page = PageRequest(page=1, size=25)
    timings = []
    for query in queries:
        started = time.perf_counter()
        with db.session() as session:
            results = search(session, query.text, kinds=query.kinds, tags=query.tags, page=page)
        elapsed = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        with db.session() as session:
            session.execute(text("SELECT 1")).scalar()
        timings.append(Timing(query, elapsed, results.total, (time.perf_counter() - started) * 1000))
    return timings


def summary(timings: list[Timing]) -> dict:
    values = [t.ms for t in timings]
    return {
        "count": len(values),
        "p50": statistics.median(values),
        "p95": percentile(values, 0.95),
        "max": max(values),
        "hits": statistics.median(t.total for t in timings),
        "empty": sum(1 for t in timings if t.total == 0),
        "baseline": statistics.median(t.baseline_ms for t in timings),
    }


def run(backend: str, args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    entities = generate_entities(args.entities, rng)
    queries = generate_queries(args.queries, entities, rng)
    wide = [with_filters(Query(text, label="catalog-wide"), rng) for text in CATALOG_WIDE]
    with fresh_database(backend, args.postgres_url) as url:
        db = Database(url)
        try:
            db.upgrade()
            load_seconds = load(db, entities, analyze=not args.no_analyze)
            time_queries(db, queries[:20])  # warm caches and the connection pool
            timings = time_queries(db, queries)
            wide_timings = time_queries(db, wide)
        finally:
            db.dispose()
    labels = sorted({t.query.label for t in timings})
    return {
        "backend": backend,
        "load_seconds": load_seconds,
        "all": summary(timings),
        "labels": {label: summary([t for t in timings if t.query.label == label]) for label in labels},
        "wide": summary(wide_timings),
        "slowest": sorted(timings, key=lambda t: -t.ms)[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--no-analyze", action="store_true", help="Skip ANALYZE after loading.")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]

    load_before = os.getloadavg()[0]
    results = []
    for backend in backends:
        print(f"{backend}: {args.entities} entities, {args.queries} queries…", file=sys.stderr, flush=True)
        results.append(run(backend, args))

    print(
        f"\n{args.entities} entities, {args.queries} mixed queries, page size 25, facets included; "
        f"{os.cpu_count()} CPUs, load average {load_before:.2f} before and {os.getloadavg()[0]:.2f} after\n"
    )
    print("| back-end | queries | p50 ms | p95 ms | max ms | SELECT 1 ms | p95 / SELECT 1 | median hits | no hits "
          "| load+index s |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        row = result["all"]
        print(
            f"| {result['backend']} | {row['count']} | {row['p50']:.2f} | {row['p95']:.2f} | {row['max']:.2f} "
            f"| {row['baseline']:.3f} | {row['p95'] / row['baseline']:.0f}x | {row['hits']:.0f} | {row['empty']} "
            f"| {result['load_seconds']:.1f} |"
        )
    print("\nBy kind of query (and, apart from the mix, queries matching most of the catalog):\n")
    print("| back-end | query kind | queries | median hits | p50 ms | p95 ms | max ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for result in results:
        for label, row in [*result["labels"].items(), ("catalog-wide (not in the mix)", result["wide"])]:
            print(
                f"| {result['backend']} | {label} | {row['count']} | {row['hits']:.0f} | {row['p50']:.2f} "
                f"| {row['p95']:.2f} | {row['max']:.2f} |"
            )
    print()
    for result in results:
        slowest = ", ".join(
            f"{t.query.text!r}{' kind=' + t.query.kinds[0] if t.query.kinds else ''}"
            f"{' tag=' + t.query.tags[0] if t.query.tags else ''} ({t.total} hits, {t.ms:.1f} ms)"
            for t in result["slowest"]
        )
        print(f"slowest on {result['backend']}: {slowest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
