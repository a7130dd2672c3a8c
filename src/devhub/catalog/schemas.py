"""Catalog filters (declared once, used by the list page and the API) and the API's shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from devhub.pagination import PageMeta

FACET_FIELDS = ("kind", "type", "owner", "lifecycle", "tag", "system", "namespace")
SORT_CHOICES = {
    "name": "Name A to Z",
    "-name": "Name Z to A",
    "kind": "Kind",
    "-updated": "Recently changed",
    "updated": "Least recently changed",
}


@dataclass
class CatalogFilters:
    kind: list[str] = field(default_factory=list)
    type: list[str] = field(default_factory=list)
    owner: list[str] = field(default_factory=list)
    lifecycle: list[str] = field(default_factory=list)
    tag: list[str] = field(default_factory=list)
    system: list[str] = field(default_factory=list)
    namespace: list[str] = field(default_factory=list)
    text: str | None = None
    location: int | None = None
    sort: str = "name"

    @property
    def active(self) -> bool:
        return bool(self.text) or any(getattr(self, name) for name in FACET_FIELDS)


def _clean(values: list[str] | None) -> list[str]:
    return [v.strip() for v in values or [] if v and v.strip()]


def catalog_filters(
    kind: list[str] | None = Query(None, description="Entity kind, e.g. Component (repeatable)."),
    type: list[str] | None = Query(None, description="spec.type, e.g. service (repeatable)."),
    owner: list[str] | None = Query(None, description="Owner ref or team name (repeatable)."),
    lifecycle: list[str] | None = Query(None, description="spec.lifecycle (repeatable)."),
    tag: list[str] | None = Query(None, description="Tag; several tags must all match."),
    system: list[str] | None = Query(None, description="System ref or name (repeatable)."),
    namespace: list[str] | None = Query(None, description="Namespace (repeatable)."),
    text: str | None = Query(None, max_length=200, description="Part of the name or title."),
    location: int | None = Query(None, description="Only entities read from this location."),
    sort: str = Query("name", pattern="^(name|-name|kind|updated|-updated)$", description="Sort order."),
) -> CatalogFilters:
    return CatalogFilters(
        kind=_clean(kind),
        type=_clean(type),
        owner=_clean(owner),
        lifecycle=_clean(lifecycle),
        tag=_clean(tag),
        system=_clean(system),
        namespace=_clean(namespace),
        text=(text or "").strip() or None,
        location=location,
        sort=sort,
    )


class EntitySummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    ref: str
    kind: str
    namespace: str
    name: str
    title: str | None
    description: str | None
    type: str | None = Field(None, validation_alias="spec_type")
    lifecycle: str | None
    owner: str | None = Field(None, validation_alias="owner_ref")
    system: str | None = Field(None, validation_alias="system_ref")
    updated_at: datetime
    url: str


class RelationOut(BaseModel):
    type: str
    target: str
    exists: bool


class ErrorOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    source: str
    line: int | None
    rule: str
    message: str
    entity_ref: str | None


class EntityDetail(EntitySummary):
    entity: dict[str, Any] = Field(description="The entity as read, with placeholders resolved.")
    visibility: str = Field(description="public, internal or private.")
    relations: list[RelationOut]
    location_id: int | None
    source: str | None
    source_line: int | None
    errors: list[ErrorOut]


class EntityList(BaseModel):
    items: list[EntitySummary]
    meta: PageMeta


class FacetValue(BaseModel):
    value: str
    count: int


class Facets(BaseModel):
    facets: dict[str, list[FacetValue]]


class LocationIn(BaseModel):
    target: str = Field(min_length=1, max_length=2048, description="A path, an http(s) URL, or git+URL//path?ref=x.")
    type: str | None = Field(None, pattern="^(file|url|git)$", description="Guessed from the target when omitted.")


class LocationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    type: str
    target: str
    status: str
    last_error: str | None
    entity_count: int
    error_count: int
    created_at: datetime
    last_refresh_at: datetime | None
    next_refresh_at: datetime | None


class RefreshOut(BaseModel):
    added: int
    updated: int
    removed: int
    unchanged: int
    errors: int
    failed: str | None


class LocationResult(BaseModel):
    location: LocationOut
    refresh: RefreshOut


class LocationDetail(LocationOut):
    errors: list[ErrorOut]


class LocationList(BaseModel):
    items: list[LocationOut]
    meta: PageMeta


class VisibilityIn(BaseModel):
    visibility: str = Field(pattern="^(public|internal|private)$")
    teams: list[str] = Field(default_factory=list, description="For private: teams that may see it, besides the owner.")


class VisibilityOut(BaseModel):
    visibility: str
    teams: list[str]
