"""SLOs measured from metered calls (rolled up by the analytics roll-up) on both back-ends: compliance and
budget over the window, burn-rate alerts over 1 hour and 6 hours, once per episode, told in the portal, by
mail and to a real webhook receiver on loopback."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from devhub.catalog.models import Entity
from devhub.mail.models import OutboxMessage
from devhub.notify.models import Notification
from devhub.slo import alerts, service
from devhub.slo.models import SloAlert, SloSettings
from tests.slo.conftest import calls, register_api, roll_up

AVAILABILITY_99 = {"devhub.io/slo-availability": "99"}  # budget: 1 % of calls may be 5xx


def _status(db, settings, api_ref, now):
    with db.session() as session:
        entity = session.scalar(select(Entity).where(Entity.ref == api_ref))
        return service.status(session, service.spec_of(session, entity), settings.slo_burn_rate, now)


def test_compliance_and_budget_over_the_window_come_from_the_gateway_calls(db, settings, tmp_path, now):
    annotations = {"devhub.io/slo-availability": "99.9", "devhub.io/slo-latency": "p99 < 300ms"}
    api = register_api(db, settings, tmp_path, "ledger", annotations)
    step = timedelta(hours=2)
    calls(db, api, now - timedelta(days=10), now, every=step, good=16)  # 120 steps: 1920 good
    calls(db, api, now - timedelta(days=3), now - timedelta(days=3) + step, every=step, errors=1, slow=19)
    calls(db, api, now - timedelta(days=35), now - timedelta(days=34), every=step, errors=50)  # outside 28 days
    calls(db, api, now - timedelta(days=2), now - timedelta(days=1), every=step, errors=40, environment="sandbox")
    roll_up(db, settings)

    current = _status(db, settings, api, now)
    availability, latency = current.objectives
    assert (availability.window.calls, availability.window.bad) == (1940, 1)
    assert availability.compliance == 100 * (1 - 1 / 1940)
    assert round(availability.budget_left, 2) == round(100 * (1 - (1 / 1940) / 0.001), 2)  # 48.45 % left
    assert (latency.window.calls, latency.window.bad) == (1940, 19)
    assert round(latency.compliance, 3) == round(100 * (1 - 19 / 1940), 3)
    assert not availability.firing and availability.burn_rate_1h == 0

    with db.session() as session:
        session.add(SloSettings(api_ref=api, environment="all", window_days=40))
    everything = _status(db, settings, api, now).objectives[0]  # sandbox and the 35-day-old calls count now
    assert (everything.window.calls, everything.window.bad) == (1940 + 600 + 12 * 40, 1 + 600 + 12 * 40)


def test_a_fast_burn_over_both_windows_fires_once_and_resolves_once(db, settings, tmp_path, now, people, receiver):
    api = register_api(db, settings, tmp_path, "payments", AVAILABILITY_99)
    with db.session() as session:
        session.add(SloSettings(api_ref=api, webhook_url=receiver.url))
    # 5 % of calls fail for the last 6 hours: 5x the budget's rate over both windows
    calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=2), good=19, errors=1)
    roll_up(db, settings)

    fired = alerts.run_once(db, settings, now)
    assert [(e.event, e.payload["objective"]) for e in fired] == [("slo.alert.firing", "availability")]
    assert fired[0].payload["burn_rate_1h"] > 2 and fired[0].payload["burn_rate_6h"] > 2
    assert alerts.run_once(db, settings, now + timedelta(minutes=1)) == []  # same episode: nothing new
    assert alerts.run_once(db, settings, now + timedelta(minutes=2)) == []

    with db.session() as session:
        alert = session.scalar(select(SloAlert))
        assert alert.open_marker == "open" and alert.resolved_at is None and alert.notified == 1
        assert alert.webhook_result == "firing delivered: HTTP 204"
        told = session.scalars(select(Notification.subject).where(Notification.user_id == people.owner_id)).all()
        assert told == ["SLO burning: api:default/payments: 99% of calls not 5xx"]
        mailed = session.scalars(select(OutboxMessage.to).where(OutboxMessage.subject.startswith("SLO"))).all()
        assert mailed == ["owner@example.com"]
    assert [r["body"]["event"] for r in receiver.received] == ["slo.alert.firing"]
    posted = receiver.received[0]
    assert posted["path"] == "/hooks/slo" and posted["content_type"] == "application/json"
    assert posted["body"]["api"] == api and posted["body"]["url"].endswith("/apis/default/payments/slo")

    # no more calls: an hour later the short window is clean and the episode ends, announced once
    resolved = alerts.run_once(db, settings, now + timedelta(minutes=65))
    assert [e.event for e in resolved] == ["slo.alert.resolved"]
    assert alerts.run_once(db, settings, now + timedelta(minutes=66)) == []
    assert [r["body"]["event"] for r in receiver.received] == ["slo.alert.firing", "slo.alert.resolved"]
    assert receiver.received[1]["body"]["resolved_at"] is not None
    with db.session() as session:
        alert = session.scalar(select(SloAlert))
        assert alert.open_marker is None and alert.resolved_at is not None
        subjects = session.scalars(select(Notification.subject).order_by(Notification.id)).all()
        assert subjects[-1].startswith("SLO resolved: api:default/payments")
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 2


def test_two_portal_processes_evaluating_at_once_announce_the_episode_once(
    db, settings, tmp_path, now, receiver, people
):
    import threading

    api = register_api(db, settings, tmp_path, "contended", AVAILABILITY_99)
    with db.session() as session:
        session.add(SloSettings(api_ref=api, webhook_url=receiver.url))
    calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=4), good=4, errors=1)
    roll_up(db, settings)
    start, found = threading.Barrier(3), []

    def portal_process() -> None:
        start.wait()
        found.extend(alerts.run_once(db, settings, now))

    workers = [threading.Thread(target=portal_process) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)

    assert [e.event for e in found] == ["slo.alert.firing"]
    assert len(receiver.received) == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SloAlert)) == 1
        assert session.scalar(select(func.count()).select_from(Notification)) == 1


def test_a_short_spike_or_a_burn_that_stopped_an_hour_ago_does_not_fire(db, settings, tmp_path, now):
    spiky = register_api(db, settings, tmp_path / "a", "spiky", AVAILABILITY_99)
    calls(db, spiky, now - timedelta(hours=6), now, every=timedelta(minutes=2), good=20)  # 3600 good calls
    calls(db, spiky, now - timedelta(minutes=10), now, every=timedelta(minutes=5), errors=30)  # then 60 errors
    recovered = register_api(db, settings, tmp_path / "b", "recovered", AVAILABILITY_99)
    calls(
        db,
        recovered,
        now - timedelta(hours=6),
        now - timedelta(minutes=70),
        every=timedelta(minutes=2),
        good=9,
        errors=1,
    )
    calls(db, recovered, now - timedelta(minutes=60), now, every=timedelta(minutes=2), good=10)
    roll_up(db, settings)

    spike = _status(db, settings, spiky, now).objectives[0]
    assert spike.burn_rate_1h > 2 * settings.slo_burn_rate  # ~9x over the last hour
    assert spike.burn_rate_6h < settings.slo_burn_rate  # ~1.6x over 6 hours
    stopped = _status(db, settings, recovered, now).objectives[0]
    assert stopped.burn_rate_6h > settings.slo_burn_rate and stopped.burn_rate_1h == 0
    assert alerts.run_once(db, settings, now) == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(SloAlert)) == 0


def test_a_slow_api_fires_its_latency_objective(db, settings, tmp_path, now):
    api = register_api(db, settings, tmp_path, "sluggish", {"devhub.io/slo-latency": "p99 < 300ms"})
    calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=3), good=8, slow=2)  # 20 % slow
    roll_up(db, settings)

    fired = alerts.run_once(db, settings, now)
    assert [(e.payload["objective"], e.payload["latency_ms"]) for e in fired] == [("latency", 300.0)]
    assert round(fired[0].payload["burn_rate_6h"]) == 20


def test_removing_the_objective_ends_its_episode(db, settings, tmp_path, now, receiver):
    api = register_api(db, settings, tmp_path, "dropped", {})
    with db.session() as session:
        session.add(SloSettings(api_ref=api, availability_target=99.0, webhook_url=receiver.url))
    calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=4), good=4, errors=1)
    roll_up(db, settings)
    assert len(alerts.run_once(db, settings, now)) == 1
    with db.session() as session:
        session.scalar(select(SloSettings)).availability_target = None

    ended = alerts.run_once(db, settings, now)
    assert [(e.event, e.payload.get("removed")) for e in ended] == [("slo.alert.resolved", True)]
    assert [r["body"]["event"] for r in receiver.received] == ["slo.alert.firing", "slo.alert.resolved"]


def test_a_refused_webhook_is_tried_again_and_a_forbidden_one_given_up(db, settings, tmp_path, now, receiver):
    def burning(name: str) -> str:
        api = register_api(db, settings, tmp_path / name, name, AVAILABILITY_99)
        with db.session() as session:
            session.add(SloSettings(api_ref=api, webhook_url=f"{receiver.url}?{name}"))
        calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=4), good=4, errors=1)
        roll_up(db, settings)
        return api

    def results() -> dict[str, tuple]:
        with db.session() as session:
            query = select(SloAlert.api_ref, SloAlert.webhook_result, SloAlert.webhook_payload.is_not(None))
            return {ref: (result, waiting) for ref, result, waiting in session.execute(query)}

    receiver.status = 500
    refusing = burning("refusing")
    assert len(alerts.run_once(db, settings, now)) == 1
    assert results()[refusing] == ("firing refused: HTTP 500", True)  # kept for the next pass
    receiver.status = 204
    assert alerts.run_once(db, settings, now) == []  # no new event, but the waiting delivery goes out
    assert results()[refusing] == ("firing delivered: HTTP 204 (attempt 2)", False)
    assert [r["body"]["id"] for r in receiver.received] == [receiver.received[0]["body"]["id"]] * 2

    private = burning("private")
    strict = settings.model_copy(update={"slo_webhook_allowed_hosts": []})  # loopback no longer allowed
    for _ in range(alerts.MAX_ATTEMPTS + 1):
        alerts.run_once(db, strict, now)
    result, waiting = results()[private]
    assert "private address" in result and result.endswith(f"(attempt {alerts.MAX_ATTEMPTS}); given up")
    assert not waiting and len(receiver.received) == 2  # never posted


def test_the_background_loop_evaluates_as_the_portal_starts(db, settings, tmp_path, now):
    import asyncio

    from devhub.app import BACKGROUND_LOOPS
    from devhub.slo.tasks import evaluate_loop

    assert "devhub.slo.tasks:evaluate_loop" in BACKGROUND_LOOPS
    api = register_api(db, settings, tmp_path, "looped", AVAILABILITY_99)
    calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=4), good=4, errors=1)
    roll_up(db, settings)

    async def run_until_an_alert_opens() -> bool:
        task = asyncio.create_task(evaluate_loop(db, settings))
        try:
            for _ in range(200):
                await asyncio.sleep(0.05)
                with db.session() as session:
                    if session.scalar(select(func.count()).select_from(SloAlert)):
                        return True
            return False
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert asyncio.run(run_until_an_alert_opens())
