"""The try-it console's rules: which credentials a developer may call an operation with, how the call's
URL is built, and the call itself (through the gateway, never anywhere else).

Safety, in the order a call meets it:
- The URL is never taken from the request. It is the gateway's internal address (settings) + the product's
  gateway route for the API version (`gateway.routing.gateway_base_path`) + the operation's path template
  with each path parameter percent-encoded whole (a `/`, `?` or `#` in a value cannot leave its segment;
  `.` and `..` are refused), then checked again: same scheme, host and port as the gateway, under the
  route's prefix, no dot segments. Redirects are not followed and proxy variables are ignored.
- Only parameters the operation declares are sent; a header parameter may not be a hop-by-hop, Host,
  credential, cookie, forwarding or `X-Devhub-*` header.
- The credential is picked among the viewer's own applications' (never typed): an API key's id or an OAuth2
  client id. Secrets are stored hashed, so the portal presents a one-minute console token instead
  (`apps.oauth.issue_console_token`, which checks the viewer owns the application); the gateway treats the
  call as made with that credential, with its subscription, limits and metering.
- The curl shown names the key as `$DEVHUB_KEY` (or a token as `$DEVHUB_TOKEN`) beside its public id.
- A product with a keyless plan the viewer may see is offered as "no credential": the call goes to the same
  route with no credential and no console token, as anyone may call it (signed in or not); the gateway
  answers it from the upstream a keyless call gets (`apps.service.keyless_environment`).

httpx makes the call (a well-kept client; the portal's routes are synchronous, so its sync client).
"""

from __future__ import annotations

import json
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from devhub.apps.credentials import client_status, key_status
from devhub.apps.models import (
    KEY_PREFIXES,
    ApiKey,
    Application,
    ClientCredential,
    Plan,
    Product,
    ProductApi,
    Subscription,
)
from devhub.apps.oauth import CONSOLE_TOKEN_HEADER, TOKEN_PATH, current_key, issue_console_token
from devhub.apps.service import SANDBOX_STATES, Invalid, keyless_environment, product_visible, visible_plans
from devhub.audit.service import Actor
from devhub.docs.operation_view import (
    CONSOLE_LOCATIONS,
    ConsoleBody,
    ConsoleField,
    OperationView,
    console_body,
    console_fields,
    console_value_text,
)
from devhub.docs.render import OpEntry, Reference
from devhub.identity.policy import Principal, require
from devhub.problems import NotFound, Problem
from devhub.settings import Settings
from devhub.specs import service as specs_service
from devhub.specs.models import SpecVersion

ENVIRONMENTS = ("sandbox", "production")
MAX_BODY_SHOWN = 256 * 1024  # bytes of a response body the console shows
MAX_BODY_READ = 1024 * 1024  # bytes read from the gateway at most (the rest is dropped, the size counted)
MAX_REQUEST_BODY = 1024 * 1024
KEY_VARIABLE, TOKEN_VARIABLE, SECRET_VARIABLE = "DEVHUB_KEY", "DEVHUB_TOKEN", "DEVHUB_CLIENT_SECRET"
# Headers a parameter may never set: the connection's own, the gateway's routing and credentials, cookies
# (cookie parameters build that header), forwarding, and the gateway's identity headers.
REFUSED_HEADERS = frozenset(
    {
        "host",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "keep-alive",
        "expect",
        "authorization",
        "cookie",
        "forwarded",
        "content-type",
    }
)
REFUSED_HEADER_PREFIXES = ("x-devhub-", "proxy-", "x-forwarded-")
TOKEN_CHARS = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 token: a header or cookie name
JSONISH = re.compile(r"[/+]json\b", re.I)
TEXTUAL = re.compile(r"^text/|[/+](json|xml)\b|javascript|x-www-form-urlencoded|yaml", re.I)


class GatewayUnreachable(Problem):
    def __init__(self, detail: str, status: int = 502) -> None:
        super().__init__(status, "Bad gateway" if status == 502 else "Gateway timeout", detail)


# --- the operation ----------------------------------------------------------------------------------------


@dataclass
class Target:
    """The operation to call, with the fields of its form."""

    api_ref: str
    version: SpecVersion
    entry: OpEntry
    view: OperationView
    fields: list[ConsoleField]
    body: ConsoleBody | None

    @property
    def page_url(self) -> str:
        return self.entry.url


def open_operation(session: Session, viewer: Principal, api: str, version: str, operation: str) -> Target:
    """An OpenAPI operation of a published version the viewer may see (else 404), by anchor or operationId."""
    from devhub.docs.views import reference_of

    api_ref = specs_service.normalise_api_ref(api)
    _check_visible(session, viewer, api_ref)
    row = specs_service.get_version(session, api_ref, version)
    ref = reference_of(row)
    if ref.is_async:
        raise Invalid("the console calls HTTP operations; this is an AsyncAPI definition")
    entry = ref.by_anchor.get(operation) or _by_operation_id(ref, operation)
    if entry is None or entry not in ref.ops:
        raise NotFound(f"{api_ref} {row.version} has no operation {operation!r}")
    return target_of(ref, row, entry)


def target_of(ref: Reference, version: SpecVersion, entry: OpEntry) -> Target:
    from devhub.docs.operation_view import operation_view

    view = operation_view(ref, entry)
    return Target(version.api_ref, version, entry, view, console_fields(view), console_body(view))


def _by_operation_id(ref: Reference, operation_id: str) -> OpEntry | None:
    return next((entry for entry in ref.ops if entry.operation_id == operation_id), None)


def _check_visible(session: Session, viewer: Principal, api_ref: str) -> None:
    """Published versions outlive their catalog entity; an entity the viewer may not see is a 404."""
    from devhub.catalog import service as catalog_service

    namespace, name = api_ref.split(":", 1)[1].split("/", 1)
    try:
        entity = catalog_service.get_entity(session, "api", namespace, name)
    except NotFound:
        return
    if not catalog_service.entity_visible(viewer, entity, set(catalog_service.access_teams(session, entity.id))):
        raise NotFound(f"{api_ref} is not in the catalog")


# --- whom to call as ----------------------------------------------------------------------------------------


KEYLESS = "keyless"  # the credential of a call without one (key ids are hex, client ids `dhc_...`)


@dataclass
class Choice:
    """A credential the viewer may call this operation with, through one product; or none, through a
    product with a keyless plan (`kind` "keyless", no application)."""

    credential_id: str
    kind: str  # api_key | oauth2 | keyless
    label: str
    environment: str
    app: Application | None
    product: Product

    @property
    def value(self) -> str:
        """The form's value for this choice: `<credential>@<product>`."""
        return f"{self.credential_id}@{self.product.slug}"

    @property
    def keyless(self) -> bool:
        return self.kind == KEYLESS

    @property
    def reaches_built_in_sandbox(self) -> bool:
        """The gateway sends this choice's calls to devhub's own sandbox, which remembers what they create
        (a product without a sandbox URL; `gateway.proxy`)."""
        return self.environment == "sandbox" and not self.product.sandbox_url


def offering_products(session: Session, viewer: Principal, target: Target) -> list[Product]:
    """Active products the viewer may see that serve this API version through the gateway: a pinned
    version, or the newest published one when the product names none."""
    latest = specs_service.latest_version(session, target.api_ref)
    is_latest = latest is not None and latest.id == target.version.id
    query = select(ProductApi).where(ProductApi.api_ref == target.api_ref)
    product_ids = {
        link.product_id
        for link in session.scalars(query)
        if link.version == target.version.version or (link.version is None and is_latest)
    }
    if not product_ids:
        return []
    products = session.scalars(select(Product).where(Product.id.in_(sorted(product_ids))).order_by(Product.name))
    return [p for p in products if p.status == "active" and product_visible(viewer, p)]


def own_apps(session: Session, viewer: Principal) -> list[Application]:
    """The viewer's applications and their teams' (an admin sees everyone's elsewhere, not here)."""
    if not viewer.signed_in:
        return []
    mine = Application.owner_user_id == viewer.user_id
    if viewer.teams:
        mine = mine | Application.owner_team_ref.in_(sorted(viewer.teams))
    return list(session.scalars(select(Application).where(mine).order_by(Application.name, Application.id)))


def choices(session: Session, viewer: Principal, target: Target, environment: str | None = None) -> list[Choice]:
    """Credentials of the viewer's applications that hold a live subscription (sandbox: pending or approved;
    production: approved) to a product offering this API, of the type its plan takes; then "no credential"
    for each such product with a keyless plan the viewer may see (signed in or not), in the environment
    the gateway sends keyless calls to."""
    products = {p.id: p for p in offering_products(session, viewer, target)}
    environments = [environment] if environment else list(ENVIRONMENTS)
    return [
        *_credential_choices(session, viewer, products, environments),
        *_keyless_choices(viewer, products, environments),
    ]


def _credential_choices(
    session: Session, viewer: Principal, products: dict[int, Product], environments: list[str]
) -> list[Choice]:
    apps = {a.id: a for a in own_apps(session, viewer)}
    if not products or not apps:
        return []
    subscriptions = session.scalars(
        select(Subscription)
        .where(Subscription.application_id.in_(sorted(apps)), Subscription.product_id.in_(sorted(products)))
        .order_by(Subscription.id)
    )
    found: list[Choice] = []
    for subscription in subscriptions:
        app, product, plan = apps[subscription.application_id], products[subscription.product_id], subscription.plan
        for env in environments:
            states = SANDBOX_STATES if env == "sandbox" else ("approved",)
            if subscription.state not in states:
                continue
            if plan.credential_type == "api_key":
                found += [Choice(k.key_id, "api_key", k.prefix, env, app, product) for k in _keys(session, app, env)]
            elif plan.credential_type == "oauth2":
                found += [
                    Choice(c.client_id, "oauth2", c.client_id, env, app, product) for c in _clients(session, app, env)
                ]
    return found


def _keyless_choices(viewer: Principal, products: dict[int, Product], environments: list[str]) -> list[Choice]:
    found = []
    for product in products.values():
        env = keyless_environment(product.production_url)
        plans = [p for p in visible_plans(viewer, product) if p.status == "active" and p.credential_type == KEYLESS]
        if plans and env in environments:
            found.append(Choice(KEYLESS, KEYLESS, f"No credential (keyless plan: {product.name})", env, None, product))
    return found


def _keys(session: Session, app: Application, environment: str) -> list[ApiKey]:
    query = select(ApiKey).where(ApiKey.application_id == app.id, ApiKey.environment == environment)
    keys = session.scalars(query.order_by(ApiKey.created_at.desc(), ApiKey.id.desc()))
    return [key for key in keys if key_status(key) in ("active", "grace")]


def _clients(session: Session, app: Application, environment: str) -> list[ClientCredential]:
    query = select(ClientCredential).where(
        ClientCredential.application_id == app.id, ClientCredential.environment == environment
    )
    return [client for client in session.scalars(query) if client_status(client) == "active"]


def pick(
    session: Session, viewer: Principal, target: Target, credential: str, environment: str, product: str | None
) -> Choice:
    """The viewer's choice, checked: a credential of their own, usable for this API in this environment."""
    if environment not in ENVIRONMENTS:
        raise Invalid(f"environment must be one of {', '.join(ENVIRONMENTS)}")
    credential = credential.strip()
    for prefix in KEY_PREFIXES.values():  # `dh_test_<id>` as shown on pages is accepted too
        if credential.startswith(prefix):
            credential = credential[len(prefix) :].split("_", 1)[0]
    mine = [c for c in choices(session, viewer, target) if c.credential_id == credential]
    if not mine and credential == KEYLESS:
        raise NotFound(
            f"no product offering {target.api_ref} {target.version.version} has a keyless plan you may use; "
            "call with one of your applications' credentials"
        )
    if not mine:
        raise NotFound(
            f"you have no credential {credential!r} that can call {target.api_ref} {target.version.version}; "
            "only your applications' credentials with a subscription to a product offering it are listed"
        )
    if product:
        mine = [c for c in mine if c.product.slug == product.strip().lower()]
        if not mine:
            what = "no credential" if credential == KEYLESS else credential
            raise Invalid(f"{what} cannot call this API through the product {product!r}")
    usable = [c for c in mine if c.environment == environment]
    if not usable:
        other = mine[0].environment
        if mine[0].keyless:
            raise Invalid(f"calls without a credential through {mine[0].product.name} go to {other}; choose {other}")
        raise Invalid(f"{mine[0].label} is a {other} credential here; choose a {environment} one")
    if len({c.product.slug for c in usable}) > 1:
        names = ", ".join(sorted({c.product.slug for c in usable}))
        what = "calls without a credential" if usable[0].keyless else usable[0].label
        raise Invalid(f"several products offer this API to {what} ({names}); name one as `product`")
    return usable[0]


def key_plan(viewer: Principal, product: Product) -> Plan | None:
    """The plan "Get a sandbox key" subscribes to: the first active one for API keys the viewer may take,
    automatic ones first."""
    plans = [p for p in visible_plans(viewer, product) if p.status == "active" and p.credential_type == "api_key"]
    return min(plans, key=lambda p: p.approval != "auto", default=None)


@dataclass
class SandboxAccess:
    """What `get_sandbox_access` did: the new application, its plan, and its key (shown this once)."""

    app: Application
    plan_name: str
    key_id: str
    key: str
    state: str


def get_sandbox_access(
    session: Session, settings: Settings, viewer: Principal, target: Target, product_slug: str, actor: Actor
) -> SandboxAccess:
    """From the console's empty state, in one step: a new application (with its sandbox key) subscribed to a
    plan of a product offering this API, the same way "Get access" does on the product's page. The plan is
    the first the viewer may take that an API key works with, automatic ones first; sandbox keys work while
    a reviewed request is pending too."""
    from devhub.apps.credentials import register_app
    from devhub.apps.schemas import ApplicationIn
    from devhub.apps.service import subscribe

    require(viewer, "apps.create")
    product = next((p for p in offering_products(session, viewer, target) if p.slug == product_slug), None)
    if product is None:
        raise NotFound(f"no product {product_slug!r} offers {target.api_ref} {target.version.version}")
    plan = key_plan(viewer, product)
    if plan is None:
        raise Invalid(f"{product.name} has no plan for API keys; ask for access on its page")
    registered = register_app(session, viewer, ApplicationIn(name=f"{product.name} app"), actor)
    subscription = subscribe(session, settings, viewer, registered.app, plan, actor)
    return SandboxAccess(
        registered.app, plan.name, registered.key.key.key_id, registered.key.secret, subscription.state
    )


# --- the request --------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """The request as it will be sent: the internal URL (for the call) and the public one (for curl)."""

    method: str
    path_and_query: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    content: bytes | None = None
    content_type: str | None = None
    body_text: str | None = None


def internal_gateway_url(settings: Settings) -> str:
    """Where the portal reaches the gateway: its listening address (a wildcard address means this host)."""
    host = settings.gateway_host if settings.gateway_host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.gateway_port}"


def public_gateway_url(settings: Settings) -> str:
    return (settings.gateway_url or f"http://{settings.gateway_host}:{settings.gateway_port}").rstrip("/")


def prepare(
    session: Session,
    target: Target,
    choice: Choice,
    values: dict[str, dict[str, Any]],
    body: str | None,
    content_type: str | None,
) -> Prepared:
    """The request for these values: only declared parameters, the path built on the product's route."""
    from devhub.gateway.routing import gateway_base_path

    values = _declared(target, values)
    base = gateway_base_path(session, choice.product.id, target.api_ref, target.version.version).rstrip("/")
    path = base + _fill_path(target, values.get("path", {}))
    query = _query(target, values.get("query", {}))
    prepared = Prepared(target.entry.method.upper(), path + (f"?{query}" if query else ""))
    prepared.headers = _headers(target, values.get("header", {}), values.get("cookie", {}))
    _set_body(prepared, target, body, content_type)
    _check_path(prepared.path_and_query, base)
    return prepared


def _declared(target: Target, values: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The values by location and declared name (header names matched whatever their case); anything the
    operation does not declare (or the console does not offer) is refused."""
    declared = {(f.location, f.name.lower() if f.location == "header" else f.name): f for f in target.fields}
    out: dict[str, dict[str, Any]] = {}
    for location, named in values.items():
        if location not in CONSOLE_LOCATIONS:
            raise Invalid(f"parameters go in one of {', '.join(CONSOLE_LOCATIONS)}, not {location!r}")
        for name, value in named.items():
            field_ = declared.get((location, name.lower() if location == "header" else name))
            if field_ is None:
                raise Invalid(f"the operation has no {location} parameter {name!r}")
            out.setdefault(location, {})[field_.name] = value
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else console_value_text(value)


def _fill_path(target: Target, values: dict[str, Any]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group(1)
        field_ = next((f for f in target.fields if f.location == "path" and f.name == name), None)
        if field_ is None:
            raise Invalid(f"the path {target.entry.path} names {{{name}}}, which the operation does not declare")
        value = _text(values.get(name, "")).strip()
        if not value:
            raise Invalid(f"give the path parameter {name!r} a value")
        if value in (".", ".."):
            raise Invalid(f"the path parameter {name!r} cannot be {value!r}")
        return quote(value, safe="")

    path = re.sub(r"\{([^{}]+)\}", replace, target.entry.path)
    return path if path.startswith("/") else "/" + path


def _query(target: Target, values: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = []
    for field_ in target.fields:
        if field_.location != "query" or field_.name not in values:
            continue
        value = values[field_.name]
        items = value if isinstance(value, list) else None
        text = _text(value)
        if text == "" and not items:
            continue
        if field_.is_array and field_.explode:
            pairs += [(field_.name, _text(item)) for item in (items or text.split(","))]
        else:
            pairs.append((field_.name, text))
    return urlencode(pairs, quote_via=quote)


def _headers(target: Target, headers: dict[str, Any], cookies: dict[str, Any]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in headers.items():
        lowered = name.lower()
        if not TOKEN_CHARS.match(name) or lowered in REFUSED_HEADERS or lowered.startswith(REFUSED_HEADER_PREFIXES):
            raise Invalid(f"the console does not send a {name!r} header: it is the gateway's or the connection's")
        text = _text(value)
        if any(ch in text for ch in "\r\n\0"):
            raise Invalid(f"the header {name!r} cannot hold line breaks")
        if text:
            out.append((name, text))
    crumbs = []
    for name, value in cookies.items():
        text = _text(value)
        if not TOKEN_CHARS.match(name) or any(ch in text for ch in ';,\r\n\0 "\\'):
            raise Invalid(f"the cookie {name!r} needs a plain value (no spaces, quotes, commas or semicolons)")
        if text:
            crumbs.append(f"{name}={text}")
    if crumbs:
        out.append(("Cookie", "; ".join(crumbs)))
    return out


def _set_body(prepared: Prepared, target: Target, body: str | None, content_type: str | None) -> None:
    if body is None or (body.strip() == "" and not (target.body and target.body.required)):
        return
    if target.body is None:
        raise Invalid(f"{prepared.method} {target.entry.path} takes no request body")
    media = (content_type or target.body.media_types[0]).strip()
    if media not in target.body.media_types:
        raise Invalid(f"the body's content type must be one of {', '.join(target.body.media_types)}")
    if len(body.encode()) > MAX_REQUEST_BODY:
        raise Invalid("the console sends bodies up to 1 MiB")
    prepared.content_type, prepared.body_text = media, body
    if JSONISH.search(media):
        try:
            json.loads(body)
        except ValueError as exc:
            raise Invalid(f"the body is not valid JSON: {exc}") from None
        prepared.content = body.encode()
    elif media.startswith("application/x-www-form-urlencoded"):
        fields = _json_object(body)
        prepared.content = (urlencode({k: _text(v) for k, v in fields.items()}) if fields else body).encode()
    elif media.startswith("multipart/form-data"):
        fields = _json_object(body)
        if fields is None:
            raise Invalid("write a multipart body as a JSON object of its fields")
        request = httpx.Request("POST", "http://x", files={k: (None, _text(v)) for k, v in fields.items()})
        prepared.content, prepared.content_type = request.read(), request.headers["content-type"]
    else:
        prepared.content = body.encode()


def _json_object(body: str) -> dict | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _check_path(path_and_query: str, base: str) -> None:
    """Belt and braces after building: the path stays under the product's route, with no dot segments
    (which a server or client would resolve upwards) and no second authority (`//host`)."""
    path = path_and_query.split("?", 1)[0]
    segments = path.split("/")
    if not path.startswith(base + "/") and path != base:
        raise Invalid("the call would leave the API's gateway route")
    if "//" in path or any(segment in (".", "..") for segment in segments):
        raise Invalid("the path cannot hold empty or dot segments")


# --- the call -----------------------------------------------------------------------------------------------


@dataclass
class CallResult:
    method: str
    url: str  # public
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: str
    body_json: Any
    truncated: bool
    size: int
    elapsed_ms: float
    curl: str
    choice: Choice

    @property
    def status_class(self) -> str:
        return {"2": "success", "3": "info", "4": "warning", "5": "danger"}.get(str(self.status)[:1], "neutral")


def call(
    session: Session,
    settings: Settings,
    viewer: Principal,
    target: Target,
    choice: Choice,
    values: dict[str, dict[str, Any]],
    body: str | None,
    content_type: str | None = None,
) -> CallResult:
    """Make the call through the gateway as `choice` and answer what came back."""
    prepared = prepare(session, target, choice, values, body, content_type)
    headers = [*prepared.headers, ("User-Agent", "devhub-console")]
    first_key = False
    if not choice.keyless:  # a keyless call presents nothing: the gateway takes it as anyone's
        first_key = current_key(session) is None
        headers.append((CONSOLE_TOKEN_HEADER, issue_console_token(session, settings, choice.credential_id, viewer)))
    # Nothing of this request may hold a database lock while the gateway (and the built-in sandbox, which
    # writes) work on the call; a signing key made just now must reach the gateway's snapshot first.
    session.commit()
    if first_key:
        time.sleep(min(2.0, 2 * settings.gateway_poll_seconds + 0.05))
    if prepared.content_type:
        headers.append(("Content-Type", prepared.content_type))
    url = internal_gateway_url(settings) + prepared.path_and_query
    _check_host(url, settings)
    started = time.perf_counter()
    try:
        status, reason, response_headers, raw, size = _send(settings, prepared, url, headers)
    except httpx.TimeoutException:
        raise GatewayUnreachable("the gateway did not answer in time", 504) from None
    except httpx.HTTPError as exc:
        raise GatewayUnreachable(
            f"the gateway could not be reached at {internal_gateway_url(settings)}: {exc}"
        ) from None
    elapsed = (time.perf_counter() - started) * 1000
    text, parsed, truncated = _show(raw, size, dict(response_headers).get("content-type", ""))
    public = public_gateway_url(settings) + prepared.path_and_query
    return CallResult(
        prepared.method,
        public,
        status,
        reason,
        response_headers,
        text,
        parsed,
        truncated,
        size,
        round(elapsed, 1),
        curl_command(settings, prepared, public, choice),
        choice,
    )


def _check_host(url: str, settings: Settings) -> None:
    parsed, gateway = httpx.URL(url), httpx.URL(internal_gateway_url(settings))
    if (parsed.scheme, parsed.host, parsed.port) != (gateway.scheme, gateway.host, gateway.port):
        raise Invalid("the console only calls the gateway")


def _send(
    settings: Settings, prepared: Prepared, url: str, headers: list[tuple[str, str]]
) -> tuple[int, str, list[tuple[str, str]], bytes, int]:
    timeout = httpx.Timeout(settings.http_timeout_seconds, connect=settings.gateway_connect_timeout)
    with httpx.Client(trust_env=False, follow_redirects=False, timeout=timeout) as client:
        request = client.build_request(prepared.method, url, headers=headers, content=prepared.content)
        response = client.send(request, stream=True)
        try:
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                if size < MAX_BODY_READ:
                    chunks.append(chunk)
                size += len(chunk)
        finally:
            response.close()
        return (
            response.status_code,
            response.reason_phrase,
            list(response.headers.multi_items()),
            b"".join(chunks),
            size,
        )


def _show(raw: bytes, size: int, content_type: str) -> tuple[str, Any, bool]:
    """The body as the console shows it: JSON indented, text as it is, binary described."""
    if not raw:
        return "", None, False
    if content_type and not TEXTUAL.search(content_type):
        return f"({size} bytes of {content_type.split(';')[0]}, not shown)", None, False
    text = raw.decode("utf-8", errors="replace")
    parsed = None
    if size <= MAX_BODY_READ and (JSONISH.search(content_type) or not content_type):
        try:
            parsed = json.loads(text)
            text = json.dumps(parsed, indent=2, ensure_ascii=False)
        except ValueError:
            parsed = None
    truncated = size > MAX_BODY_SHOWN or len(text) > MAX_BODY_SHOWN
    return text[:MAX_BODY_SHOWN], parsed, truncated


def curl_command(settings: Settings, prepared: Prepared, url: str, choice: Choice) -> str:
    """The call as curl: the credential as a shell variable, introduced by a comment with its public id."""
    lines: list[str] = []
    credential = None
    if choice.keyless:
        lines.append(f"# no credential: {choice.product.name} has a keyless plan")
    elif choice.kind == "api_key":
        header = settings.gateway_key_headers[0] if settings.gateway_key_headers else "x-api-key"
        lines.append(f"# {KEY_VARIABLE}: your {choice.environment} key {choice.label}_… (shown once, when issued)")
        credential = f'-H "{_header_name(header)}: ${KEY_VARIABLE}"'
    else:
        token_url = settings.base_url.rstrip("/") + TOKEN_PATH
        lines.append(f"# {TOKEN_VARIABLE}: an access token of the OAuth2 client {choice.label}, from")
        lines.append(
            f'#   curl -u "{choice.label}:${SECRET_VARIABLE}" -d grant_type=client_credentials {shlex.quote(token_url)}'
        )
        credential = f'-H "Authorization: Bearer ${TOKEN_VARIABLE}"'
    parts = ["curl"]
    if prepared.method != "GET" or prepared.content is not None:
        parts += ["-X", prepared.method]
    parts.append(shlex.quote(url))
    command = [" ".join(parts), *([f"  {credential}"] if credential else [])]
    command += [f"  -H {shlex.quote(f'{name}: {value}')}" for name, value in prepared.headers]
    if prepared.content_type:
        if prepared.content_type.startswith("multipart/form-data"):
            for name, value in (_json_object(prepared.body_text or "") or {}).items():
                command.append(f"  -F {shlex.quote(f'{name}={_text(value)}')}")
        else:
            command.append(f"  -H {shlex.quote(f'Content-Type: {prepared.content_type}')}")
            command.append(f"  --data-raw {shlex.quote((prepared.content or b'').decode())}")
    return "\n".join([*lines, " \\\n".join(command)])


def _header_name(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
