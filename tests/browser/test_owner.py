"""An API owner publishes a new version of their API from the upload form, sees what changed, and approves a
developer's request for a reviewed plan of their product."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml
from playwright.sync_api import expect

from devhub.demo import ROOT_CATALOG
from tests.browser.journeys import PASSWORD, seed_account, sign_in

API = "merchant-catalog-v2-api"
OWNER_TEAM = "group:default/merchant-experience"


def _new_version(folder: Path) -> Path:
    """Version 1.1.0 of the demo's Petstore (expanded): one operation added, nothing removed."""
    document = yaml.safe_load((ROOT_CATALOG.parent / "apis" / "petstore-expanded.yaml").read_text())
    document["info"]["version"] = "1.1.0"
    document["paths"]["/pets/{id}/photos"] = {
        "get": {
            "operationId": "listPetPhotos",
            "summary": "List a pet's photos",
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "the photos' URLs"}},
        }
    }
    path = folder / "petstore-1.1.0.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _request_reviewed_plan(portal) -> None:
    """A developer's script asks for the Business plan (reviewed by the owners) through the REST API."""
    developer = seed_account(portal, "requester@example.com")
    with httpx.Client(base_url=portal.url, headers=developer, timeout=30) as api:
        app = api.post("/api/v1/apps", json={"name": "Requester's till"})
        assert app.status_code == 201, app.text
        body = {"product": "merchant-catalog", "plan": "business"}
        subscription = api.post(f"/api/v1/apps/{app.json()['id']}/subscriptions", json=body)
        assert subscription.status_code == 201, subscription.text
        assert subscription.json()["state"] == "pending"


def test_owner_publishes_a_version_sees_the_changes_and_approves_a_request(page, portal, gates, tmp_path):
    seed_account(portal, "olivia@example.com", teams={OWNER_TEAM: "owner"})
    _request_reviewed_plan(portal)
    sign_in(page, portal.url, "olivia@example.com", PASSWORD)

    page.goto(f"{portal.url}/catalog/default/api/{API}")
    page.get_by_role("link", name="Versions", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("ersions")
    gates.check(page, "api-versions")
    page.get_by_role("link", name=re.compile("Publish", re.I)).first.click()
    expect(page).to_have_url(re.compile(r"/publish$"))
    gates.check(page, "publish")

    page.get_by_label("Definition file").set_input_files(_new_version(tmp_path))
    page.get_by_label("Version").fill("1.1.0")
    page.get_by_label("Lifecycle").select_option("stable")
    page.get_by_role("button", name="Publish").click()
    expect(page).to_have_url(re.compile(r"/v/1\.1\.0$"))
    gates.check(page, "published")

    page.get_by_role("link", name=re.compile("breaking changes", re.I)).first.click()
    expect(page).to_have_url(re.compile(r"/v/1\.1\.0/governance$"))
    expect(page.locator("main")).to_contain_text("/pets/{id}/photos")
    gates.check(page, "api-changes")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    expect(page).to_have_url(re.compile(r"/requests$"))
    row = page.get_by_role("row", name=re.compile("Requester's till"))
    expect(row).to_contain_text("Business")
    gates.check(page, "requests")
    row.get_by_role("button", name=re.compile("^Approve")).click()
    expect(page.get_by_role("row", name=re.compile("Requester's till"))).to_have_count(0)
    page.get_by_role("navigation", name="States").get_by_role("link", name="Approved").click()
    expect(page.get_by_role("row", name=re.compile("Requester's till"))).to_contain_text("approved")

    # The API's usage and its service level objectives, where its owners look after a release.
    page.goto(f"{portal.url}/usage/apis/default/{API}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Usage")
    gates.check(page, "usage-api", dark=True)
    page.goto(f"{portal.url}/apis/default/{API}/slo")
    expect(page.get_by_role("heading", level=1)).to_contain_text("service level objectives")
    gates.check(page, "slo-api")
