"""Deprecation notices to the people whose applications subscribe to a deprecated API.

Stages: `announced` as soon as a deprecation exists, then 30, 7 and 1 day(s) before its sunset date (a
deprecation without a sunset gets only the announcement). Each stage is sent once per deprecation: the
row in `governance_sunset_notices` is inserted first, under its unique constraint, so two portal
processes running the task at the same moment cannot both send it. Subscribers are the owners of the
applications holding a live subscription (pending, approved or suspended) to a product that offers the
API, in every version or in the deprecated one.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from devhub.apps.models import Application, ProductApi, Subscription
from devhub.apps.service import LIVE_STATES, app_users
from devhub.catalog.kinds import parse_ref
from devhub.db import utcnow
from devhub.governance.models import Deprecation, SunsetNotice
from devhub.notify.service import notify
from devhub.settings import Settings

STAGES = (("30d", 30), ("7d", 7), ("1d", 1))


def subscribed_apps(session: Session, api_ref: str, version: str) -> list[Application]:
    offering = select(ProductApi.product_id).where(
        ProductApi.api_ref == api_ref, or_(ProductApi.version.is_(None), ProductApi.version == version)
    )
    holding = select(Subscription.application_id).where(
        Subscription.product_id.in_(offering), Subscription.state.in_(LIVE_STATES)
    )
    query = select(Application).where(Application.id.in_(holding)).order_by(Application.id)
    return list(session.scalars(query))


def due_stage(deprecation: Deprecation, sent: set[str], now: datetime) -> str | None:
    """The stage to send now, if any: the announcement first, then the latest sunset stage reached."""
    if "announced" not in sent:
        return "announced"
    if deprecation.sunset_at is None or deprecation.sunset_at <= now:
        return None
    left = deprecation.sunset_at - now
    reached = [name for name, days in STAGES if left <= timedelta(days=days)]
    return reached[-1] if reached and reached[-1] not in sent else None


def _message(deprecation: Deprecation) -> tuple[str, str, str]:
    what = f"{deprecation.api_ref} {deprecation.version}"
    if deprecation.method:
        what += f" {deprecation.method.upper()} {deprecation.path}"
    sunset = f"; it stops working on {deprecation.sunset_at:%Y-%m-%d}" if deprecation.sunset_at else ""
    body = f"{what} is deprecated{sunset}."
    if deprecation.replacement:
        body += f"\nUse instead: {deprecation.replacement}"
    if deprecation.reason:
        body += f"\nWhy: {deprecation.reason}"
    ref = parse_ref(deprecation.api_ref, default_kind="api")
    return f"Deprecated: {what}{sunset}", body, f"/apis/{ref.namespace}/{ref.name}/v/{deprecation.version}"


def send_due_notices(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Send every notice that is due; returns how many people were told."""
    now = now or utcnow()
    told = 0
    for deprecation in session.scalars(select(Deprecation).order_by(Deprecation.id)):
        sent = set(session.scalars(select(SunsetNotice.stage).where(SunsetNotice.deprecation_id == deprecation.id)))
        stage = due_stage(deprecation, sent, now)
        if stage is None:
            continue
        notice = SunsetNotice(deprecation_id=deprecation.id, stage=stage, sent_at=now)
        try:
            with session.begin_nested():
                session.add(notice)
        except IntegrityError:
            continue  # another process sent this stage
        subject, body, link = _message(deprecation)
        for app in subscribed_apps(session, deprecation.api_ref, deprecation.version):
            notice.recipients += notify(
                session, settings, app_users(session, app), subject, f"{app.name}: {body}", link
            )
        told += notice.recipients
    session.flush()
    return told
