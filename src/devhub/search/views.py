"""The search page: one box over the catalog, with kind, owner and tag facets."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from devhub.deps import get_page, get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal
from devhub.pagination import PageRequest
from devhub.search import service
from devhub.web import render

router = APIRouter(include_in_schema=False)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    q: str = Query("", max_length=200),
    kind: list[str] | None = Query(None),
    owner: list[str] | None = Query(None),
    tag: list[str] | None = Query(None),
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
):
    results = service.search(session, q, kinds=kind, owners=owner, tags=tag, page=page, viewer=viewer)
    return render(
        request,
        "search/results.html",
        q=q,
        results=results,
        page=results.page,
        selected={"kind": kind or [], "owner": owner or [], "tag": tag or []},
    )
