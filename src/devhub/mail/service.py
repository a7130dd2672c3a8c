"""Sending mail: every message is written to the outbox; with SMTP configured it is also delivered.

Delivery happens inline, which keeps the code obvious; a failure is recorded on the outbox row and never
breaks the action that sent the message.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devhub.db import utcnow
from devhub.mail.models import OutboxMessage
from devhub.pagination import Page, PageRequest
from devhub.settings import Settings

log = logging.getLogger(__name__)


def send(session: Session, settings: Settings, to: str, subject: str, body: str) -> OutboxMessage:
    message = OutboxMessage(to=to, subject=subject[:255], body=body, created_at=utcnow())
    session.add(message)
    if settings.smtp_host:
        try:
            _deliver(settings, to, subject, body)
            message.sent_at = utcnow()
        except (OSError, smtplib.SMTPException) as exc:
            message.error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("mail to %s could not be delivered: %s", to, message.error)
    session.flush()
    return message


def _deliver(settings: Settings, to: str, subject: str, body: str) -> None:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = to
    email["Subject"] = subject
    email.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password or "")
        smtp.send_message(email)


def outbox(session: Session, page: PageRequest, to: str | None = None) -> Page[OutboxMessage]:
    clauses = [OutboxMessage.to == to.strip().lower()] if to else []
    total = session.scalar(select(func.count()).select_from(OutboxMessage).where(*clauses)) or 0
    query = select(OutboxMessage).where(*clauses).order_by(OutboxMessage.id.desc())
    return Page(list(session.scalars(query.offset(page.offset).limit(page.size))), total, page)
