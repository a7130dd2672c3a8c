"""`devhub users ...` and `devhub audit verify` (on the portal's host, against its database), and
`devhub login`, `whoami`, `logout` and `api` (against a running portal, with a personal access token).

`devhub login` trades an email and password for a token through the REST API and keeps it in
`~/.config/devhub/credentials.json` (mode 0600); the other remote commands send it as a bearer token.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer

from devhub.audit.service import Actor

users_app = typer.Typer(help="Accounts, on the portal's host.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)
OPERATOR_ACTOR = Actor("operator")


def credentials_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "devhub" / "credentials.json"


def _database():
    from devhub.cli import _database as open_database
    from devhub.settings import get_settings

    settings = get_settings()
    return settings, open_database(settings)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_app.command("create")
def users_create(
    email: str,
    admin: Annotated[bool, typer.Option(help="Make the account a portal admin.")] = False,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Create an approved account (the way to make the first admin)."""
    from devhub.identity import service
    from devhub.problems import Problem

    password = _read_password(password_stdin)
    settings, database = _database()
    try:
        with database.session() as session:
            user = service.create_user(
                session,
                settings,
                email=email,
                display_name=name,
                password=password,
                status="approved",
                actor=OPERATOR_ACTOR,
            )
            if admin:
                service.set_admin(session, user, True, OPERATOR_ACTOR)
            role = "admin" if user.is_admin else "developer"
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(f"created {email.strip().lower()} ({role})")


@users_app.command("set-status")
def users_set_status(
    email: str,
    status: Annotated[str, typer.Argument(help="pending, approved, rejected or revoked")],
    reason: Annotated[str, typer.Option(help="Told to the person by mail.")] = "",
) -> None:
    """Approve, reject or revoke an account."""
    from devhub.identity import service
    from devhub.problems import Problem

    settings, database = _database()
    try:
        with database.session() as session:
            user = service.find_user(session, email)
            if user is None:
                raise Problem(404, "Not found", f"no account for {email}")
            service.set_status(session, settings, user, status, OPERATOR_ACTOR, reason or None)
    except Problem as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from None
    finally:
        database.dispose()
    typer.echo(f"{email.strip().lower()} is {status}")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain: exit 0 when intact, 1 when any event was changed or removed."""
    from devhub.audit import service as audit

    _, database = _database()
    with database.session() as session:
        result = audit.verify(session)
    database.dispose()
    if result.ok:
        typer.echo(f"audit chain intact: {result.checked} events")
        return
    where = f"at event {result.broken_at}" if result.broken_at else "at the end"
    typer.echo(f"audit chain BROKEN {where}: {result.reason} ({result.checked} events checked before)", err=True)
    raise typer.Exit(1)


# --- Remote commands ------------------------------------------------------------------------------------


def _load_credentials() -> dict:
    path = credentials_path()
    if not path.exists():
        typer.echo("not logged in: run devhub login --url https://portal.example.com", err=True)
        raise typer.Exit(1)
    return json.loads(path.read_text())


def login(
    url: Annotated[str, typer.Option(help="The portal's base URL.")] = "http://127.0.0.1:8000",
    email: Annotated[str | None, typer.Option(help="Your account's email.")] = None,
    token: Annotated[str | None, typer.Option(help="Store this existing token instead of creating one.")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="Scopes of the new token (repeatable).")] = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Sign in to a portal and keep a personal access token for the CLI."""
    url = url.rstrip("/")
    if token is None:
        email = email or typer.prompt("Email")
        password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt("Password", hide_input=True)
        body = {
            "email": email,
            "password": password,
            "name": f"devhub CLI on {os.uname().nodename}",
            "scopes": scope or ["read", "write"],
        }
        try:
            response = httpx.post(f"{url}/api/v1/auth/tokens", json=body, timeout=30)
        except httpx.HTTPError as exc:
            typer.echo(f"error: cannot reach {url}: {exc}", err=True)
            raise typer.Exit(1) from None
        if response.status_code != 201:
            typer.echo(f"error: {response.json().get('detail', response.text)}", err=True)
            raise typer.Exit(1)
        token = response.json()["token"]
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({"url": url, "token": token}, handle)
    typer.echo(f"logged in to {url}; token stored in {path}")


def logout() -> None:
    """Forget the stored token (revoke it in the portal under Account > Tokens)."""
    path = credentials_path()
    if path.exists():
        path.unlink()
    typer.echo("logged out")


def portal_call(method: str, path: str, data: str | None = None) -> httpx.Response:
    """A call to the portal named by `devhub login`, with its stored token (other commands build on it)."""
    creds = _load_credentials()
    headers = {"Authorization": f"Bearer {creds['token']}", "Accept": "application/json"}
    content = None
    if data is not None:
        content = data.encode()
        headers["Content-Type"] = "application/json"
    try:
        return httpx.request(method, creds["url"] + path, headers=headers, content=content, timeout=60)
    except httpx.HTTPError as exc:
        typer.echo(f"error: cannot reach {creds['url']}: {exc}", err=True)
        raise typer.Exit(1) from None


def whoami() -> None:
    """Show who the stored token belongs to."""
    response = portal_call("GET", "/api/v1/me")
    if response.status_code != 200 or not response.json().get("email"):
        typer.echo(f"error: the stored token does not work ({response.status_code})", err=True)
        raise typer.Exit(1)
    me = response.json()
    typer.echo(f"{me['email']} ({me['role']}); teams: {', '.join(me['teams']) or 'none'}")


def api(
    method: Annotated[str, typer.Argument(help="GET, POST, PUT, PATCH or DELETE")],
    path: Annotated[str, typer.Argument(help="e.g. /api/v1/catalog/entities?kind=API")],
    data: Annotated[str | None, typer.Option(help="A JSON body; @file reads it from a file.")] = None,
) -> None:
    """Call the portal's REST API with the stored token and print the answer."""
    if data and data.startswith("@"):
        data = Path(data[1:]).read_text()
    response = portal_call(method.upper(), path if path.startswith("/") else f"/{path}", data)
    typer.echo(response.text)
    if response.status_code >= 400:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(audit_app, name="audit")
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)
    app.command()(api)
