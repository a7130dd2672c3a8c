"""Chargeback exports: a calendar month's usage per application (and API and environment) or per team, as
rows for the API's JSON and as CSV (the pages, the API and the CLI serve the same rows).

Read from the day buckets (kept `usage_day_retention_days`), so a month costs one grouped query however
many calls it had. Every recorded call counts, refusals included, with the errors in their own columns so
a chargeback can leave out what it does not bill. Personal applications are charged to their owner
(`user:<email>`), team applications to the team.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from devhub.analytics.models import DAY, UsageBucket, UsageSeries
from devhub.apps.models import Application
from devhub.identity.models import User
from devhub.identity.policy import Principal, require
from devhub.problems import BadRequest

GROUPS = ("application", "team")
APPLICATION_COLUMNS = (
    "month",
    "team",
    "application",
    "application_name",
    "api",
    "environment",
    "calls",
    "client_errors",
    "server_errors",
    "bytes_in",
    "bytes_out",
)
TEAM_COLUMNS = ("month", "team", "applications", "calls", "client_errors", "server_errors", "bytes_in", "bytes_out")


def month_range(month: str) -> tuple[datetime, datetime]:
    """`YYYY-MM` as [first day, first day of the next month) in UTC."""
    try:
        start = datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest("month must read YYYY-MM, e.g. 2026-11") from None
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def current_month(now: datetime) -> str:
    return now.strftime("%Y-%m")


def _visible_apps(viewer: Principal):
    """The applications whose usage the viewer may export: an admin's, every one; else their own and their
    teams' (as on the applications page)."""
    if viewer.is_admin:
        return None
    mine = Application.owner_user_id == viewer.user_id
    return or_(mine, Application.owner_team_ref.in_(sorted(viewer.teams))) if viewer.teams else mine


def monthly_usage(session: Session, viewer: Principal, month: str, group: str = "application") -> list[dict]:
    """The month's rows, per application, API and environment (`group="application"`) or per team."""
    require(viewer, "usage.export")
    if group not in GROUPS:
        raise BadRequest(f"group must be one of {', '.join(GROUPS)}")
    start, end = month_range(month)
    calls = func.sum(UsageBucket.calls)
    errors_of = lambda klass: func.sum(case((UsageSeries.status_class == klass, UsageBucket.calls), else_=0))  # noqa: E731
    query = (
        select(
            UsageSeries.app_id,
            UsageSeries.api_ref,
            UsageSeries.environment,
            calls,
            errors_of(4),
            errors_of(5),
            func.sum(UsageBucket.bytes_in),
            func.sum(UsageBucket.bytes_out),
        )
        .join(UsageSeries, UsageSeries.id == UsageBucket.series_id)
        .join(Application, Application.id == UsageSeries.app_id)
        .where(UsageBucket.resolution == DAY, UsageBucket.start >= start, UsageBucket.start < end)
        .group_by(UsageSeries.app_id, UsageSeries.api_ref, UsageSeries.environment)
    )
    condition = _visible_apps(viewer)
    if condition is not None:
        query = query.where(condition)
    totals = session.execute(query).all()
    apps = _apps(session, {row[0] for row in totals})
    rows = []
    for app_id, api_ref, environment, n, client_errors, server_errors, bytes_in, bytes_out in totals:
        app, team = apps[app_id]
        rows.append(
            {
                "month": month,
                "team": team,
                "application": app.uid,
                "application_name": app.name,
                "api": api_ref or "",
                "environment": environment or "",
                "calls": int(n),
                "client_errors": int(client_errors),
                "server_errors": int(server_errors),
                "bytes_in": int(bytes_in),
                "bytes_out": int(bytes_out),
            }
        )
    rows.sort(key=lambda r: (r["team"], r["application_name"], r["application"], r["api"], r["environment"]))
    return rows if group == "application" else _per_team(rows)


def _apps(session: Session, ids: set[int]) -> dict[int, tuple[Application, str]]:
    """Each application with the team it is charged to."""
    if not ids:
        return {}
    apps = list(session.scalars(select(Application).where(Application.id.in_(sorted(ids)))))
    owners = {a.owner_user_id for a in apps if a.owner_user_id is not None}
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(owners))).all()) if owners else {}
    return {a.id: (a, a.owner_team_ref or f"user:{emails.get(a.owner_user_id, 'unknown')}") for a in apps}


def _per_team(rows: list[dict]) -> list[dict]:
    teams: dict[str, dict] = {}
    members: dict[str, set[str]] = {}
    for row in rows:
        team = teams.setdefault(row["team"], {name: 0 for name in TEAM_COLUMNS} | {"month": row["month"]})
        team["team"] = row["team"]
        members.setdefault(row["team"], set()).add(row["application"])
        for name in ("calls", "client_errors", "server_errors", "bytes_in", "bytes_out"):
            team[name] += row[name]
    for name, team in teams.items():
        team["applications"] = len(members[name])
    return [teams[name] for name in sorted(teams)]


def to_csv(rows: list[dict], group: str = "application") -> str:
    """The rows as CSV with a header line (also when there are no rows). Values starting with =, +, - or @
    are prefixed with ' so a spreadsheet does not run them as formulas (names are chosen by users)."""
    columns = APPLICATION_COLUMNS if group == "application" else TEAM_COLUMNS
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[name]) for name in columns])
    return out.getvalue()


def _cell(value: object) -> object:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
