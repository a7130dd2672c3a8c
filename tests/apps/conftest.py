"""A product with three plans, offered by team-a, and helpers to act through the REST API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from tests.conftest import bearer, make_account

TEAM = "group:default/team-a"


@dataclass
class Access:
    client: TestClient
    owner: dict[str, str]  # bearer headers of a member of the owning team

    def developer(self, db, settings, email: str, teams: dict | None = None) -> dict[str, str]:
        return bearer(db, settings, make_account(db, settings, email, teams=teams), scopes=("read", "write"))

    def new_app(self, headers: dict[str, str], name: str = "Checkout", **body) -> dict:
        response = self.client.post("/api/v1/apps", headers=headers, json={"name": name, **body})
        assert response.status_code == 201, response.text
        return response.json()

    def subscribe(self, headers: dict[str, str], app_id: str, plan: str, expected: int = 201) -> dict:
        body = {"product": "payments", "plan": plan}
        response = self.client.post(f"/api/v1/apps/{app_id}/subscriptions", headers=headers, json=body)
        assert response.status_code == expected, response.text
        return response.json()


@pytest.fixture
def access(db, settings, client) -> Access:
    owner_id = make_account(db, settings, "owner@example.com", teams={TEAM: "owner"})
    owner = bearer(db, settings, owner_id, scopes=("read", "write"))
    product = {
        "slug": "payments",
        "name": "Payments",
        "description": "Take **payments**.",
        "owner": "team-a",
        "visibility": "public",
        "sandbox_url": "http://127.0.0.1:9/sandbox",
        "production_url": "https://payments.example.com",
    }
    assert client.post("/api/v1/products", headers=owner, json=product).status_code == 201
    plans = [
        {"slug": "free", "name": "Free", "rate_per_second": 5, "quota_per_day": 1000},
        {"slug": "gold", "name": "Gold", "approval": "manual", "rate_per_minute": 6000},
        {
            "slug": "partner",
            "name": "Partner",
            "credential_type": "oauth2",
            "scopes": ["payments:read", "payments:write"],
        },
    ]
    for plan in plans:
        response = client.post("/api/v1/products/payments/plans", headers=owner, json=plan)
        assert response.status_code == 201, response.text
    return Access(client, owner)
