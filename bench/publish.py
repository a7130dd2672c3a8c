"""Publishing benchmark: the 1.9 MB Twilio API v2010 definition, on SQLite and PostgreSQL.

    python bench/publish.py [--runs 3] [--backend sqlite|postgresql|both] [--spec PATH]

Each publish runs in a fresh child process (spawned, so its peak RSS is its own): read the file, bundle,
validate (openapi-spec-validator), extract operations, store the version and its operations, index them
for search, commit. Its CPU time is reported beside the wall time (the fairer figure on a busy machine;
PostgreSQL's own work is not in it). The baseline is `json.loads` of the same file in the same kind of child process,
after the same imports. Targets: under 5 s and under 400 MB peak. The machine is shared and noisy: the
median of the runs is reported, with the load average.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DEFAULT_SPEC = ROOT / "tests" / "specs" / "corpus" / "twilio" / "twilio_api_v2010.json"
CATALOG = """apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: twilio-api}
spec: {type: other, lifecycle: production, owner: bench, definition: published with devhub publish}
"""


def _imports() -> None:
    """What a publish imports, so the baseline carries the same weight."""
    import importlib

    for module in ("devhub.specs.service", "devhub.specs.validate", "devhub.db"):
        importlib.import_module(module)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _baseline(spec: str, out) -> None:
    _imports()
    import json

    before = _peak_mb()
    started = time.perf_counter()
    json.loads(Path(spec).read_text())
    out.send({"seconds": time.perf_counter() - started, "peak_mb": _peak_mb(), "imports_mb": before})


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _publish(url: str, data_dir: str, spec: str, version: str, out) -> None:
    _imports()
    from devhub.db import Database
    from devhub.settings import Settings
    from devhub.specs import service

    settings = Settings(data_dir=Path(data_dir), database_url=url, catalog_refresh_seconds=0, secret_key="x")
    database = Database(url)
    checking = []
    original_check = service.check

    def timed_check(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original_check(*args, **kwargs)
        finally:
            checking.append(time.perf_counter() - started)

    service.check = timed_check
    before = _peak_mb()
    cpu = _cpu()
    started = time.perf_counter()
    text = Path(spec).read_text()
    with database.session() as session:
        result = service.publish(
            session,
            api_ref="twilio-api",
            version=version,
            main_path=Path(spec).name,
            files={Path(spec).name: text},
            source_kind="cli",
            source_name=spec,
            publisher="bench",
            settings=settings,
        )
        operations = result.version.operation_count
    seconds = time.perf_counter() - started
    cpu = _cpu() - cpu
    database.dispose()
    out.send(
        {
            "seconds": seconds,
            "cpu_seconds": cpu,
            "check_seconds": sum(checking),
            "peak_mb": _peak_mb(),
            "imports_mb": before,
            "operations": operations,
            "status": result.status,
        }
    )


def _child(target, *args) -> dict:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    process = context.Process(target=target, args=(*args, send))
    process.start()
    result = receive.recv()
    process.join()
    if process.exitcode:
        raise SystemExit(f"child failed with exit code {process.exitcode}")
    return result


def fresh_database(backend: str, folder: Path):
    if backend == "sqlite":
        return f"sqlite:///{folder / 'bench.sqlite3'}", lambda: None
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"devhub_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def bench_backend(backend: str, spec: Path, runs: int) -> list[dict]:
    from devhub.catalog import service as catalog_service
    from devhub.db import Database
    from devhub.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        url, drop = fresh_database(backend, Path(tmp))
        try:
            database = Database(url)
            database.upgrade()
            settings = Settings(data_dir=Path(tmp), database_url=url, catalog_refresh_seconds=0, secret_key="x")
            (Path(tmp) / "catalog-info.yaml").write_text(CATALOG)
            with database.session() as session:
                catalog_service.register_location(
                    session, settings, str(Path(tmp) / "catalog-info.yaml"), "file", trusted=True
                )
            database.dispose()
            return [_child(_publish, url, tmp, str(spec), f"1.0.{run}") for run in range(runs)]
        finally:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--spec", type=Path, default=DEFAULT_SPEC)
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    load_before = os.getloadavg()[0]
    baseline = [_child(_baseline, str(args.spec)) for _ in range(args.runs)]
    rows = {backend: bench_backend(backend, args.spec, args.runs) for backend in backends}
    base_s = statistics.median(r["seconds"] for r in baseline)
    size = args.spec.stat().st_size
    print(
        f"\nPublishing {args.spec.name} ({size / 1e6:.1f} MB), median of {args.runs} runs, each in a fresh process; "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print(
        "| back-end | publish (target < 5 s) | its CPU time | of which validation | vs. json.loads | peak RSS "
        "(target < 400 MB) | RSS after imports | operations |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for backend, results in rows.items():
        seconds = statistics.median(r["seconds"] for r in results)
        cpu = statistics.median(r["cpu_seconds"] for r in results)
        check = statistics.median(r["check_seconds"] for r in results)
        peak = max(r["peak_mb"] for r in results)
        imports = statistics.median(r["imports_mb"] for r in results)
        print(
            f"| {backend} | {seconds:.2f} s | {cpu:.2f} s | {check:.2f} s | {seconds / base_s:.0f}x | {peak:.0f} MB | "
            f"{imports:.0f} MB | {results[0]['operations']} |"
        )
    print(
        f"| json.loads (baseline) | {base_s:.3f} s | | | 1x | {max(r['peak_mb'] for r in baseline):.0f} MB | "
        f"{statistics.median(r['imports_mb'] for r in baseline):.0f} MB | |"
    )


if __name__ == "__main__":
    main()
