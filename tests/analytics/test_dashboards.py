"""Synthetic traffic through the real gateway: the developer's and the owner's dashboards, the export, the
CLI and the funnel show exactly the calls that were sent."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from devhub.db import utcnow
from devhub.gateway.models import GatewayCall

GETS_OK, GETS_FAILED, POSTS, SLOW = 30, 4, 3, 3  # SLOW of the GETS_OK take 150 ms


def _send_traffic(gateway, portal) -> list[str]:
    """Calls through the gateway; returns the request ids of the failed ones."""
    headers = {"x-api-key": portal.key}
    failed_ids = []
    with httpx.Client(base_url=gateway.url, timeout=10) as http:
        for i in range(GETS_OK):
            params = {"ms": "150"} if i < SLOW else {}
            response = http.get(f"/pets/pets/{i}", params=params, headers=headers)
            assert response.status_code == 200, response.text
        for i in range(GETS_FAILED):
            request_id = f"req-failed-{i}"
            response = http.get(
                "/pets/pets/9", params={"status": "503"}, headers={**headers, "x-request-id": request_id}
            )
            assert response.status_code == 503
            failed_ids.append(request_id)
        for _ in range(POSTS):
            assert http.post("/pets/pets", headers=headers, content=b"{}").status_code == 201
    return failed_ids


def _sent() -> int:
    return GETS_OK + GETS_FAILED + POSTS


def test_dashboards_and_exports_show_exactly_the_calls_sent(client, db, settings, portal, gateway):
    failed_ids = _send_traffic(gateway, portal)
    gateway.stop()  # flushes metering
    with db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(GatewayCall)) == _sent()

    rolled = client.post("/api/v1/usage/rollup", headers=portal.admin)
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["rolled_up"] == _sent() and rolled.json()["watermark"] == rolled.json()["newest_call_id"]

    # The developer: totals, per key, per operation, quota, latest errors with their request ids.
    usage = client.get(f"/api/v1/usage/apps/{portal.app_uid}", headers=portal.developer)
    assert usage.status_code == 200, usage.text
    data = usage.json()
    total = data["total"]
    assert total["calls"] == _sent() and total["server_errors"] == GETS_FAILED and total["client_errors"] == 0
    assert total["error_rate"] == round(GETS_FAILED / _sent(), 6)
    assert total["latency_p99_ms"] >= 150 * 0.95  # the slow calls are the top 8 %
    assert total["latency_p50_ms"] < 100
    assert sum(point["calls"] for point in data["points"]) == _sent() and len(data["points"]) == 24
    assert [(row["key"], row["calls"]) for row in data["per_key"]] == [
        ({"credential": portal.key_id, "environment": "sandbox"}, _sent())
    ]
    per_operation = {row["key"]["operation"]: (row["calls"], row["server_errors"]) for row in data["per_operation"]}
    assert per_operation == {"getPet": (GETS_OK + GETS_FAILED, GETS_FAILED), "addPet": (POSTS, 0)}
    quotas = {q["window"]: (q["limit"], q["used"], q["left"]) for q in data["quotas"]}
    assert quotas == {"day": (1000, _sent(), 1000 - _sent()), "month": (5000, _sent(), 5000 - _sent())}
    errors = data["recent_errors"]
    assert len(errors) == GETS_FAILED and {e["status"] for e in errors} == {503}
    assert {e["request_id"] for e in errors} == set(failed_ids)

    for period, points in (("7d", 168), ("30d", 30)):
        longer = client.get(f"/api/v1/usage/apps/{portal.app_uid}?period={period}", headers=portal.developer).json()
        assert longer["total"]["calls"] == _sent() and len(longer["points"]) == points
    mine = client.get("/api/v1/usage/apps", headers=portal.developer).json()["applications"]
    assert [(a["id"], a["usage"]["calls"]) for a in mine] == [(portal.app_uid, _sent())]

    # The page says the same, in tables that read without JavaScript, with the chart's data beside them.
    page = client.get(f"/usage/apps/{portal.app_uid}", headers=portal.developer)
    assert page.status_code == 200
    assert f'data-stat="calls">{_sent()}<' in page.text and "req-failed-0" in page.text
    assert 'id="traffic-data"' in page.text and "/static/vendor/uplot/uPlot.iife.min.js" in page.text
    assert f"{1000 - _sent()}" in page.text

    # Nobody else sees the application's usage.
    assert client.get(f"/api/v1/usage/apps/{portal.app_uid}", headers=portal.outsider).status_code == 404
    assert client.get(f"/api/v1/usage/apps/{portal.app_uid}", headers=portal.owner).status_code == 404

    # The API's owners: consumers, operations, statuses, and who still calls the deprecated addPet.
    owner_view = client.get("/api/v1/usage/apis/default/pets?period=30d", headers=portal.owner)
    assert owner_view.status_code == 200, owner_view.text
    api = owner_view.json()
    assert api["total"]["calls"] == _sent()
    assert [(c["key"]["name"], c["calls"]) for c in api["consumers"]] == [("Checkout", _sent())]
    assert {row["key"]["status"]: row["calls"] for row in api["statuses"]} == {
        200: GETS_OK,
        503: GETS_FAILED,
        201: POSTS,
    }
    assert [(c["application_name"], c["operation"], c["calls"]) for c in api["deprecated_callers"]] == [
        ("Checkout", "addPet", POSTS)
    ]
    assert client.get("/api/v1/usage/apis/default/pets", headers=portal.developer).status_code in (403, 404)
    page = client.get("/usage/apis/default/pets", headers=portal.owner)
    assert page.status_code == 200 and 'id="usage-deprecated"' in page.text and "Checkout" in page.text
    # The API's page links its owners, and only them, to that dashboard.
    assert 'href="/usage/apis/default/pets"' in client.get("/catalog/default/api/pets", headers=portal.owner).text
    assert (
        'href="/usage/apis/default/pets"' not in client.get("/catalog/default/api/pets", headers=portal.developer).text
    )

    # Chargeback: the month's CSV has the application's row with every call.
    month = datetime.now(UTC).strftime("%Y-%m")
    exported = client.get(f"/api/v1/usage/exports/{month}?format=csv", headers=portal.developer)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["application"], r["team"], r["api"], r["calls"], r["server_errors"]) for r in rows] == [
        (portal.app_uid, "user:dev@example.com", "api:default/pets", str(_sent()), str(GETS_FAILED))
    ]
    teams = client.get(f"/api/v1/usage/exports/{month}?group=team", headers=portal.admin).json()["rows"]
    assert [(t["team"], t["applications"], t["calls"]) for t in teams] == [("user:dev@example.com", 1, _sent())]
    assert client.get(f"/api/v1/usage/exports/{month}", headers=portal.outsider).json()["rows"] == []
    bad = client.get("/api/v1/usage/exports/2026-13", headers=portal.developer)
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
    page = client.get(f"/usage/exports?month={month}", headers=portal.developer)
    assert page.status_code == 200 and portal.app_uid in page.text and f"/api/v1/usage/exports/{month}" in page.text
    assert client.get("/usage/exports?month=nope", headers=portal.developer).status_code == 400
    page = client.get("/usage?period=7d", headers=portal.developer)
    assert page.status_code == 200 and f'data-app="{portal.app_uid}"' in page.text

    # Rolling up again counts nothing twice.
    again = client.post("/api/v1/usage/rollup", headers=portal.admin).json()
    assert again["rolled_up"] == 0
    assert client.get(f"/api/v1/usage/apps/{portal.app_uid}", headers=portal.developer).json()["total"] == total

    # Time to first call: the developer went all the way; the others stopped earlier.
    funnel = client.get("/api/v1/usage/funnel", headers=portal.admin)
    assert funnel.status_code == 200, funnel.text
    steps = {s["step"]: s["reached"] for s in funnel.json()["steps"]}
    assert steps["first_call"] == 1 and steps["first_application"] == 1 and steps["signed_up"] == 4
    developers = client.get("/api/v1/usage/funnel/developers", headers=portal.admin).json()["items"]
    dev = next(j for j in developers if j["email"] == "dev@example.com")
    assert dev["reached"] == "first_call" and dev["time_to_first_call_seconds"] >= 0
    assert client.get("/api/v1/usage/funnel", headers=portal.developer).status_code == 403
    page = client.get("/admin/funnel", headers=portal.admin)
    assert page.status_code == 200 and 'data-step="first_call"' in page.text


def test_pruning_the_call_records_leaves_every_figure_read_from_the_roll_ups(client, db, settings, portal, gateway):
    """Calls through the gateway, rolled up, then every call record pruned (as if 31 days had passed): the
    dashboards, quotas, deprecated callers, export and funnel are unchanged; only the latest errors, which
    are single calls, are gone with them."""
    from devhub.analytics.retention import prune_calls

    _send_traffic(gateway, portal)
    gateway.stop()  # flushes metering
    assert client.post("/api/v1/usage/rollup", headers=portal.admin).json()["rolled_up"] == _sent()
    month = datetime.now(UTC).strftime("%Y-%m")

    def figures() -> dict:
        app = client.get(f"/api/v1/usage/apps/{portal.app_uid}?period=7d", headers=portal.developer).json()
        api = client.get("/api/v1/usage/apis/default/pets?period=30d", headers=portal.owner).json()
        return {
            "app": [app[name] for name in ("total", "per_key", "per_operation", "quotas")],
            "app_calls": sum(point["calls"] for point in app["points"]),
            "api": [api[name] for name in ("total", "consumers", "operations", "statuses", "deprecated_callers")],
            "export": client.get(f"/api/v1/usage/exports/{month}", headers=portal.developer).json()["rows"],
            "funnel": client.get("/api/v1/usage/funnel", headers=portal.admin).json()["steps"],
            "errors": len(app["recent_errors"]),
        }

    before = figures()
    assert before["app_calls"] == _sent() and before["errors"] == GETS_FAILED and before["export"]
    assert prune_calls(db, settings.calls_retention_days, utcnow() + timedelta(days=31)).deleted == _sent()
    with db.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(GatewayCall)) == 0
    assert figures() == {**before, "errors": 0}
