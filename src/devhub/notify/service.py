"""Notify people: one portal notification each, and the same text by mail (the outbox without SMTP)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from devhub.db import utcnow
from devhub.identity.models import User
from devhub.mail import service as mail
from devhub.notify.models import Notification
from devhub.pagination import Page, PageRequest
from devhub.problems import NotFound
from devhub.settings import Settings


def notify(
    session: Session, settings: Settings, users: Iterable[User], subject: str, body: str, link: str | None = None
) -> int:
    """Tell each (distinct, active) user; the mail carries the link as an absolute URL. Returns how many."""
    told = 0
    for user in {user.id: user for user in users if user.active}.values():
        session.add(Notification(user_id=user.id, subject=subject[:255], body=body, link=link))
        url = f"\n\n{settings.base_url.rstrip('/')}{link}" if link else ""
        mail.send(session, settings, user.email, subject, body + url)
        told += 1
    session.flush()
    return told


def unread_count(session: Session, user_id: int) -> int:
    query = select(func.count()).select_from(Notification)
    return session.scalar(query.where(Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def list_notifications(session: Session, user_id: int, page: PageRequest, unread: bool = False) -> Page[Notification]:
    clauses = [Notification.user_id == user_id]
    if unread:
        clauses.append(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Notification).where(*clauses)) or 0
    query = select(Notification).where(*clauses).order_by(Notification.id.desc()).offset(page.offset)
    return Page(list(session.scalars(query.limit(page.size))), total, page)


def mark_read(session: Session, user_id: int, notification_id: int | None = None) -> int:
    """Mark one notification (or, with None, all of them) read; another user's is not found."""
    clauses = [Notification.user_id == user_id, Notification.read_at.is_(None)]
    if notification_id is not None:
        owned = session.get(Notification, notification_id)
        if owned is None or owned.user_id != user_id:
            raise NotFound(f"no notification {notification_id}")
        clauses.append(Notification.id == notification_id)
    return session.execute(update(Notification).where(*clauses).values(read_at=utcnow())).rowcount
