"""`devhub sandbox`: see and reset what the sandbox remembers for your applications.

Like the other developer commands, these call the portal's REST API with the token `devhub login` stored:
the data belongs to the signed-in developer's applications' sandbox credentials.
"""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

import typer

from devhub.identity.cli import portal_call

sandbox_app = typer.Typer(help="The sandbox's remembered data: list and reset.", no_args_is_help=True)

Api = Annotated[str | None, typer.Option(help="Only this API (namespace/name).")]
Version = Annotated[str | None, typer.Option(help="Only this version of the API (needs --api).")]
Credential = Annotated[str | None, typer.Option(help="Only this sandbox key id or client id.")]


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


def _call(method: str, path: str, query: dict[str, str | None]) -> dict:
    params = urlencode({name: value for name, value in query.items() if value is not None})
    response = portal_call(method, f"{path}?{params}" if params else path)
    if response.status_code >= 400:
        try:
            message = response.json().get("detail") or response.text
        except ValueError:
            message = response.text
        typer.echo(f"error ({response.status_code}): {message}", err=True)
        raise typer.Exit(1)
    return response.json()


@sandbox_app.command("data")
def data(
    credential: Credential = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")] = False,
) -> None:
    """How many items the sandbox remembers per credential and API version."""
    answer = _call("GET", "/api/v1/sandbox/data", {"credential": credential})
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    if not answer["items"]:
        typer.echo("the sandbox remembers nothing for your applications")
    for row in answer["items"]:
        typer.echo(f"{row['api']} {row['version']}  {row['credential']}  {row['items']} items")


@sandbox_app.command("reset")
def reset(api: Api = None, version: Version = None, credential: Credential = None) -> None:
    """Forget what your applications created in the sandbox (everywhere, or in one API or version)."""
    answer = _call("DELETE", "/api/v1/sandbox/data", {"api": api, "version": version, "credential": credential})
    typer.echo(f"sandbox reset: {answer['deleted']} rows forgotten")
