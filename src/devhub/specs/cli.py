"""`devhub publish`: publish a definition from a file, a directory, a zip or a git repository path."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated

import typer

EXIT_OK, EXIT_ERROR, EXIT_CONFLICT, EXIT_BREAKING = 0, 1, 3, 4


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the `devhub` command."""
    app.command("publish")(publish)


def _default_publisher() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return os.environ.get("USER") or "cli"


def publish(
    spec: Annotated[
        str,
        typer.Argument(
            help="A .yaml/.yml/.json file, a directory, a .zip, or git+URL//path?ref=branch (a file or a directory).",
            show_default=False,
        ),
    ],
    api: Annotated[str, typer.Option("--api", help="The catalog API: name, namespace/name or api:namespace/name.")],
    version: Annotated[str, typer.Option("--version", help="The version to publish, e.g. 1.2.0.")],
    lifecycle: Annotated[str, typer.Option(help="draft, beta, stable, deprecated or retired.")] = "stable",
    publisher: Annotated[str | None, typer.Option(help="Who publishes (default: your user name).")] = None,
    main: Annotated[
        str | None,
        typer.Option(help="The main file, for a directory, zip or git path holding several definitions."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
    allow_breaking: Annotated[
        bool, typer.Option("--allow-breaking", help="Publish a breaking change to a stable version (audited).")
    ] = False,
) -> None:
    """Publish a version of an API's definition (OpenAPI 3.0/3.1, Swagger 2.0, AsyncAPI 2.x/3.x).

    Exit 0: published, or already published with this content. Exit 3: this version has other content
    (versions are immutable). Exit 4: it breaks clients of the stable version before it (each finding
    printed; --allow-breaking publishes it anyway, audited). Exit 1: any other error, each printed as
    file:line pointer: message.
    """
    from devhub.audit.service import Actor
    from devhub.cli import _database
    from devhub.problems import Problem
    from devhub.settings import get_settings
    from devhub.specs import service, sources
    from devhub.specs.errors import SpecInvalid
    from devhub.specs.limits import Limits
    from devhub.specs.schemas import version_urls

    settings = get_settings()
    limits = Limits.from_settings(settings)
    who = publisher or _default_publisher()
    try:
        if spec.startswith("git+"):
            loaded = sources.from_git(spec, main, settings, limits, trusted=True)
        else:
            loaded = sources.from_path(Path(spec), main, limits)
    except SpecInvalid as exc:
        _fail(exc, as_json)
    database = _database(settings)
    try:
        with database.session() as session:
            result = service.publish(
                session,
                api_ref=api,
                version=version,
                main_path=loaded.main,
                files=loaded.files,
                source_kind="cli",
                allow_breaking=allow_breaking,
                actor=Actor(f"cli:{who}"),
                source_name=spec,
                publisher=who,
                lifecycle=lifecycle,
                settings=settings,
                parsed=loaded.parsed,
                guides=loaded.guides,
            )
            row = result.version
            summary = {
                "status": result.status,
                "api": row.api_ref,
                "version": row.version,
                "lifecycle": row.lifecycle,
                "format": row.format,
                "format_version": row.format_version,
                "operations": row.operation_count,
                "content_hash": row.content_hash,
                "url": settings.base_url.rstrip("/") + version_urls(row.api_ref, row.version)["docs"],
                "warnings": [w.to_dict() for w in result.warnings],
            }
    except SpecInvalid as exc:
        _fail(exc, as_json)
    except Problem as exc:
        breaking = getattr(exc, "findings", None)
        if as_json:
            typer.echo(json.dumps(exc.to_dict(), indent=2))
        else:
            typer.echo(f"error: {exc.detail or exc.title}", err=True)
            for finding in breaking or []:
                typer.echo(f"  {finding.where()}: {finding.level} [{finding.rule}] {finding.message}", err=True)
        if breaking is not None:
            raise typer.Exit(EXIT_BREAKING) from None
        raise typer.Exit(EXIT_CONFLICT if exc.status == 409 else EXIT_ERROR) from None
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    verb = "published" if summary["status"] == "created" else "already published (same content, nothing changed)"
    typer.echo(
        f"{summary['api']} {summary['version']}: {verb}; {summary['format']} {summary['format_version']}, "
        f"{summary['operations']} operations, {summary['lifecycle']}"
    )
    for warning in result.warnings:
        typer.echo(f"  warning: {warning.describe()}", err=True)
    typer.echo(summary["url"])


def _fail(exc, as_json: bool) -> None:
    from devhub.specs.service import error_lines

    if as_json:
        problem = exc.to_problem()
        typer.echo(json.dumps(problem.to_dict(), indent=2))
    else:
        typer.echo(f"error: the definition was not published ({len(exc.errors) + exc.omitted} problems):", err=True)
        for line in error_lines(exc):
            typer.echo(f"  {line}", err=True)
    raise typer.Exit(EXIT_ERROR)
