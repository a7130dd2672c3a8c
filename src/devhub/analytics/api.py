"""Usage JSON API: a developer's applications, one application's dashboard, an API's dashboard for its
owners, monthly chargeback exports (JSON or CSV), the time-to-first-call funnel and the roll-up (admins).
Every route calls `analytics.service`, `analytics.export` or `analytics.funnel`, as the pages do."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from devhub.analytics import export, funnel, rollup, service
from devhub.analytics.schemas import (
    ApiUsageOut,
    AppSummaryOut,
    AppUsageOut,
    CallErrorOut,
    DeprecatedCallerOut,
    FunnelOut,
    JourneyList,
    JourneyOut,
    MyAppsOut,
    QuotaOut,
    RollupOut,
    StatsOut,
    StepOut,
    breakdown_out,
    period_out,
    points_out,
)
from devhub.db import utcnow
from devhub.deps import get_page, get_session, get_settings_dep
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.pagination import PageMeta, PageRequest
from devhub.problems import BadRequest
from devhub.settings import Settings

router = APIRouter(prefix="/api/v1/usage", tags=["usage"])
SESSION = Depends(get_session, scope="function")
PERIOD = Query("24h", description="24h (hourly points), 7d (hourly) or 30d (daily)")


@router.get("/apps", summary="Your applications with their calls, errors and latency over a period")
def my_apps(
    period: str = PERIOD, session: Session = SESSION, principal: Principal = Depends(get_principal)
) -> MyAppsOut:
    chosen = service.get_period(period)
    now = utcnow()
    rows = service.my_apps_overview(session, principal, chosen, now)
    since = chosen.since(now)
    return MyAppsOut(
        period={"name": chosen.name, "since": since, "until": now, "step_seconds": chosen.step},
        applications=[AppSummaryOut(id=app.uid, name=app.name, usage=StatsOut.of(stats)) for app, stats in rows],
    )


@router.get("/apps/{uid}", summary="An application's usage: chart points, per key and operation, quotas, errors")
def app_usage(
    uid: str, period: str = PERIOD, session: Session = SESSION, principal: Principal = Depends(get_principal)
) -> AppUsageOut:
    app = service.usage_app(session, uid, principal)
    usage = service.app_usage(session, app, service.get_period(period))
    board = usage.dashboard
    return AppUsageOut(
        application=app.uid,
        name=app.name,
        period=period_out(board),
        total=StatsOut.of(board.total),
        points=points_out(board),
        per_key=breakdown_out(board.groups["credential"], ("credential", "environment")),
        per_operation=breakdown_out(board.groups["operation"], ("api", "version", "operation")),
        quotas=[QuotaOut(**vars(q), left=q.left) for q in usage.quotas],
        recent_errors=[CallErrorOut(**row) for row in usage.recent_errors],
    )


@router.get("/apis/{namespace}/{name}", summary="An API's usage for its owners: consumers, operations, errors")
def api_usage(
    namespace: str,
    name: str,
    period: str = PERIOD,
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
) -> ApiUsageOut:
    entity = service.usage_api(session, namespace, name, principal)
    usage = service.api_usage(session, entity.ref, service.get_period(period))
    board = usage.dashboard
    consumers = breakdown_out(board.groups["application"], ("application_id", "application"))
    for row in consumers:
        row.key = {"application": row.key["application"], "name": usage.app_names.get(row.key["application_id"])}
    return ApiUsageOut(
        api=entity.ref,
        period=period_out(board),
        total=StatsOut.of(board.total),
        points=points_out(board),
        consumers=consumers,
        operations=breakdown_out(board.groups["operation"], ("version", "operation")),
        statuses=breakdown_out(board.groups["status"], ("status",)),
        versions=breakdown_out(board.groups["version"], ("version",)),
        deprecated_callers=[
            DeprecatedCallerOut(
                application=c.app_uid,
                application_name=c.app_name,
                version=c.version,
                operation=c.operation,
                calls=c.calls,
                sunset_at=c.sunset_at,
            )
            for c in usage.deprecated_callers
        ],
    )


@router.get(
    "/exports/{month}",
    summary="A month's usage per application, API and environment, or per team (chargeback), as JSON or CSV",
    responses={200: {"content": {"text/csv": {}}}},
)
def monthly_export(
    month: str,
    request: Request,
    group: str = Query("application", description="application or team"),
    format: str | None = Query(None, description="json or csv; else the Accept header decides"),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
):
    rows = export.monthly_usage(session, principal, month, group)
    wanted = format or ("csv" if "text/csv" in request.headers.get("accept", "") else "json")
    if wanted == "csv":
        filename = f"usage-{month}-{group}.csv"
        return Response(
            export.to_csv(rows, group),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{filename}"'},
        )
    if wanted != "json":
        raise BadRequest("format must be json or csv")
    return {"month": month, "group": group, "rows": rows}


def _utc(moment: datetime | None) -> datetime | None:
    """A time without a zone (or a bare date) is read as UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@router.get("/funnel", summary="Time to first call: the funnel of every developer's first steps (admins)")
def funnel_summary(
    since: datetime | None = Query(None, description="Developers who signed up from this time"),
    until: datetime | None = Query(None, description="... and before this time"),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
) -> FunnelOut:
    require(principal, "usage.funnel")
    since, until = _utc(since), _utc(until)
    people = funnel.journeys(session, since, until)
    return FunnelOut(
        developers=len(people),
        since=since,
        until=until,
        steps=[StepOut(**vars(step)) for step in funnel.summarise(people)],
        time_to_first_call=funnel.time_to_first_call(people),
    )


@router.get("/funnel/developers", summary="Each developer's sign-up, first application, credential and call")
def funnel_developers(
    since: datetime | None = Query(None),
    until: datetime | None = Query(None),
    page: PageRequest = Depends(get_page),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
) -> JourneyList:
    from devhub.pagination import Page

    require(principal, "usage.funnel")
    people = funnel.journeys(session, _utc(since), _utc(until))
    chosen = people[page.offset : page.offset + page.size]
    items = [
        JourneyOut(
            user_id=j.user_id,
            email=j.email,
            signed_up=j.signed_up,
            first_application=j.first_application,
            first_credential=j.first_credential,
            first_call=j.first_call,
            reached=j.reached,
            time_to_first_call_seconds=j.time_to_first_call,
        )
        for j in chosen
    ]
    return JourneyList(items=items, meta=PageMeta.of(Page(chosen, len(people), page)))


@router.get("/rollup", summary="The usage roll-up's progress (admins)")
def rollup_state(request: Request, principal: Principal = Depends(get_principal)) -> RollupOut:
    require(principal, "usage.rollup")
    return RollupOut(**rollup.state(request.app.state.db))


@router.post("/rollup", summary="Roll up the calls recorded so far now (admins); the background loop does it anyway")
def rollup_now(
    request: Request,
    settings: Settings = Depends(get_settings_dep),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
) -> RollupOut:
    require(principal, "usage.rollup")
    session.commit()  # this request's own writes (a token's last use) must not hold SQLite's write lock
    database = request.app.state.db
    done = rollup.run_until_caught_up(database, settings)
    return RollupOut(rolled_up=done, **rollup.state(database))
