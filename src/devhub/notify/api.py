"""Notifications JSON API: your notifications, newest first; mark one or all read."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from devhub.deps import get_page, get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.notify import service
from devhub.pagination import PageMeta, PageRequest

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class NotificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    subject: str
    body: str
    link: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationList(BaseModel):
    items: list[NotificationOut]
    unread: int
    meta: PageMeta


class MarkedRead(BaseModel):
    marked: int


@router.get("/notifications", summary="Your notifications, newest first")
def list_notifications(
    unread: bool = Query(False, description="Only those not read yet."),
    page: PageRequest = Depends(get_page),
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> NotificationList:
    require(viewer, "notifications.read")
    result = service.list_notifications(session, viewer.user_id, page, unread)
    return NotificationList(
        items=[NotificationOut.model_validate(n) for n in result.items],
        unread=service.unread_count(session, viewer.user_id),
        meta=PageMeta.of(result),
    )


@router.post("/notifications/read", summary="Mark all your notifications read")
def mark_all_read(
    session: Session = Depends(get_session, scope="function"), viewer: Principal = Depends(get_principal)
) -> MarkedRead:
    require(viewer, "notifications.read")
    return MarkedRead(marked=service.mark_read(session, viewer.user_id))


@router.post("/notifications/{notification_id}/read", summary="Mark one notification read")
def mark_read(
    notification_id: int,
    session: Session = Depends(get_session, scope="function"),
    viewer: Principal = Depends(get_principal),
) -> MarkedRead:
    require(viewer, "notifications.read")
    return MarkedRead(marked=service.mark_read(session, viewer.user_id, notification_id))
