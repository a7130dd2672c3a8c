"""SLO JSON API: an API's objectives, compliance, budget and burn rates; its owners' settings; alert history.

    GET    /api/v1/slos                                  APIs with SLOs that you may see, with their status
    GET    /api/v1/apis/{namespace}/{name}/slo           one API's status (readers of the API)
    PATCH  /api/v1/apis/{namespace}/{name}/slo           set objectives, window, environment, webhook (owners)
    DELETE /api/v1/apis/{namespace}/{name}/slo           clear the portal settings: annotations apply (owners)
    GET    /api/v1/apis/{namespace}/{name}/slo/alerts    alert episodes, newest first (readers)

An API the caller may not see answers 404, as a missing one. The webhook URL is shown to owners only.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.pagination import Page, PageMeta, PageRequest
from devhub.settings import Settings
from devhub.slo import service
from devhub.slo.schemas import AlertList, AlertOut, SloSettingsIn, SloStatusOut, SloSummary, SloSummaryList
from devhub.specs.api import visible_api

router = APIRouter(prefix="/api/v1", tags=["slo"])
SESSION = Depends(get_session, scope="function")


def status_out(session: Session, settings: Settings, principal: Principal, entity) -> SloStatusOut:
    spec = service.spec_of(session, entity)
    current = service.status(session, spec, settings.slo_burn_rate)
    show_webhook = can(principal, "slo.manage", entity.owner_ref)
    return SloStatusOut.of(current, service.settings_row(session, entity.ref), show_webhook)


@router.get("/slos", summary="APIs with service level objectives that you may see, with compliance and budget")
def list_slos(
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> SloSummaryList:
    require(principal, "slo.read")
    found = service.apis_with_slos(session, principal)
    shown = Page(found[page.offset : page.offset + page.size], len(found), page)
    items = []
    for entity, spec in shown.items:
        current = service.status(session, spec, settings.slo_burn_rate)
        objectives = SloStatusOut.of(current, None, False).objectives
        items.append(
            SloSummary(
                api=entity.ref,
                title=entity.display_name,
                owner=entity.owner_ref,
                objectives=objectives,
                window_days=spec.window_days,
            )
        )
    return SloSummaryList(items=items, meta=PageMeta.of(shown))


@router.get("/apis/{namespace}/{name}/slo", summary="An API's objectives, compliance, error budget left and burn rates")
def get_slo(
    namespace: str,
    name: str,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> SloStatusOut:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.read")
    return status_out(session, settings, principal, entity)


@router.patch(
    "/apis/{namespace}/{name}/slo",
    summary="Set an API's objectives, window, environment or alert webhook (owners; null clears a field)",
)
def patch_slo(
    namespace: str,
    name: str,
    body: SloSettingsIn,
    request: Request,
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> SloStatusOut:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.manage", entity.owner_ref)
    changes = body.model_dump(exclude_unset=True)
    service.update_settings(session, settings, entity, changes, get_actor(request, principal))
    return status_out(session, settings, principal, entity)


@router.delete(
    "/apis/{namespace}/{name}/slo",
    summary="Clear what the owners set in the portal; the catalog annotations apply again (owners)",
    status_code=204,
)
def delete_slo(
    namespace: str,
    name: str,
    request: Request,
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
) -> Response:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.manage", entity.owner_ref)
    service.clear_settings(session, entity, get_actor(request, principal))
    return Response(status_code=204)


@router.get("/apis/{namespace}/{name}/slo/alerts", summary="An API's burn-rate alert episodes, newest first")
def list_alerts(
    namespace: str,
    name: str,
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
) -> AlertList:
    entity = visible_api(session, namespace, name, principal)
    require(principal, "slo.read")
    result = service.alert_history(session, entity.ref, page)
    owners = can(principal, "slo.manage", entity.owner_ref)  # delivery outcomes name the webhook's host
    items = [AlertOut.of(row, show_webhook=owners) for row in result.items]
    return AlertList(items=items, meta=PageMeta.of(result))
