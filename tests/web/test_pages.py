"""Server-rendered pages: each one answers, shows the catalog's data, handles emptiness, and escapes what it shows."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from devhub.catalog import service
from devhub.catalog.models import Location
from tests.conftest import FIXTURES

HTML = {"accept": "text/html"}


@pytest.fixture(autouse=True)
def as_admin(client, admin_browser):
    """These tests look at the pages as an administrator (who sees everything); access rules are tested in
    tests/identity. The CSRF header stands in for the hidden field every form carries."""
    client.headers["x-csrf-token"] = admin_browser()["csrf_token"]


def import_org(client) -> None:
    response = client.post("/locations", data={"target": str(FIXTURES / "org" / "catalog-info.yaml")})
    assert response.status_code == 200, response.text
    assert response.url.path.startswith("/locations/")


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url, headers=HTML)
    assert response.status_code == status, f"{url}: {response.status_code}\n{response.text[:2000]}"
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags dropped, whitespace squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def main_of(html: str) -> str:
    """The page without its header and footer (the nav links to /catalog?kind=api on every page)."""
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def table_rows(html: str) -> list[str]:
    return re.findall(r"<tr>.*?</tr>", html, flags=re.S)


@pytest.fixture
def org(client):
    import_org(client)
    return client


# --- Every page with data ---------------------------------------------------------------------------------


def test_home_shows_counts_per_kind_recent_changes_and_teams(org):
    html = page(org, "/")
    text = text_of(html)

    assert 'href="/catalog?kind=component"' in html
    assert re.search(r"3\s*</span>\s*<span class=\"stat-label\">Components", html), "3 components counted"
    assert re.search(r"3\s*</span>\s*<span class=\"stat-label\">APIs", html), "3 APIs counted"
    assert "Recently changed" in text
    assert "Teams and what they own" in text
    assert 'href="/catalog/default/group/payments"' in html
    assert "Owns 5 entities · 1 member" in text  # domain, system, service, API, resource; bob
    assert "The catalog is empty" not in text


def test_catalog_list_filters_by_kind(org):
    html = main_of(page(org, "/catalog?kind=API"))

    assert "payments-api" in html
    assert "ledger-events" in html
    assert "/catalog/default/component/payments-service" not in html
    assert re.search(r'<option value="API" selected>', html), "the kind select shows the filter"
    assert "remove this filter" in html  # the active filter chip
    assert "3 entities" in text_of(html)


def test_catalog_list_sorts(org):
    ascending = main_of(page(org, "/catalog?kind=component&sort=name"))
    descending = main_of(page(org, "/catalog?kind=component&sort=-name"))

    names = ["good-sibling", "ledger", "payments-service"]

    def order(html: str) -> list[str]:
        return sorted(names, key=lambda name: html.index(f"/catalog/default/component/{name}"))

    assert order(ascending) == names
    assert order(descending) == list(reversed(names))
    assert '<option value="-name" selected>' in descending


def test_catalog_list_paginates(org):
    html = main_of(page(org, "/catalog?size=2"))

    assert "Page 1 of" in html
    assert len(table_rows(html.split("<tbody>", 1)[1])) == 2
    assert 'rel="next"' in html and "page=2" in html
    second = main_of(page(org, "/catalog?size=2&page=2"))
    assert "Page 2 of" in second and 'rel="prev"' in second


def test_catalog_list_text_filter_and_description(org):
    html = main_of(page(org, "/catalog?text=ledger"))

    assert "/catalog/default/component/ledger" in html
    assert "/catalog/default/api/ledger-events" in html
    assert "payments-service" not in html
    assert "Double-entry ledger." in html  # the description under the name
    list_html = main_of(page(org, "/catalog?kind=component"))
    assert "Takes card payments for checkout." in text_of(list_html)  # markdown stripped to text


def test_entity_page_shows_header_description_relations_and_spec(org):
    html = page(org, "/catalog/default/component/payments-service")
    text = text_of(html)

    assert "<h1>Payments Service</h1>" in html
    assert "<strong>card payments</strong>" in html  # the description is rendered markdown
    assert 'href="https://runbooks.example.com/payments-service"' in html
    assert "Provides APIs" in text
    assert 'href="/catalog/default/api/payments-api"' in html
    assert "Depends on" in text and 'href="/catalog/default/resource/payments-db"' in html
    assert "Owned by" in text and 'href="/catalog/default/group/payments"' in html
    assert 'href="/catalog/default/system/checkout"' in html
    assert 'href="/catalog?tag=java"' in html
    assert "github.com/project-slug" in html  # annotations
    assert re.search(r"/locations/\d+", html), "links to its location"
    assert "services/payments/catalog-info.yaml" in html  # source


def test_api_page_shows_its_definition_escaped_in_details(org):
    html = page(org, "/catalog/default/api/payments-api")
    text = text_of(html)

    assert "<details" in html and "<pre><code>" in html
    assert "openapi: 3.0.3" in html
    assert "Provided by" in text and 'href="/catalog/default/component/payments-service"' in html
    assert "Consumed by" in text and 'href="/catalog/default/component/ledger"' in html
    # An object definition (from $yaml) is shown as JSON.
    events = page(org, "/catalog/default/api/ledger-events")
    assert '"asyncapi": "2.6.0"' in events


def test_unknown_kinds_render_the_generic_page(client):
    response = client.post("/locations", data={"target": str(FIXTURES / "unknown" / "catalog-info.yaml")})
    assert response.status_code == 200

    html = main_of(page(client, "/catalog/default/widget/spinner"))
    text = text_of(html)
    assert "<h1>spinner</h1>" in html
    assert '<span class="badge badge-kind">widget</span>' in html
    assert "Owner" in text and 'href="/catalog/default/group/platform"' in html  # spec.owner, in the header
    assert "Owned by" in text and "group:default/platform (not in catalog)" in text  # a missing target, muted
    assert "API definition" not in text and "Members" not in text and "Parts of this system" not in text


def test_team_page_shows_members_parent_and_what_it_owns(org):
    html = page(org, "/catalog/default/group/payments")
    text = text_of(html)

    assert "<h1>Payments</h1>" in html
    assert 'href="mailto:payments@example.com"' in html
    assert "Parent group" in text and 'href="/catalog/default/group/engineering"' in html
    assert "Members" in text and 'href="/catalog/default/user/bob"' in html
    assert "Bob Example" in text and "bob@example.com" in text
    for ref in ("component/payments-service", "api/payments-api", "resource/payments-db", "system/checkout"):
        assert f'href="/catalog/default/{ref}"' in html
    assert "Owns (5)" in text

    parent = page(org, "/catalog/default/group/engineering")
    assert "Child groups" in text_of(parent)
    assert 'href="/catalog/default/group/platform"' in parent
    assert "own anything yet" in text_of(parent)


def test_team_page_paginates_what_it_owns(org):
    html = page(org, "/catalog/default/group/payments?size=2")
    assert "Page 1 of 3" in html


def test_system_and_domain_pages_show_their_parts(org):
    html = page(org, "/catalog/default/system/checkout")
    text = text_of(html)

    assert "<h1>Checkout</h1>" in html
    assert "Parts of this system" in text
    for ref in ("component/payments-service", "api/payments-api", "resource/payments-db"):
        assert f'href="/catalog/default/{ref}"' in html
    assert "Domain" in text and 'href="/catalog/default/domain/commerce"' in html

    domain = page(org, "/catalog/default/domain/commerce")
    assert "Systems in this domain" in text_of(domain)
    assert 'href="/catalog/default/system/checkout"' in domain


def test_locations_page_lists_the_imported_location(org):
    html = page(org, "/locations")
    text = text_of(html)

    assert re.search(r'href="/locations/\d+"', html)
    assert "org/catalog-info.yaml" in html
    assert "badge-danger" in html  # status "error": bad.yaml has two bad documents
    assert 'aria-current="page">Locations' in html  # the nav item is active
    assert 'name="target"' in html and "aria-invalid" not in html
    assert "No locations yet" not in text


def test_location_page_shows_both_errors_and_its_entities(org):
    location_url = org.post(
        "/locations", data={"target": str(FIXTURES / "org" / "catalog-info.yaml")}
    ).url.path  # registering again finds the same location
    html = page(org, location_url)
    text = text_of(html)

    assert "invalid-name" in html and "missing-field" in html
    assert "bad.yaml" in html
    assert "Bad Name!" in text
    assert f'action="{location_url}/refresh"' in html
    assert f'action="{location_url}/delete"' in html
    assert 'href="/catalog/default/component/good-sibling"' in html
    assert 'aria-current="page">Locations' in html


def test_location_refresh_and_remove(org, db):
    with db.session() as session:
        location_id = session.scalar(select(Location.id))
    refreshed = org.post(f"/locations/{location_id}/refresh")
    assert refreshed.status_code == 200 and refreshed.url.path == f"/locations/{location_id}"

    removed = org.post(f"/locations/{location_id}/delete")
    assert removed.status_code == 200 and removed.url.path == "/locations"
    assert "No locations yet" in text_of(removed.text)


def test_search_finds_by_part_of_a_word_with_facets(org):
    html = page(org, "/search?q=paym")
    main = main_of(html)
    text = text_of(main)

    assert re.search(r"\d+ results for “paym”", text)
    hits = re.findall(r'<li class="card search-hit">.*?href="([^"]+)"', main, flags=re.S)
    assert "/catalog/default/api/payments-api" in hits[:3]
    assert "Kind" in text and "Owner" in text
    facet_links = re.findall(r'class="facet-link" href="([^"]+)"', main)
    assert any("kind=api" in link for link in facet_links)

    narrowed = main_of(page(org, "/search?q=paym&kind=api"))
    assert 'aria-current="true"' in narrowed
    assert "/catalog/default/component/payments-service" not in narrowed.split('class="search-hits"', 1)[1]


# --- Empty states -----------------------------------------------------------------------------------------


def test_empty_home_explains_how_to_import(client):
    html = page(client, "/")
    text = text_of(html)

    assert "The catalog is empty" in text
    assert "devhub catalog import PATH" in text
    assert 'href="/locations"' in main_of(html)


def test_empty_catalog_list(client):
    text = text_of(page(client, "/catalog"))
    assert "The catalog is empty" in text

    filtered = page(client, "/catalog?kind=api")
    assert "No entities match these filters" in text_of(filtered)
    assert 'href="/catalog"' in main_of(filtered)


def test_empty_locations(client):
    html = page(client, "/locations")
    assert "No locations yet" in text_of(html)
    assert '<form method="post" action="/locations"' in html


def test_search_without_a_query_or_results(client):
    tips = text_of(page(client, "/search"))
    assert "paym" in tips

    none = text_of(page(client, "/search?q=zzzz"))
    assert "No results for “zzzz”" in none
    assert "0 results" in none


# --- Errors and safety ------------------------------------------------------------------------------------


def test_import_outside_the_allowed_roots_is_refused_in_the_form(client, db):
    response = client.post("/locations", data={"target": "/etc/passwd"}, headers=HTML)

    assert 400 <= response.status_code < 500
    html = response.text
    assert 'aria-invalid="true"' in html
    assert "Could not import" in html
    assert 'id="location-target-error"' in html
    assert 'value="/etc/passwd"' in html  # what was typed is kept
    assert "root:" not in html
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Location)) == 0


def test_unknown_entity_is_a_404_page(client):
    html = page(client, "/catalog/default/component/does-not-exist", status=404)
    assert "component:default/does-not-exist is not in the catalog" in html
    assert "<h1" in html


def test_entity_content_is_sanitised(client, db, settings, tmp_path):
    catalog = tmp_path / "catalog-info.yaml"
    catalog.write_text(
        """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: evil
  title: "Evil <b>title</b>"
  description: |
    <script>alert(1)</script>

    <img src=x onerror=alert(1)>

    [x](javascript:alert(1)) and [y](JAVASCRIPT:alert(2))
  links:
    - url: javascript:alert(1)
      title: Click me
    - url: " JavaScript:alert(3)"
      title: Sneaky
  annotations:
    example.com/link: javascript:alert(4)
spec:
  type: service
  lifecycle: production
  owner: platform
  odd: "<script>alert(5)</script>"
""",
        encoding="utf-8",
    )
    with db.session() as session:
        service.register_location(session, settings, str(catalog), "file", trusted=True)

    html = page(client, "/catalog/default/component/evil")
    lowered = html.lower()

    assert "<script>alert" not in lowered
    assert not re.search(r"<[^>]*\bon(error|load|click)\s*=", lowered), "no event handler attributes"
    assert 'href="javascript:' not in lowered
    assert not re.search(r"href=\"\s*javascript:", lowered)
    assert "<b>title</b>" not in lowered
    # The text is still shown, as text.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Click me" in html
    listed = page(client, "/catalog?text=evil").lower()
    assert "<script>alert" not in listed and "<b>title</b>" not in listed
    found = page(client, "/search?q=evil").lower()
    assert "<script>alert" not in found and "<b>title</b>" not in found
