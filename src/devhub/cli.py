"""The `devhub` command: run the portal, migrate the database, manage the catalog, search.

The CLI works on the database named by the settings (it is the operator's tool on the portal's host),
so `devhub catalog import` may read any local path, unlike the web API.
"""

from __future__ import annotations

import json
import os
import signal
from typing import Annotated

import typer

from devhub.db import Database
from devhub.identity.policy import OPERATOR
from devhub.settings import Settings, get_settings

app = typer.Typer(help="devhub: a developer portal in one pip install.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
catalog_app = typer.Typer(help="The software catalog: import, refresh, list.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(catalog_app, name="catalog")

Host = Annotated[str | None, typer.Option(help="Interface to listen on (default DEVHUB_HOST or 127.0.0.1).")]
Port = Annotated[int | None, typer.Option(help="Port to listen on (default DEVHUB_PORT or 8000).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]
NoGateway = Annotated[bool, typer.Option("--no-gateway", help="Do not start the gateway (DEVHUB_GATEWAY_PORT).")]


def _database(settings: Settings) -> Database:
    database = Database(settings.resolved_database_url)
    database.upgrade()
    return database


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _serve(settings: Settings, host: str | None, port: int | None, gateway: bool = True) -> None:
    import uvicorn

    from devhub.app import create_app
    from devhub.system.selfcatalog import register_self

    host, port = host or settings.host, port or settings.port
    app = create_app(settings)
    with app.state.db.session() as session:
        register_self(session, settings, app)
    typer.echo(f"devhub is serving {settings.resolved_database_url.split('://')[0]} data on http://{host}:{port}")
    child = None
    if gateway:
        from devhub.gateway.cli import start_child, stop_child

        child = start_child(settings)
        # uvicorn shuts down gracefully on SIGTERM and then re-raises it; with the default handler that
        # would end this process before `finally`, leaving the gateway running and holding its port.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        uvicorn.run(app, host=host, port=port, log_level="info")
    finally:
        if child is not None:
            stop_child(child)


@app.command()
def serve(host: Host = None, port: Port = None, no_gateway: NoGateway = False) -> None:
    """Run the portal and its gateway: apply migrations, then serve."""
    settings = get_settings()
    _database(settings).dispose()
    _serve(settings, host, port, gateway=not no_gateway)


@app.command()
def demo(host: Host = None, port: Port = None, no_gateway: NoGateway = False) -> None:
    """Run the portal with a demo organisation on its own SQLite database (re-seeded on each start)."""
    from devhub.demo.seed import seed, seed_accounts, seed_products

    settings = get_settings()
    changes: dict = {}
    if not settings.database_url:
        changes["database_url"] = f"sqlite:///{settings.data_dir / 'demo.sqlite3'}"
    if "DEVHUB_DEFAULT_VISIBILITY" not in os.environ:
        changes["default_visibility"] = "public"  # so a visitor sees the demo without an account
    settings = settings.model_copy(update=changes)
    database = _database(settings)
    with database.session() as session:
        report = seed(session, settings)
        seed_products(session)
        accounts = seed_accounts(session, settings)
    database.dispose()
    typer.echo(f"demo catalog: {report.added} added, {report.updated} updated, {report.unchanged} unchanged")
    typer.echo(f"demo accounts (admin@example.com, dev@example.com): passwords in {accounts.credentials_file}")
    _serve(settings, host, port, gateway=not no_gateway)


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    settings = get_settings()
    database = Database(settings.resolved_database_url)
    database.upgrade(revision)
    database.dispose()
    typer.echo(f"database at {revision}")


@catalog_app.command("import")
def catalog_import(
    target: Annotated[str, typer.Argument(help="A path, an http(s) URL, or git+URL//path?ref=branch.")],
    type: Annotated[str | None, typer.Option(help="file, url or git; guessed when omitted.")] = None,
    as_json: AsJson = False,
) -> None:
    """Register a location and import its entities (following Location entities)."""
    from devhub.catalog import service
    from devhub.problems import Problem

    settings = get_settings()
    database = _database(settings)
    try:
        with database.session() as session:
            location, report = service.register_location(session, settings, target, type, trusted=True)
            errors = service.location_errors(session, location.id)
    except Problem as exc:
        typer.echo(f"error: {exc.detail or exc.title}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    _print_report(location.id, report, errors, as_json)
    if errors:
        raise typer.Exit(2)


def _print_report(location_id, report, errors, as_json: bool) -> None:
    if as_json:
        payload = {
            "location": location_id,
            **report.__dict__,
            "problems": [{"source": e.source, "line": e.line, "rule": e.rule, "message": e.message} for e in errors],
        }
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(
        f"location {location_id}: {report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {report.errors} errors"
    )
    if report.failed:
        typer.echo(f"error: {report.failed}", err=True)
    for error in errors:
        where = f"{error.source}:{error.line}" if error.line else error.source
        typer.echo(f"  {where}: [{error.rule}] {error.message}", err=True)


@catalog_app.command("refresh")
def catalog_refresh(
    location_id: Annotated[int | None, typer.Argument(help="The location to refresh; all when omitted.")] = None,
) -> None:
    """Read locations again now."""
    from devhub.catalog import service

    settings = get_settings()
    database = _database(settings)
    failed = False
    with database.session() as session:
        ids = [location_id] if location_id else [loc.id for loc in service.list_locations(session, _all()).items]
    for current in ids:
        with database.session() as session:
            location = service.get_location(session, current)
            report = service.refresh_location(session, settings, location, trusted=True)
            errors = service.location_errors(session, current)
        failed = failed or bool(report.failed)
        _print_report(current, report, errors, as_json=False)
    database.dispose()
    if failed:
        raise typer.Exit(1)


def _all():
    from devhub.pagination import PageRequest

    return PageRequest(page=1, size=1_000_000)


@catalog_app.command("locations")
def catalog_locations(as_json: AsJson = False) -> None:
    """List registered locations."""
    from devhub.catalog import service

    database = _database(get_settings())
    with database.session() as session:
        rows = [
            {
                "id": loc.id,
                "type": loc.type,
                "target": loc.target,
                "status": loc.status,
                "entities": loc.entity_count,
                "errors": loc.error_count,
            }
            for loc in service.list_locations(session, _all()).items
        ]
    database.dispose()
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no locations yet: devhub catalog import PATH|URL|git+URL")
    for row in rows:
        typer.echo(
            f"{row['id']:>4}  {row['status']:<7} {row['entities']:>6} entities {row['errors']:>4} errors  "
            f"{row['type']}:{row['target']}"
        )


@catalog_app.command("remove")
def catalog_remove(location_id: int) -> None:
    """Unregister a location; its entities leave the catalog."""
    from devhub.catalog import service
    from devhub.problems import Problem

    database = _database(get_settings())
    try:
        with database.session() as session:
            service.delete_location(session, location_id)
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(f"location {location_id} removed")


@catalog_app.command("list")
def catalog_list(
    kind: Annotated[list[str] | None, typer.Option(help="Filter by kind (repeatable).")] = None,
    owner: Annotated[list[str] | None, typer.Option(help="Filter by owner (repeatable).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="Filter by tag (repeatable).")] = None,
    page: int = 1,
    size: int = 50,
    as_json: AsJson = False,
) -> None:
    """List entities."""
    from devhub.catalog import service
    from devhub.catalog.schemas import CatalogFilters
    from devhub.pagination import PageRequest

    database = _database(get_settings())
    filters = CatalogFilters(kind=kind or [], owner=owner or [], tag=tag or [])
    with database.session() as session:
        result = service.list_entities(session, filters, PageRequest(page=max(1, page), size=max(1, size)), OPERATOR)
        rows = [{"ref": e.ref, "title": e.title, "owner": e.owner_ref, "lifecycle": e.lifecycle} for e in result.items]
    database.dispose()
    if as_json:
        typer.echo(json.dumps({"items": rows, "total": result.total, "page": page}, indent=2))
        return
    for row in rows:
        typer.echo(f"{row['ref']:<50} {row['owner'] or '-':<30} {row['lifecycle'] or ''}")
    typer.echo(f"page {page} of {result.pages} ({result.total} entities)")


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words or parts of words.")],
    kind: Annotated[list[str] | None, typer.Option(help="Filter by kind (repeatable).")] = None,
    as_json: AsJson = False,
) -> None:
    """Search the catalog."""
    from devhub.pagination import PageRequest
    from devhub.search import service as search_service

    database = _database(get_settings())
    with database.session() as session:
        results = search_service.search(session, query, kinds=kind or None, page=PageRequest(page=1, size=20))
    database.dispose()
    if as_json:
        typer.echo(json.dumps([{"ref": h.ref, "title": h.title, "url": h.url} for h in results.hits], indent=2))
        return
    for hit in results.hits:
        typer.echo(f"{hit.ref:<50} {hit.title or ''}")
    if not results.hits:
        typer.echo("no matches")


def _register_domain_commands() -> None:
    from devhub.analytics import cli as analytics_cli
    from devhub.apps import cli as apps_cli
    from devhub.gateway import cli as gateway_cli
    from devhub.governance import cli as governance_cli
    from devhub.identity import cli as identity_cli
    from devhub.sandbox import cli as sandbox_cli
    from devhub.slo import cli as slo_cli
    from devhub.specs import cli as specs_cli

    specs_cli.register(app)
    identity_cli.register(app)
    governance_cli.register(app)
    apps_cli.register(app)
    gateway_cli.register(app)
    analytics_cli.register(app)
    slo_cli.register(app)
    sandbox_cli.register(app)


_register_domain_commands()
