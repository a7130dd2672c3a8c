"""An anonymous visitor browses the public APIs, searches by part of a word and opens an operation."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_visitor_browses_apis_searches_part_of_a_word_and_opens_an_operation(page, portal, gates):
    page.goto(portal.url)
    expect(page.get_by_role("heading", level=1)).to_have_text("Find any service, API or team")
    gates.check(page, "home", dark=True)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="APIs").click()
    expect(page).to_have_url(re.compile(r"/catalog\?kind=api"))
    expect(page.get_by_role("link", name=re.compile("Merchant Catalog", re.I)).first).to_be_visible()
    gates.check(page, "catalog-apis")

    search = page.get_by_role("search").first.get_by_role("searchbox")
    search.fill("merch")  # part of a word: "merchant"
    search.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=merch"))
    results = page.locator("#results-title")
    expect(results).to_contain_text(re.compile(r"\d+ result"))
    gates.check(page, "search")

    page.get_by_role("link", name=re.compile(r"Merchant Catalog API \(v2\)", re.I)).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(re.compile("Merchant Catalog", re.I))
    gates.check(page, "api-entity")

    page.get_by_role("link", name="Reference docs").click()
    expect(page).to_have_url(re.compile(r"/apis/default/merchant-catalog-v2-api"))
    gates.check(page, "api-docs")

    page.locator(".ref-nav").get_by_role("link", name=re.compile(r"GET\s*\/pets$")).first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator(".ref-endpoint")).to_contain_text("/pets")
    gates.check(page, "api-operation", dark=True)

    page.locator(".ref-nav").get_by_role("link", name=re.compile("^Schemas")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Schemas")
    gates.check(page, "api-schemas")

    page.goto(f"{portal.url}/docs/default/api/merchant-catalog-v2-api")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    gates.check(page, "guide")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Catalog").click()
    expect(page).to_have_url(re.compile(r"/catalog$"))
    gates.check(page, "catalog")
    page.goto(f"{portal.url}/catalog/default/system/merchant-platform")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Merchant Platform")
    gates.check(page, "system")
