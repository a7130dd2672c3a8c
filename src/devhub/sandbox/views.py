"""The sandbox data page: what the built-in sandbox remembers for your applications, and resetting it.

    GET  /sandbox/data          items per credential and API version (counts, last change)
    POST /sandbox/data/reset    forget one row's items (credential, api, version), or all of yours

The same service functions as `GET`/`DELETE /api/v1/sandbox/data` and `devhub sandbox data|reset`. The
reset forms are plain posts with the CSRF token (answered by a redirect back to the page, which says how
many rows went); with htmx (`HX-Request`) the data section is swapped in place, errors included (status
200, so htmx swaps them).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from devhub.db import Database
from devhub.deps import get_db, get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal
from devhub.problems import Problem
from devhub.sandbox import service
from devhub.web import form_data, render, sign_in_redirect, templates

router = APIRouter(include_in_schema=False)
SESSION = Depends(get_session, scope="function")
PAGE = "/sandbox/data"


def _form_field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


@router.get(PAGE, response_class=HTMLResponse)
def sandbox_data(
    request: Request,
    deleted: int | None = None,
    session: Session = SESSION,
    db: Database = Depends(get_db),
    viewer: Principal = Depends(get_principal),
):
    if not viewer.signed_in:
        return sign_in_redirect(PAGE)
    rows = service.developer_data(session, db.engine, viewer)
    notice = _notice(deleted) if deleted is not None else None
    return render(request, "sandbox/data.html", rows=rows, notice=notice, error=None)


@router.post(PAGE + "/reset")
def reset_sandbox_data(
    request: Request,
    form: FormData = Depends(form_data),
    session: Session = SESSION,
    db: Database = Depends(get_db),
    viewer: Principal = Depends(get_principal),
) -> Response:
    """Reset what the form names: one credential's items in one API version, or (no field) all of yours."""
    htmx = request.headers.get("hx-request") == "true"
    if not viewer.signed_in and not htmx:
        return sign_in_redirect(PAGE)
    notice, error = None, None
    try:
        deleted = service.reset_data(
            session,
            db.engine,
            viewer,
            credential=_form_field(form, "credential"),
            api=_form_field(form, "api"),
            version=_form_field(form, "version"),
        )
    except Problem as exc:
        if not htmx:
            raise
        session.rollback()
        error = exc.detail or exc.title
    else:
        if not htmx:
            return RedirectResponse(f"{PAGE}?deleted={deleted}", status_code=303)
        notice = _notice(deleted)
    rows = service.developer_data(session, db.engine, viewer) if viewer.signed_in else []
    html = templates.env.get_template("sandbox/_data.html").render(
        request=request, rows=rows, notice=notice, error=error
    )
    return HTMLResponse(html, headers={"Vary": "HX-Request"})


def _notice(deleted: int) -> str:
    """Rows count the items and each stateful collection's marker, as the API and CLI report them."""
    if deleted <= 0:
        return "Nothing to reset: the sandbox remembered nothing there."
    return f"Reset: the sandbox forgot {deleted} row{'s' if deleted != 1 else ''} (items and collection markers)."
