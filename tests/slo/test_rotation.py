"""The grace period of a webhook signing secret's rotation, on both back-ends, with a real receiver on loopback:
after a rotation every delivery carries two signatures (`v1,<new> v1,<previous>`) until the previous secret's
grace ends (DEVHUB_WEBHOOK_ROTATION_GRACE_HOURS), so a receiver holding either secret verifies; after it only
the new one does. A second rotation signs with the new and the immediately previous secret. The previous
secret is kept encrypted and never shown: not in answers, pages, the CLI's output or the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from devhub.audit.service import SYSTEM
from devhub.catalog.models import Entity
from devhub.db import utcnow
from devhub.slo import alerts, service, webhooks
from devhub.slo.models import SloSettings
from tests.conftest import csrf_for, sign_in
from tests.slo.conftest import BadSignature, register_api, slo_cli, verify
from tests.slo.test_signing import BURNING, PAGE, SECRET, SLO, audit_and_pages_text, burn


def signatures(delivery: dict) -> list[str]:
    return delivery["headers"]["webhook-signature"].split(" ")


def stored_row(db) -> SloSettings:
    with db.session() as session:
        row = session.scalar(select(SloSettings))
        session.expunge(row)
        return row


def test_during_the_grace_either_secret_verifies_and_after_it_only_the_new_one(
    client, db, settings, tmp_path, now, people, receiver
):
    api = register_api(db, settings, tmp_path, "payments", BURNING)
    old = client.patch(SLO, headers=people.owner, json={"webhook_url": receiver.url}).json()["webhook_secret"]
    before = utcnow()
    rotated = client.post(SLO + "/webhook-secret", headers=people.owner)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    new = rotated.json()["webhook_secret"]
    until = datetime.fromisoformat(rotated.json()["previous_secret_signs_until"])
    assert before + timedelta(hours=24) <= until <= utcnow() + timedelta(hours=24)  # the default grace
    assert old not in rotated.text and old[6:] not in rotated.text
    owners_view = client.get(SLO, headers=people.owner)
    assert datetime.fromisoformat(owners_view.json()["portal"]["webhook_previous_secret_signs_until"]) == until
    readers_view = client.get(SLO, headers=people.reader)
    assert readers_view.json()["portal"]["webhook_previous_secret_signs_until"] is None
    for answer in (owners_view, readers_view):
        assert "whsec_" not in answer.text

    receiver.secret = old  # its owner has not given it the new secret yet: alerts still verify
    burn(db, settings, api, now)
    assert [e.event for e in alerts.run_once(db, settings, now)] == ["slo.alert.firing"]
    firing = receiver.received[-1]
    assert firing["answered"] == 204 and len(signatures(firing)) == 2
    assert all(signature.startswith("v1,") for signature in signatures(firing))
    for secret in (new, old):
        assert verify(secret, firing["headers"], firing["raw"])["event"] == "slo.alert.firing"
    assert signatures(firing)[0] == webhooks.signature(
        new, firing["headers"]["webhook-id"], int(firing["headers"]["webhook-timestamp"]), firing["raw"]
    )  # the new secret's signature comes first

    with db.session() as session:  # the grace ends
        session.execute(update(SloSettings).values(webhook_previous_secret_until=utcnow() - timedelta(seconds=1)))
    assert client.get(SLO, headers=people.owner).json()["portal"]["webhook_previous_secret_signs_until"] is None
    assert [e.event for e in alerts.run_once(db, settings, now + timedelta(minutes=65))] == ["slo.alert.resolved"]
    refused = receiver.received[-1]
    assert refused["answered"] == 401 and refused["body"]["event"] == "slo.alert.resolved"
    assert len(signatures(refused)) == 1 and verify(new, refused["headers"], refused["raw"])
    with pytest.raises(BadSignature):
        verify(old, refused["headers"], refused["raw"])
    row = stored_row(db)  # the evaluation pass forgot it
    assert row.webhook_previous_secret_encrypted is None and row.webhook_previous_secret_until is None

    receiver.secret = new  # the owner updates the receiver: the retry verifies
    alerts.run_once(db, settings, now + timedelta(minutes=66))
    assert receiver.received[-1]["answered"] == 204
    assert receiver.received[-1]["headers"]["webhook-id"] == refused["headers"]["webhook-id"]
    assert old not in audit_and_pages_text(db) and new not in audit_and_pages_text(db)


def test_a_second_rotation_signs_with_the_new_and_the_immediately_previous_secret(
    client, db, settings, tmp_path, now, people, receiver
):
    api = register_api(db, settings, tmp_path, "payments", BURNING)
    sign_in(client, db, settings, people.owner_id)
    csrf = csrf_for(client, settings)
    saved = client.post(PAGE, data={"csrf_token": csrf, "webhook_url": receiver.url, "action": "set"})
    first = SECRET.search(saved.text).group()
    assert "keeps signing beside the new one for 24 hours" in client.get(PAGE).text

    rotated = client.post(PAGE, data={"csrf_token": csrf, "action": "rotate_secret"})
    second = SECRET.search(rotated.text).group()
    until = stored_row(db).webhook_previous_secret_until
    shown_until = until.strftime("%Y-%m-%d %H:%M") + " UTC"
    assert rotated.headers["cache-control"] == "no-store"
    assert f"The secret it replaces still signs every alert beside it until {shown_until}" in rotated.text
    assert SECRET.findall(rotated.text) == [second]  # the replaced one is not shown
    later = client.get(PAGE)
    assert f"The secret it replaced also signs them until {shown_until}" in later.text
    assert "rotating again now stops the oldest at once" in later.text and "whsec_" not in later.text

    third_page = client.post(PAGE, data={"csrf_token": csrf, "action": "rotate_secret"})
    third = SECRET.search(third_page.text).group()
    assert SECRET.findall(third_page.text) == [third]
    assert len({first, second, third}) == 3

    row = stored_row(db)  # the immediately previous secret, encrypted like the current one
    assert second not in row.webhook_previous_secret_encrypted
    assert webhooks.decrypt_secret(row.webhook_previous_secret_encrypted, settings) == second
    assert row.webhook_previous_secret_until > until  # a fresh grace from the second rotation

    burn(db, settings, api, now)
    alerts.run_once(db, settings, now)
    delivered = receiver.received[-1]
    assert len(signatures(delivered)) == 2
    for secret in (third, second):
        assert verify(secret, delivered["headers"], delivered["raw"])["event"] == "slo.alert.firing"
    with pytest.raises(BadSignature):
        verify(first, delivered["headers"], delivered["raw"])  # dropped by the second rotation

    audited = audit_and_pages_text(db)
    assert '"previous_secret_signs_until": "' in audited
    for secret in (first, second, third):
        assert secret not in audited and secret[6:] not in audited

    with db.session() as session:  # moving the clock past the grace ends it as well
        assert service.drop_expired_previous_secrets(session, row.webhook_previous_secret_until) == 1
    assert "also signs them until" not in client.get(PAGE).text


def test_owners_read_the_grace_in_the_terminal(db, settings, tmp_path, people, receiver, monkeypatch):
    register_api(db, settings, tmp_path, "payments", BURNING)
    token = people.owner["Authorization"].split()[1]
    with slo_cli(settings, token, tmp_path / "config", monkeypatch) as slo:
        first = SECRET.search(slo("set", "payments", "--webhook", receiver.url)).group()
        rotated = slo("rotate-secret", "payments")
        shown = slo("show", "payments")
    until = stored_row(db).webhook_previous_secret_until.strftime("%Y-%m-%d %H:%M UTC")
    assert f"the previous secret also signs alerts until {until}" in rotated
    assert f"webhook: the previous signing secret also signs alerts until {until}" in shown
    assert len(SECRET.findall(rotated)) == 1 and first not in rotated and "whsec_" not in shown


def test_without_a_grace_or_a_usable_secret_the_old_one_stops_at_once(db, settings, tmp_path, now, people, receiver):
    from devhub.app import create_app

    api = register_api(db, settings, tmp_path, "payments", BURNING)
    no_grace = settings.model_copy(update={"webhook_rotation_grace_hours": 0})
    with TestClient(create_app(no_grace, run_background_tasks=False)) as client:
        old = client.patch(SLO, headers=people.owner, json={"webhook_url": receiver.url}).json()["webhook_secret"]
        rotated = client.post(SLO + "/webhook-secret", headers=people.owner).json()
        assert rotated["previous_secret_signs_until"] is None
        sign_in(client, db, no_grace, people.owner_id)
        assert "A new secret replaces it at once" in client.get(PAGE).text
    assert stored_row(db).webhook_previous_secret_encrypted is None

    receiver.secret = old
    burn(db, settings, api, now)
    alerts.run_once(db, settings, now)
    refused = receiver.received[-1]
    assert refused["answered"] == 401 and len(signatures(refused)) == 1
    assert verify(rotated["webhook_secret"], refused["headers"], refused["raw"])

    moved = settings.model_copy(update={"secret_key": "another-secret"})  # the stored secret is unusable now
    with db.session() as session:
        entity = session.scalar(select(Entity).where(Entity.ref == api))
        newest = service.rotate_webhook_secret(session, moved, entity, SYSTEM)
        assert service.previous_secret_signs_until(service.settings_row(session, api)) is None
    receiver.secret = newest
    alerts.run_once(db, moved, now + timedelta(minutes=1))
    assert receiver.received[-1]["answered"] == 204 and len(signatures(receiver.received[-1])) == 1
