"""Notification pages: your notifications, newest first, unread ones marked; mark them all read.

    GET  /notifications              the list (`?unread=1` for the unread ones only)
    POST /notifications/read-all     mark every one read, then back to the list

The header shows the unread count through the `unread_notifications` template global (`devhub.web`).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from devhub.deps import get_page, get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.notify import service
from devhub.pagination import PageRequest
from devhub.web import render, sign_in_redirect

router = APIRouter(include_in_schema=False)
SESSION = Depends(get_session, scope="function")


@router.get("/notifications", response_class=HTMLResponse)
def notifications(
    request: Request,
    unread: bool = False,
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    viewer: Principal = Depends(get_principal),
):
    if viewer.user_id is None:
        return sign_in_redirect("/notifications")
    require(viewer, "notifications.read")
    return render(
        request,
        "notify/notifications.html",
        page=service.list_notifications(session, viewer.user_id, page, unread),
        unread=unread,
        unread_total=service.unread_count(session, viewer.user_id),
    )


@router.post("/notifications/read-all")
def mark_all_read(session: Session = SESSION, viewer: Principal = Depends(get_principal)):
    require(viewer, "notifications.read")
    service.mark_read(session, viewer.user_id)
    return RedirectResponse("/notifications", status_code=303)
