"""`devhub lint`, `devhub diff`, `devhub deprecate` and `devhub scorecards`.

Exit codes for CI: 0 passed, 1 findings at or above `--fail-on` (or a score under `--min-score`),
2 a definition or ruleset could not be read.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from devhub.governance.report import FORMATS

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2

Format = Annotated[str, typer.Option("--format", "-f", help="text, json, markdown (for a pull request) or junit.")]
RulesetOption = Annotated[
    str | None, typer.Option("--ruleset", help="The organisation's ruleset (YAML); default DEVHUB_GOVERNANCE_RULESET.")
]
Output = Annotated[Path | None, typer.Option("--output", "-o", help="Write the report to this file.")]


def register(app: typer.Typer) -> None:
    app.command("lint")(lint_command)
    app.command("diff")(diff_command)
    app.command("deprecate")(deprecate_command)
    app.command("scorecards")(scorecards_command)
    app.command("sunset-notices")(sunset_notices_command)


def _load(spec: str):
    """The bundled document and its line locator, through the specs loader (limits, safe YAML, $refs)."""
    from devhub.settings import get_settings
    from devhub.specs import sources
    from devhub.specs.bundle import bundle
    from devhub.specs.limits import Limits

    settings = get_settings()
    limits = Limits.from_settings(settings)
    loaded = sources.from_path(Path(spec), None, limits)
    return bundle(loaded[0], loaded[1], limits, parsed=loaded[2])


def _ruleset(path: str | None):
    from devhub.governance.ruleset import from_settings, load_ruleset
    from devhub.settings import get_settings

    return load_ruleset(path) if path else from_settings(get_settings())


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        typer.echo(f"error: --format is one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(EXIT_UNREADABLE)


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


def _unreadable(exc: Exception) -> None:
    from devhub.specs.errors import SpecInvalid

    lines = [e.describe() for e in exc.errors] if isinstance(exc, SpecInvalid) else [str(exc)]
    for line in lines[:20]:
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(EXIT_UNREADABLE)


def lint_command(
    spec: Annotated[str, typer.Argument(help="A definition file or a directory (its $refs are bundled).")],
    fmt: Format = "text",
    ruleset: RulesetOption = None,
    fail_on: Annotated[str, typer.Option(help="error, warning, info or never.")] = "error",
    min_score: Annotated[int, typer.Option(help="Fail when the score is under this (0-100).")] = 0,
    output: Output = None,
) -> None:
    """Lint a definition with the built-in rules (Spectral's spectral:oas names) and the organisation's.

    Exit 0: passed; 1: findings at or above --fail-on, or a score under --min-score; 2: unreadable.
    """
    from devhub.governance import lint as engine
    from devhub.governance.findings import at_least, locate
    from devhub.governance.report import render
    from devhub.governance.ruleset import RulesetError
    from devhub.specs.errors import SpecInvalid

    _check_format(fmt)
    if fail_on not in ("error", "warning", "info", "never"):
        typer.echo("error: --fail-on is error, warning, info or never", err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    try:
        rules = _ruleset(ruleset)
        bundled = _load(spec)
    except (SpecInvalid, RulesetError) as exc:
        _unreadable(exc)
    report = engine.lint(bundled.document, rules)
    locate(report.findings, bundled.locate)
    failing = [] if fail_on == "never" else at_least(report.findings, fail_on)
    passed = not failing and report.score >= min_score
    text = render(
        "lint", report.findings, fmt, title=f"devhub lint {spec}", extra={"score": report.score}, passed=passed
    )
    _emit(text, output)
    raise typer.Exit(EXIT_OK if passed else EXIT_FAILED)


def diff_command(
    old: Annotated[str, typer.Argument(help="The earlier definition (file or directory).")],
    new: Annotated[str, typer.Argument(help="The new definition.")],
    fmt: Format = "text",
    fail_on: Annotated[str, typer.Option(help="error, warning or never.")] = "error",
    changelog: Annotated[bool, typer.Option("--changelog", help="Print the changelog (markdown) instead.")] = False,
    output: Output = None,
) -> None:
    """Compare two versions of a definition: breaking changes with rule ids, levels and locations.

    The versions are the documents' info.version; a breaking change in a minor or patch version is
    reported too. Exit 0: no finding at or above --fail-on; 1: there are; 2: unreadable.
    """
    from devhub.governance import diff as engine
    from devhub.governance.findings import at_least, locate
    from devhub.governance.report import changelog as write_changelog
    from devhub.governance.report import render
    from devhub.specs.errors import SpecInvalid

    _check_format(fmt)
    if fail_on not in ("error", "warning", "never"):
        typer.echo("error: --fail-on is error, warning or never", err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    try:
        before, after = _load(old), _load(new)
    except SpecInvalid as exc:
        _unreadable(exc)
    report = engine.diff(before.document, after.document)
    if not report.supported:
        typer.echo("error: diff compares OpenAPI 3.x and Swagger 2.0 definitions", err=True)
        raise typer.Exit(EXIT_UNREADABLE)
    findings = engine.semver_findings(report.old_version, report.new_version, report.findings) + report.findings
    locate(findings, after.locate, before.locate)
    failing = [] if fail_on == "never" else at_least(findings, fail_on)
    if changelog:
        title = str((after.document.get("info") or {}).get("title") or "API")
        text = write_changelog(findings, title=title, old_version=report.old_version, new_version=report.new_version)
    else:
        text = render(
            "diff",
            findings,
            fmt,
            title=f"devhub diff {old} {new}",
            extra={"old_version": report.old_version, "new_version": report.new_version},
            passed=not failing,
        )
    _emit(text, output)
    raise typer.Exit(EXIT_FAILED if failing else EXIT_OK)


def deprecate_command(
    api: Annotated[str, typer.Option("--api", help="The catalog API: name, namespace/name or api:namespace/name.")],
    version: Annotated[str, typer.Option("--version", help="The published version.")],
    operation: Annotated[
        str | None, typer.Option(help="One operation: its anchor, operationId or 'GET /path'. Default: the version.")
    ] = None,
    sunset: Annotated[str | None, typer.Option(help="The sunset date, YYYY-MM-DD.")] = None,
    reason: Annotated[str | None, typer.Option(help="Why, and what to use instead.")] = None,
    replacement: Annotated[str | None, typer.Option(help="A link or name of the successor.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the deprecation instead.")] = False,
) -> None:
    """Deprecate a published version or one of its operations, with a sunset date (audited)."""
    from devhub.audit.service import Actor
    from devhub.cli import _database
    from devhub.governance import service
    from devhub.problems import Problem
    from devhub.settings import get_settings
    from devhub.specs import service as specs
    from devhub.specs.cli import _default_publisher

    settings = get_settings()
    database = _database(settings)
    actor = Actor(f"cli:{_default_publisher()}")
    try:
        with database.session() as session:
            row = specs.get_version(session, api, version)
            if clear:
                service.undeprecate(session, row, operation=operation, actor=actor)
                typer.echo(f"{row.api_ref} {row.version}{' ' + operation if operation else ''}: no longer deprecated")
                return
            found = service.deprecate(
                session, row, operation=operation, sunset=sunset, reason=reason, replacement=replacement, actor=actor
            )
            when = found.sunset_at.date().isoformat() if found.sunset_at else "no sunset date"
            what = f"{found.method.upper()} {found.path}" if found.anchor else "the version"
            typer.echo(f"{row.api_ref} {row.version}: {what} deprecated ({when})")
    except Problem as exc:
        typer.echo(f"error: {exc.detail or exc.title}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        database.dispose()


def scorecards_command(
    team: Annotated[str | None, typer.Option(help="Only this owner team (group ref or name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Scorecards of the catalog's components, APIs and systems, by owner team."""
    import json

    from devhub.cli import _database
    from devhub.governance import scorecards
    from devhub.identity.policy import OPERATOR
    from devhub.settings import get_settings

    settings = get_settings()
    database = _database(settings)
    try:
        with database.session() as session:
            cards = scorecards.entity_cards(session, OPERATOR, settings, owner=team)
            teams = scorecards.by_team(cards)
    finally:
        database.dispose()
    if as_json:
        typer.echo(json.dumps({"teams": teams, "entities": [c.to_dict() for c in cards]}, indent=2))
        return
    for row in teams:
        typer.echo(f"{row['team']}: {row['passed']}/{row['checks']} checks passed ({row['entities']} entities)")
    for card in cards:
        failed = [c.id for c in card.checks if not c.passed]
        typer.echo(
            f"  {card.ref}: {card.passed}/{len(card.checks)}{' (fails ' + ', '.join(failed) + ')' if failed else ''}"
        )


def sunset_notices_command() -> None:
    """Send the deprecation notices that are due to subscribers now (the portal also does it every 5 minutes)."""
    from devhub.cli import _database
    from devhub.governance.notices import send_due_notices
    from devhub.settings import get_settings

    settings = get_settings()
    database = _database(settings)
    try:
        with database.session() as session:
            told = send_due_notices(session, settings)
    finally:
        database.dispose()
    typer.echo(f"{told} notice(s) sent")
