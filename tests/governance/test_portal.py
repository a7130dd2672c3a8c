"""Governance in the portal: the publish gate, stored findings, deprecations with headers, pages, scorecards."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select

from devhub.audit.models import AuditEvent
from devhub.governance.models import BreakingFinding
from devhub.governance.service import deprecation_headers
from tests.conftest import bearer, make_account
from tests.specs.conftest import register_apis

SPECS = Path(__file__).parent / "specs"
BASE = "/api/v1/apis/default/pets/versions"


def _publish(client, headers, name: str, version: str, **extra):
    text = (SPECS / f"pets-{name}.yaml").read_text()
    return client.post(BASE, headers=headers, json={"version": version, "definition": text, **extra})


def test_publish_gate_deprecation_and_pages(client, db, settings, tmp_path):
    register_apis(db, settings, tmp_path / "catalog", ["pets"])
    user = make_account(db, settings, "dev@example.com", teams={"group:default/team-a": "member"})
    headers = bearer(db, settings, user, scopes=("read", "write"))

    assert _publish(client, headers, "1.0.0", "1.0.0").status_code == 201
    # A harmless change passes; a breaking one in a minor version is refused with the findings.
    assert _publish(client, headers, "1.0.1", "1.0.1").status_code == 201
    refused = _publish(client, headers, "1.1.0", "1.1.0")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/breaking-change") and problem["base_version"] == "1.0.1"
    rules = {f["rule"] for f in problem["findings"]}
    assert {"request-parameter-became-required", "semver-breaking-change-in-minor"} <= rules
    assert all(f["pointer"] for f in problem["findings"])
    # A draft is not gated; a new major version may break; allow_breaking publishes and is audited.
    assert _publish(client, headers, "1.1.0", "1.2.0-draft", lifecycle="draft").status_code == 201
    assert _publish(client, headers, "1.1.0", "2.0.0").status_code == 201
    assert _publish(client, headers, "removed", "2.1.0").status_code == 409
    allowed = _publish(client, headers, "removed", "2.1.0", allow_breaking=True)
    assert allowed.status_code == 201, allowed.text
    with db.session() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "specs.publish_breaking"))
        assert event is not None and event.target == "api:default/pets@2.1.0"
        rows = session.scalars(select(BreakingFinding).where(BreakingFinding.version == "2.1.0")).all()
        removed = {(r.method, r.path, r.operation_id) for r in rows if r.rule == "api-path-removed-without-deprecation"}
        assert removed == {("post", "/pets", "addPet")}
        assert any(r.allowed_by == "dev@example.com" for r in rows)

    lint = client.get(f"{BASE}/1.0.0/lint", headers=headers).json()
    assert lint["score"] < 100 and lint["findings"][0]["line"]
    changes = client.get(f"{BASE}/2.0.0/breaking-changes?from=1.0.1", headers=headers).json()
    assert changes["breaking"] and "### Breaking changes" in changes["changelog"]

    # Deprecate an operation with a sunset date; the gateway's headers follow.
    put = client.put(
        f"{BASE}/2.1.0/deprecation",
        headers=headers,
        json={"operation": "GET /pets/{petId}", "sunset": "2031-01-01", "reason": "use v3"},
    )
    assert put.status_code == 200, put.text
    assert put.json()["headers"]["Sunset"] == "Wed, 01 Jan 2031 00:00:00 GMT"
    whole = client.put(f"{BASE}/2.1.0/deprecation", headers=headers, json={"sunset": "2030-07-01"})
    assert whole.status_code == 200
    assert client.get(f"{BASE}/2.1.0", headers=headers).json()["lifecycle"] == "deprecated"
    listed = client.get("/api/v1/apis/default/pets/deprecations", headers=headers).json()
    assert {d["operation"] for d in listed} == {None, "GET /pets/{petId}"}
    assert client.put(f"{BASE}/2.1.0/deprecation", headers=headers, json={"sunset": "soon"}).status_code == 422
    assert client.put(f"{BASE}/2.1.0/deprecation", headers=headers, json={"operation": "nope"}).status_code == 404

    page = client.get("/apis/default/pets/v/2.1.0/governance", headers=headers)
    assert page.status_code == 200 and "2031-01-01" in page.text and "api-path-removed-without-deprecation" in page.text
    cards = client.get("/api/v1/governance/scorecards", headers=headers).json()
    (card,) = [c for c in cards["entities"] if c["ref"] == "api:default/pets"]
    assert {c["id"]: c["passed"] for c in card["checks"]}["docs"] is True
    assert cards["teams"][0]["team"] == "group:default/team-a"
    assert client.get("/governance/scorecards", headers=headers).status_code == 200

    assert client.delete(f"{BASE}/2.1.0/deprecation?operation=getPet", headers=headers).status_code == 204
    assert len(client.get("/api/v1/apis/default/pets/deprecations", headers=headers).json()) == 1


def test_deprecation_headers_are_a_pure_function():
    since = datetime(2030, 1, 1, tzinfo=UTC)
    version = SimpleNamespace(deprecated_at=since, sunset_at=datetime(2031, 1, 1, tzinfo=UTC))
    operation = SimpleNamespace(deprecated_at=datetime(2030, 3, 1, tzinfo=UTC), sunset_at=datetime(2030, 9, 1))
    assert deprecation_headers(None, None) == {}
    assert deprecation_headers(version) == {
        "Deprecation": f"@{int(since.timestamp())}",
        "Sunset": "Wed, 01 Jan 2031 00:00:00 GMT",
    }
    both = deprecation_headers(version, operation)
    assert both["Deprecation"] == f"@{int(datetime(2030, 3, 1, tzinfo=UTC).timestamp())}"
    assert both["Sunset"] == "Sun, 01 Sep 2030 00:00:00 GMT"
