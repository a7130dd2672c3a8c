"""Server-rendered pages: the Jinja2 environment, the render helper and shared template filters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from devhub import __version__
from devhub.identity.deps import csrf_token
from devhub.identity.policy import ANONYMOUS, can
from devhub.markdown import render_markdown

PACKAGE_DIR = Path(__file__).parent
templates = Jinja2Templates(directory=str(PACKAGE_DIR / "templates"))


async def form_data(request: Request) -> FormData:
    """The posted form, for `Depends(form_data)`: Starlette parses it once and caches it (the CSRF check
    has read it already)."""
    return await request.form()


def sign_in_redirect(back: str) -> RedirectResponse:
    """A 303 to the sign-in page, which comes back to `back` (a path with its query) once signed in."""
    return RedirectResponse(f"/login?next={quote(back, safe='')}", status_code=303)


def _timeago(value: datetime | None) -> str:
    if value is None:
        return "never"
    return value.strftime("%Y-%m-%d %H:%M UTC")


def url_with(request: Request, **changes: Any) -> str:
    """The current URL with some query parameters changed; `None` removes one. Page resets to 1
    when any filter changes, so a filter never lands on an empty page."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in changes]
    if "page" not in changes:
        params = [(k, v) for k, v in params if k != "page"]
    for key, value in changes.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            params.append((key, str(item)))
    query = urlencode(params)
    return f"{request.url.path}?{query}" if query else request.url.path


templates.env.filters["markdown"] = render_markdown
templates.env.filters["timeago"] = _timeago
templates.env.globals["url_with"] = url_with
templates.env.globals["devhub_version"] = __version__
templates.env.globals["csrf_token"] = csrf_token
templates.env.globals["can"] = can


def unread_notifications(request: Request | None) -> int:
    """The signed-in viewer's unread notifications, for the header (one count query); 0 for anyone else."""
    principal = getattr(getattr(request, "state", None), "principal", None)
    if principal is None or not principal.signed_in:
        return 0
    from sqlalchemy.exc import SQLAlchemyError

    from devhub.notify.service import unread_count

    try:
        with request.app.state.db.session() as session:
            return unread_count(session, principal.user_id)
    except SQLAlchemyError:
        return 0  # the header never breaks a page


templates.env.globals["unread_notifications"] = unread_notifications


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("principal", getattr(request.state, "principal", ANONYMOUS))
    return templates.TemplateResponse(request, name, context, status_code=status_code)


def render_error_page(request: Request, status: int, title: str, detail: str | None) -> HTMLResponse:
    return render(request, "error.html", status_code=status, title=title, status=status, detail=detail)
