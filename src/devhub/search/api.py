"""`GET /api/v1/search`: part-of-word search over the portal, with kind, owner and tag facets."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from devhub.deps import get_page, get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal
from devhub.pagination import PageRequest
from devhub.problems import BadRequest
from devhub.search import service
from devhub.search.schemas import SearchResponse

router = APIRouter(prefix="/api/v1", tags=["search"])


@router.get(
    "/search",
    response_model=SearchResponse,
    summary="Search the catalog",
    description="Every whitespace-separated term must occur in a document, as part of a word "
    "(`paym` finds `payments-api`). Best first: exact name, name prefix, name containing the first term, "
    "title containing it, then the rest. An empty query finds nothing. Filters: any of the given "
    "kinds, any of the given owners, all of the given tags.",
    responses={400: {"description": "Query longer than 200 characters."}},
)
def search(
    q: str = Query("", description="Search terms, at most 200 characters."),
    kind: list[str] = Query([], description="Only these kinds (repeatable), e.g. `component`."),
    owner: list[str] = Query([], description="Only these owners (repeatable), e.g. `group:default/team-a`."),
    tag: list[str] = Query([], description="Only documents with all of these tags (repeatable)."),
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> SearchResponse:
    if len(q) > service.MAX_QUERY_LENGTH:
        raise BadRequest(
            f"The query is {len(q)} characters long; the most is {service.MAX_QUERY_LENGTH}.",
            max_length=service.MAX_QUERY_LENGTH,
        )
    results = service.search(session, q, kinds=kind, owners=owner, tags=tag, page=page, viewer=viewer)
    return results.to_response()
