"""The console's pages.

    GET  /apis/{namespace}/{name}/v/{version}/operations/{anchor}/try   the console with your credentials
    POST /apis/{namespace}/{name}/v/{version}/operations/{anchor}/try   make the call, show the answer

The operation page carries the console's form in its cached fragment, the same for everyone; it GETs this
page (which knows the viewer, their credentials and the CSRF token) and, with htmx, is replaced by it at
once. The GET never calls anything: only the POST does, with the CSRF token. Under htmx (`HX-Request`)
both answer fragments: the console section, the credential picker (`?part=credentials`, when the
environment changes) or the result, always with status 200 so htmx swaps errors in too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from devhub.audit.service import Actor
from devhub.console import service
from devhub.deps import get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal
from devhub.problems import Problem
from devhub.settings import Settings
from devhub.web import form_data, render, sign_in_redirect, templates

router = APIRouter(include_in_schema=False)
SESSION = Depends(get_session, scope="function")
TRY = "/apis/{namespace}/{name}/v/{version}/operations/{anchor}/try"


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _field(source: Any, name: str) -> str | None:
    value = source.get(name)
    return value if isinstance(value, str) else None


def _entered(target: service.Target, source: Any) -> dict[str, str]:
    """The parameter values in a form or query string, by form name; absent ones keep their example."""
    return {f.form_name: value for f in target.fields if (value := _field(source, f.form_name)) is not None}


def _values(target: service.Target, entered: dict[str, str]) -> dict[str, dict[str, str]]:
    """Entered values by location and name, for `service.call`; only declared parameters exist here, so
    extra form fields (`url`, `host`, ...) are never read."""
    values: dict[str, dict[str, str]] = {}
    for f in target.fields:
        values.setdefault(f.location, {})[f.name] = entered.get(f.form_name, f.value)
    return values


def _empty(viewer: Principal, session: Session, target: service.Target, environment: str) -> dict:
    """Why there is nothing to pick, and where to go: sign in, get access to a product offering the API, or
    the other environment, where a keyless plan's calls go."""
    products = service.offering_products(session, viewer, target)
    keyless = [c for c in service.choices(session, viewer, target) if c.keyless and c.environment != environment]
    return {
        "signed_in": viewer.signed_in,
        "products": [(p.name, f"/products/{quote(p.slug)}", p.slug) for p in products],
        "key_products": [(p.name, p.slug) for p in products if service.key_plan(viewer, p) is not None],
        "keyless_elsewhere": [(c.product.name, c.environment) for c in keyless],
        "login_url": f"/login?next={quote(target.page_url, safe='')}",
        "signup_url": f"/signup?next={quote(target.page_url, safe='')}",
    }


def _context(
    request: Request,
    session: Session,
    viewer: Principal,
    target: service.Target,
    source: Any,
    **extra: Any,
) -> dict[str, Any]:
    environment = _field(source, "environment") or "sandbox"
    environment = environment if environment in service.ENVIRONMENTS else "sandbox"
    choices = service.choices(session, viewer, target, environment)
    body_value = _field(source, "body")
    return {
        "target": target,
        "fields": target.fields,
        "body": target.body,
        "action": target.page_url + "/try",
        "live": True,
        "values": _entered(target, source),
        "body_value": body_value if body_value is not None else (target.body.value if target.body else ""),
        "content_type": _field(source, "content_type"),
        "environment": environment,
        "choices": choices,
        "selected": _field(source, "credential") or (choices[0].value if choices else None),
        "empty": None if choices else _empty(viewer, session, target, environment),
        "signed_in": viewer.signed_in,
        "result": None,
        "error": None,
        **extra,
    }


def _fragment(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    html = templates.env.get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Vary": "HX-Request"})


def _page(request: Request, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """The console on its own page; the same URL answers a fragment to htmx, hence `Vary`."""
    response = render(request, "console/page.html", status_code=status_code, **context)
    response.headers["Vary"] = "HX-Request"
    return response


def _open(session: Session, viewer: Principal, namespace: str, name: str, version: str, anchor: str):
    return service.open_operation(session, viewer, f"{namespace}/{name}", version, anchor)


@router.get(TRY, response_class=HTMLResponse)
def console_page(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    anchor: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    target = _open(session, viewer, namespace, name, version, anchor)
    context = _context(request, session, viewer, target, request.query_params)
    if _is_htmx(request):
        part = request.query_params.get("part")
        return _fragment(
            request, "console/credentials.html" if part == "credentials" else "console/console.html", context
        )
    return _page(request, context)


@router.post(TRY, response_class=HTMLResponse)
def console_call(
    request: Request,
    namespace: str,
    name: str,
    version: str,
    anchor: str,
    form: FormData = Depends(form_data),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> Response:
    target = _open(session, viewer, namespace, name, version, anchor)
    if not viewer.signed_in and not _is_htmx(request) and not _keyless_picked(session, viewer, target, form):
        query = urlencode([(k, v) for k, v in form.multi_items() if k != "csrf_token" and isinstance(v, str)])
        back = f"{target.page_url}/try?{query}"
        return sign_in_redirect(back)
    action = _field(form, "action") or ""
    if action.startswith("get-access:"):
        return _get_access(request, session, settings, viewer, actor, target, form, action.partition(":")[2])
    context = _context(request, session, viewer, target, form)
    status = 200
    try:
        choice = _chosen(session, viewer, target, form, context)
        context["result"] = service.call(
            session,
            settings,
            viewer,
            target,
            choice,
            _values(target, context["values"]),
            _field(form, "body") if target.body else None,
            _field(form, "content_type"),
        )
    except Problem as exc:
        session.rollback()
        context["error"], status = exc.detail or exc.title, exc.status
    if _is_htmx(request):
        return _fragment(request, "console/result.html", context)
    return _page(request, context, status)


def _picked(form: FormData, choices: list[service.Choice]) -> str:
    """The form's `<credential>@<product>`; when none was picked, the only choice there is (or "")."""
    return _field(form, "credential") or (choices[0].value if len(choices) == 1 else "")


def _keyless_picked(session: Session, viewer: Principal, target: service.Target, form: FormData) -> bool:
    """Whether a signed-out visitor's post calls without a credential, which needs no sign-in."""
    environment = _field(form, "environment") or "sandbox"
    choices = service.choices(session, viewer, target, environment)
    return _picked(form, choices).partition("@")[0] == service.KEYLESS


def _chosen(
    session: Session, viewer: Principal, target: service.Target, form: FormData, context: dict[str, Any]
) -> service.Choice:
    """The credential picked in the form (`<credential>@<product>`); when none was, the only one there is."""
    picked = _picked(form, context["choices"])
    credential, _, product = picked.partition("@")
    if not viewer.signed_in and credential != service.KEYLESS:
        raise Problem(401, "Sign-in required", "sign in to call with your applications' credentials")
    if not picked:
        raise Problem(422, "Invalid request", "choose which credential to call with")
    return service.pick(session, viewer, target, credential, context["environment"], product or None)


def _get_access(
    request: Request,
    session: Session,
    settings: Settings,
    viewer: Principal,
    actor: Actor,
    target: service.Target,
    form: FormData,
    product: str,
) -> Response:
    """The empty state's one-step access: a new application with its sandbox key, subscribed; the console
    comes back with that key chosen and shown this once (never again, never in a URL)."""
    status, issued, error = 201, None, None
    try:
        issued = service.get_sandbox_access(session, settings, viewer, target, product, actor)
    except Problem as exc:
        session.rollback()
        status, error = exc.status, exc.detail or exc.title
    context = _context(request, session, viewer, target, form, issued=issued, error=error)
    context["environment"] = "sandbox"
    if issued is not None:
        context["choices"] = service.choices(session, viewer, target, "sandbox")
        context["selected"] = next((c.value for c in context["choices"] if c.credential_id == issued.key_id), None)
        context["empty"] = None
    if _is_htmx(request):
        return _fragment(request, "console/console.html", context)
    return _page(request, context, status)
