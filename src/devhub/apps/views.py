"""Self-serve access pages: products and plans, applications with their credentials, the owners' queue.

    GET  /products                         products you may see (search, pagination)
    GET  /products/{slug}                  description, APIs, plans and the "Get access" form
    POST /products/{slug}/access           subscribe an application (or a new one) to a plan
    GET|POST /products/new, /products/{slug}/edit, /products/{slug}/plans/new, .../plans/{plan}/edit
    GET  /apps, /apps/new (+ POST), /apps/{app_id}, /apps/{app_id}/edit (+ POST), POST /apps/{app_id}/delete
    POST /apps/{app_id}/keys, /keys/{key_id}/rotate|revoke, /clients, /clients/{client_id}/rotate|revoke,
         /subscriptions, /subscriptions/{sub_id}/cancel
    GET  /requests                         requests to your teams' products; POST /requests/{sub_id} decides

From a new account to a usable sandbox key: sign up, open Products, open a product, submit "Get access"
(a new application gets its sandbox key and OAuth2 client at once; the result page shows them once).

Every action calls the same `apps.service` / `apps.credentials` functions as `apps.api`. A `Problem` or a
`ValidationError` on a form post rolls the request's transaction back and shows the form again with the
message (and the problem's status). Secrets are only ever in the body of the response to the post that
issued them: never in a URL, a redirect or a later page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from devhub.apps import credentials, service
from devhub.apps.deps import CALLER, Caller
from devhub.apps.models import APPROVALS, CREDENTIAL_TYPES, ENVIRONMENTS, Application, Product
from devhub.apps.schemas import (
    ApplicationIn,
    ApplicationUpdate,
    KeyIn,
    PlanIn,
    PlanUpdate,
    ProductApiIn,
    ProductIn,
    ProductUpdate,
)
from devhub.catalog import service as catalog
from devhub.deps import get_page
from devhub.identity.policy import Principal, Unauthorized, can, require
from devhub.pagination import PageRequest
from devhub.problems import Problem
from devhub.web import form_data, render, sign_in_redirect

router = APIRouter(include_in_schema=False)
VISIBILITIES = ("public", "internal", "private")
LIMITS = (
    ("rate_per_second", "Requests per second"),
    ("rate_per_minute", "Requests per minute"),
    ("rate_per_hour", "Requests per hour"),
    ("quota_per_day", "Quota per day"),
    ("quota_per_month", "Quota per month"),
)
PLAN_CHOICES = {  # what the plan form offers to pick from
    "limits": LIMITS,
    "visibilities": VISIBILITIES,
    "approvals": APPROVALS,
    "credential_types": CREDENTIAL_TYPES,
}
QUEUE_TABS = ("pending", "approved", "suspended", "all")
ALL_PLANS = PageRequest(1, 1000)  # products number in the tens or hundreds
REFUSALS = (Problem, ValidationError)  # what a form post shows on the page again instead of raising


FORM = Depends(form_data)


def _sign_in(request: Request, viewer: Principal) -> RedirectResponse | None:
    """Anonymous visitors go to the sign-in page and come back; a pending account is told by `require`."""
    if viewer.user_id is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return sign_in_redirect(here)
    return None


def _see_other(url: str) -> RedirectResponse:
    """A 303: the browser loads `url` with a GET (after a post, the session has committed by then)."""
    return RedirectResponse(url, status_code=303)


def _message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]).replace("_", " ")
            parts.append(f"{field}: {error['msg']}" if field else error["msg"])
        return "; ".join(parts)
    if isinstance(exc, Problem):
        return exc.detail or exc.title
    return str(exc)


def _refused(session: Session, exc: Exception) -> dict[str, Any]:
    """Roll back what a refused post wrote, and say how its page shows the refusal: `error`, the message,
    and `status_code`, the problem's status (422 for invalid input). Look things up again after this."""
    session.rollback()
    return {"error": _message(exc), "status_code": exc.status if isinstance(exc, Problem) else 422}


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _optional(form: FormData, name: str) -> str | None:
    return _text(form, name) or None


def _words(value: str) -> list[str]:
    return [word for word in value.replace(",", " ").split() if word]


def _api_lines(value: str) -> list[ProductApiIn]:
    """One API a line: `name`, `namespace/name` or `api:namespace/name`, optionally a version and a `/path`."""
    return [item for item in map(ProductApiIn.parse_line, value.splitlines()) if item is not None]


def _api_line(entry) -> str:
    return " ".join(part for part in (entry.api_ref, entry.version, f"/{entry.path}" if entry.path else None) if part)


def _api_link(ref: str) -> str:
    _, _, rest = ref.partition(":")
    namespace, _, name = rest.rpartition("/")
    return f"/apis/{quote(namespace or 'default')}/{quote(name)}"


# --- products -------------------------------------------------------------------------------------------


@router.get("/products", response_class=HTMLResponse)
def products(
    request: Request,
    q: str | None = Query(None, max_length=200),
    mine: bool = False,
    page: PageRequest = Depends(get_page),
    caller: Caller = CALLER,
):
    viewer = caller.viewer
    require(viewer, "products.read")
    return render(
        request,
        "apps/products.html",
        page=service.list_products(caller.session, viewer, page, q or None, mine),
        q=q or "",
        mine=mine,
        can_create=viewer.signed_in and (viewer.is_admin or bool(viewer.teams)),
    )


def _my_apps(caller: Caller) -> list[Application]:
    return service.list_apps(caller.session, caller.viewer, ALL_PLANS).items if caller.viewer.signed_in else []


def _product_page(
    request: Request,
    caller: Caller,
    product: Product,
    *,
    status_code: int = 200,
    error: str | None = None,
    values: dict | None = None,
) -> HTMLResponse:
    refs = [link.api_ref for link in product.apis]
    hidden = catalog.hidden_refs(caller.session, refs, caller.viewer)
    apis = [(link, _api_link(link.api_ref)) for link in product.apis if link.api_ref not in hidden]
    return render(
        request,
        "apps/product.html",
        status_code=status_code,
        product=product,
        apis=apis,
        plans=service.visible_plans(caller.viewer, product),
        managing=can(caller.viewer, "products.manage", product.owner_ref),
        apps=_my_apps(caller),
        error=error,
        values=values or {},
        limits=LIMITS,
    )


@router.get("/products/new", response_class=HTMLResponse)
def new_product(request: Request, caller: Caller = CALLER):
    if redirect := _sign_in(request, caller.viewer):
        return redirect
    _require_some_team(caller.viewer)
    values = {"visibility": "internal", "owner": _first_team(caller.viewer)}
    return _product_form(request, caller.viewer, None, values)


def _require_some_team(viewer: Principal) -> None:
    if not viewer.signed_in:
        raise Unauthorized()
    if not (viewer.is_admin or viewer.teams):
        raise Problem(403, "Forbidden", "products belong to a team: join a team to offer its APIs")


def _first_team(viewer: Principal) -> str:
    return sorted(viewer.teams)[0] if viewer.teams else ""


def _form_page(
    request: Request, template: str, values: dict, *, error: str | None = None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A form filled with `values` (stored, or as typed); after a refused post, with `_refused`'s message and status."""
    return render(request, template, status_code=status_code, values=values, error=error, **context)


def _product_form(
    request: Request, viewer: Principal, product: Product | None, values: dict, **shown: Any
) -> HTMLResponse:
    teams = sorted(viewer.teams)
    return _form_page(
        request, "apps/product_form.html", values, product=product, teams=teams, visibilities=VISIBILITIES, **shown
    )


def _product_values(form: FormData) -> dict:
    return {
        name: _text(form, name)
        for name in (
            "slug",
            "name",
            "description",
            "owner",
            "visibility",
            "access_teams",
            "apis",
            "gateway_path",
            "hosts",
            "sandbox_url",
            "production_url",
            "status",
        )
    }


@router.post("/products/new", response_class=HTMLResponse)
def create_product(request: Request, form: FormData = FORM, caller: Caller = CALLER):
    values = _product_values(form)
    try:
        data = ProductIn(
            slug=values["slug"].lower(),
            name=values["name"],
            description=values["description"],
            owner=values["owner"],
            visibility=values["visibility"] or "internal",
            access_teams=_words(values["access_teams"]),
            apis=_api_lines(values["apis"]),
            gateway_path=values["gateway_path"] or None,
            hosts=_words(values["hosts"]),
            sandbox_url=values["sandbox_url"] or None,
            production_url=values["production_url"] or None,
        )
        product = service.create_product(caller.session, caller.viewer, data, caller.actor)
    except REFUSALS as exc:
        return _product_form(request, caller.viewer, None, values, **_refused(caller.session, exc))
    return _see_other(f"/products/{product.slug}")


@router.get("/products/{slug}", response_class=HTMLResponse)
def product_page(request: Request, slug: str, caller: Caller = CALLER):
    require(caller.viewer, "products.read")
    return _product_page(request, caller, caller.product(slug))


def _issued(registered: credentials.RegisteredApp) -> dict[str, Any]:
    """A new application's sandbox key and client, for `_app_page` to show once."""
    return {"issued_key": registered.key, "issued_client": registered.client}


@router.post("/products/{slug}/access", response_class=HTMLResponse)
def get_access(request: Request, slug: str, form: FormData = FORM, caller: Caller = CALLER):
    """Subscribe one of your applications, or a new one (which gets its sandbox key and client), to a plan."""
    product = caller.product(slug)
    require(caller.viewer, "apps.create")
    values = {"plan": _text(form, "plan"), "app": _text(form, "app"), "app_name": _text(form, "app_name")}
    issued: dict[str, Any] = {}
    try:
        plan = service.get_plan(product, values["plan"], caller.viewer)
        if values["app"]:
            app = caller.app(values["app"])
        else:
            data = ApplicationIn(name=values["app_name"] or product.name)
            registered = credentials.register_app(caller.session, caller.viewer, data, caller.actor)
            app, issued = registered.app, _issued(registered)
        subscription = service.subscribe(caller.session, caller.settings, caller.viewer, app, plan, caller.actor)
    except REFUSALS as exc:
        refused = _refused(caller.session, exc)
        return _product_page(request, caller, caller.product(slug), values=values, **refused)
    if subscription.state == "approved":
        notice = f"{app.name} has the {plan.name} plan of {product.name}: sandbox and production access are granted."
    else:
        notice = (
            f"{app.name} asked for the {plan.name} plan of {product.name}: its owners will review the request. "
            "Sandbox access works meanwhile."
        )
    return _app_page(request, caller, app, status_code=201, notice=notice, **issued)


def _managed_product(caller: Caller, slug: str) -> Product:
    product = caller.product(slug)
    require(caller.viewer, "products.manage", product.owner_ref)
    return product


@router.get("/products/{slug}/edit", response_class=HTMLResponse)
def edit_product(request: Request, slug: str, caller: Caller = CALLER):
    product = _managed_product(caller, slug)
    values = {
        "name": product.name,
        "description": product.description,
        "owner": product.owner_ref,
        "visibility": product.visibility,
        "access_teams": "\n".join(product.access_teams or []),
        "apis": "\n".join(_api_line(a) for a in product.apis),
        "hosts": "\n".join(product.hosts or []),
        "sandbox_url": product.sandbox_url or "",
        "production_url": product.production_url or "",
        "status": product.status,
    }
    return _product_form(request, caller.viewer, product, values)


@router.post("/products/{slug}/edit", response_class=HTMLResponse)
def update_product(request: Request, slug: str, form: FormData = FORM, caller: Caller = CALLER):
    product = _managed_product(caller, slug)
    values = _product_values(form)
    try:
        data = ProductUpdate(
            name=values["name"],
            description=values["description"],
            visibility=values["visibility"] or product.visibility,
            access_teams=_words(values["access_teams"]),
            apis=_api_lines(values["apis"]),
            hosts=_words(values["hosts"]),
            sandbox_url=values["sandbox_url"] or None,
            production_url=values["production_url"] or None,
            status=values["status"] or product.status,
        )
        service.update_product(caller.session, caller.viewer, product, data, caller.actor)
    except REFUSALS as exc:
        refused = _refused(caller.session, exc)
        product = _managed_product(caller, slug)
        values["owner"] = product.owner_ref
        return _product_form(request, caller.viewer, product, values, **refused)
    return _see_other(f"/products/{product.slug}")


# --- plans ----------------------------------------------------------------------------------------------


def _plan_form(request: Request, product: Product, plan: Any, values: dict, **shown: Any) -> HTMLResponse:
    return _form_page(request, "apps/plan_form.html", values, product=product, plan=plan, **PLAN_CHOICES, **shown)


def _plan_values(form: FormData) -> dict:
    values = {
        name: _text(form, name)
        for name in ("slug", "name", "description", "credential_type", "approval", "visibility", "status")
    }
    values |= {"access_teams": _text(form, "access_teams"), "scopes": _text(form, "scopes")}
    values |= {field: _text(form, field) for field, _ in LIMITS}
    values["key_in_query"] = form.get("key_in_query") in ("on", "true", "1")
    return values


def _plan_fields(values: dict) -> dict:
    """What PlanIn and PlanUpdate share; an empty limit means no limit."""
    return {
        "name": values["name"],
        "description": values["description"],
        "approval": values["approval"] or "auto",
        "visibility": values["visibility"] or "public",
        "access_teams": _words(values["access_teams"]),
        "scopes": _words(values["scopes"]),
        "key_in_query": values["key_in_query"],
        **{field: values[field] or None for field, _ in LIMITS},
    }


@router.get("/products/{slug}/plans/new", response_class=HTMLResponse)
def new_plan(request: Request, slug: str, caller: Caller = CALLER):
    product = _managed_product(caller, slug)
    values = {"approval": "auto", "visibility": "public", "credential_type": "api_key"}
    return _plan_form(request, product, None, values)


@router.post("/products/{slug}/plans/new", response_class=HTMLResponse)
def create_plan(request: Request, slug: str, form: FormData = FORM, caller: Caller = CALLER):
    product = _managed_product(caller, slug)
    values = _plan_values(form)
    try:
        data = PlanIn(
            slug=values["slug"].lower(),
            credential_type=values["credential_type"] or "api_key",
            **_plan_fields(values),
        )
        service.create_plan(caller.session, caller.viewer, product, data, caller.actor)
    except REFUSALS as exc:
        refused = _refused(caller.session, exc)
        return _plan_form(request, _managed_product(caller, slug), None, values, **refused)
    return _see_other(f"/products/{product.slug}#plans")


@router.get("/products/{slug}/plans/{plan}/edit", response_class=HTMLResponse)
def edit_plan(request: Request, slug: str, plan: str, caller: Caller = CALLER):
    product = _managed_product(caller, slug)
    found = service.get_plan(product, plan, caller.viewer)
    values = {
        "name": found.name,
        "description": found.description,
        "credential_type": found.credential_type,
        "approval": found.approval,
        "visibility": found.visibility,
        "status": found.status,
        "access_teams": "\n".join(found.access_teams or []),
        "scopes": " ".join(found.scopes or []),
        "key_in_query": found.key_in_query,
        **{field: "" if getattr(found, field) is None else str(getattr(found, field)) for field, _ in LIMITS},
    }
    return _plan_form(request, product, found, values)


@router.post("/products/{slug}/plans/{plan}/edit", response_class=HTMLResponse)
def update_plan(request: Request, slug: str, plan: str, form: FormData = FORM, caller: Caller = CALLER):
    product = _managed_product(caller, slug)
    found = service.get_plan(product, plan, caller.viewer)
    values = _plan_values(form)
    try:
        data = PlanUpdate(status=values["status"] or found.status, **_plan_fields(values))
        service.update_plan(caller.session, caller.viewer, found, data, caller.actor)
    except REFUSALS as exc:
        refused = _refused(caller.session, exc)
        product = _managed_product(caller, slug)
        found = service.get_plan(product, plan, caller.viewer)
        values["credential_type"] = found.credential_type
        return _plan_form(request, product, found, values, **refused)
    return _see_other(f"/products/{product.slug}#plans")


# --- applications ---------------------------------------------------------------------------------------


def _requestable(caller: Caller, app: Application) -> list[tuple[Product, list]]:
    """Active plans of the products the viewer sees, but not those of products the app already holds."""
    held = {s.product_id for s in app.subscriptions if s.state in service.LIVE_STATES}
    found = []
    for product in service.list_products(caller.session, caller.viewer, ALL_PLANS).items:
        if product.id in held or product.status != "active":
            continue
        plans = [plan for plan in service.visible_plans(caller.viewer, product) if plan.status == "active"]
        if plans:
            found.append((product, plans))
    return found


def _app_page(
    request: Request,
    caller: Caller,
    app: Application,
    *,
    status_code: int = 200,
    issued_key: credentials.IssuedKey | None = None,
    issued_client: credentials.IssuedClient | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    session = caller.session
    session.refresh(app, ["subscriptions"])
    keys = [(key, credentials.key_status(key)) for key in credentials.app_keys(session, app)]
    clients = [(client, credentials.client_status(client)) for client in credentials.app_clients(session, app)]
    return render(
        request,
        "apps/app.html",
        status_code=status_code,
        app=app,
        owner=service.app_owner_label(session, app),
        subscriptions=app.subscriptions,
        keys=keys,
        clients=clients,
        requestable=_requestable(caller, app),
        production_ready=service.has_approved_subscription(session, app),
        environments=ENVIRONMENTS,
        issued_key=issued_key,
        issued_client=issued_client,
        notice=notice,
        error=error,
    )


@router.get("/apps", response_class=HTMLResponse)
def apps(request: Request, page: PageRequest = Depends(get_page), caller: Caller = CALLER):
    if redirect := _sign_in(request, caller.viewer):
        return redirect
    result = service.list_apps(caller.session, caller.viewer, page)
    return render(request, "apps/apps.html", page=result, deleted=request.query_params.get("deleted"))


@router.get("/apps/new", response_class=HTMLResponse)
def new_app(request: Request, caller: Caller = CALLER):
    if redirect := _sign_in(request, caller.viewer):
        return redirect
    require(caller.viewer, "apps.create")
    return _app_form(request, caller.viewer, None, {})


def _app_form(request: Request, viewer: Principal, app: Application | None, values: dict, **shown: Any) -> HTMLResponse:
    return _form_page(request, "apps/app_form.html", values, app=app, teams=sorted(viewer.teams), **shown)


def _app_values(form: FormData) -> dict:
    return {name: _text(form, name) for name in ("name", "description", "team", "callback_urls")}


@router.post("/apps/new", response_class=HTMLResponse)
def create_app(request: Request, form: FormData = FORM, caller: Caller = CALLER):
    """Like `POST /api/v1/apps`: the application comes with a sandbox key and client, shown once."""
    require(caller.viewer, "apps.create")
    values = _app_values(form)
    try:
        data = ApplicationIn(
            name=values["name"],
            description=values["description"],
            team=values["team"] or None,
            callback_urls=values["callback_urls"].split(),
        )
        registered = credentials.register_app(caller.session, caller.viewer, data, caller.actor)
    except REFUSALS as exc:
        return _app_form(request, caller.viewer, None, values, **_refused(caller.session, exc))
    notice = f"{registered.app.name} is registered. Subscribe it to a plan to call an API."
    return _app_page(request, caller, registered.app, status_code=201, notice=notice, **_issued(registered))


@router.get("/apps/{app_id}", response_class=HTMLResponse)
def app_page(request: Request, app_id: str, caller: Caller = CALLER):
    if redirect := _sign_in(request, caller.viewer):
        return redirect
    return _app_page(request, caller, caller.app(app_id))


@router.get("/apps/{app_id}/edit", response_class=HTMLResponse)
def edit_app(request: Request, app_id: str, caller: Caller = CALLER):
    if redirect := _sign_in(request, caller.viewer):
        return redirect
    app = caller.app(app_id)
    values = {"name": app.name, "description": app.description, "callback_urls": "\n".join(app.callback_urls or [])}
    return _app_form(request, caller.viewer, app, values)


@router.post("/apps/{app_id}/edit", response_class=HTMLResponse)
def update_app(request: Request, app_id: str, form: FormData = FORM, caller: Caller = CALLER):
    app = caller.app(app_id)
    values = _app_values(form)
    try:
        data = ApplicationUpdate(
            name=values["name"], description=values["description"], callback_urls=values["callback_urls"].split()
        )
        service.update_app(caller.session, app, data, caller.actor)
    except REFUSALS as exc:
        refused = _refused(caller.session, exc)
        return _app_form(request, caller.viewer, caller.app(app_id), values, **refused)
    return _see_other(f"/apps/{app.uid}")


@router.post("/apps/{app_id}/delete")
def delete_app(app_id: str, caller: Caller = CALLER):
    app = caller.app(app_id)
    name = app.name
    service.delete_app(caller.session, app, caller.actor)
    return _see_other(f"/apps?deleted={quote(name)}")


def _act_on_app(
    request: Request, caller: Caller, app_id: str, act: Callable[[Application], dict[str, Any] | None]
) -> Response:
    """Every post on an application's page: look the application up (404 for someone else's), then `act(app)`.

    `act` returns None to send the browser back to the page (303), or what the page shows at once (201):
    secrets it just issued (`issued_key`, `issued_client`: the only time they are shown) and a `notice`.
    A refusal rolls back and shows the page with the message and the problem's status."""
    app = caller.app(app_id)
    try:
        shown = act(app)
    except REFUSALS as exc:
        refused = _refused(caller.session, exc)
        return _app_page(request, caller, caller.app(app_id), **refused)
    if shown is None:
        return _see_other(f"/apps/{app.uid}")
    return _app_page(request, caller, app, status_code=201, **shown)


@router.post("/apps/{app_id}/keys", response_class=HTMLResponse)
def create_key(request: Request, app_id: str, form: FormData = FORM, caller: Caller = CALLER):
    def act(app: Application):
        body = KeyIn(
            name=_text(form, "name") or "default",
            environment=_text(form, "environment") or "sandbox",
            expires_in_days=_optional(form, "expires_in_days"),
        )
        issued = credentials.create_key(
            caller.session, app, body.environment, body.name, caller.actor, body.expires_in_days
        )
        return {"issued_key": issued}

    return _act_on_app(request, caller, app_id, act)


@router.post("/apps/{app_id}/keys/{key_id}/rotate", response_class=HTMLResponse)
def rotate_key(request: Request, app_id: str, key_id: str, caller: Caller = CALLER):
    def act(app: Application):
        key = credentials.get_key(caller.session, app, key_id)
        issued = credentials.rotate_key(caller.session, caller.settings, app, key, caller.actor)
        notice = (
            f"The key {key.prefix} keeps working until {key.grace_until:%Y-%m-%d %H:%M} UTC; switch to the new one."
        )
        return {"issued_key": issued, "notice": notice}

    return _act_on_app(request, caller, app_id, act)


@router.post("/apps/{app_id}/keys/{key_id}/revoke", response_class=HTMLResponse)
def revoke_key(request: Request, app_id: str, key_id: str, caller: Caller = CALLER):
    def act(app: Application):
        key = credentials.get_key(caller.session, app, key_id)
        credentials.revoke_key(caller.session, caller.settings, app, key, caller.actor)

    return _act_on_app(request, caller, app_id, act)


@router.post("/apps/{app_id}/clients", response_class=HTMLResponse)
def create_client(request: Request, app_id: str, form: FormData = FORM, caller: Caller = CALLER):
    def act(app: Application):
        environment = _text(form, "environment") or "sandbox"
        return {"issued_client": credentials.create_client(caller.session, app, environment, caller.actor)}

    return _act_on_app(request, caller, app_id, act)


@router.post("/apps/{app_id}/clients/{client_id}/rotate", response_class=HTMLResponse)
def rotate_client(request: Request, app_id: str, client_id: str, caller: Caller = CALLER):
    def act(app: Application):
        client = credentials.get_client(caller.session, app, client_id)
        issued = credentials.rotate_client_secret(caller.session, caller.settings, app, client, caller.actor)
        until = f"{client.previous_valid_until:%Y-%m-%d %H:%M} UTC"
        notice = f"The previous secret of {client.client_id} keeps working until {until}."
        return {"issued_client": issued, "notice": notice}

    return _act_on_app(request, caller, app_id, act)


@router.post("/apps/{app_id}/clients/{client_id}/revoke", response_class=HTMLResponse)
def revoke_client(request: Request, app_id: str, client_id: str, caller: Caller = CALLER):
    def act(app: Application):
        client = credentials.get_client(caller.session, app, client_id)
        credentials.revoke_client(caller.session, caller.settings, app, client, caller.actor)

    return _act_on_app(request, caller, app_id, act)


@router.post("/apps/{app_id}/subscriptions", response_class=HTMLResponse)
def subscribe(request: Request, app_id: str, form: FormData = FORM, caller: Caller = CALLER):
    """Request another plan: `plan` reads `<product slug>/<plan slug>`."""
    product_slug, _, plan_slug = _text(form, "plan").partition("/")

    def act(app: Application):
        plan = service.get_plan(caller.product(product_slug), plan_slug, caller.viewer)
        subscription = service.subscribe(caller.session, caller.settings, caller.viewer, app, plan, caller.actor)
        what = f"the {plan.name} plan of {plan.product.name}"
        approved = subscription.state == "approved"
        return {"notice": f"{app.name} has {what}." if approved else f"You asked for {what}; it is pending."}

    return _act_on_app(request, caller, app_id, act)


@router.post("/apps/{app_id}/subscriptions/{sub_id}/cancel", response_class=HTMLResponse)
def cancel_subscription(request: Request, app_id: str, sub_id: str, form: FormData = FORM, caller: Caller = CALLER):
    """The application's owners cancel (revoke) one of its subscriptions; the reason may stay empty here."""

    def act(app: Application):
        subscription = service.get_subscription(caller.session, sub_id, caller.viewer)
        if subscription.application_id != app.id:
            raise Problem(404, "Not found", f"{app.name} has no subscription {sub_id!r}")
        reason = _text(form, "reason") or f"cancelled by {caller.actor.name}"
        service.decide(caller.session, caller.settings, caller.viewer, subscription, "revoke", reason, caller.actor)

    return _act_on_app(request, caller, app_id, act)


# --- the owners' queue ----------------------------------------------------------------------------------


def _queue(
    request: Request,
    caller: Caller,
    state: str,
    page: PageRequest,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    result = service.subscription_queue(caller.session, caller.viewer, page, None if state == "all" else state)
    return render(
        request,
        "apps/requests.html",
        status_code=status_code,
        page=result,
        state=state,
        tabs=QUEUE_TABS,
        error=error,
        owner_label=lambda app: service.app_owner_label(caller.session, app),
    )


@router.get("/requests", response_class=HTMLResponse)
def requests_page(
    request: Request,
    state: str = Query("pending", pattern="^(pending|approved|suspended|rejected|revoked|all)$"),
    page: PageRequest = Depends(get_page),
    caller: Caller = CALLER,
):
    if redirect := _sign_in(request, caller.viewer):
        return redirect
    require(caller.viewer, "apps.create")
    return _queue(request, caller, state, page)


@router.post("/requests/{sub_id}", response_class=HTMLResponse)
def decide(
    request: Request,
    sub_id: str,
    form: FormData = FORM,
    caller: Caller = CALLER,
    page: PageRequest = Depends(get_page),
):
    """Approve, reject, suspend, resume or revoke; then back to the tab the owner was on."""
    tab = _text(form, "tab")
    tab = tab if tab in QUEUE_TABS else "pending"
    action = _text(form, "action")
    try:
        if action not in service.TRANSITIONS:
            raise Problem(422, "Invalid request", f"{action!r} is not a decision")
        subscription = service.get_subscription(caller.session, sub_id, caller.viewer)
        reason = _optional(form, "reason")
        service.decide(caller.session, caller.settings, caller.viewer, subscription, action, reason, caller.actor)
    except Problem as exc:
        refused = _refused(caller.session, exc)
        if not caller.viewer.signed_in:
            raise
        return _queue(request, caller, tab, page, **refused)
    return _see_other(f"/requests?state={tab}")
