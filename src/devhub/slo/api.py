"""SLO JSON API: an API's objectives, compliance, budget and burn rates; its owners' settings; alert history.

    GET    /api/v1/slos                                       APIs with SLOs that you may see, with their status
    GET    /api/v1/apis/{namespace}/{name}/slo                one API's status (readers of the API)
    PATCH  /api/v1/apis/{namespace}/{name}/slo                set objectives, window, environment, webhook (owners)
    DELETE /api/v1/apis/{namespace}/{name}/slo                clear the portal settings: annotations apply (owners)
    POST   /api/v1/apis/{namespace}/{name}/slo/webhook-secret a new webhook signing secret, shown once (owners)
    GET    /api/v1/apis/{namespace}/{name}/slo/alerts         alert episodes, newest first (readers)

An API the caller may not see answers 404, as a missing one. The webhook URL is shown to owners only; its
signing secret only in the answer that made it, marked `Cache-Control: no-store`.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from devhub.audit.service import Actor
from devhub.catalog.models import Entity
from devhub.deps import get_page, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.pagination import PageMeta, PageRequest
from devhub.settings import Settings
from devhub.slo import service
from devhub.slo.deps import SESSION, managed_api, readable_api
from devhub.slo.schemas import (
    AlertList,
    AlertOut,
    SloSettingsIn,
    SloStatusOut,
    SloSummary,
    SloSummaryList,
    WebhookSecretOut,
)

router = APIRouter(prefix="/api/v1", tags=["slo"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # answers that carry a secret


def status_out(
    session: Session, settings: Settings, principal: Principal, entity: Entity, webhook_secret: str | None = None
) -> SloStatusOut:
    current = service.api_status(session, entity, settings.slo_burn_rate)
    show_webhook = can(principal, "slo.manage", entity.owner_ref)
    return SloStatusOut.of(current, service.settings_row(session, entity.ref), show_webhook, webhook_secret)


@router.get("/slos", summary="APIs with service level objectives that you may see, with compliance and budget")
def list_slos(
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> SloSummaryList:
    require(principal, "slo.read")
    shown = service.status_page(session, principal, page, settings.slo_burn_rate)
    items = [
        SloSummary(
            api=entity.ref,
            title=entity.display_name,
            owner=entity.owner_ref,
            objectives=SloStatusOut.of(current, None, False).objectives,
            window_days=current.spec.window_days,
        )
        for entity, current in shown.items
    ]
    return SloSummaryList(items=items, meta=PageMeta.of(shown))


@router.get("/apis/{namespace}/{name}/slo", summary="An API's objectives, compliance, error budget left and burn rates")
def get_slo(
    entity: Entity = Depends(readable_api),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    principal: Principal = Depends(get_principal),
) -> SloStatusOut:
    return status_out(session, settings, principal, entity)


@router.patch(
    "/apis/{namespace}/{name}/slo",
    summary="Set an API's objectives, window, environment or alert webhook (owners; null clears a field)",
)
def patch_slo(
    body: SloSettingsIn,
    response: Response,
    entity: Entity = Depends(managed_api),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(get_actor),
    principal: Principal = Depends(get_principal),
) -> SloStatusOut:
    changes = body.model_dump(exclude_unset=True)
    secret = service.update_settings(session, settings, entity, changes, actor)
    if secret:
        response.headers.update(NO_STORE)
    return status_out(session, settings, principal, entity, secret)


@router.delete(
    "/apis/{namespace}/{name}/slo",
    summary="Clear what the owners set in the portal; the catalog annotations apply again (owners)",
    status_code=204,
)
def delete_slo(
    entity: Entity = Depends(managed_api), session: Session = SESSION, actor: Actor = Depends(get_actor)
) -> Response:
    service.clear_settings(session, entity, actor)
    return Response(status_code=204)


@router.post(
    "/apis/{namespace}/{name}/slo/webhook-secret",
    summary="Make a new signing secret for the alert webhook; the old one still signs for the grace period (owners)",
)
def rotate_webhook_secret(
    response: Response,
    entity: Entity = Depends(managed_api),
    session: Session = SESSION,
    settings: Settings = Depends(get_settings_dep),
    actor: Actor = Depends(get_actor),
) -> WebhookSecretOut:
    secret = service.rotate_webhook_secret(session, settings, entity, actor)
    response.headers.update(NO_STORE)
    row = service.settings_row(session, entity.ref)
    return WebhookSecretOut(
        api=entity.ref,
        webhook_secret=secret,
        created_at=row.webhook_secret_created_at,
        previous_secret_signs_until=service.previous_secret_signs_until(row),
    )


@router.get("/apis/{namespace}/{name}/slo/alerts", summary="An API's burn-rate alert episodes, newest first")
def list_alerts(
    entity: Entity = Depends(readable_api),
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
) -> AlertList:
    result = service.alert_history(session, entity.ref, page)
    owners = can(principal, "slo.manage", entity.owner_ref)  # delivery outcomes name the webhook's host
    items = [AlertOut.of(row, show_webhook=owners) for row in result.items]
    return AlertList(items=items, meta=PageMeta.of(result))
