"""Search results: what `search.service.search` returns and what `GET /api/v1/search` answers."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, Field, model_serializer

from devhub.pagination import Page, PageMeta, PageRequest

FACET_NAMES = ("kind", "owner", "tag")
DOC_TYPES = ("entity", "operation", "guide")


class SearchHit(BaseModel):
    """One matched document, ready to show: no further look-ups needed."""

    ref: str = Field(
        description="Entity reference, e.g. `component:default/payments-api`: the entity itself, the API an "
        "operation belongs to, or the entity a guide is about."
    )
    kind: str = Field(description="Lowercase kind, e.g. `component`; `operation` and `guide` for those documents.")
    name: str = Field(description="Entity name, operationId (else `METHOD /path`), or guide slug.")
    title: str = Field("", description="Display title; empty when the entity has none.")
    owner_ref: str | None = None
    url: str = Field(description="Path of the document's page in the portal (an operation's anchor page).")
    snippet: str = Field("", description="Plain-text excerpt of the description around the first match.")
    doc_type: str = Field("entity", description="What the document is: `entity`, `operation` or `guide`.")
    tags: list[str] = Field(default_factory=list)
    method: str | None = Field(None, description="Operations only: the HTTP method (upper case) or AsyncAPI action.")
    path: str | None = Field(None, description="Operations only: the path or channel.")

    @model_serializer(mode="wrap")
    def _drop_operation_fields(self, handler):
        """`method` and `path` appear only on operation hits."""
        data = handler(self)
        if isinstance(data, dict):
            for key in ("method", "path"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data


class FacetCount(BaseModel):
    value: str
    count: int


class SearchResponse(BaseModel):
    """The JSON answer of `GET /api/v1/search`."""

    items: list[SearchHit]
    meta: PageMeta
    facets: dict[str, list[FacetCount]] = Field(
        description="Counts per value of `kind`, `owner` and `tag` over the matched documents, "
        "most frequent first. Each facet of `kind` and `owner` is counted with every filter applied "
        "except its own; `tag` with every filter applied (tags narrow: all given tags must match)."
    )


@dataclass
class SearchResults:
    """The outcome of one search: a page of hits, the total, and facet counts.

    `facets` maps "kind", "owner" and "tag" to `(value, count)` pairs, most frequent first.
    """

    hits: list[SearchHit]
    total: int
    request: PageRequest
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=lambda: {n: [] for n in FACET_NAMES})
    terms: list[str] = field(default_factory=list)

    @property
    def page(self) -> Page[SearchHit]:
        return Page(items=self.hits, total=self.total, request=self.request)

    @property
    def meta(self) -> PageMeta:
        return PageMeta.of(self.page)

    def to_response(self) -> SearchResponse:
        return SearchResponse(
            items=self.hits,
            meta=self.meta,
            facets={
                name: [FacetCount(value=value, count=count) for value, count in pairs]
                for name, pairs in self.facets.items()
            },
        )
