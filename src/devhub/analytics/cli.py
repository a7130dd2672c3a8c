"""`devhub usage`: roll-ups, dashboards, monthly exports and the time-to-first-call funnel from a terminal.

`devhub usage rollup` and `devhub usage prune` work on the database directly (operators' commands on the
portal's host, like `devhub sunset-notices`); the others call the portal's REST API with the token `devhub login` stored, so
they show what the signed-in person may see. `--json` prints the API's answer as is.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import typer

from devhub.identity.cli import portal_call

usage_app = typer.Typer(
    help="Usage analytics: roll-ups, dashboards, exports, time to first call.", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
PeriodOption = Annotated[str, typer.Option("--period", "-p", help="24h, 7d or 30d.")]


def register(app: typer.Typer) -> None:
    app.add_typer(usage_app, name="usage")


def _get(path: str, accept_csv: bool = False):
    response = portal_call("GET", path)
    if response.status_code >= 400:
        try:
            problem = response.json()
            message = problem.get("detail") or problem.get("title") or response.text
        except ValueError:
            message = response.text
        typer.echo(f"error ({response.status_code}): {message}", err=True)
        raise typer.Exit(1)
    return response.text if accept_csv else response.json()


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _stats_line(label: str, s: dict, width: int = 40) -> str:
    rate = "-" if s["error_rate"] is None else f"{s['error_rate'] * 100:.2f}%"
    latency = f"{_ms(s['latency_p50_ms'])}/{_ms(s['latency_p95_ms'])}/{_ms(s['latency_p99_ms'])}"
    return f"{label[:width]:<{width}} {s['calls']:>10,} {s['errors']:>8,} {rate:>8} {latency:>22}"


HEADER = f"{'':<40} {'calls':>10} {'errors':>8} {'rate':>8} {'p50/p95/p99 ms':>22}"


@usage_app.command("rollup")
def rollup_command(
    once: Annotated[bool, typer.Option("--once", help="One pass only (at most usage_rollup_batch calls).")] = False,
) -> None:
    """Roll up the calls recorded so far (the portal's background loop does it every few seconds)."""
    from devhub.analytics import rollup
    from devhub.cli import _database
    from devhub.settings import get_settings

    settings = get_settings()
    database = _database(settings)
    if once:
        result = rollup.run_pass(database, settings)
        if result.locked_out:
            typer.echo("another process is rolling up right now; nothing done")
        done = result.calls
    else:
        done = rollup.run_until_caught_up(database, settings)
    state = rollup.state(database)
    behind = state["newest_call_id"] - state["watermark"]
    typer.echo(f"rolled up {done:,} calls; watermark {state['watermark']:,}, {behind:,} calls behind the newest")


@usage_app.command("prune")
def prune_command(
    days: Annotated[
        int | None,
        typer.Option("--days", min=0, help="Keep this many days of calls (default: calls_retention_days; 0: all)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count the calls that would go; delete nothing.")] = False,
) -> None:
    """Delete the raw call records past the retention that are already rolled up (the portal does it hourly)."""
    from devhub.analytics.retention import prune_calls
    from devhub.cli import _database
    from devhub.settings import get_settings

    settings = get_settings()
    result = prune_calls(_database(settings), settings.calls_retention_days if days is None else days, dry_run=dry_run)
    if result.cutoff is None:
        typer.echo("retention is 0 days: every call is kept; nothing deleted")
        return
    verb = "would delete" if dry_run else "deleted"
    typer.echo(
        f"{verb} {result.deleted:,} calls from before {result.cutoff:%Y-%m-%d %H:%M} UTC "
        f"({result.days} days), rolled up to call {result.watermark:,}"
    )
    if result.not_rolled_up:
        typer.echo(f"kept {result.not_rolled_up:,} older calls that are not rolled up yet (devhub usage rollup)")


@usage_app.command("apps")
def apps_command(period: PeriodOption = "24h", as_json: AsJson = False) -> None:
    """Your applications' calls, errors and latency."""
    data = _get(f"/api/v1/usage/apps?period={quote(period)}")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(HEADER)
    for app in data["applications"]:
        typer.echo(_stats_line(f"{app['name']} ({app['id']})", app["usage"]))
    if not data["applications"]:
        typer.echo("no applications yet")


@usage_app.command("app")
def app_command(
    uid: Annotated[str, typer.Argument(help="The application's id (app_...).")],
    period: PeriodOption = "24h",
    as_json: AsJson = False,
) -> None:
    """One application: totals, per key, per operation, quotas and the latest errors."""
    data = _get(f"/api/v1/usage/apps/{quote(uid, safe='')}?period={quote(period)}")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(HEADER)
    typer.echo(_stats_line(f"{data['name']} (last {data['period']['name']})", data["total"]))
    for row in data["per_key"]:
        typer.echo(_stats_line(f"  key {row['key']['credential']} ({row['key']['environment']})", row))
    for row in data["per_operation"]:
        typer.echo(_stats_line(f"  op {row['key']['operation']} v{row['key']['version']}", row))
    for q in data["quotas"]:
        typer.echo(
            f"quota {q['product']}/{q['plan']} per {q['window']}: {q['used']:,} of {q['limit']:,} ({q['left']:,} left)"
        )
    for e in data["recent_errors"][:10]:
        typer.echo(f"error {e['at'][:19]} {e['status']} {e['method']} {e['path']} request {e['request_id'] or '-'}")


@usage_app.command("api")
def api_command(
    api: Annotated[str, typer.Argument(help="NAMESPACE/NAME of the API (its owners only).")],
    period: PeriodOption = "24h",
    as_json: AsJson = False,
) -> None:
    """An API's consumers, top operations and callers of deprecated versions or operations."""
    namespace, _, name = api.rpartition("/")
    data = _get(f"/api/v1/usage/apis/{quote(namespace or 'default', safe='')}/{quote(name, safe='')}?period={period}")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(HEADER)
    typer.echo(_stats_line(f"{data['api']} (last {data['period']['name']})", data["total"]))
    for row in data["consumers"]:
        typer.echo(_stats_line(f"  app {row['key']['name'] or row['key']['application'] or 'keyless'}", row))
    for row in data["operations"]:
        typer.echo(_stats_line(f"  op {row['key']['operation']} v{row['key']['version']}", row))
    for c in data["deprecated_callers"]:
        what = c["operation"] or "the whole version"
        typer.echo(
            f"deprecated: {c['application_name'] or c['application']} calls {what} of v{c['version']}: {c['calls']:,}"
        )


@usage_app.command("export")
def export_command(
    month: Annotated[str, typer.Argument(help="The month, YYYY-MM.")],
    group: Annotated[str, typer.Option(help="application or team.")] = "application",
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """A month's usage per application or team (chargeback), as CSV or JSON."""
    if fmt not in ("csv", "json"):
        typer.echo("error: --format is csv or json", err=True)
        raise typer.Exit(2)
    path = f"/api/v1/usage/exports/{quote(month, safe='')}?group={quote(group)}&format={fmt}"
    body = _get(path, accept_csv=fmt == "csv")
    text = body if fmt == "csv" else json.dumps(body, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


@usage_app.command("funnel")
def funnel_command(
    since: Annotated[str | None, typer.Option(help="Developers who signed up from this date (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="... and before this date.")] = None,
    as_json: AsJson = False,
) -> None:
    """Time to first call: the funnel with median and p90 per step (admins)."""
    query = "&".join(f"{k}={quote(v)}" for k, v in (("since", since), ("until", until)) if v)
    data = _get("/api/v1/usage/funnel" + (f"?{query}" if query else ""))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['developers']:,} developers")
    typer.echo(f"{'step':<24} {'reached':>8} {'stopped':>8} {'median':>12} {'p90':>12}")
    for s in data["steps"]:
        median = "-" if s["median_seconds"] is None else f"{s['median_seconds'] / 60:.1f} min"
        p90 = "-" if s["p90_seconds"] is None else f"{s['p90_seconds'] / 60:.1f} min"
        typer.echo(f"{s['label']:<24} {s['reached']:>8,} {s['dropped']:>8,} {median:>12} {p90:>12}")
