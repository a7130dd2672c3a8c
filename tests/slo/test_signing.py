"""Signed alert webhooks (Standard Webhooks) on both back-ends: the secret is made with the first webhook URL
or on rotation, shown once (REST answer, page, CLI) and never again, and a real receiver on loopback verifies
each delivery with it; every retry of one delivery keeps its `webhook-id`."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from devhub.audit.models import AuditEvent
from devhub.slo import alerts, webhooks
from devhub.slo.models import SloAlert, SloSettings
from tests.conftest import csrf_for, sign_in
from tests.slo.conftest import BadSignature, calls, register_api, roll_up, slo_cli, verify

SLO = "/api/v1/apis/default/payments/slo"
PAGE = "/apis/default/payments/slo"
BURNING = {"devhub.io/slo-availability": "99"}
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]+")


def burn(db, settings, api, now) -> None:
    """5 % of calls fail for 6 hours: 5x the budget's rate over both alert windows."""
    calls(db, api, now - timedelta(hours=6), now, every=timedelta(minutes=4), good=19, errors=1)
    roll_up(db, settings)


def audit_and_pages_text(db) -> str:
    with db.session() as session:
        return json.dumps([e.details for e in session.scalars(select(AuditEvent))])


def test_alerts_are_signed_with_the_secret_shown_once_and_retries_keep_their_id(
    client, db, settings, tmp_path, now, people, receiver, caplog
):
    caplog.set_level(logging.DEBUG)
    api = register_api(db, settings, tmp_path, "payments", BURNING)
    made = client.patch(SLO, headers=people.owner, json={"webhook_url": receiver.url})
    assert made.status_code == 200, made.text
    secret = made.json()["webhook_secret"]
    assert SECRET.fullmatch(secret) and len(base64.b64decode(secret[6:])) == 32
    assert made.headers["cache-control"] == "no-store"
    assert made.json()["webhook_signed"] is True and made.json()["portal"]["webhook_secret_created_at"]

    again = client.patch(SLO, headers=people.owner, json={"window_days": 7, "webhook_url": receiver.url + "?v=2"})
    assert again.json()["webhook_secret"] is None and "cache-control" not in again.headers  # same secret kept
    for answer in (again, client.get(SLO, headers=people.owner), client.get(SLO, headers=people.reader)):
        assert secret not in answer.text and "whsec_" not in answer.text
    with db.session() as session:
        stored = session.scalar(select(SloSettings.webhook_secret_encrypted))
        assert secret not in stored and secret[6:] not in stored  # encrypted, not encoded

    receiver.secret = webhooks.new_secret()  # a receiver given some other secret refuses the delivery
    burn(db, settings, api, now)
    assert [e.event for e in alerts.run_once(db, settings, now)] == ["slo.alert.firing"]
    receiver.secret = secret  # the owner pastes the secret that was shown: the retry verifies
    assert alerts.run_once(db, settings, now) == []

    refused, accepted = receiver.received
    assert (refused["answered"], accepted["answered"]) == (401, 204)
    assert refused["headers"]["webhook-id"] == accepted["headers"]["webhook-id"]  # one delivery, two attempts
    assert refused["headers"]["webhook-id"].startswith("msg_")
    assert int(accepted["headers"]["webhook-timestamp"]) >= int(refused["headers"]["webhook-timestamp"])
    assert verify(secret, accepted["headers"], accepted["raw"])["event"] == "slo.alert.firing"
    with pytest.raises(BadSignature):
        verify(webhooks.new_secret(), accepted["headers"], accepted["raw"])
    with pytest.raises(BadSignature):  # a forged or altered body
        verify(secret, accepted["headers"], accepted["raw"].replace(b'"availability"', b'"latency"'))
    with pytest.raises(BadSignature):  # a replayed id with another timestamp
        verify(secret, {**accepted["headers"], "webhook-timestamp": str(int(now.timestamp()) + 1)}, accepted["raw"])
    with db.session() as session:
        assert session.scalar(select(SloAlert.webhook_result)) == "firing delivered: HTTP 204 (attempt 2)"

    resolved = alerts.run_once(db, settings, now + timedelta(minutes=65))
    assert [e.event for e in resolved] == ["slo.alert.resolved"]
    last = receiver.received[-1]
    assert last["answered"] == 204 and verify(secret, last["headers"], last["raw"])["event"] == "slo.alert.resolved"
    assert last["headers"]["webhook-id"] != accepted["headers"]["webhook-id"]  # another message, another id

    audited = audit_and_pages_text(db)
    assert '"webhook_secret": "(generated)"' in audited
    for text in (audited, caplog.text):
        assert secret not in text and secret[6:] not in text
    assert "refused: HTTP 401" in caplog.text  # the failed attempt was logged, without the secret


def test_the_page_shows_the_secret_once_and_rotation_replaces_it(client, db, settings, tmp_path, now, people, receiver):
    api = register_api(db, settings, tmp_path, "payments", BURNING)
    sign_in(client, db, settings, people.owner_id)
    form = {"csrf_token": csrf_for(client, settings), "webhook_url": receiver.url, "action": "set"}
    saved = client.post(PAGE, data=form, follow_redirects=False)
    assert saved.status_code == 200 and saved.headers["cache-control"] == "no-store"
    assert "it will not be shown again" in saved.text
    first = SECRET.findall(saved.text)
    assert len(set(first)) == 1
    first = first[0]

    later = client.get(PAGE)
    assert "whsec_" not in later.text and "Rotate the signing secret" in later.text
    assert client.post(PAGE, data=form, follow_redirects=False).status_code == 303  # nothing new to show

    rotated = client.post(PAGE, data={"csrf_token": form["csrf_token"], "action": "rotate_secret"})
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    second = SECRET.search(rotated.text).group()
    assert second != first and first not in rotated.text
    assert "whsec_" not in client.get(PAGE).text
    with db.session() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("slo."))).all()
        assert actions == ["slo.update", "slo.update", "slo.webhook_secret.rotate"]
    assert first not in audit_and_pages_text(db) and second not in audit_and_pages_text(db)

    burn(db, settings, api, now)
    alerts.run_once(db, settings, now)
    delivered = receiver.received[-1]
    assert verify(second, delivered["headers"], delivered["raw"])["event"] == "slo.alert.firing"
    with pytest.raises(BadSignature):
        verify(webhooks.new_secret(), delivered["headers"], delivered["raw"])
    # the old secret's grace after a rotation: tests/slo/test_rotation.py


def test_a_webhook_saved_before_signing_gets_a_secret_when_asked(client, db, settings, tmp_path, now, people, receiver):
    api = register_api(db, settings, tmp_path, "payments", BURNING)
    with db.session() as session:
        session.add(SloSettings(api_ref=api, webhook_url=receiver.url))  # as migration 0017 found it
    shown = client.get(SLO, headers=people.owner).json()
    assert shown["webhook_set"] is True and shown["webhook_signed"] is False
    sign_in(client, db, settings, people.owner_id)
    assert "Deliveries to this webhook are not signed" in client.get(PAGE).text

    burn(db, settings, api, now)
    alerts.run_once(db, settings, now)
    unsigned = receiver.received[-1]["headers"]
    assert "webhook-signature" not in unsigned and unsigned["webhook-id"].startswith("msg_")

    refused = client.post(SLO + "/webhook-secret", headers=people.reader)
    assert refused.status_code == 403 and "whsec_" not in refused.text
    rotated = client.post(SLO + "/webhook-secret", headers=people.owner)
    assert rotated.status_code == 200 and rotated.headers["cache-control"] == "no-store"
    secret = rotated.json()["webhook_secret"]
    assert rotated.json()["api"] == api and client.get(SLO, headers=people.owner).json()["webhook_signed"] is True

    alerts.run_once(db, settings, now + timedelta(minutes=65))
    resolved = receiver.received[-1]
    assert verify(secret, resolved["headers"], resolved["raw"])["event"] == "slo.alert.resolved"

    assert client.patch(SLO, headers=people.owner, json={"webhook_url": None}).status_code == 200
    with db.session() as session:  # the webhook and its secret went together
        assert session.scalar(select(SloSettings)) is None
    missing = client.post(SLO + "/webhook-secret", headers=people.owner)
    assert missing.status_code == 409 and missing.headers["content-type"] == "application/problem+json"
    assert "set an alert webhook URL first" in missing.json()["detail"]


def test_a_secret_the_portal_cannot_decrypt_is_not_used_and_says_why(
    client, db, settings, tmp_path, now, people, receiver
):
    api = register_api(db, settings, tmp_path, "payments", BURNING)
    client.patch(SLO, headers=people.owner, json={"webhook_url": receiver.url})
    burn(db, settings, api, now)
    moved = settings.model_copy(update={"secret_key": "another-secret"})  # the portal's secret key was replaced
    alerts.run_once(db, moved, now)
    assert receiver.received == []  # never sent unsigned instead
    with db.session() as session:
        result = session.scalar(select(SloAlert.webhook_result))
    assert "the signing secret cannot be decrypted" in result and "rotate it" in result


def test_owners_get_the_secret_from_the_terminal(db, settings, tmp_path, now, people, receiver, monkeypatch):
    api = register_api(db, settings, tmp_path, "payments", BURNING)
    token = people.owner["Authorization"].split()[1]
    with slo_cli(settings, token, tmp_path / "config", monkeypatch) as slo:
        first = SECRET.search(slo("set", "payments", "--webhook", receiver.url)).group()
        assert "whsec_" not in slo("set", "payments", "--window", "7d")
        assert "whsec_" not in slo("show", "payments", "--json")
        rotated = slo("rotate-secret", "payments")
        assert "will not be shown again" in rotated
        second = SECRET.search(rotated).group()
    assert second != first

    burn(db, settings, api, now)
    alerts.run_once(db, settings, now)
    delivered = receiver.received[-1]
    assert verify(second, delivered["headers"], delivered["raw"])["api"] == api


def test_the_verification_in_the_docs_accepts_a_delivery_and_refuses_a_forgery(receiver):
    from pathlib import Path
    from types import SimpleNamespace

    docs = (Path(__file__).parents[2] / "docs" / "slo.md").read_text()
    section = docs[docs.index("### Verifying alert webhooks") :]
    snippet = section[
        section.index("```python") + len("```python") : section.index("```\n", section.index("```python"))
    ]
    namespace: dict = {}
    exec(snippet, namespace)  # the receiver's code, as the documentation gives it
    documented_verify = namespace["verify"]

    secret = webhooks.new_secret()
    settings = SimpleNamespace(slo_webhook_allowed_hosts=["127.0.0.1"], http_timeout_seconds=5)
    payload = {"event": "slo.alert.firing", "id": 1, "api": "api:default/payments"}
    assert webhooks.post(receiver.url, payload, settings, message_id="msg_1", signing_secrets=[secret]).startswith(
        "delivered"
    )
    delivered = receiver.received[-1]
    assert documented_verify(secret, delivered["headers"], delivered["raw"]) == payload
    previous = webhooks.new_secret()  # during a rotation's grace: two signatures, either secret verifies
    webhooks.post(receiver.url, payload, settings, message_id="msg_2", signing_secrets=[secret, previous])
    both = receiver.received[-1]
    assert len(both["headers"]["webhook-signature"].split(" ")) == 2
    assert documented_verify(secret, both["headers"], both["raw"]) == documented_verify(
        previous, both["headers"], both["raw"]
    )
    with pytest.raises(ValueError, match="invalid signature"):
        documented_verify(webhooks.new_secret(), delivered["headers"], delivered["raw"])
    with pytest.raises(ValueError, match="invalid signature"):
        documented_verify(secret, {**delivered["headers"], "webhook-id": "msg_2"}, delivered["raw"])
