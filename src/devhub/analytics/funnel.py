"""Time to first call: for every developer, when they signed up, registered their first application, got
their first credential (API key or OAuth2 client) and made their first successful call (2xx or 3xx, sandbox
or production); and for admins the funnel over those steps with the median and 90th percentile of the time
each step took and how many people stopped before it.

An application counts for the developer who owns it or who registered it (team applications). The first
successful call comes from `usage_app_firsts`, which the roll-up keeps forever, so the funnel does not
depend on the call records' or the buckets' retention. A step counts as reached only when every step
before it is, so the funnel never widens.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from devhub.analytics.models import UsageAppFirsts
from devhub.apps.models import ApiKey, Application, ClientCredential
from devhub.identity.models import User

STEPS = ("signed_up", "first_application", "first_credential", "first_call")
STEP_LABELS = {
    "signed_up": "Signed up",
    "first_application": "First application",
    "first_credential": "First credential",
    "first_call": "First successful call",
}


@dataclass(eq=False)  # compared and hashed by identity: one per developer
class Journey:
    user_id: int
    email: str
    signed_up: datetime
    first_application: datetime | None = None
    first_credential: datetime | None = None
    first_call: datetime | None = None

    def at(self, step: str) -> datetime | None:
        return getattr(self, step)

    @property
    def reached(self) -> str:
        """The last step reached in order."""
        last = STEPS[0]
        for step in STEPS[1:]:
            if self.at(step) is None:
                break
            last = step
        return last

    def seconds_to(self, step: str) -> float | None:
        """Seconds from the previous step to `step`, when both are reached in order."""
        index = STEPS.index(step)
        if index == 0 or STEPS.index(self.reached) < index:
            return None
        return max(0.0, (self.at(step) - self.at(STEPS[index - 1])).total_seconds())

    @property
    def time_to_first_call(self) -> float | None:
        if STEPS.index(self.reached) < STEPS.index("first_call"):
            return None
        return max(0.0, (self.first_call - self.signed_up).total_seconds())


@dataclass
class StepSummary:
    step: str
    label: str
    reached: int
    dropped: int  # reached the step before, not this one
    conversion: float | None  # of those who reached the step before
    median_seconds: float | None  # from the step before
    p90_seconds: float | None


def journeys(session: Session, since: datetime | None = None, until: datetime | None = None) -> list[Journey]:
    """Every developer who signed up in [since, until), oldest first, with their steps' times."""
    query = select(User.id, User.email, User.created_at).order_by(User.created_at, User.id)
    if since is not None:
        query = query.where(User.created_at >= since)
    if until is not None:
        query = query.where(User.created_at < until)
    people = {uid: Journey(uid, email, created) for uid, email, created in session.execute(query)}
    if not people:
        return []
    by_email = {journey.email.lower(): journey for journey in people.values()}
    apps = session.execute(
        select(Application.id, Application.owner_user_id, Application.created_by, Application.created_at)
    )
    owners: dict[int, list[Journey]] = {}
    for app_id, owner_id, created_by, created_at in apps:
        linked = {people.get(owner_id), by_email.get((created_by or "").lower())} - {None}
        for journey in linked:
            owners.setdefault(app_id, []).append(journey)
            journey.first_application = _earliest(journey.first_application, created_at)
    for table in (ApiKey, ClientCredential):
        query = select(table.application_id, func.min(table.created_at)).group_by(table.application_id)
        for app_id, created_at in session.execute(query):
            for journey in owners.get(app_id, ()):
                journey.first_credential = _earliest(journey.first_credential, created_at)
    for app_id, success_at in session.execute(select(UsageAppFirsts.app_id, UsageAppFirsts.first_success_at)):
        for journey in owners.get(app_id, ()):
            journey.first_call = _earliest(journey.first_call, success_at)
    return list(people.values())


def _earliest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate < current else current


def summarise(people: list[Journey]) -> list[StepSummary]:
    """The funnel: per step, how many reached it, how many stopped before it, and how long it took."""
    result = []
    previous = len(people)
    for step in STEPS:
        index = STEPS.index(step)
        reached = [j for j in people if STEPS.index(j.reached) >= index]
        durations = sorted(d for j in reached if (d := j.seconds_to(step)) is not None)
        result.append(
            StepSummary(
                step=step,
                label=STEP_LABELS[step],
                reached=len(reached),
                dropped=previous - len(reached) if index else 0,
                conversion=round(len(reached) / previous, 4) if index and previous else None,
                median_seconds=_quantile(durations, 0.5),
                p90_seconds=_quantile(durations, 0.9),
            )
        )
        previous = len(reached)
    return result


def time_to_first_call(people: list[Journey]) -> dict:
    """Sign-up to first successful call, over those who made one."""
    values = sorted(t for j in people if (t := j.time_to_first_call) is not None)
    return {"developers": len(values), "median_seconds": _quantile(values, 0.5), "p90_seconds": _quantile(values, 0.9)}


def _quantile(values: list[float], q: float) -> float | None:
    """The q-quantile by linear interpolation (statistics' "inclusive" method), None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return round(values[0], 3)
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return round(cuts[int(q * 100) - 1], 3)
