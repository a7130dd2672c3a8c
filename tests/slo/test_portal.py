"""The SLO surfaces: REST, pages and the owners' form, permissions, scorecards and the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select
from typer.testing import CliRunner

from devhub import settings as settings_module
from devhub.audit.models import AuditEvent
from devhub.slo.models import SloAlert
from tests.conftest import csrf_for, sign_in
from tests.slo.conftest import calls, register_api, roll_up, serve

SLO = "/api/v1/apis/default/orders/slo"
ANNOTATED = {"devhub.io/slo-availability": "99.9", "devhub.io/slo-latency": "p95 < 500ms"}


def test_owners_override_annotations_and_readers_see_the_result(client, db, settings, tmp_path, people, receiver):
    register_api(db, settings, tmp_path, "orders", ANNOTATED)
    shown = client.get(SLO, headers=people.reader).json()
    assert [(o["kind"], o["target"], o["source"]) for o in shown["objectives"]] == [
        ("availability", 99.9, "annotation"),
        ("latency", 95.0, "annotation"),
    ]
    assert shown["window_days"] == 28 and shown["environment"] == "production"

    changed = client.patch(
        SLO, headers=people.owner, json={"availability_target": 99.5, "window_days": 7, "webhook_url": receiver.url}
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert body["objectives"][0]["target"] == 99.5 and body["objectives"][0]["source"] == "portal"
    assert body["objectives"][1]["source"] == "annotation"
    assert body["window_days"] == 7 and body["portal"]["webhook_url"] == receiver.url

    seen = client.get(SLO, headers=people.reader).json()
    assert seen["webhook_set"] is True and seen["portal"]["webhook_url"] is None  # it may hold a token
    assert seen["objectives"][0]["target"] == 99.5

    cleared = client.patch(SLO, headers=people.owner, json={"availability_target": None})
    assert cleared.json()["objectives"][0]["source"] == "annotation"
    assert client.delete(SLO, headers=people.owner).status_code == 204
    assert client.get(SLO, headers=people.owner).json()["window_days"] == 28
    with db.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith("slo.")).order_by(AuditEvent.id)
        ).all()
        assert [e.action for e in events] == ["slo.update", "slo.update", "slo.clear"]
        assert events[0].details["webhook_url"] == "(set)"  # the URL itself may hold a token: not logged
        assert "127.0.0.1" not in json.dumps([e.details for e in events])


def test_readers_may_not_set_objectives_and_outsiders_do_not_see_them(client, db, settings, tmp_path, people):
    register_api(db, settings, tmp_path, "orders", ANNOTATED)
    refused = client.patch(SLO, headers=people.reader, json={"availability_target": 90})
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert client.delete(SLO, headers=people.reader).status_code == 403
    assert client.get(SLO).status_code == 404  # internal: anonymous visitors do not see the API at all
    assert client.get(SLO + "/alerts").status_code == 404
    assert client.get("/api/v1/slos").json()["items"] == []
    assert [i["api"] for i in client.get("/api/v1/slos", headers=people.reader).json()["items"]] == [
        "api:default/orders"
    ]


INVALID = [
    ({"availability_target": 100}, "under 100"),
    ({"latency_target": 99}, "both a target percentage and a threshold"),
    ({"window_days": 365}, "1 to 90 days"),
    ({"webhook_url": "ftp://example.com/x"}, "not an http or https URL"),
    ({"webhook_url": "http://10.1.2.3/hook"}, "DEVHUB_SLO_WEBHOOK_ALLOWED_HOSTS"),
    ({"environment": "staging"}, "environment"),
]


def test_invalid_settings_are_refused_with_a_problem(client, db, settings, tmp_path, people):
    register_api(db, settings, tmp_path, "orders", {})
    for body, message in INVALID:
        response = client.patch(SLO, headers=people.owner, json=body)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert message in response.json()["detail"] or message in response.text


def test_the_page_shows_objectives_budget_and_alerts_and_owners_set_them(client, db, settings, tmp_path, people, now):
    api = register_api(db, settings, tmp_path, "orders", ANNOTATED)
    calls(db, api, now - timedelta(hours=2), now, every=timedelta(minutes=10), good=99, errors=1)
    roll_up(db, settings)
    with db.session() as session:
        session.add(SloAlert(api_ref=api, objective="availability", target=99.9, started_at=now, burn_rate_1h=10,
                             burn_rate_6h=10, peak_burn_rate_1h=10, budget_left=-900, notified=1,
                             webhook_result="firing delivered: HTTP 204"))  # fmt: skip

    page = client.get("/apis/default/orders/slo", headers=people.reader)
    assert page.status_code == 200
    assert "99.9% of calls not 5xx" in page.text and "99.000%" in page.text  # 1 in 100 calls failed
    assert "alerting since" in page.text and "Set objectives" not in page.text  # a reader gets no form
    assert "firing delivered" not in page.text  # delivery outcomes name the webhook's host: owners only
    history = client.get("/api/v1/apis/default/orders/slo/alerts", headers=people.reader).json()
    assert history["meta"]["total"] == 1 and history["items"][0]["webhook_result"] is None
    owned = client.get("/api/v1/apis/default/orders/slo/alerts", headers=people.owner).json()
    assert owned["items"][0]["webhook_result"] == "firing delivered: HTTP 204"

    sign_in(client, db, settings, people.owner_id)
    form = client.get("/apis/default/orders/slo")
    assert "Set objectives" in form.text and "firing delivered: HTTP 204" in form.text
    token = csrf_for(client, settings)
    data = {"csrf_token": token, "availability_target": "99.5", "latency_target": "", "latency_ms": "", "action": "set"}
    saved = client.post("/apis/default/orders/slo", data=data, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == "/apis/default/orders/slo"
    assert "99.5% of calls not 5xx" in client.get("/apis/default/orders/slo").text

    bad = client.post("/apis/default/orders/slo", data={**data, "latency_target": "99", "latency_ms": "fast"})
    assert bad.status_code == 422 and "is not a number" in bad.text
    overview = client.get("/slos")
    assert overview.status_code == 200 and "/apis/default/orders/slo" in overview.text


def test_scorecards_count_measured_slos_as_defined(client, db, settings, tmp_path, people):
    register_api(db, settings, tmp_path, "orders", {})
    register_api(db, settings, tmp_path / "b", "annotated", {"devhub.io/slo-latency": "p99 < 1s"})
    register_api(db, settings, tmp_path / "c", "worded", {"devhub.io/slo": "https://wiki.example.com/slo"})

    def slo_checks() -> dict[str, bool]:
        cards = client.get("/api/v1/governance/scorecards", headers=people.owner).json()["entities"]
        return {c["ref"]: next(k["passed"] for k in c["checks"] if k["id"] == "slo") for c in cards}

    assert slo_checks() == {"api:default/orders": False, "api:default/annotated": True, "api:default/worded": True}
    client.patch(SLO, headers=people.owner, json={"availability_target": 99.0})
    assert slo_checks()["api:default/orders"] is True


# --- the CLI ------------------------------------------------------------------------------------------------


def test_owners_set_and_list_slos_and_the_operator_checks_them_from_the_terminal(
    db, settings, tmp_path, people, now, monkeypatch
):
    from devhub.cli import app as cli_app
    from devhub.slo.cli import slo_app

    api = register_api(db, settings, tmp_path, "orders", {})
    calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=5), good=9, errors=1)
    roll_up(db, settings)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("DEVHUB_DATABASE_URL", db.url)
    monkeypatch.setenv("DEVHUB_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()

    def run(app, *args: str, ok: bool = True):
        result = runner.invoke(app, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    with serve(settings) as url:
        run(cli_app, "login", "--url", url, "--token", people.owner["Authorization"].split()[1])
        assert "no SLOs yet" in run(slo_app, "list")
        set_out = run(slo_app, "set", "orders", "--availability", "99.9", "--latency", "p99 < 300ms", "--window", "7d")
        assert "99.9% of calls not 5xx, 99% of calls within 300 ms" in set_out
        assert "not a latency objective" in run(slo_app, "set", "orders", "--latency", "quick", ok=False)
        listed = run(slo_app, "list")
        assert "api:default/orders (7 days)" in listed and "90.000%" in listed
        assert "(portal)" in run(slo_app, "show", "api:default/orders")

        run(cli_app, "login", "--url", url, "--token", people.reader["Authorization"].split()[1])
        assert "error (403)" in run(slo_app, "set", "orders", "--availability", "90", ok=False)

    settings_module.get_settings.cache_clear()
    try:
        checked = run(slo_app, "check")
    finally:
        settings_module.get_settings.cache_clear()
    assert "firing: api:default/orders availability" in checked and "firing: api:default/orders latency" not in checked
    assert "1 alert change(s)" in checked
    assert "0 alert change(s)" in run(slo_app, "check")
