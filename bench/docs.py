"""Reference docs benchmark: the overview and one operation page of Twilio's 1.9 MB API definition.

    python bench/docs.py [--requests 50] [--operation list-call] [--spec PATH]

Publishes `twilio_api_v2010.json` on a fresh SQLite database (through the specs service when it offers
`publish`, else by writing the version and its operations like the tests do), then requests through the
ASGI app (TestClient): the overview and one operation page cold (first request: the document is loaded,
indexed and rendered), then N cached requests of each, with the health endpoint in the same run as the
baseline. Prints a markdown table. Targets: overview p95 < 300 ms and operation p95 < 100 ms once cached.
The machine is shared and noisy: read the ratios to health, not only the absolute numbers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from fastapi.testclient import TestClient  # noqa: E402

from devhub.db import Database  # noqa: E402
from devhub.settings import Settings  # noqa: E402

SPEC = ROOT / "tests" / "docs" / "corpus" / "twilio" / "twilio_api_v2010.json"
API_REF = "api:default/twilio-api"
HTML = {"accept": "text/html"}


def publish(db: Database, settings: Settings, path: Path, workdir: Path) -> str:
    """Publish the definition the way the portal does: an API entity whose definition the catalog import
    publishes. Falls back to writing the version's rows (as the tests do) when that publishes nothing.
    Returns how it was published."""
    from sqlalchemy import select

    from devhub.specs.models import SpecOperation, SpecVersion

    folder = workdir / "catalog"
    folder.mkdir()
    (folder / path.name).write_bytes(path.read_bytes())
    (folder / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: API\n"
        "metadata:\n  name: twilio-api\n  annotations:\n    devhub.io/visibility: public\n"
        "spec:\n  type: openapi\n  lifecycle: production\n  owner: bench\n"
        f"  definition:\n    $text: ./{path.name}\n",
        encoding="utf-8",
    )
    with db.session() as session:
        from devhub.catalog.service import register_location

        register_location(session, settings, str(folder / "catalog-info.yaml"), "file", trusted=True)
        session.commit()
        if session.scalar(select(SpecVersion.id).where(SpecVersion.api_ref == API_REF)) is not None:
            return "the catalog import (specs service)"
        text = path.read_text(encoding="utf-8")
        doc = json.loads(text)
        from devhub.specs.extract import operations
        from devhub.specs.validate import detect

        ops = operations(doc, detect(doc))
        row = SpecVersion(
            api_ref=API_REF,
            version=str(doc["info"]["version"]),
            lifecycle="stable",
            format="openapi",
            format_version=str(doc.get("openapi")),
            title=doc["info"]["title"],
            description=doc["info"].get("description"),
            content_hash=hashlib.sha256(text.encode()).hexdigest(),
            source_kind="cli",
            source_name=path.name,
            original_text=text,
            bundled=doc,
            operation_count=len(ops),
            publisher="bench",
        )
        row.operations = [
            SpecOperation(
                anchor=op.anchor,
                method=op.method,
                path=op.path,
                operation_id=op.operation_id,
                summary=op.summary,
                tags=op.tags,
                deprecated=op.deprecated,
            )
            for op in ops
        ]
        session.add(row)
        session.commit()
    return "rows written directly"


def timed(client: TestClient, url: str, headers: dict | None = None) -> float:
    start = time.perf_counter()
    response = client.get(url, headers=headers or {})
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return elapsed


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--operation", default="list-call")
    parser.add_argument("--spec", type=Path, default=SPEC)
    args = parser.parse_args()

    from devhub.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            catalog_refresh_seconds=0,
            secret_key="bench",
        )
        database = Database(settings.resolved_database_url)
        database.upgrade()
        started = time.perf_counter()
        how = publish(database, settings, args.spec, Path(tmp))
        publish_ms = (time.perf_counter() - started) * 1000
        database.dispose()

        base = "/apis/default/twilio-api/v/1.0.0"
        pages = [("overview", base), ("operation", f"{base}/operations/{args.operation}")]
        rows = []
        with TestClient(create_app(settings, run_background_tasks=False)) as client:
            timed(client, "/api/v1/health")
            cold = {name: timed(client, url, HTML) for name, url in pages}
            samples: dict[str, list[float]] = {name: [] for name, _ in pages}
            samples["health"] = []
            for _ in range(args.requests):
                for name, url in pages:
                    samples[name].append(timed(client, url, HTML))
                samples["health"].append(timed(client, "/api/v1/health"))
            size = {name: len(client.get(url, headers=HTML).content) for name, url in pages}
        health_p95 = percentile(samples["health"], 95)
        for name, _ in pages:
            values = samples[name]
            rows.append(
                (
                    name,
                    f"{cold[name]:.0f} ms",
                    f"{statistics.median(values):.1f} ms",
                    f"{percentile(values, 95):.1f} ms",
                    f"{percentile(values, 95) / health_p95:.1f}x",
                    f"{size[name] / 1024:.0f} KiB",
                )
            )
        rows.append(
            (
                "health (baseline)",
                "",
                f"{statistics.median(samples['health']):.1f} ms",
                f"{health_p95:.1f} ms",
                "1.0x",
                "",
            )
        )

    print(f"`{args.spec.name}` ({args.spec.stat().st_size / 1e6:.1f} MB), published via {how} in {publish_ms:.0f} ms; ")
    print(f"{args.requests} cached requests per page on SQLite (targets: overview < 300 ms, operation < 100 ms)\n")
    print("| page | cold | cached p50 | cached p95 | p95 / health p95 | HTML size |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
