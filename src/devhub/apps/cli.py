"""`devhub apps|keys|clients|requests|products`: self-serve access from a terminal or a CI job.

These commands call the portal's REST API with the token `devhub login` stored, as the signed-in
developer (applications belong to a person or a team, so the operator's direct database access has no
owner to act as). Secrets are printed once, when issued; `--json` prints the API's answer as is.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from devhub.identity.cli import portal_call

apps_app = typer.Typer(help="Your applications and their subscriptions.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys of an application: create, rotate, revoke.", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth2 client credentials of an application.", no_args_is_help=True)
requests_app = typer.Typer(help="Subscription requests to your teams' products.", no_args_is_help=True)
products_app = typer.Typer(help="Products and their plans.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print the API's JSON answer.")]
App = Annotated[str, typer.Argument(help="The application's id (app_...).", show_default=False)]
Environment = Annotated[str, typer.Option(help="sandbox or production.")]


def _request(method: str, path: str, body: dict | None = None) -> dict | list | None:
    """Call the API; print the problem's detail and exit 1 on an error."""
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


def _print(data, as_json: bool, text: str) -> None:
    typer.echo(json.dumps(data, indent=2) if as_json else text)


def _last_used(credential: dict) -> str:
    """When a key or client last made a call through the gateway, to the minute, or "never"."""
    used = credential.get("last_used_at")
    return f"last used {used[:16].replace('T', ' ')}" if used else "never used"


def _key_line(key: dict) -> str:
    expiry = f", expires {key['expires_at'][:10]}" if key.get("expires_at") else ""
    head = f"{key['id']:<14} {key['prefix']:<22} {key['environment']:<10} {key['status']:<8} {key['name']}"
    return f"{head}{expiry}, {_last_used(key)}"


def _client_line(client: dict) -> str:
    return f"{client['client_id']:<30} {client['environment']:<10} {client['status']:<8} {_last_used(client)}"


# --- applications ---------------------------------------------------------------------------------------


@apps_app.command("list")
def apps_list(as_json: AsJson = False) -> None:
    """Your applications and your teams'."""
    data = _request("GET", "/api/v1/apps?size=100")
    lines = [f"{a['id']:<22} {a['name']:<30} {a['owner']}" for a in data["items"]] or ["no applications yet"]
    _print(data, as_json, "\n".join(lines))


@apps_app.command("create")
def apps_create(
    name: Annotated[str, typer.Argument(help="The application's name.", show_default=False)],
    description: Annotated[str, typer.Option(help="What it does.")] = "",
    team: Annotated[str | None, typer.Option(help="Register it for a team you belong to.")] = None,
    callback_url: Annotated[list[str] | None, typer.Option(help="An OAuth2 callback URL (repeatable).")] = None,
    as_json: AsJson = False,
) -> None:
    """Register an application; its sandbox key and client secret are printed once."""
    body = {"name": name, "description": description, "team": team, "callback_urls": callback_url or []}
    data = _request("POST", "/api/v1/apps", body)
    key, client = data["sandbox_key"], data["sandbox_client"]
    _print(
        data,
        as_json,
        f"application {data['id']} ({data['name']})\n"
        f"sandbox key: {key['key']}\n"
        f"sandbox client: {client['client_id']} secret {client['client_secret']}\n"
        "store these now: they are not shown again",
    )


@apps_app.command("show")
def apps_show(app: App, as_json: AsJson = False) -> None:
    """An application's subscriptions, keys and clients."""
    data = _request("GET", f"/api/v1/apps/{app}")
    lines = [f"{data['id']}  {data['name']}  (owner {data['owner']})", "subscriptions:"]
    lines += [f"  {s['id']:<22} {s['product']}/{s['plan']:<20} {s['state']}" for s in data["subscriptions"]] or [
        "  none"
    ]
    lines += ["keys:"] + ([f"  {_key_line(k)}" for k in data["keys"]] or ["  none"])
    lines += ["clients:"] + ([f"  {_client_line(c)}" for c in data["clients"]] or ["  none"])
    _print(data, as_json, "\n".join(lines))


@apps_app.command("subscribe")
def apps_subscribe(
    app: App,
    product: Annotated[str, typer.Argument(help="The product's slug.", show_default=False)],
    plan: Annotated[str, typer.Argument(help="The plan's slug.", show_default=False)],
    as_json: AsJson = False,
) -> None:
    """Request a plan: granted at once on automatic plans, else pending the owners' approval."""
    data = _request("POST", f"/api/v1/apps/{app}/subscriptions", {"product": product, "plan": plan})
    _print(data, as_json, f"subscription {data['id']}: {data['product']}/{data['plan']} {data['state']}")


@apps_app.command("delete")
def apps_delete(app: App, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Delete an application: all its keys and clients stop working at once."""
    if not yes:
        typer.confirm(f"delete {app} and revoke all its credentials?", abort=True)
    _request("DELETE", f"/api/v1/apps/{app}")
    typer.echo(f"deleted {app}")


# --- keys -----------------------------------------------------------------------------------------------


@keys_app.command("list")
def keys_list(app: App, as_json: AsJson = False) -> None:
    data = _request("GET", f"/api/v1/apps/{app}")
    _print(data["keys"], as_json, "\n".join(_key_line(k) for k in data["keys"]) or "no keys")


@keys_app.command("create")
def keys_create(
    app: App,
    name: Annotated[str, typer.Option(help="A name to tell keys apart.")] = "default",
    environment: Environment = "sandbox",
    expires_in_days: Annotated[int | None, typer.Option(help="Expire after this many days.")] = None,
    as_json: AsJson = False,
) -> None:
    """Create a key (production needs an approved subscription); it is printed once."""
    body = {"name": name, "environment": environment, "expires_in_days": expires_in_days}
    data = _request("POST", f"/api/v1/apps/{app}/keys", body)
    _print(data, as_json, f"{data['key']}\n(key {data['id']}; store it now: it is not shown again)")


@keys_app.command("rotate")
def keys_rotate(
    app: App, key_id: Annotated[str, typer.Argument(help="The key's id.", show_default=False)], as_json: AsJson = False
) -> None:
    """Replace a key: the new one is printed once; the old one works through the grace period."""
    data = _request("POST", f"/api/v1/apps/{app}/keys/{key_id}/rotate")
    _print(data, as_json, f"{data['key']}\n(key {data['id']} replaces {key_id}, which works for the grace period)")


@keys_app.command("revoke")
def keys_revoke(app: App, key_id: Annotated[str, typer.Argument(help="The key's id.", show_default=False)]) -> None:
    """Revoke a key: calls with it are refused at once."""
    _request("DELETE", f"/api/v1/apps/{app}/keys/{key_id}")
    typer.echo(f"revoked {key_id}")


# --- OAuth2 clients ---------------------------------------------------------------------------------------


@clients_app.command("create")
def clients_create(app: App, environment: Environment = "sandbox", as_json: AsJson = False) -> None:
    data = _request("POST", f"/api/v1/apps/{app}/clients", {"environment": environment})
    _print(data, as_json, f"client_id {data['client_id']}\nclient_secret {data['client_secret']}\n(shown once)")


@clients_app.command("rotate")
def clients_rotate(app: App, client_id: str, as_json: AsJson = False) -> None:
    """A new client secret, printed once; the old one works through the grace period."""
    data = _request("POST", f"/api/v1/apps/{app}/clients/{client_id}/rotate")
    _print(data, as_json, f"client_secret {data['client_secret']}\n(shown once)")


@clients_app.command("revoke")
def clients_revoke(app: App, client_id: str) -> None:
    _request("DELETE", f"/api/v1/apps/{app}/clients/{client_id}")
    typer.echo(f"revoked {client_id}")


# --- the owners' queue and products -------------------------------------------------------------------------


@requests_app.command("list")
def requests_list(
    state: Annotated[str, typer.Option(help="pending, approved, rejected, suspended, revoked or all.")] = "pending",
    as_json: AsJson = False,
) -> None:
    """Subscription requests to your teams' products."""
    data = _request("GET", f"/api/v1/subscriptions?state={state}&size=100")
    lines = [
        f"{s['id']:<22} {s['application_name']:<24} {s['product']}/{s['plan']:<16} {s['state']:<10} {s['requested_by']}"
        for s in data["items"]
    ]
    _print(data, as_json, "\n".join(lines) or f"no {state} requests")


def _decision(action: str):
    def command(
        subscription: Annotated[str, typer.Argument(help="The subscription's id (sub_...).", show_default=False)],
        reason: Annotated[str | None, typer.Option(help="Why; required to reject, suspend or revoke.")] = None,
    ) -> None:
        data = _request("POST", f"/api/v1/subscriptions/{subscription}/decision", {"action": action, "reason": reason})
        typer.echo(f"{data['id']}: {data['state']}")

    command.__doc__ = f"{action.capitalize()} a subscription."
    return command


for _action in ("approve", "reject", "suspend", "resume", "revoke"):
    requests_app.command(_action)(_decision(_action))


@products_app.command("list")
def products_list(as_json: AsJson = False) -> None:
    """Products you may see, with their plans."""
    data = _request("GET", "/api/v1/products?size=100")
    lines = []
    for product in data["items"]:
        lines.append(f"{product['slug']:<28} {product['name']}  (owner {product['owner_ref']})")
        lines += [f"  {p['slug']:<24} {p['credential_type']:<9} {p['approval']} approval" for p in product["plans"]]
    _print(data, as_json, "\n".join(lines) or "no products")


def _routes_text(product: dict) -> str:
    """Where the gateway serves the product: its prefix, its hosts, each API entry's prefix, upstreams."""
    lines = [f"{product['slug']}: gateway path {product['gateway_path']}"]
    if product["hosts"]:
        lines.append(f"  hosts: {', '.join(product['hosts'])} (the path prefix is optional there)")
    for api in product["apis"]:
        version = api["version"] or "newest"
        lines.append(f"  {api['gateway_prefix']:<28} {api['api_ref']} {version}")
    lines.append(f"  sandbox upstream: {product['sandbox_url'] or 'the built-in sandbox'}")
    lines.append(f"  production upstream: {product['production_url'] or 'none'}")
    return "\n".join(lines)


@products_app.command("show")
def products_show(
    product: Annotated[str, typer.Argument(help="The product's slug.", show_default=False)], as_json: AsJson = False
) -> None:
    """A product's gateway routes: path prefix, hosts, where each API version is served, upstreams."""
    data = _request("GET", f"/api/v1/products/{product}")
    _print(data, as_json, _routes_text(data))


@products_app.command("route")
def products_route(
    product: Annotated[str, typer.Argument(help="The product's slug.", show_default=False)],
    api: Annotated[
        list[str] | None,
        typer.Option(help="An API entry `api [version] [/path]`, e.g. 'payments 2.0 /v2'; repeat for each."),
    ] = None,
    host: Annotated[list[str] | None, typer.Option(help="A host name routed to the product; repeat for each.")] = None,
    no_hosts: Annotated[bool, typer.Option("--no-hosts", help="Route no host names to the product.")] = False,
    sandbox_url: Annotated[
        str | None, typer.Option(help="Sandbox upstream URL; '' for the built-in sandbox.", show_default=False)
    ] = None,
    production_url: Annotated[str | None, typer.Option(help="Production upstream URL.", show_default=False)] = None,
    as_json: AsJson = False,
) -> None:
    """Change how the gateway routes to a product (its owners). Given options replace what is set."""
    from devhub.apps.schemas import ProductApiIn

    body: dict = {}
    if api:
        entries = [ProductApiIn.parse_line(line) for line in api]
        body["apis"] = [entry.model_dump() for entry in entries if entry is not None]
    if host or no_hosts:
        body["hosts"] = [] if no_hosts else host
    if sandbox_url is not None:
        body["sandbox_url"] = sandbox_url or None
    if production_url is not None:
        body["production_url"] = production_url or None
    if not body:
        typer.echo("nothing to change: give --api, --host, --no-hosts, --sandbox-url or --production-url", err=True)
        raise typer.Exit(2)
    data = _request("PATCH", f"/api/v1/products/{product}", body)
    _print(data, as_json, _routes_text(data))


def register(app: typer.Typer) -> None:
    app.add_typer(apps_app, name="apps")
    app.add_typer(keys_app, name="keys")
    app.add_typer(clients_app, name="clients")
    app.add_typer(requests_app, name="requests")
    app.add_typer(products_app, name="products")
