"""Appending to and verifying the audit chain.

Each event's hash covers its fields and the previous event's hash. Appends lock the single `audit_head`
row (SELECT ... FOR UPDATE on PostgreSQL; SQLite has one writer at a time anyway), so concurrent writers
line up instead of forking the chain.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devhub.audit.models import AuditEvent, AuditHead
from devhub.db import utcnow
from devhub.pagination import Page, PageRequest

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did it, and from where: built from the request by `identity.deps`, or a system actor."""

    name: str
    user_id: int | None = None
    ip: str | None = None
    request_id: str | None = None


SYSTEM = Actor("system")


def _digest(prev_hash: str, at: datetime, actor: str, action: str, target: str, ip, request_id, details) -> str:
    payload = json.dumps(
        [prev_hash, at.isoformat(), actor, action, target, ip, request_id, details],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def record(session: Session, actor: Actor, action: str, target: str = "", **details) -> AuditEvent:
    """Append one event. Never pass secrets in `details`: the log is readable by admins and exported."""
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1).with_for_update())
    if head is None:
        head = AuditHead(id=1, last_hash=GENESIS, count=0)
        session.add(head)
        session.flush()
    now = utcnow()
    at = now.replace(microsecond=now.microsecond // 1000 * 1000)  # ms: survives every back-end
    clean = json.loads(json.dumps(details, default=str))
    event = AuditEvent(
        at=at,
        actor=actor.name,
        actor_id=actor.user_id,
        action=action,
        target=target[:512],
        ip=actor.ip,
        request_id=actor.request_id,
        details=clean,
        prev_hash=head.last_hash,
    )
    event.hash = _digest(head.last_hash, at, actor.name, action, event.target, actor.ip, actor.request_id, clean)
    session.add(event)
    head.last_hash = event.hash
    head.count += 1
    session.flush()
    return event


@dataclass
class Verification:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


def verify(session: Session) -> Verification:
    """Walk the chain from the start; the first event whose hash or link does not match is reported."""
    previous = GENESIS
    checked = 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        expected = _digest(
            previous, event.at, event.actor, event.action, event.target, event.ip, event.request_id, event.details
        )
        if event.prev_hash != previous:
            return Verification(False, checked, event.id, "its link to the previous event does not match")
        if event.hash != expected:
            return Verification(False, checked, event.id, "its content does not match its hash")
        previous = event.hash
        checked += 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.last_hash != previous or head.count != checked):
        return Verification(False, checked, None, "events are missing from the end of the chain")
    return Verification(True, checked)


@dataclass
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _clauses(filters: AuditFilters) -> list:
    clauses = []
    if filters.actor:
        clauses.append(func.lower(AuditEvent.actor).contains(filters.actor.lower(), autoescape=True))
    if filters.action:
        clauses.append(AuditEvent.action.startswith(filters.action, autoescape=True))
    if filters.target:
        clauses.append(func.lower(AuditEvent.target).contains(filters.target.lower(), autoescape=True))
    if filters.since:
        clauses.append(AuditEvent.at >= filters.since)
    if filters.until:
        clauses.append(AuditEvent.at <= filters.until)
    return clauses


def list_events(session: Session, filters: AuditFilters, page: PageRequest) -> Page[AuditEvent]:
    clauses = _clauses(filters)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*clauses)) or 0
    query = select(AuditEvent).where(*clauses).order_by(AuditEvent.id.desc()).offset(page.offset).limit(page.size)
    return Page(list(session.scalars(query)), total, page)


CSV_COLUMNS = ["id", "at", "actor", "action", "target", "ip", "request_id", "details", "hash"]


def _cell(value: object) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(session: Session, filters: AuditFilters) -> Iterable[str]:
    """The filtered events as CSV, oldest first, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    yield buffer.getvalue()
    query = select(AuditEvent).where(*_clauses(filters)).order_by(AuditEvent.id)
    for event in session.scalars(query).yield_per(500):
        buffer.seek(0)
        buffer.truncate()
        row = [
            event.id,
            event.at.isoformat(),
            event.actor,
            event.action,
            event.target,
            event.ip,
            event.request_id,
            json.dumps(event.details, sort_keys=True),
            event.hash,
        ]
        writer.writerow([_cell(value) for value in row])
        yield buffer.getvalue()
