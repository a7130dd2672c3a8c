"""Usage analytics at scale on PostgreSQL: load metered calls, roll them up, time the dashboards.

    python bench/analytics.py [--calls 10000000] [--apis 20] [--apps 400] [--runs 40] [--ingest 300000]

1. Loads `--calls` gateway_calls rows spread evenly over the last 30 days, in time order as the gateway
   writes them, with INSERT … SELECT over generate_series (server side: the fastest way to get 10 M realistic rows; the gateway itself writes with
   COPY). Each application calls two of the APIs, eight operations each, two versions, mostly 200 with some
   404, 429 and 503, latencies drawn from an exponential distribution (mean 40 ms).
2. Rolls the whole backlog up (`rollup.run_until_caught_up`): calls/s and the Python process's CPU time.
3. Ingest: `--ingest` more calls stamped within the last minute (what a live gateway writes), rolled up
   in passes as the background loop does; calls/s per core of the roll-up process (CPU time) against the
   target of 10,000 calls/s.
4. The 30-day dashboard of one API for its owners, `GET /api/v1/usage/apis/{ns}/{name}?period=30d`, through
   the ASGI app `--runs` times over the APIs (p50/p95, target p95 < 200 ms); and the SLO window (`api_window`,
   30 days) the same way. Baseline, side by side: the same API's
   30-day totals and p95 computed straight from gateway_calls (`percentile_cont` over the raw rows), what
   the dashboard would cost without roll-ups.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from catalog import fresh_database, percentile  # noqa: E402
from devhub.db import Database, utcnow  # noqa: E402
from devhub.settings import Settings  # noqa: E402

LOAD_SQL = """
INSERT INTO gateway_calls (at, app_id, app_uid, subscription_id, credential, product_id, api_ref, version,
    operation, method, path, status, latency_ms, bytes_in, bytes_out, environment, request_id)
SELECT
    {at},
    a, 'app_' || a, a, 'k' || lpad(a::text, 11, '0'), 1 + a % :apis,
    'api:default/api-' || (1 + (a * 7 + (g / 7 % 2) * 13) % :apis),
    CASE WHEN g % 3 = 0 THEN '1.0.0' ELSE '2.0.0' END,
    'op' || (g * 31 % 8), 'GET', '/x/' || (g % 100),
    CASE WHEN g % 100 = 0 THEN 503 WHEN g % 50 = 0 THEN 404 WHEN g % 97 = 0 THEN 429 ELSE 200 END,
    -ln(1 - random()) * 40, 100, 1000,
    CASE WHEN g % 10 = 0 THEN 'sandbox' ELSE 'production' END,
    md5(g::text)
FROM (SELECT g, 1 + (g * 2654435761) % :apps AS a FROM generate_series(:first, :last) AS g) AS s
"""


# In id order, as the gateway writes them: call g of N at (N - g)/N of 30 days ago, give or take a second.
SPREAD_AT = "CAST(:until AS timestamptz) - ((:total - g + random()) / :total) * interval '30 days'"
LIVE_AT = "CAST(:until AS timestamptz) - random() * interval '50 seconds'"


def load(database: Database, first: int, last: int, apis: int, apps: int, until, spread: bool = True) -> float:
    """Insert calls numbered first..last in chunks of a million; returns seconds."""
    started = time.perf_counter()
    at = SPREAD_AT if spread else LIVE_AT
    for start in range(first, last + 1, 1_000_000):
        end = min(last, start + 999_999)
        with database.engine.begin() as connection:
            connection.execute(
                text(LOAD_SQL.format(at=at)),
                {"until": until, "apis": apis, "apps": apps, "first": start, "last": end, "total": last},
            )
        print(f"  loaded {end - first + 1:,} calls ({time.perf_counter() - started:.0f} s)", flush=True)
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE gateway_calls"))
    return time.perf_counter() - started


def roll(database: Database, settings: Settings) -> tuple[int, float, float]:
    from devhub.analytics import rollup

    wall, cpu = time.perf_counter(), time.process_time()
    done = rollup.run_until_caught_up(database, settings, max_passes=100_000)
    with database.engine.begin() as connection:
        connection.execute(text("ANALYZE usage_buckets; ANALYZE usage_series"))
    return done, time.perf_counter() - wall, time.process_time() - cpu


def setup_portal(database: Database, settings: Settings, apis: int, folder: Path) -> dict[str, str]:
    """API entities in the catalog and an admin's bearer token, for the REST route."""
    import yaml

    from devhub.audit.service import SYSTEM
    from devhub.catalog import service as catalog
    from devhub.identity import service as identity

    documents = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "API",
            "metadata": {"name": f"api-{i}"},
            "spec": {"type": "openapi", "lifecycle": "production", "owner": "team-a", "definition": "x"},
        }
        for i in range(1, apis + 1)
    ]
    path = folder / "apis.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    from sqlalchemy import select

    from devhub.catalog.models import Entity

    with database.session() as session:
        if session.scalar(select(Entity.id).where(Entity.name == "api-1")) is None:  # a reused database has them
            catalog.register_location(session, settings, str(path), "file", trusted=True)
        email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
        user = identity.create_user(session, settings, email=email, password="x" * 12, status="approved")
        user.is_admin = True
        session.flush()
        issued = identity.create_token(session, settings, user, "bench", ["read", "write", "admin"], 30, SYSTEM)
    return {"Authorization": f"Bearer {issued.secret}"}


def timed(call, runs: int) -> list[float]:
    call(0)  # warm
    times = []
    for run in range(runs):
        started = time.perf_counter()
        call(run)
        times.append((time.perf_counter() - started) * 1000)
    return times


def raw_baseline(database: Database, api: str, since) -> None:
    """The 30-day totals and p95 of one API straight from the call records."""
    with database.engine.connect() as connection:
        connection.execute(
            text(
                "SELECT count(*), count(*) FILTER (WHERE status >= 500), "
                "percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) "
                "FROM gateway_calls WHERE api_ref = :api AND at >= :since"
            ),
            {"api": api, "since": since},
        ).one()
        connection.execute(
            text(
                "SELECT app_id, operation, count(*) FROM gateway_calls WHERE api_ref = :api AND at >= :since "
                "GROUP BY app_id, operation"
            ),
            {"api": api, "since": since},
        ).all()


def summary(name: str, times: list[float]) -> str:
    return f"{name:<44} p50 {statistics.median(times):8.1f} ms   p95 {percentile(times, 0.95):8.1f} ms"


def time_dashboards(database: Database, settings: Settings, args, folder: Path) -> None:
    """Dashboards and SLO windows of the APIs that have calls, through the ASGI app, against the raw query."""
    from fastapi.testclient import TestClient

    from devhub.analytics.service import api_window
    from devhub.app import create_app

    with database.engine.connect() as connection:
        names = (
            connection.execute(text("SELECT DISTINCT api_ref FROM usage_series WHERE scope = 1 ORDER BY api_ref"))
            .scalars()
            .all()
        )
    names = [ref.split("/", 1)[1] for ref in names]
    print(f"APIs with calls: {len(names)}")
    headers = setup_portal(database, settings, args.apis, folder)
    client = TestClient(create_app(settings, run_background_tasks=False))

    def api_page(run: int) -> None:
        name = names[run % len(names)]
        response = client.get(f"/api/v1/usage/apis/default/{name}?period=30d", headers=headers)
        assert response.status_code == 200, response.text

    def slo_window(run: int) -> None:
        with database.session() as session:
            api_window(session, f"api:default/{names[run % len(names)]}", utcnow() - timedelta(days=30), utcnow())

    def html_page(run: int) -> None:
        name = names[run % len(names)]
        assert client.get(f"/usage/apis/default/{name}?period=30d", headers=headers).status_code == 200

    def health(run: int) -> None:
        client.get("/api/v1/health")

    results = {
        "API dashboard 30 d (JSON)": timed(api_page, args.runs),
        "API dashboard 30 d (HTML page)": timed(html_page, max(5, args.runs // 4)),
        "SLO window 30 d (api_window)": timed(slo_window, args.runs),
        "health (ASGI baseline)": timed(health, args.runs),
    }
    since = utcnow() - timedelta(days=30)
    results["baseline: raw gateway_calls, one API 30 d"] = timed(
        lambda run: raw_baseline(database, f"api:default/{names[run % len(names)]}", since), args.baseline_runs
    )
    for name, times in results.items():
        print(summary(name, times))
    ratio = statistics.median(results["baseline: raw gateway_calls, one API 30 d"]) / statistics.median(
        results["API dashboard 30 d (JSON)"]
    )
    print(f"raw query / roll-up dashboard (p50): {ratio:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--apis", type=int, default=20)
    parser.add_argument("--apps", type=int, default=400)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--ingest", type=int, default=300_000)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="Keep the database (its URL is printed).")
    parser.add_argument("--reuse", help="Time the dashboards of a kept database (its URL) without loading.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = (args.reuse, lambda: None) if args.reuse else fresh_database("postgresql", Path(tmp))
        try:
            database = Database(url)
            database.upgrade()
            settings = Settings(
                data_dir=Path(tmp) / "data", database_url=url, secret_key="bench", catalog_refresh_seconds=0
            )
            if args.reuse:
                time_dashboards(database, settings, args, Path(tmp))
                return
            now = utcnow()
            print(f"loading {args.calls:,} calls over 30 days ({args.apis} APIs, {args.apps} applications)")
            seconds = load(database, 1, args.calls, args.apis, args.apps, now)
            print(f"load: {seconds:.0f} s ({args.calls / seconds:,.0f} rows/s, INSERT … SELECT generate_series)")

            done, wall, cpu = roll(database, settings)
            print(f"roll-up of the 30-day backlog: {done:,} calls in {wall:.0f} s = {done / wall:,.0f} calls/s "
                  f"(roll-up process CPU {cpu:.0f} s = {done / cpu:,.0f} calls per CPU-second)")  # fmt: skip

            first = args.calls + 1
            load(database, first, first + args.ingest - 1, args.apis, args.apps, utcnow(), spread=False)
            done, wall, cpu = roll(database, settings)
            print(f"roll-up of live ingest: {done:,} calls in {wall:.1f} s = {done / wall:,.0f} calls/s; "
                  f"CPU {cpu:.1f} s = {done / cpu:,.0f} calls per CPU-second "
                  f"({done / cpu / 10_000:.1f}x the 10,000 calls/s target)")  # fmt: skip

            with database.engine.begin() as connection:
                counts = connection.execute(
                    text("SELECT scope, count(*) FROM usage_series GROUP BY scope ORDER BY scope")
                ).all()
                buckets = connection.execute(
                    text("SELECT resolution, count(*) FROM usage_buckets GROUP BY resolution ORDER BY resolution")
                ).all()
            print(f"series (caller, API): {[n for _, n in counts]}; buckets by resolution: {dict(buckets)}")

            time_dashboards(database, settings, args, Path(tmp))
            database.dispose()
        finally:
            if args.keep:
                print(f"kept: {url}")
            else:
                drop()


if __name__ == "__main__":
    main()
