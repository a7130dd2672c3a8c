"""SLO pages: an API's objectives, compliance, budget left, burn rates and alert history, with the owners'
form; and the overview of every API with an SLO one may see.

    GET  /slos                              the overview
    GET  /apis/{namespace}/{name}/slo       one API (readers of the API)
    POST /apis/{namespace}/{name}/slo       the owners' form: set (empty fields fall back to annotations) or clear
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.pagination import Page, PageRequest
from devhub.settings import Settings
from devhub.slo import objectives, service
from devhub.specs.api import visible_api
from devhub.web import render

router = APIRouter(include_in_schema=False)
SESSION = Depends(get_session, scope="function")
FORM_FIELDS = ("availability_target", "latency_target", "latency_ms", "window_days", "environment", "webhook_url")
ALERTS_SHOWN = 20


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
    found = service.apis_with_slos(session, principal)
    shown = Page(found[page.offset : page.offset + page.size], len(found), page)
    rows = [
        (entity, service.status(session, spec, settings.slo_burn_rate), slo_url(entity)) for entity, spec in shown.items
    ]
    return render(request, "slo/overview.html", page=shown, rows=rows)


@router.get("/apis/{namespace}/{name}/slo", response_class=HTMLResponse)
def api_page(
    request: Request,
    namespace: str,
    name: str,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
    error: str | None = None,
    values: dict | None = None,
):
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.read")
    spec = service.spec_of(session, entity)
    row = service.settings_row(session, entity.ref)
    can_manage = can(principal, "slo.manage", entity.owner_ref)
    if values is None:
        values = {key: getattr(row, key) if row is not None else None for key in FORM_FIELDS}
    return render(
        request,
        "slo/api.html",
        status_code=422 if error else 200,
        entity=entity,
        spec=spec,
        current=service.status(session, spec, settings.slo_burn_rate),
        alerts=service.alert_history(session, entity.ref, PageRequest(1, ALERTS_SHOWN)),
        row=row,
        can_manage=can_manage,
        values=values if can_manage else {},
        environments=objectives.ENVIRONMENTS,
        annotations={
            "availability": objectives.AVAILABILITY_ANNOTATION,
            "latency": objectives.LATENCY_ANNOTATION,
            "window": objectives.WINDOW_ANNOTATION,
            "environment": objectives.ENVIRONMENT_ANNOTATION,
        },
        action_url=slo_url(entity),
        error=error,
    )


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
    namespace: str,
    name: str,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
):
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.manage", entity.owner_ref)
    form = await request.form(max_fields=20, max_files=0)
    text = {key: str(form.get(key) or "").strip() for key in FORM_FIELDS}
    actor = get_actor(request, principal)
    if form.get("action") == "clear":
        service.clear_settings(session, entity, actor)
        return RedirectResponse(slo_url(entity), status_code=303)
    try:
        changes = {
            "availability_target": _number(text["availability_target"], "Availability target"),
            "latency_target": _number(text["latency_target"], "Latency target"),
            "latency_ms": _number(text["latency_ms"], "Latency threshold"),
            "window_days": _number(text["window_days"], "Window", int),
            "environment": text["environment"] or None,
            "webhook_url": text["webhook_url"] or None,
        }
        with session.begin_nested():
            service.update_settings(session, settings, entity, changes, actor)
    except service.InvalidObjective as exc:
        return api_page(request, namespace, name, session, settings, principal, exc.detail, text)
    return RedirectResponse(slo_url(entity), status_code=303)
