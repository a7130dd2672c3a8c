"""Guides in the JSON API (`/api/v1/docs/...`): what is read and what is written."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from devhub.docs import service
from devhub.docs.models import Guide
from devhub.pagination import PageMeta

Source = Literal["portal", "folder", "techdocs"]


class GuideSummary(BaseModel):
    slug: str = Field(description="Last part of the page's address; path-like for imported folders (`guides/auth`).")
    title: str
    position: int = Field(description="Reading order: lower first, then by title.")
    source: Source = Field(
        description="`portal`: written in the portal (editable); `folder`: the docs folder next to the API "
        "definition; `techdocs`: the docs-as-code folder of `backstage.io/techdocs-ref` (both read-only)."
    )
    source_path: str | None = Field(None, description="File the guide was read from, inside its folder.")
    editable: bool = Field(description="Whether the guide can be changed or deleted here (portal guides only).")
    updated_at: datetime
    updated_by: str | None = None
    url: str = Field(description="Path of the guide's page in the portal.")

    @classmethod
    def of(cls, guide: Guide) -> GuideSummary:
        return cls(**_fields(guide))


class GuideDetail(GuideSummary):
    body: str = Field(description="The guide as markdown, as written.")
    html: str = Field(
        description="The guide rendered and sanitised, with links between pages rewritten to the portal's URLs."
    )

    @classmethod
    def of_guide(cls, guide: Guide, guides: list[Guide]) -> GuideDetail:
        return cls(**_fields(guide), body=guide.body, html=str(service.render_guide(guide, guides).html))


class GuideList(BaseModel):
    items: list[GuideSummary]
    meta: PageMeta


class GuideIn(BaseModel):
    """A guide written in the portal; the slug is the last part of the URL."""

    title: str = Field(description=f"One line, at most {service.MAX_TITLE_LENGTH} characters.")
    body: str = Field(description=f"Markdown, at most {service.MAX_BODY_LENGTH:,} characters.")
    position: int = Field(0, description=f"Reading order, 0 to {service.MAX_POSITION:,}; lower first.")


def _fields(guide: Guide) -> dict:
    return {
        "slug": guide.slug,
        "title": guide.title,
        "position": guide.position,
        "source": guide.source,
        "source_path": guide.source_path,
        "editable": guide.source == "portal",
        "updated_at": guide.updated_at,
        "updated_by": guide.updated_by,
        "url": service.guide_url(guide.entity_ref, guide.slug),
    }
