"""SLO pages: an API's objectives, compliance, budget left, burn rates and alert history, with the owners'
form; and the overview of every API with an SLO one may see.

    GET  /slos                              the overview
    GET  /apis/{namespace}/{name}/slo       one API (readers of the API)
    POST /apis/{namespace}/{name}/slo       the owners' form: set (empty fields fall back to annotations), clear,
                                            or rotate the webhook's signing secret

A webhook's signing secret is shown on the page that answers the post which made it (not behind a redirect,
and marked `Cache-Control: no-store`), and never again: the page after it only says when it was made and, after a rotation, until when the
secret it replaced still signs beside it.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from devhub.audit.service import Actor
from devhub.catalog.models import Entity
from devhub.deps import get_page, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.pagination import PageRequest
from devhub.settings import Settings
from devhub.slo import objectives, service
from devhub.slo.api import NO_STORE
from devhub.slo.deps import SESSION, managed_api, readable_api
from devhub.web import render

router = APIRouter(include_in_schema=False)
ALERTS_SHOWN = 20
ANNOTATIONS = {
    "availability": objectives.AVAILABILITY_ANNOTATION,
    "latency": objectives.LATENCY_ANNOTATION,
    "window": objectives.WINDOW_ANNOTATION,
    "environment": objectives.ENVIRONMENT_ANNOTATION,
}


def slo_url(entity) -> str:
    return f"/apis/{quote(entity.namespace, safe='')}/{quote(entity.name, safe='')}/slo"


@router.get("/slos", response_class=HTMLResponse)
def overview(
    request: Request,
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
):
    require(principal, "slo.read")
    shown = service.status_page(session, principal, page, settings.slo_burn_rate)
    rows = [(entity, current, slo_url(entity)) for entity, current in shown.items]
    return render(request, "slo/overview.html", page=shown, rows=rows)


@router.get("/apis/{namespace}/{name}/slo", response_class=HTMLResponse)
def api_page(
    request: Request,
    entity: Entity = Depends(readable_api),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
):
    return _api_page(request, session, settings, principal, entity)


def _api_page(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    entity: Entity,
    *,
    error: str | None = None,
    values: dict | None = None,
    new_secret: str | None = None,
):
    """The page; after a refused post with its `error` and the `values` typed, after one that made a
    signing secret with `new_secret` (this page only)."""
    current = service.api_status(session, entity, settings.slo_burn_rate)
    row = service.settings_row(session, entity.ref)
    can_manage = can(principal, "slo.manage", entity.owner_ref)
    if values is None:
        values = {key: getattr(row, key) if row is not None else None for key in service.SETTABLE}
    response = render(
        request,
        "slo/api.html",
        status_code=422 if error else 200,
        entity=entity,
        spec=current.spec,
        current=current,
        alerts=service.alert_history(session, entity.ref, PageRequest(1, ALERTS_SHOWN)),
        row=row,
        previous_secret_until=service.previous_secret_signs_until(row) if can_manage else None,
        grace_hours=settings.webhook_rotation_grace_hours,
        can_manage=can_manage,
        values=values if can_manage else {},
        environments=objectives.ENVIRONMENTS,
        annotations=ANNOTATIONS,
        action_url=slo_url(entity),
        error=error,
        new_secret=new_secret,
    )
    if new_secret:
        response.headers.update(NO_STORE)
    return response


def _number(text: str, label: str, kind=float):
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise service.InvalidObjective(f"{label}: {text!r} is not a number") from None


@router.post("/apis/{namespace}/{name}/slo", response_class=HTMLResponse)
async def api_submit(
    request: Request,
    entity: Entity = Depends(managed_api),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
):
    form = await request.form(max_fields=20, max_files=0)
    text = {key: str(form.get(key) or "").strip() for key in service.SETTABLE}
    action = form.get("action")
    if action == "clear":
        service.clear_settings(session, entity, actor)
        return RedirectResponse(slo_url(entity), status_code=303)
    try:
        if action == "rotate_secret":
            secret = service.rotate_webhook_secret(session, settings, entity, actor)
        else:
            changes = {
                "availability_target": _number(text["availability_target"], "Availability target"),
                "latency_target": _number(text["latency_target"], "Latency target"),
                "latency_ms": _number(text["latency_ms"], "Latency threshold"),
                "window_days": _number(text["window_days"], "Window", int),
                "environment": text["environment"] or None,
                "webhook_url": text["webhook_url"] or None,
            }
            with session.begin_nested():
                secret = service.update_settings(session, settings, entity, changes, actor)
    except (service.InvalidObjective, service.NoWebhook) as exc:
        values = None if action == "rotate_secret" else text  # that form has no settings to keep
        return _api_page(request, session, settings, principal, entity, error=exc.detail, values=values)
    if secret:
        return _api_page(request, session, settings, principal, entity, new_secret=secret)
    return RedirectResponse(slo_url(entity), status_code=303)
