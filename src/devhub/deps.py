"""FastAPI dependencies shared by every domain's routes."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session

from devhub.db import Database
from devhub.pagination import PageRequest, page_request
from devhub.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed when the route returns.

    Always declared with `scope="function"`: FastAPI then commits before the response is sent, so a
    browser that follows a redirect at once finds what the previous request wrote.
    """
    with request.app.state.db.session() as session:
        yield session


def get_page(
    page: int | None = Query(None, ge=1, description="Page number, from 1."),
    size: int | None = Query(None, ge=1, description="Items per page (capped by the server)."),
    settings: Settings = Depends(get_settings_dep),
) -> PageRequest:
    return page_request(page, size, settings.page_size, settings.max_page_size)
