"""A new developer signs up, gets access to a product (a new application with its sandbox key) and uses the
key; page actions from the sign-up form to the first successful call are counted (target: at most 6)."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.browser.journeys import Actions, sign_up


def test_new_developer_signs_up_gets_a_sandbox_key_and_makes_a_call(page, portal, gates):
    actions = Actions(page)
    page.goto(f"{portal.url}/signup")
    gates.check(page, "signup")
    sign_up(page, actions, "newdev@example.com", "Nadia Newdev")
    expect(page.get_by_role("status").first).to_contain_text("Welcome to devhub, Nadia Newdev")
    gates.check(page, "account-welcome")

    actions.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Products"))
    gates.check(page, "products")
    actions.click(page.get_by_role("link", name="Merchant Catalog").first)
    expect(page.get_by_role("heading", level=1)).to_have_text("Merchant Catalog")
    gates.check(page, "product")

    access = page.locator("#get-access")
    access.get_by_label("Name of the new application").fill("Nadia's shop")
    actions.click(access.get_by_role("button", name="Get access"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Nadia's shop")
    expect(page.get_by_role("status").first).to_contain_text("Free plan of Merchant Catalog")
    key = page.get_by_label("The new API key").input_value()
    assert key, "the sandbox key is shown once on the application's page"
    gates.check(page, "app-new-key")

    answer = httpx.get(f"{portal.gateway_url}/merchant-catalog/pets", headers={"X-API-Key": key}, timeout=10)
    print("gateway:", answer.status_code, answer.text[:200])
    assert answer.status_code != 401, answer.text

    actions.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="Apps"))
    expect(page.get_by_role("link", name="Nadia's shop")).to_be_visible()
    gates.check(page, "apps")
    page.goto(f"{portal.url}/usage")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    gates.check(page, "usage-my-apps")
    print(f"page actions from sign-up to a working key: {actions.count}")
    assert actions.count <= 6
