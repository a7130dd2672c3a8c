"""What access control costs: a catalog list of 100 items at 10,000 entities, per role, on SQLite and PostgreSQL.

    python bench/permissions.py [--entities 10000] [--runs 200] [--backend sqlite|postgresql|both]

A third of the entities are public, a third internal, a third private (each shared with one of 40 teams).
The baseline is the same list for an admin, whose visibility condition is `true`, run side by side; the
figure is the added p50 and p95 for an anonymous visitor, an external developer and a member of two teams.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from catalog import fresh_database, percentile, write_catalog  # noqa: E402
from devhub.catalog import service  # noqa: E402
from devhub.catalog.models import Entity, EntityAccess  # noqa: E402
from devhub.catalog.schemas import CatalogFilters  # noqa: E402
from devhub.db import Database  # noqa: E402
from devhub.identity.policy import ANONYMOUS, Principal  # noqa: E402
from devhub.pagination import PageRequest  # noqa: E402
from devhub.settings import Settings  # noqa: E402

VIEWERS = {
    "admin (baseline)": Principal(user_id=1, email="a", status="approved", is_admin=True),
    "anonymous": ANONYMOUS,
    "external developer": Principal(user_id=2, email="e", status="approved"),
    "member of 2 teams": Principal(
        user_id=3, email="m", status="approved", teams=frozenset({"group:default/team-3", "group:default/team-7"})
    ),
}
FILTERS = [
    CatalogFilters(),
    CatalogFilters(kind=["Component"]),
    CatalogFilters(tag=["java"]),
    CatalogFilters(sort="-updated"),
    CatalogFilters(kind=["API"], lifecycle=["production"]),
]


def spread_visibility(database: Database) -> None:
    rng = random.Random(3)
    with database.session() as session:
        ids = list(session.scalars(select(Entity.id)))
        levels = {entity_id: rng.choice(["public", "internal", "private"]) for entity_id in ids}
        for level in ("public", "internal", "private"):
            chosen = [i for i, v in levels.items() if v == level]
            for start in range(0, len(chosen), 500):
                session.execute(
                    update(Entity).where(Entity.id.in_(chosen[start : start + 500])).values(visibility=level)
                )
        access = [
            {"entity_id": i, "team_ref": f"group:default/team-{rng.randrange(40)}"}
            for i, v in levels.items()
            if v == "private"
        ]
        session.execute(insert(EntityAccess), access)


def measure(database: Database, viewer: Principal, runs: int, cold: bool) -> list[float]:
    """Times of one catalog page; `cold` empties the count cache first, as a catalog change would."""
    times = []
    with database.session() as session:
        for run in range(runs + 10):
            filters = FILTERS[run % len(FILTERS)]
            if cold:
                service._catalog_cache.clear()
            started = time.perf_counter()
            service.list_entities(session, filters, PageRequest(1, 100), viewer)
            if run >= 10:  # warm-up
                times.append((time.perf_counter() - started) * 1000)
    return times


def bench(backend: str, root: Path, runs: int, cold: bool) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(backend, Path(tmp))
        try:
            database = Database(url)
            database.upgrade()
            settings = Settings(data_dir=Path(tmp), database_url=url, catalog_refresh_seconds=0, secret_key="x")
            with database.session() as session:
                service.register_location(session, settings, str(root), "file", trusted=True)
            spread_visibility(database)
            # Interleave the viewers round by round so load drifts hit them all alike.
            results: dict[str, list[float]] = {name: [] for name in VIEWERS}
            for _ in range(5):
                for name, viewer in VIEWERS.items():
                    results[name] += measure(database, viewer, runs // 5, cold)
            database.dispose()
        finally:
            drop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entities", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    with tempfile.TemporaryDirectory() as tmp:
        root = write_catalog(Path(tmp), args.entities)
        for cold in (False, True):
            rows = {backend: bench(backend, root, args.runs, cold) for backend in backends}
            report(rows, args, cold)


def report(rows: dict[str, dict[str, list[float]]], args: argparse.Namespace, cold: bool) -> None:
    state = "counts recomputed on every list (just after a catalog change)" if cold else "counts cached"
    print(f"\nCatalog list of 100 items at {args.entities:,} entities, {args.runs} lists per viewer, {state}\n")
    print("| back-end | viewer | p50 | p95 | added p50 vs admin | added p95 vs admin |")
    print("|---|---|---:|---:|---:|---:|")
    for backend, results in rows.items():
        base = results["admin (baseline)"]
        base50, base95 = statistics.median(base), percentile(base, 0.95)
        for name, times in results.items():
            p50, p95 = statistics.median(times), percentile(times, 0.95)
            print(
                f"| {backend} | {name} | {p50:.2f} ms | {p95:.2f} ms | {p50 - base50:+.2f} ms | {p95 - base95:+.2f} ms |"
            )


if __name__ == "__main__":
    main()
