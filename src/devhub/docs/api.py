"""Guides JSON API under /api/v1/docs: list, read, write (portal guides) and delete.

Whoever may see the entity reads its guides (others get 404, as for an entity that does not exist); its
owner team and admins write them (`guides.write`: 401 anonymous, 403 others).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from devhub.deps import get_page, get_session
from devhub.docs import service
from devhub.docs.schemas import GuideDetail, GuideIn, GuideList, GuideSummary
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.pagination import Page as ListPage
from devhub.pagination import PageMeta, PageRequest

router = APIRouter(prefix="/api/v1/docs", tags=["docs"])

SESSION = Depends(get_session, scope="function")  # ends (and commits) before the response is sent
PROBLEMS = {404: {"description": "The entity is not in the catalog (or not visible to you), or has no such guide."}}
WRITE_PROBLEMS = {
    **PROBLEMS,
    401: {"description": "Sign in (or send a token) to write guides."},
    403: {"description": "Only the entity's owner team and admins write its guides."},
    409: {"description": "The guide is read from a folder (techdocs or next to the definition): read-only."},
    422: {"description": "Invalid slug, title, body or position; `errors` names each field."},
}


@router.get(
    "/{namespace}/{kind}/{name}/guides",
    summary="List an entity's guides in reading order",
    responses=PROBLEMS,
)
def list_guides(
    namespace: str,
    kind: str,
    name: str,
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
) -> GuideList:
    require(viewer, "catalog.read")
    entity = service.get_entity(session, namespace, kind, name, viewer)
    guides = service.list_guides(session, entity.ref)
    result = ListPage(guides[page.offset : page.offset + page.size], len(guides), page)
    return GuideList(items=[GuideSummary.of(g) for g in result.items], meta=PageMeta.of(result))


@router.get(
    "/{namespace}/{kind}/{name}/guides/{slug:path}",
    summary="One guide: its markdown and its rendered, sanitised HTML",
    responses=PROBLEMS,
)
def get_guide(
    namespace: str,
    kind: str,
    name: str,
    slug: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
) -> GuideDetail:
    require(viewer, "catalog.read")
    entity = service.get_entity(session, namespace, kind, name, viewer)
    guide = service.get_guide(session, entity.ref, slug)
    return GuideDetail.of_guide(guide, service.list_guides(session, entity.ref))


@router.put(
    "/{namespace}/{kind}/{name}/guides/{slug:path}",
    summary="Write a guide (create or replace); 201 when it is new",
    responses={201: {"description": "Created."}, **WRITE_PROBLEMS},
)
def put_guide(
    namespace: str,
    kind: str,
    name: str,
    slug: str,
    guide_in: GuideIn,
    response: Response,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
) -> GuideDetail:
    entity = service.get_entity(session, namespace, kind, name, viewer)
    require(viewer, "guides.write", entity.owner_ref)
    existed = service.find_guide(session, entity.ref, slug) is not None
    guide = service.save_guide(
        session, entity.ref, slug, guide_in.title, guide_in.body, guide_in.position, viewer.email, viewer=viewer
    )
    if not existed:
        response.status_code = 201
        response.headers["Location"] = f"{service.api_docs_url(entity.ref)}/{slug}"
    return GuideDetail.of_guide(guide, service.list_guides(session, entity.ref))


@router.delete(
    "/{namespace}/{kind}/{name}/guides/{slug:path}",
    summary="Delete a guide written in the portal",
    status_code=204,
    responses=WRITE_PROBLEMS,
)
def delete_guide(
    namespace: str,
    kind: str,
    name: str,
    slug: str,
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
) -> Response:
    entity = service.get_entity(session, namespace, kind, name, viewer)
    service.delete_guide(session, entity.ref, slug, viewer=viewer)
    return Response(status_code=204)
