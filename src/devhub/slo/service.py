"""SLOs of an API: the spec in force, compliance and budget from gateway data, owners' settings, alert history.

Measurements come from the analytics roll-ups (`devhub.analytics.service.api_window`), never from raw call
rows: a 28-day window of a busy API is a few hundred day and hour buckets, not millions of calls. Alerting
(`alerts.py`) reuses `status` so the page, the API and the alert always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, or_, select, update
from sqlalchemy.orm import Session

from devhub.audit import service as audit
from devhub.audit.service import Actor
from devhub.catalog.models import Entity
from devhub.db import utcnow
from devhub.identity.policy import Principal, visible_entities
from devhub.pagination import Page, PageRequest
from devhub.problems import Problem
from devhub.settings import Settings
from devhub.slo import budget, webhooks
from devhub.slo.models import OPEN, SloAlert, SloSettings
from devhub.slo.objectives import (
    ANNOTATION_PREFIX,
    Objective,
    ObjectiveError,
    Spec,
    annotations_of,
    check_environment,
    check_latency_ms,
    check_target,
    check_window,
    resolve,
)
from devhub.slo.webhooks import WebhookError, check_url

SETTABLE = ("availability_target", "latency_target", "latency_ms", "window_days", "environment", "webhook_url")
MAX_APIS = 5000


class InvalidObjective(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(422, "Invalid objective", detail)


class NoWebhook(Problem):
    def __init__(self) -> None:
        super().__init__(409, "No webhook", "set an alert webhook URL first: its signing secret comes with it")


@dataclass
class ObjectiveStatus:
    objective: Objective
    window: budget.Tally
    compliance: float | None  # percent over the SLO window
    budget_left: float  # percent of the window's error budget
    burn_rate_1h: float
    burn_rate_6h: float
    firing: bool
    open_alert: SloAlert | None = None


@dataclass
class ApiStatus:
    api_ref: str
    spec: Spec
    objectives: list[ObjectiveStatus]
    evaluated_at: datetime
    threshold: float


# --- The spec in force ----------------------------------------------------------------------------------


def settings_row(session: Session, api_ref: str) -> SloSettings | None:
    return session.scalar(select(SloSettings).where(SloSettings.api_ref == api_ref))


def spec_of(session: Session, entity: Entity) -> Spec:
    return resolve(entity.ref, annotations_of(entity.body), settings_row(session, entity.ref))


def defined_refs(session: Session, entities: list[Entity]) -> set[str]:
    """The refs among `entities` with at least one objective (annotation or portal): for scorecards."""
    rows = {}
    refs = [e.ref for e in entities]
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        rows.update((r.api_ref, r) for r in session.scalars(select(SloSettings).where(SloSettings.api_ref.in_(chunk))))
    return {e.ref for e in entities if resolve(e.ref, annotations_of(e.body), rows.get(e.ref)).defined}


def apis_with_slos(session: Session, viewer: Principal | None = None) -> list[tuple[Entity, Spec]]:
    """APIs with at least one objective, by title; only those `viewer` may see (all when None)."""
    set_in_portal = select(SloSettings.api_ref)
    query = select(Entity).where(
        func.lower(Entity.kind) == "api",
        or_(Entity.ref.in_(set_in_portal), cast(Entity.body, Text).contains(ANNOTATION_PREFIX)),
    )
    if viewer is not None:
        query = query.where(visible_entities(viewer))
    entities = list(session.scalars(query.order_by(Entity.sort_key, Entity.id).limit(MAX_APIS)))
    refs = [e.ref for e in entities]
    rows = {r.api_ref: r for r in session.scalars(select(SloSettings).where(SloSettings.api_ref.in_(refs)))}
    found = [(e, resolve(e.ref, annotations_of(e.body), rows.get(e.ref))) for e in entities]
    return [(entity, spec) for entity, spec in found if spec.defined]


# --- Measuring ------------------------------------------------------------------------------------------


def _window(session: Session, spec: Spec, since: datetime, until: datetime):
    from devhub.analytics.service import api_window

    environment = None if spec.environment == "all" else spec.environment
    return api_window(session, spec.api_ref, since, until, environment=environment)


def status(session: Session, spec: Spec, threshold: float, now: datetime | None = None) -> ApiStatus:
    """Compliance, budget left and burn rates of each objective, with its open alert, at `now`."""
    now = now or utcnow()
    objectives: list[ObjectiveStatus] = []
    if spec.objectives:
        long_stats = _window(session, spec, now - timedelta(days=spec.window_days), now)
        hour_stats = _window(session, spec, now - budget.SHORT_WINDOW, now)
        six_hour_stats = _window(session, spec, now - budget.LONG_WINDOW, now)
        open_alerts = {a.objective: a for a in open_alerts_of(session, spec.api_ref)}
        for objective in spec.objectives:
            window = budget.tally(objective, long_stats)
            short = budget.burn_rate(objective, budget.tally(objective, hour_stats))
            long = budget.burn_rate(objective, budget.tally(objective, six_hour_stats))
            objectives.append(
                ObjectiveStatus(
                    objective=objective,
                    window=window,
                    compliance=budget.compliance(window),
                    budget_left=budget.budget_left(objective, window),
                    burn_rate_1h=short,
                    burn_rate_6h=long,
                    firing=budget.firing(short, long, threshold),
                    open_alert=open_alerts.get(objective.kind),
                )
            )
    return ApiStatus(spec.api_ref, spec, objectives, now, threshold)


def api_status(session: Session, entity: Entity, threshold: float) -> ApiStatus:
    """The status of one API now: what its page and `GET .../slo` show."""
    return status(session, spec_of(session, entity), threshold)


def status_page(
    session: Session, viewer: Principal, page: PageRequest, threshold: float
) -> Page[tuple[Entity, ApiStatus]]:
    """One page of the APIs with SLOs that `viewer` may see, each with its status: the overview and `GET /slos`."""
    found = apis_with_slos(session, viewer)
    shown = found[page.offset : page.offset + page.size]
    return Page([(entity, status(session, spec, threshold)) for entity, spec in shown], len(found), page)


def open_alerts_of(session: Session, api_ref: str) -> list[SloAlert]:
    query = select(SloAlert).where(SloAlert.api_ref == api_ref, SloAlert.open_marker == OPEN)
    return list(session.scalars(query.order_by(SloAlert.id)))


def alert_history(session: Session, api_ref: str, page: PageRequest) -> Page[SloAlert]:
    total = session.scalar(select(func.count()).select_from(SloAlert).where(SloAlert.api_ref == api_ref)) or 0
    query = select(SloAlert).where(SloAlert.api_ref == api_ref).order_by(SloAlert.started_at.desc(), SloAlert.id.desc())
    return Page(list(session.scalars(query.offset(page.offset).limit(page.size))), total, page)


# --- Owners' settings -----------------------------------------------------------------------------------


def _validated(changes: dict[str, Any], settings: Settings) -> dict[str, Any]:
    clean = dict(changes)
    try:
        for key, check in (
            ("availability_target", check_target),
            ("latency_target", check_target),
            ("latency_ms", check_latency_ms),
            ("window_days", check_window),
            ("environment", check_environment),
        ):
            if clean.get(key) is not None:
                clean[key] = check(clean[key])
        if clean.get("webhook_url"):
            clean["webhook_url"] = check_url(clean["webhook_url"].strip(), settings, resolve_host=False)
        elif "webhook_url" in clean:
            clean["webhook_url"] = None
    except (ObjectiveError, WebhookError) as exc:
        raise InvalidObjective(str(exc)) from None
    return clean


def update_settings(
    session: Session, settings: Settings, entity: Entity, changes: dict[str, Any], actor: Actor
) -> str | None:
    """Change the fields given (None clears one, falling back to the annotation); audited. A latency target
    and its threshold are set together. A webhook URL set where none was gets a new signing secret, and
    removing the URL drops it. Returns that new secret in clear, to show the owners this once (None when
    none was made); the row is deleted when nothing is set in the portal any more."""
    unknown = set(changes) - set(SETTABLE)
    if unknown:
        raise InvalidObjective(f"unknown fields: {', '.join(sorted(unknown))}")
    clean = _validated(changes, settings)
    row = settings_row(session, entity.ref) or SloSettings(api_ref=entity.ref)
    merged = {key: clean.get(key, getattr(row, key)) for key in SETTABLE}
    if (merged["latency_target"] is None) != (merged["latency_ms"] is None):
        raise InvalidObjective("a latency objective needs both a target percentage and a threshold in ms")
    for key, value in clean.items():
        setattr(row, key, value)
    row.updated_by, row.updated_at = actor.name, utcnow()
    shown = {k: ("(set)" if k == "webhook_url" and v else v) for k, v in clean.items()}  # webhook URLs hold tokens
    secret = None
    if row.webhook_url is None:
        row.webhook_secret_encrypted = row.webhook_secret_created_at = None
        _drop_previous_secret(row)
    elif row.webhook_secret_encrypted is None:  # the first URL, or one saved before webhooks were signed
        secret = _new_webhook_secret(row, settings)
        shown["webhook_secret"] = "(generated)"
    audit.record(session, actor, "slo.update", entity.ref, **shown)
    if all(getattr(row, key) is None for key in SETTABLE):
        if row.id is not None:
            session.delete(row)
            session.flush()
        return None
    session.add(row)
    session.flush()
    return secret


def rotate_webhook_secret(session: Session, settings: Settings, entity: Entity, actor: Actor) -> str:
    """Replace the webhook's signing secret. The secret replaced keeps signing beside the new one for
    `DEVHUB_WEBHOOK_ROTATION_GRACE_HOURS`, so a receiver not yet given the new one keeps verifying alerts
    (Standard Webhooks receivers need one matching signature). Only the immediately previous secret does: a
    second rotation within the grace drops the one before it. Audited without either secret; returns the new
    one in clear, to show the owners this once (`previous_secret_signs_until` says until when the old signs)."""
    row = settings_row(session, entity.ref)
    if row is None or not row.webhook_url:
        raise NoWebhook()
    grace = timedelta(hours=settings.webhook_rotation_grace_hours)
    if grace and _decryptable(row.webhook_secret_encrypted, settings):
        row.webhook_previous_secret_encrypted = row.webhook_secret_encrypted
        row.webhook_previous_secret_until = utcnow() + grace
    else:  # no grace wanted, no secret yet, or one the portal can no longer use to sign
        _drop_previous_secret(row)
    secret = _new_webhook_secret(row, settings)
    until = row.webhook_previous_secret_until
    audit.record(
        session, actor, "slo.webhook_secret.rotate", entity.ref, previous_secret_signs_until=until and until.isoformat()
    )
    session.flush()
    return secret


def previous_secret_signs_until(row: SloSettings | None, now: datetime | None = None) -> datetime | None:
    """Until when the secret a rotation replaced still signs deliveries; None when it no longer does."""
    if row is None or not row.webhook_previous_secret_encrypted or row.webhook_previous_secret_until is None:
        return None
    return row.webhook_previous_secret_until if row.webhook_previous_secret_until > (now or utcnow()) else None


def sealed_signing_secrets(row: SloSettings, now: datetime | None = None) -> list[str]:
    """The encrypted secrets a delivery is signed with: the current one, then the previous one in its grace."""
    sealed = [row.webhook_secret_encrypted] if row.webhook_secret_encrypted else []
    if sealed and previous_secret_signs_until(row, now):
        sealed.append(row.webhook_previous_secret_encrypted)
    return sealed


def drop_expired_previous_secrets(session: Session, now: datetime | None = None) -> int:
    """Forget the replaced secrets whose grace has ended (each evaluation pass): they never sign again."""
    ended = SloSettings.webhook_previous_secret_until <= (now or utcnow())
    return session.execute(
        update(SloSettings)
        .where(ended)
        .values(webhook_previous_secret_encrypted=None, webhook_previous_secret_until=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def _decryptable(sealed: str | None, settings: Settings) -> bool:
    if not sealed:
        return False
    try:
        webhooks.decrypt_secret(sealed, settings)
    except WebhookError:
        return False
    return True


def _drop_previous_secret(row: SloSettings) -> None:
    row.webhook_previous_secret_encrypted = row.webhook_previous_secret_until = None


def _new_webhook_secret(row: SloSettings, settings: Settings) -> str:
    secret = webhooks.new_secret()
    row.webhook_secret_encrypted = webhooks.encrypt_secret(secret, settings)
    row.webhook_secret_created_at = utcnow()
    return secret


def clear_settings(session: Session, entity: Entity, actor: Actor) -> None:
    row = settings_row(session, entity.ref)
    if row is not None:
        session.delete(row)
        audit.record(session, actor, "slo.clear", entity.ref)
        session.flush()
