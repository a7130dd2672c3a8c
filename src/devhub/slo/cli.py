"""`devhub slo list|show|set|clear|rotate-secret|check`.

`list`, `show`, `set`, `clear` and `rotate-secret` call the portal's REST API as the developer `devhub login` signed in (the
API's owner team sets objectives); `check` is the operator's: one evaluation pass of every SLO on the
portal's database, opening and resolving alerts as the background loop does, e.g. from cron when the
portal runs with DEVHUB_SLO_EVALUATE_SECONDS=0.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

import typer

slo_app = typer.Typer(
    help="Service level objectives per API: list, show, set, rotate-secret, check.", no_args_is_help=True
)
AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
Api = Annotated[str, typer.Argument(help="The API: api:namespace/name, namespace/name or name.", show_default=False)]


def register(app: typer.Typer) -> None:
    app.add_typer(slo_app, name="slo")


def _request(method: str, path: str, body: dict | None = None):
    from devhub.identity.cli import portal_call

    response = portal_call(method, path, json.dumps(body) if body is not None else None)
    if response.status_code >= 400:
        try:
            problem = response.json()
            message = problem.get("detail") or problem.get("title") or response.text
        except ValueError:
            message = response.text
        typer.echo(f"error ({response.status_code}): {message}", err=True)
        raise typer.Exit(1)
    return response.json() if response.content else None


def _path(api: str) -> str:
    from devhub.catalog.kinds import RefError, parse_ref

    try:
        ref = parse_ref(api, default_kind="api")
    except RefError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    return f"/api/v1/apis/{quote(ref.namespace, safe='')}/{quote(ref.name, safe='')}/slo"


def _objective_line(item: dict) -> str:
    compliance = "no calls" if item["compliance"] is None else f"{item['compliance']:.3f}%"
    state = "ALERTING" if item["alerting"] else ("missed" if item["budget_left"] < 0 else "ok")
    return (
        f"  {item['description']:<40} {compliance:>10}  budget left {item['budget_left']:>7.1f}%  "
        f"burn {item['burn_rate_1h']:.2f}x/1h {item['burn_rate_6h']:.2f}x/6h  {state} ({item['source']})"
    )


@slo_app.command("list")
def list_command(as_json: AsJson = False) -> None:
    """APIs with SLOs that you may see, with compliance and budget left."""
    data = _request("GET", "/api/v1/slos?size=100")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    for api in data["items"]:
        typer.echo(f"{api['api']} ({api['window_days']} days)")
        for item in api["objectives"]:
            typer.echo(_objective_line(item))
    if not data["items"]:
        typer.echo("no SLOs yet")


@slo_app.command("show")
def show_command(api: Api, as_json: AsJson = False) -> None:
    """One API's objectives, compliance, budget left and burn rates."""
    data = _request("GET", _path(api))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['api']}: {data['window_days']}-day window, {data['environment']} calls")
    for item in data["objectives"]:
        typer.echo(_objective_line(item))
    if not data["objectives"]:
        typer.echo("  no objectives")
    if data["portal"].get("webhook_previous_secret_signs_until"):  # owners only
        until = _utc(data["portal"]["webhook_previous_secret_signs_until"])
        typer.echo(f"webhook: the previous signing secret also signs alerts until {until}")
    for problem in data["annotation_problems"]:
        typer.echo(f"warning: {problem}", err=True)


@slo_app.command("set")
def set_command(
    api: Api,
    availability: Annotated[str | None, typer.Option(help="Percent of calls not 5xx, e.g. 99.9.")] = None,
    latency: Annotated[str | None, typer.Option(help="e.g. 'p99 < 300ms': 99 % of calls within 300 ms.")] = None,
    window: Annotated[str | None, typer.Option(help="The rolling window, e.g. 28d.")] = None,
    environment: Annotated[str | None, typer.Option(help="production, sandbox or all.")] = None,
    webhook: Annotated[str | None, typer.Option(help="Alert webhook URL; '' removes it.")] = None,
    as_json: AsJson = False,
) -> None:
    """Set objectives in the portal (owners); options left out stay as they are."""
    from devhub.slo.objectives import ObjectiveError, parse_availability, parse_latency, parse_window

    body: dict = {}
    try:
        if availability is not None:
            body["availability_target"] = parse_availability(availability)
        if latency is not None:
            body["latency_target"], body["latency_ms"] = parse_latency(latency)
        if window is not None:
            body["window_days"] = parse_window(window)
    except ObjectiveError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if environment is not None:
        body["environment"] = environment
    if webhook is not None:
        body["webhook_url"] = webhook or None
    if not body:
        typer.echo(
            "error: give at least one of --availability, --latency, --window, --environment, --webhook", err=True
        )
        raise typer.Exit(1)
    data = _request("PATCH", _path(api), body)
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"{data['api']}: {', '.join(o['description'] for o in data['objectives']) or 'no objectives'}")
    if data.get("webhook_secret"):
        _show_secret(data["webhook_secret"])


def _utc(moment: str) -> str:
    """A time from the API's JSON (ISO 8601, UTC), as people read it: to the minute."""
    return datetime.fromisoformat(moment).strftime("%Y-%m-%d %H:%M UTC")


def _show_secret(secret: str) -> None:
    typer.echo(f"webhook signing secret: {secret}")
    typer.echo("store it now with your receiver: it will not be shown again (docs/slo.md: verifying webhooks)")


@slo_app.command("rotate-secret")
def rotate_secret_command(api: Api, as_json: AsJson = False) -> None:
    """Make a new signing secret for the API's alert webhook (owners); the old one keeps signing beside it for
    the portal's grace period (DEVHUB_WEBHOOK_ROTATION_GRACE_HOURS)."""
    data = _request("POST", _path(api) + "/webhook-secret")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    _show_secret(data["webhook_secret"])
    if data.get("previous_secret_signs_until"):
        typer.echo(f"the previous secret also signs alerts until {_utc(data['previous_secret_signs_until'])}")
    else:
        typer.echo("the previous secret (if any) no longer signs: update your receiver now")


@slo_app.command("clear")
def clear_command(api: Api) -> None:
    """Clear what was set in the portal (owners): the catalog annotations apply again."""
    _request("DELETE", _path(api))
    typer.echo("cleared; the catalog annotations apply")


@slo_app.command("check")
def check_command() -> None:
    """Evaluate every SLO once now: open and resolve burn-rate alerts, notify, post webhooks (operator)."""
    from devhub.cli import _database
    from devhub.settings import get_settings
    from devhub.slo.alerts import run_once

    settings = get_settings()
    database = _database(settings)
    try:
        events = run_once(database, settings)
    finally:
        database.dispose()
    for event in events:
        payload = event.payload
        typer.echo(f"{event.event.rsplit('.', 1)[-1]}: {event.api_ref} {payload.get('objective')}")
    typer.echo(f"{len(events)} alert change(s)")
