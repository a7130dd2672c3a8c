"""Usage pages: your applications' usage, one application's dashboard, an API's dashboard for its owners,
monthly exports, and the time-to-first-call funnel (admins). Charts are drawn by static/js/charts.js (uPlot)
over tables holding the same figures, so every page reads fully without JavaScript."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from devhub.analytics import export, funnel, service
from devhub.analytics.service import PERIODS, Dashboard
from devhub.db import utcnow
from devhub.deps import get_session
from devhub.identity.deps import get_principal
from devhub.identity.policy import Principal, require
from devhub.problems import Problem
from devhub.web import render

router = APIRouter(include_in_schema=False)
SESSION = Depends(get_session, scope="function")
TRAFFIC = [("calls", "Calls"), ("errors", "Errors")]
LATENCY = [("p50", "p50"), ("p95", "p95"), ("p99", "p99")]


def chart_spec(board: Dashboard, chart_id: str, title: str, lines: list[tuple[str, str]], unit: str) -> dict:
    """What the chart macro draws (and tabulates): x as epoch seconds, one list of values per line."""
    data = board.chart()
    daily = board.period.step == 86400
    fmt = "%Y-%m-%d" if daily else "%Y-%m-%d %H:00"
    return {
        "id": chart_id,
        "title": title,
        "note": f"UTC, {'daily' if daily else 'hourly'}",
        "unit": unit,
        "x": data["x"],
        "times": [start.strftime(fmt) for start, _ in board.slots],
        "series": [label for _, label in lines],
        "values": [data[key] for key, _ in lines],
    }


def _charts(board: Dashboard) -> list[dict]:
    return [
        chart_spec(board, "traffic", "Calls and errors", TRAFFIC, "calls"),
        chart_spec(board, "latency", "Latency", LATENCY, "ms"),
    ]


def _period(name: str | None) -> service.Period:
    try:
        return service.get_period(name)
    except Problem:
        return PERIODS[service.DEFAULT_PERIOD]


@router.get("/usage", response_class=HTMLResponse)
def my_usage(
    request: Request,
    period: str | None = Query(None, max_length=8),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
):
    chosen = _period(period)
    rows = service.my_apps_overview(session, principal, chosen)
    return render(request, "analytics/my_apps.html", rows=rows, period=chosen, periods=list(PERIODS))


@router.get("/usage/apps/{uid}", response_class=HTMLResponse)
def app_usage_page(
    request: Request,
    uid: str,
    period: str | None = Query(None, max_length=8),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
):
    app = service.usage_app(session, uid, principal)
    usage = service.app_usage(session, app, _period(period))
    return render(
        request,
        "analytics/app.html",
        app=app,
        usage=usage,
        board=usage.dashboard,
        charts=_charts(usage.dashboard),
        periods=list(PERIODS),
    )


@router.get("/usage/apis/{namespace}/{name}", response_class=HTMLResponse)
def api_usage_page(
    request: Request,
    namespace: str,
    name: str,
    period: str | None = Query(None, max_length=8),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
):
    entity = service.usage_api(session, namespace, name, principal)
    usage = service.api_usage(session, entity.ref, _period(period))
    return render(
        request,
        "analytics/api.html",
        entity=entity,
        usage=usage,
        board=usage.dashboard,
        charts=_charts(usage.dashboard),
        periods=list(PERIODS),
        base=f"/usage/apis/{namespace}/{name}",
    )


@router.get("/usage/exports", response_class=HTMLResponse)
def exports_page(
    request: Request,
    month: str | None = Query(None, max_length=7),
    group: str = Query("application", max_length=16),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
):
    require(principal, "usage.export")
    month = month or export.current_month(utcnow())
    error, rows = None, []
    try:
        rows = export.monthly_usage(session, principal, month, group)
    except Problem as problem:
        error = problem.detail
    columns = export.APPLICATION_COLUMNS if group == "application" else export.TEAM_COLUMNS
    return render(
        request,
        "analytics/exports.html",
        month=month,
        group=group,
        rows=rows,
        columns=columns,
        error=error,
        status_code=400 if error else 200,
    )


@router.get("/admin/funnel", response_class=HTMLResponse)
def funnel_page(
    request: Request,
    since: str | None = Query(None, max_length=10),
    until: str | None = Query(None, max_length=10),
    session: Session = SESSION,
    principal: Principal = Depends(get_principal),
):
    require(principal, "usage.funnel")
    error = None
    try:
        start = _date(since)
        end = _date(until)
    except ValueError:
        error, start, end = "Dates must read YYYY-MM-DD.", None, None
    people = funnel.journeys(session, start, end)
    return render(
        request,
        "analytics/funnel.html",
        since=since or "",
        until=until or "",
        error=error,
        developers=len(people),
        steps=funnel.summarise(people),
        ttfc=funnel.time_to_first_call(people),
        stuck=[j for j in people if j.reached != "first_call"][:50],
        status_code=400 if error else 200,
    )


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    from datetime import UTC

    return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
