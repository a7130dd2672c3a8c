"""Catalog JSON API under /api/v1: entities, relations, facets, locations and the kinds' JSON Schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from devhub.audit.service import Actor
from devhub.catalog import service
from devhub.catalog.kinds import json_schemas
from devhub.catalog.models import Entity, Location
from devhub.catalog.schemas import (
    CatalogFilters,
    EntityDetail,
    EntityList,
    EntitySummary,
    ErrorOut,
    Facets,
    FacetValue,
    LocationDetail,
    LocationIn,
    LocationList,
    LocationOut,
    LocationResult,
    RefreshOut,
    RelationOut,
    VisibilityIn,
    VisibilityOut,
    catalog_filters,
)
from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_actor, get_principal
from devhub.identity.policy import Principal, can, require
from devhub.pagination import PageMeta, PageRequest
from devhub.search.service import entity_url
from devhub.settings import Settings

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])


def summary(entity: Entity) -> EntitySummary:
    return EntitySummary.model_validate({**_attrs(entity), "url": entity_url(entity)})


def _attrs(entity: Entity) -> dict[str, Any]:
    return {
        "ref": entity.ref,
        "kind": entity.kind,
        "namespace": entity.namespace,
        "name": entity.name,
        "title": entity.title,
        "description": entity.description,
        "spec_type": entity.spec_type,
        "lifecycle": entity.lifecycle,
        "owner_ref": entity.owner_ref,
        "system_ref": entity.system_ref,
        "updated_at": entity.updated_at,
    }


@router.get("/entities", summary="List entities with filters, sorting and pagination")
def list_entities(
    filters: CatalogFilters = Depends(catalog_filters),
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> EntityList:
    require(viewer, "catalog.read")
    if filters.location is not None:
        require(viewer, "catalog.locations.read")
    result = service.list_entities(session, filters, page, viewer)
    return EntityList(items=[summary(e) for e in result.items], meta=PageMeta.of(result))


@router.get("/facets", summary="Filter values with counts, for the current filters")
def facets(
    filters: CatalogFilters = Depends(catalog_filters),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> Facets:
    require(viewer, "catalog.read")
    found = service.facets(session, filters, viewer)
    return Facets(facets={k: [FacetValue(value=v, count=n) for v, n in values] for k, values in found.items()})


@router.get("/entities/{kind}/{namespace}/{name}", summary="One entity with its relations and errors")
def get_entity(
    kind: str,
    namespace: str,
    name: str,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> EntityDetail:
    require(viewer, "catalog.read")
    entity = service.visible_entity(session, kind, namespace, name, viewer)
    relations = service.relations_of(session, entity.ref, viewer)
    admin = can(viewer, "catalog.locations.read")
    return EntityDetail.model_validate(
        {
            **_attrs(entity),
            "url": entity_url(entity),
            "entity": service.redacted_body(session, entity, viewer),
            "relations": [
                RelationOut(type=t, target=r.ref, exists=r.entity is not None)
                for t, items in relations.by_type.items()
                for r in items
            ],
            "visibility": entity.visibility,
            # Where it was read from names the server's files and hosts: administrators only.
            "location_id": entity.location_id if admin else None,
            "source": entity.source if admin else None,
            "source_line": entity.source_line if admin else None,
            "errors": [ErrorOut.model_validate(e) for e in service.entity_errors(session, entity.ref)] if admin else [],
        }
    )


@router.get(
    "/entities/{kind}/{namespace}/{name}/related/{relation}",
    summary="Entities at the other end of one relation (e.g. ownerOf, hasMember, hasPart)",
)
def related(
    kind: str,
    namespace: str,
    name: str,
    relation: str,
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> EntityList:
    require(viewer, "catalog.read")
    entity = service.visible_entity(session, kind, namespace, name, viewer)
    result = service.related_page(session, entity.ref, relation, page, viewer)
    return EntityList(items=[summary(e) for e in result.items], meta=PageMeta.of(result))


@router.get("/schemas", summary="JSON Schema of the entity envelope and of each built-in kind's spec")
def schemas() -> dict[str, Any]:
    return json_schemas()


@router.put("/entities/{kind}/{namespace}/{name}/visibility", summary="Set who may see an entity")
def set_visibility(
    kind: str,
    namespace: str,
    name: str,
    body: VisibilityIn,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> VisibilityOut:
    entity = service.visible_entity(session, kind, namespace, name, viewer)
    require(viewer, "entity.visibility.set", entity.owner_ref)
    service.set_visibility(session, entity, body.visibility, body.teams, actor)
    return VisibilityOut(visibility=entity.visibility, teams=service.access_teams(session, entity.id))


@router.get("/locations", summary="Registered locations")
def list_locations(
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> LocationList:
    require(viewer, "catalog.locations.read")
    result = service.list_locations(session, page)
    return LocationList(items=[LocationOut.model_validate(loc) for loc in result.items], meta=PageMeta.of(result))


@router.post("/locations", status_code=201, summary="Import catalog files: register a location and read it now")
def import_location(
    body: LocationIn,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> LocationResult:
    require(viewer, "catalog.import")
    location, report = service.register_location(session, settings, body.target, body.type, trusted=False, actor=actor)
    return _location_result(location, report)


@router.get("/locations/{location_id}", summary="A location with its processing errors")
def get_location(
    location_id: int,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> LocationDetail:
    require(viewer, "catalog.locations.read")
    location = service.get_location(session, location_id)
    errors = [ErrorOut.model_validate(e) for e in service.location_errors(session, location_id)]
    return LocationDetail.model_validate({**LocationOut.model_validate(location).model_dump(), "errors": errors})


@router.post("/locations/{location_id}/refresh", summary="Read a location again now")
def refresh_location(
    location_id: int,
    session: Session = Depends(get_session, scope="function"),
    settings: Settings = Depends(get_settings_dep),
    viewer: Principal = Depends(get_principal),
) -> LocationResult:
    require(viewer, "catalog.refresh")
    location = service.get_location(session, location_id)
    # The target was vetted when the location was registered; reading it again reads nothing new.
    report = service.refresh_location(session, settings, location, trusted=True)
    return _location_result(location, report)


@router.delete("/locations/{location_id}", status_code=204, summary="Unregister a location and its entities")
def delete_location(
    location_id: int,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
    actor: Actor = Depends(get_actor),
) -> Response:
    require(viewer, "catalog.locations.delete")
    service.delete_location(session, location_id, actor=actor)
    return Response(status_code=204)


def _location_result(location: Location, report: service.RefreshReport) -> LocationResult:
    return LocationResult(
        location=LocationOut.model_validate(location),
        refresh=RefreshOut(
            added=report.added,
            updated=report.updated,
            removed=report.removed,
            unchanged=report.unchanged,
            errors=report.errors,
            failed=report.failed,
        ),
    )
