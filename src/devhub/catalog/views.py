"""Catalog pages: home, the filtered list, entity, team and system pages, and locations with the import form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from devhub.catalog import service
from devhub.catalog.schemas import SORT_CHOICES, CatalogFilters, catalog_filters
from devhub.deps import get_page, get_session, get_settings_dep
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
def home(request: Request, session: Session = Depends(get_session)):
    return render(
        request,
        "home.html",
        recent=service.recently_changed(session, limit=8),
        teams=service.team_summaries(session),
        kind_counts=service.kind_counts(session),
    )


@router.get("/catalog", response_class=HTMLResponse)
def catalog_list(
    request: Request,
    filters: CatalogFilters = Depends(catalog_filters),
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session),
):
    return render(
        request,
        "catalog/list.html",
        page=service.list_entities(session, filters, page),
        filters=filters,
        facets=service.facets(session, filters),
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
    session: Session = Depends(get_session),
):
    entity = service.get_entity(session, kind, namespace, name)
    relations = service.relations_of(session, entity.ref)
    context = {
        "entity": entity,
        "relations": relations,
        "errors": service.entity_errors(session, entity.ref),
        "metadata": entity.body.get("metadata", {}),
        "spec": entity.body.get("spec") or {},
    }
    kind_key = entity.kind.lower()
    if kind_key == "group":
        context["owned"] = service.related_page(session, entity.ref, "ownerOf", page)
        return render(request, "catalog/team.html", **context)
    if kind_key in ("system", "domain"):
        context["parts"] = service.related_page(session, entity.ref, "hasPart", page)
        return render(request, "catalog/system.html", **context)
    return render(request, "catalog/entity.html", **context)


@router.get("/locations", response_class=HTMLResponse)
def locations(request: Request, page: PageRequest = Depends(get_page), session: Session = Depends(get_session)):
    return render(
        request, "catalog/locations.html", page=service.list_locations(session, page), form_error=None, target=""
    )


@router.post("/locations", response_class=HTMLResponse)
def import_location(
    request: Request,
    target: str = Form("", max_length=2048),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings_dep),
):
    try:
        location, _ = service.register_location(session, settings, target, None, trusted=False)
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
    session: Session = Depends(get_session),
):
    location = service.get_location(session, location_id)
    entities = service.list_entities(session, CatalogFilters(location=location_id, sort="kind"), page)
    return render(
        request,
        "catalog/location.html",
        location=location,
        errors=service.location_errors(session, location_id),
        page=entities,
    )


@router.post("/locations/{location_id}/refresh")
def refresh_location(
    location_id: int, session: Session = Depends(get_session), settings: Settings = Depends(get_settings_dep)
):
    location = service.get_location(session, location_id)
    service.refresh_location(session, settings, location, trusted=True)
    return RedirectResponse(f"/locations/{location_id}", status_code=303)


@router.post("/locations/{location_id}/delete")
def delete_location(location_id: int, session: Session = Depends(get_session)):
    service.delete_location(session, location_id)
    return RedirectResponse("/locations", status_code=303)
