"""Impact of a version's breaking changes on real traffic: the applications that called each affected
operation in the last 30 days, from the usage roll-ups and the calls not rolled up yet
(`analytics.service.callers_since`), and a notice to exactly their owners.

A finding names its operation by operationId and by method + path template; the gateway records each call
with the operationId it matched, or `METHOD /template` when the operation has none, so either key finds the
calls, whichever version of the API they went to. A finding without an operation (a security scheme, a
server) concerns every caller of the API. Only error-level findings (breaking) are counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from devhub.analytics.service import callers_since
from devhub.apps.models import Application
from devhub.db import utcnow
from devhub.governance.models import BreakingFinding
from devhub.specs.models import SpecVersion

IMPACT_DAYS = 30


@dataclass
class Impact:
    finding: BreakingFinding
    applications: list[Application]


def operation_keys(finding: BreakingFinding) -> list[str]:
    keys = [finding.operation_id] if finding.operation_id else []
    if finding.method and finding.path:
        keys.append(f"{finding.method.upper()} {finding.path}")
    return keys


def impacts(session: Session, version: SpecVersion, now: datetime | None = None) -> list[Impact]:
    """Each breaking finding stored for `version`, with the applications that called what it breaks."""
    findings = session.scalars(
        select(BreakingFinding)
        .where(BreakingFinding.version_id == version.id, BreakingFinding.level == "error")
        .order_by(BreakingFinding.id)
    ).all()
    if not findings:
        return []
    now = now or utcnow()
    callers: dict[str | None, set[int]] = {}
    for operation, app_id in callers_since(session, version.api_ref, now - timedelta(days=IMPACT_DAYS), now):
        callers.setdefault(operation, set()).add(app_id)
    everyone = set().union(*callers.values()) if callers else set()
    apps = {app.id: app for app in session.scalars(select(Application).where(Application.id.in_(everyone)))}
    result = []
    for finding in findings:
        keys = operation_keys(finding)
        ids = set().union(*(callers.get(key, set()) for key in keys)) if keys else everyone
        result.append(Impact(finding, sorted((apps[i] for i in ids if i in apps), key=lambda a: (a.name, a.id))))
    return result


def notify_affected(session: Session, settings, version: SpecVersion, found: list[Impact]) -> int:
    """Tell the owners of each affected application, once per publish, which of its calls break."""
    from devhub.apps.service import app_users
    from devhub.catalog.kinds import parse_ref
    from devhub.notify.service import notify

    per_app: dict[int, tuple[Application, list[BreakingFinding]]] = {}
    for impact in found:
        for app in impact.applications:
            per_app.setdefault(app.id, (app, []))[1].append(impact.finding)
    ref = parse_ref(version.api_ref, default_kind="api")
    link = f"/apis/{ref.namespace}/{ref.name}/v/{version.version}/governance"
    told = 0
    for app, findings in per_app.values():
        lines = "\n".join(f"- {f.message} ({' / '.join(operation_keys(f)) or 'the whole API'})" for f in findings)
        subject = f"Breaking change in {version.api_ref} {version.version} affects {app.name}"
        body = f"{app.name} called these in the last {IMPACT_DAYS} days, and they change:\n{lines}"
        told += notify(session, settings, app_users(session, app), subject, body, link)
    return told
