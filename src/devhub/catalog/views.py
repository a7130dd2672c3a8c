"""Catalog pages: home, the filtered list, entity, team and system pages, and locations with the import form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from devhub.audit.service import Actor
from devhub.catalog import service
from devhub.catalog.schemas import SORT_CHOICES, CatalogFilters, catalog_filters
from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.pagination import PageRequest
from devhub.problems import Problem
from devhub.settings import Settings
from devhub.web import render

router = APIRouter(include_in_schema=False)

FACET_LABELS = {
    "kind": "Kind",
    "type": "Type",
    "owner": "Owner",
    "lifecycle": "Lifecycle",
    "tag": "Tag",
    "system": "System",
    "namespace": "Namespace",
}


@router.get("/", response_class=HTMLResponse)
def home(
    request: Request,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    return render(
        request,
        "home.html",
        recent=service.recently_changed(session, viewer, limit=8),
        teams=service.team_summaries(session, viewer),
        kind_counts=service.kind_counts(session, viewer),
        mine=service.owned_by_teams(session, viewer, limit=10),
    )


@router.get("/catalog", response_class=HTMLResponse)
def catalog_list(
    request: Request,
    filters: CatalogFilters = Depends(catalog_filters),
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    if filters.location is not None:
        require(viewer, "catalog.locations.read")
    return render(
        request,
        "catalog/list.html",
        page=service.list_entities(session, filters, page, viewer),
        filters=filters,
        facets=service.facets(session, filters, viewer),
        facet_labels=FACET_LABELS,
        sort_choices=SORT_CHOICES,
    )


@router.get("/catalog/{namespace}/{kind}/{name}", response_class=HTMLResponse)
def entity_page(
    request: Request,
    namespace: str,
    kind: str,
    name: str,
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    entity = service.visible_entity(session, kind, namespace, name, viewer)
    relations = service.relations_of(session, entity.ref, viewer)
    admin = can(viewer, "catalog.locations.read")
    body = service.redacted_body(session, entity, viewer)
    context = {
        "entity": entity,
        "relations": relations,
        "errors": service.entity_errors(session, entity.ref) if admin else [],
        "show_source": admin,
        "metadata": body.get("metadata", {}),
        "spec": body.get("spec") or {},
        "can_set_visibility": can(viewer, "entity.visibility.set", entity.owner_ref),
        "access_teams": service.access_teams(session, entity.id),
    }
    kind_key = entity.kind.lower()
    if kind_key == "group":
        context["owned"] = service.related_page(session, entity.ref, "ownerOf", page, viewer)
        return render(request, "catalog/team.html", **context)
    if kind_key in ("system", "domain"):
        context["parts"] = service.related_page(session, entity.ref, "hasPart", page, viewer)
        return render(request, "catalog/system.html", **context)
    return render(request, "catalog/entity.html", **context)


@router.post("/catalog/{namespace}/{kind}/{name}/visibility")
def set_visibility(
    namespace: str,
    kind: str,
    name: str,
    visibility: str = Form(...),
    teams: str = Form(""),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
):
    entity = service.visible_entity(session, kind, namespace, name, viewer)
    require(viewer, "entity.visibility.set", entity.owner_ref)
    service.set_visibility(session, entity, visibility, teams.split(","), actor)
    return RedirectResponse(f"/catalog/{entity.namespace}/{entity.kind.lower()}/{entity.name}", status_code=303)


@router.get("/locations", response_class=HTMLResponse)
def locations(
    request: Request,
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "catalog.locations.read")
    return render(
        request, "catalog/locations.html", page=service.list_locations(session, page), form_error=None, target=""
    )


@router.post("/locations", response_class=HTMLResponse)
def import_location(
    request: Request,
    target: str = Form("", max_length=2048),
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
):
    require(viewer, "catalog.import")
    try:
        location, _ = service.register_location(session, settings, target, None, trusted=False, actor=actor)
    except Problem as exc:
        session.rollback()
        page = service.list_locations(session, PageRequest(1, settings.page_size))
        return render(
            request,
            "catalog/locations.html",
            status_code=exc.status,
            page=page,
            form_error=exc.detail or exc.title,
            target=target,
        )
    return RedirectResponse(f"/locations/{location.id}", status_code=303)


@router.get("/locations/{location_id}", response_class=HTMLResponse)
def location_page(
    request: Request,
    location_id: int,
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "catalog.locations.read")
    location = service.get_location(session, location_id)
    entities = service.list_entities(session, CatalogFilters(location=location_id, sort="kind"), page, viewer)
    return render(
        request,
        "catalog/location.html",
        location=location,
        errors=service.location_errors(session, location_id),
        page=entities,
    )


@router.post("/locations/{location_id}/refresh")
def refresh_location(
    location_id: int,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
):
    require(viewer, "catalog.refresh")
    location = service.get_location(session, location_id)
    service.refresh_location(session, settings, location, trusted=True)
    return RedirectResponse(f"/locations/{location_id}", status_code=303)


@router.post("/locations/{location_id}/delete")
def delete_location(
    location_id: int,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
):
    require(viewer, "catalog.locations.delete")
    service.delete_location(session, location_id, actor=actor)
    return RedirectResponse("/locations", status_code=303)
