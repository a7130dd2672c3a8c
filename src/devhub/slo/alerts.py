"""Burn-rate alerts: an episode opens when an objective's budget burns more than `DEVHUB_SLO_BURN_RATE` times
too fast over both the last hour and the last 6 hours, and resolves when it no longer does.

Each change is announced once: the API's owner team gets a portal notification and a mail (the outbox,
and SMTP when configured), and the owners' webhook, when set, a JSON POST. Opening claims the episode by
inserting its row under the one-open-episode-per-objective unique constraint; resolving claims it by an
UPDATE guarded on the row still being open. Several portal processes evaluating at once therefore announce
every opening and every resolution exactly once.

Webhooks are posted after the transaction commits (a slow receiver never holds the database): the payload
waits on the episode (`webhook_payload`) until a delivery succeeds or `MAX_ATTEMPTS` passes have tried, so a
receiver that is down for a few minutes still gets the alert. Each attempt is claimed by an UPDATE guarded
on the attempt count and an in-flight mark with a lease, so two processes never post the same payload at
once; a process dying mid-post costs an attempt, not the alert (delivery is at least once: receivers may
see a repeat after a crash and can key on the `webhook-id` header, or on `id` and `event`).

Deliveries are signed (Standard Webhooks, see `webhooks.py`). A payload's `webhook-id` is given by its first
attempt and kept on the episode (`webhook_id`), so every retry of one delivery carries the same id, and a
payload that replaces it (the resolution of a firing never delivered) gets a new one. After a rotation of the
signing secret, deliveries carry the previous secret's signature too until its grace ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devhub.catalog.kinds import parse_ref
from devhub.catalog.models import Entity
from devhub.db import Database, utcnow
from devhub.notify.service import notify
from devhub.settings import Settings
from devhub.slo import service, webhooks
from devhub.slo.models import OPEN, SloAlert

log = logging.getLogger(__name__)
FIRING, RESOLVED = "slo.alert.firing", "slo.alert.resolved"
MAX_ATTEMPTS = 5
DELIVERING = "delivering since "  # the in-flight mark on webhook_result, with the claim's time


@dataclass
class AlertEvent:
    event: str  # FIRING | RESOLVED
    alert_id: int
    api_ref: str
    payload: dict[str, Any]


def slo_link(api_ref: str) -> str:
    ref = parse_ref(api_ref, default_kind="api")
    return f"/apis/{ref.namespace}/{ref.name}/slo"


def _payload(event: str, alert: SloAlert, item: service.ObjectiveStatus, settings: Settings) -> dict[str, Any]:
    return {
        "event": event,
        "id": alert.id,
        "api": alert.api_ref,
        "objective": alert.objective,
        "description": item.objective.describe(),
        "target": alert.target,
        "latency_ms": alert.latency_ms,
        "burn_rate_threshold": settings.slo_burn_rate,
        "burn_rate_1h": round(item.burn_rate_1h, 4),
        "burn_rate_6h": round(item.burn_rate_6h, 4),
        "budget_left": round(item.budget_left, 4),
        "started_at": alert.started_at.isoformat(),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "url": settings.base_url.rstrip("/") + slo_link(alert.api_ref),
    }


def _message(event: str, alert: SloAlert, item: service.ObjectiveStatus, settings: Settings) -> tuple[str, str]:
    what = f"{alert.api_ref}: {item.objective.describe()}"
    rates = f"burn rate {item.burn_rate_1h:.1f}x over 1 hour and {item.burn_rate_6h:.1f}x over 6 hours"
    if event == FIRING:
        body = (
            f"The error budget of {what} is burning more than {settings.slo_burn_rate:g}x too fast: {rates}. "
            f"{item.budget_left:.1f}% of the budget is left."
        )
        return f"SLO burning: {what}", body
    lasted = int(((alert.resolved_at or utcnow()) - alert.started_at).total_seconds() // 60)
    body = f"The budget of {what} is no longer burning too fast ({rates}), after {lasted} minutes."
    return f"SLO resolved: {what}", body


def _tell_owners(session: Session, settings: Settings, entity: Entity, subject: str, body: str) -> int:
    from devhub.apps.service import team_users

    users = team_users(session, entity.owner_ref) if entity.owner_ref else []
    return notify(session, settings, users, subject, body, slo_link(entity.ref))


def _open(session: Session, entity: Entity, item: service.ObjectiveStatus, now: datetime) -> SloAlert | None:
    alert = SloAlert(
        api_ref=entity.ref,
        objective=item.objective.kind,
        target=item.objective.target,
        latency_ms=item.objective.latency_ms,
        started_at=now,
        open_marker=OPEN,
        burn_rate_1h=item.burn_rate_1h,
        burn_rate_6h=item.burn_rate_6h,
        peak_burn_rate_1h=item.burn_rate_1h,
        budget_left=item.budget_left,
        notified=0,
    )
    try:
        with session.begin_nested():
            session.add(alert)
    except IntegrityError:
        return None  # another process opened this episode and announces it
    return alert


def _resolve(session: Session, alert: SloAlert, now: datetime) -> bool:
    claimed = session.execute(
        update(SloAlert)
        .where(SloAlert.id == alert.id, SloAlert.open_marker == OPEN)
        .values(open_marker=None, resolved_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.refresh(alert)
    return claimed == 1


def evaluate_api(session: Session, settings: Settings, entity: Entity, now: datetime | None = None) -> list[AlertEvent]:
    """Open or resolve this API's alert episodes; tell the owners in the portal and by mail."""
    now = now or utcnow()
    spec = service.spec_of(session, entity)
    current = service.status(session, spec, settings.slo_burn_rate, now)
    events: list[AlertEvent] = []
    for item in current.objectives:
        alert = item.open_alert
        if item.firing and alert is None:
            alert = _open(session, entity, item, now)
            event = FIRING if alert is not None else None
        elif item.firing:
            alert.peak_burn_rate_1h = max(alert.peak_burn_rate_1h, item.burn_rate_1h)
            event = None
        elif alert is not None:
            event = RESOLVED if _resolve(session, alert, now) else None
        else:
            event = None
        if event is None:
            continue
        subject, body = _message(event, alert, item, settings)
        alert.notified += _tell_owners(session, settings, entity, subject, body)
        events.append(_announce(alert, spec.webhook_url, _payload(event, alert, item, settings)))
    events.extend(_resolve_dropped(session, settings, entity, spec, now))
    session.flush()
    return events


def _resolve_dropped(session: Session, settings: Settings, entity: Entity, spec, now: datetime) -> list[AlertEvent]:
    """Episodes of objectives removed since they opened end with the objective, announced like any other."""
    kinds = {o.kind for o in spec.objectives}
    events = []
    for alert in service.open_alerts_of(session, entity.ref):
        if alert.objective in kinds or not _resolve(session, alert, now):
            continue
        subject = f"SLO resolved: {entity.ref}: the {alert.objective} objective was removed"
        alert.notified += _tell_owners(session, settings, entity, subject, subject + ".")
        payload = {"event": RESOLVED, "id": alert.id, "api": entity.ref, "objective": alert.objective}
        payload.update(removed=True, started_at=alert.started_at.isoformat(), resolved_at=now.isoformat())
        events.append(_announce(alert, spec.webhook_url, payload))
    return events


def _announce(alert: SloAlert, webhook_url: str | None, payload: dict[str, Any]) -> AlertEvent:
    """The event, with its webhook payload left on the episode for `deliver` (replacing an undelivered one)."""
    if webhook_url:
        alert.webhook_payload, alert.webhook_attempts, alert.webhook_result = payload, 0, None
        alert.webhook_id = None  # a new message: its first attempt names it
    return AlertEvent(payload["event"], alert.id, alert.api_ref, payload)


def refs_to_evaluate(session: Session) -> list[str]:
    """APIs with an objective, and those with an open episode (an SLO removed while alerting ends it)."""
    refs = [entity.ref for entity, _ in service.apis_with_slos(session)]
    still_open = set(session.scalars(select(SloAlert.api_ref).where(SloAlert.open_marker == OPEN)))
    return refs + sorted(still_open - set(refs))


def deliver(database: Database, settings: Settings) -> int:
    """Post every payload waiting on an episode to the API's webhook; keep the outcome. Returns deliveries."""
    with database.session() as session:
        query = select(SloAlert.id, SloAlert.webhook_attempts, SloAlert.webhook_result)
        waiting = session.execute(query.where(SloAlert.webhook_payload.is_not(None))).all()
    lease = timedelta(seconds=2 * settings.http_timeout_seconds + 5)
    now = utcnow()
    return sum(
        _attempt(database, settings, alert_id, attempts, result)
        for alert_id, attempts, result in waiting
        if not _in_flight(result, now, lease)
    )


def _in_flight(result: str | None, now: datetime, lease: timedelta) -> bool:
    """Another process is posting it, and has not been at it longer than a post can take."""
    if not result or not result.startswith(DELIVERING):
        return False
    try:
        return now - datetime.fromisoformat(result[len(DELIVERING) :]) < lease
    except ValueError:
        return False


def _attempt(database: Database, settings: Settings, alert_id: int, attempts: int, seen: str | None) -> bool:
    """One delivery attempt, claimed by moving the attempt count and the in-flight mark from what we read (a
    process that read the same row before us loses the claim; one that reads it after sees the mark)."""
    with database.session() as session:
        unchanged = SloAlert.webhook_result.is_(None) if seen is None else SloAlert.webhook_result == seen
        claimed = session.execute(
            update(SloAlert)
            .where(SloAlert.id == alert_id, SloAlert.webhook_attempts == attempts, unchanged)
            .where(SloAlert.webhook_payload.is_not(None))
            .values(webhook_attempts=attempts + 1, webhook_result=DELIVERING + utcnow().isoformat())
            .execution_options(synchronize_session=False)
        ).rowcount
        if claimed != 1:
            return False  # another process is on it
        alert = session.get(SloAlert, alert_id)
        alert.webhook_id = alert.webhook_id or webhooks.new_message_id()  # committed with the claim
        payload, api_ref, message_id = alert.webhook_payload, alert.api_ref, alert.webhook_id
        row = service.settings_row(session, api_ref)
        url, sealed = (row.webhook_url, service.sealed_signing_secrets(row)) if row is not None else (None, [])
    result = _post(url, sealed, payload, message_id, settings) if url else "not delivered: the webhook was removed"
    delivered = result.startswith("delivered")
    attempt = attempts + 1
    if not delivered:
        log.warning("SLO webhook for %s (attempt %d): %s", api_ref, attempt, result)
    with database.session() as session:
        alert = session.get(SloAlert, alert_id)
        if alert.webhook_attempts != attempt or alert.webhook_payload != payload:
            return delivered  # a newer event replaced this one meanwhile: it has its own attempts
        note = f" (attempt {attempt})" if attempt > 1 else ""
        if not delivered and (attempt >= MAX_ATTEMPTS or not url):
            note += "; given up"
        alert.webhook_result = f"{payload['event'].rsplit('.', 1)[-1]} {result}{note}"[:2000]
        if delivered or attempt >= MAX_ATTEMPTS or not url:
            alert.webhook_payload = None
    return delivered


def _post(url: str, sealed: list[str], payload: dict[str, Any], message_id: str, settings: Settings) -> str:
    """Post signed with the webhook's secrets: the current one, and the previous one during a rotation's grace
    (unsigned when it has none: saved before webhooks were signed)."""
    try:
        secrets = [webhooks.decrypt_secret(secret, settings) for secret in sealed]
    except webhooks.WebhookError as exc:
        return f"not delivered: {exc}"
    return webhooks.post(url, payload, settings, message_id=message_id, signing_secrets=secrets)


def run_once(database: Database, settings: Settings, now: datetime | None = None) -> list[AlertEvent]:
    """One evaluation pass of every SLO, then webhook delivery: the loop's body and `devhub slo check`.
    Each API is evaluated in its own transaction, so one failing API does not hold up the others. Replaced
    webhook signing secrets whose grace has ended are forgotten first."""
    with database.session() as session:
        service.drop_expired_previous_secrets(session)  # by the clock, as deliveries are signed
        refs = refs_to_evaluate(session)
    events: list[AlertEvent] = []
    for ref in refs:
        try:
            with database.session() as session:
                entity = session.scalar(select(Entity).where(Entity.ref == ref))
                if entity is not None:
                    events.extend(evaluate_api(session, settings, entity, now))
        except Exception:
            log.exception("SLO evaluation of %s failed", ref)
    deliver(database, settings)
    return events
