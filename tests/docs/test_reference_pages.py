"""Reference docs pages: every page of every corpus definition answers, markdown variants, redirects, the
empty state, 404s, the version switcher, the sidebar filter and lifecycle notices."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from devhub.docs import cache
from tests.docs.test_reference_support import (
    CORPUS,
    HTML,
    MARKDOWN,
    corpus_files,
    load_definition,
    publish,
    register_api,
)

PETSTORE = CORPUS / "oai" / "petstore.yaml"
BASE = "/apis/default/pets/v/1.0.0"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def get(client, url: str, status: int = 200, headers=HTML, **kwargs):
    response = client.get(url, headers=headers, **kwargs)
    assert response.status_code == status, f"{url}: {response.status_code}\n{response.text[:1500]}"
    return response


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: list[str] = []
        self.h1 = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "a" and attributes.get("href"):
            self.hrefs.append(attributes["href"])
        if attributes.get("id"):
            self.ids.append(attributes["id"])
        if tag == "h1":
            self.h1 += 1


def parse(html: str) -> Links:
    parser = Links()
    parser.feed(html)
    return parser


# --- every page of every corpus definition -----------------------------------------------------------------


def _slug(path) -> str:
    """An entity name (at most 63 characters) for a corpus file."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(path.relative_to(CORPUS).with_suffix("")).lower()).strip("-")
    return slug[-63:].strip("-")


def _shards() -> list:
    """(definition, shard, shards): big definitions are split so that xdist workers share them."""
    cases = []
    for path in corpus_files():
        size = path.stat().st_size
        shards = 6 if size > 1_000_000 else 3 if size > 250_000 else 1
        label = str(path.relative_to(CORPUS))
        for shard in range(shards):
            case_id = label if shards == 1 else f"{label}-{shard + 1}of{shards}"
            cases.append(pytest.param(path, shard, shards, id=case_id))
    return cases


BIG = 100_000  # PostgreSQL stores the same JSON as SQLite: its runs skip the big Twilio definitions


@pytest.mark.parametrize(("path", "shard", "shards"), _shards())
def test_every_page_of_every_corpus_definition_renders(db, client, path, shard, shards):
    """Overview, schema browser, changes, every operation and every schema, as HTML and as markdown."""
    from devhub.docs.views import reference_of
    from devhub.specs.models import SpecVersion

    if not db.is_sqlite and path.stat().st_size > BIG:
        pytest.skip("big definitions run on SQLite only")
    name = _slug(path)
    publish(db, f"api:default/{name}", "1.0.0", load_definition(path))
    with db.session() as session:
        version = session.query(SpecVersion).one()
        ref = reference_of(version)
        urls = [ref.base, f"{ref.base}/schemas", f"{ref.base}/changes"]
        urls += [entry.url for entry in ref.ops + ref.webhooks]
        urls += [ref.schema_url(key) for key in ref.schema_keys]
        assert len(ref.ops) == version.operation_count, "every stored operation has a page"
        stored = {op.anchor for op in version.operations}
    assert stored <= set(ref.by_anchor), "permalinks use the stored anchors"
    for url in urls[shard::shards]:
        html = get(client, url).text
        assert parse(html).h1 == 1, f"{url}: one h1"
        markdown = get(client, f"{url}.md")
        assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
        assert markdown.text.startswith("# "), url


# --- redirects, empty state, 404 ----------------------------------------------------------------------------


def test_api_root_redirects_to_the_latest_version(db, client):
    doc = load_definition(PETSTORE)
    publish(db, "api:default/pets", "1.0.0", doc)
    publish(db, "api:default/pets", "1.1.0", doc)
    response = get(client, "/apis/default/pets", status=307, follow_redirects=False)
    assert response.headers["location"] == "/apis/default/pets/v/1.1.0"


def test_api_without_a_definition_shows_how_to_publish_one(db, client, settings, tmp_path):
    with db.session() as session:
        register_api(session, settings, tmp_path, "ledger")
    html = main_of(get(client, "/apis/default/ledger").text)
    assert "No definition published yet" in html
    assert 'href="/apis/default/ledger/publish"' in html
    assert "devhub publish ./openapi.yaml --api api:default/ledger --version 1.0.0" in html
    assert 'href="/catalog/default/api/ledger"' in html


def test_unknown_api_version_operation_and_schema_are_404_problems(db, client):
    publish(db, "api:default/pets", "1.0.0", load_definition(PETSTORE))
    for url in (
        "/apis/default/nothing",
        "/apis/default/pets/v/9.9.9",
        "/apis/default/pets/v/9.9.9.md",
        f"{BASE}/operations/no-such-op",
        f"{BASE}/operations/no-such-op.md",
        f"{BASE}/schemas/NoSuchSchema",
        f"{BASE}/schemas/NoSuchSchema.md",
        f"{BASE}/changes?from=0.0.1",
    ):
        page = get(client, url, status=404)
        assert "Not found" in page.text
        problem = get(client, url, status=404, headers={"accept": "application/json"})
        assert problem.headers["content-type"] == "application/problem+json"
        assert problem.json()["status"] == 404


# --- markdown -----------------------------------------------------------------------------------------------


def test_every_page_is_markdown_with_md_suffix_or_accept_header(db, client):
    publish(db, "api:default/pets", "1.0.0", load_definition(PETSTORE))
    for url in (BASE, f"{BASE}/operations/list-pets", f"{BASE}/schemas", f"{BASE}/schemas/Pet", f"{BASE}/changes"):
        by_suffix = get(client, f"{url}.md")
        by_accept = get(client, url, headers=MARKDOWN)
        assert by_suffix.headers["content-type"] == "text/markdown; charset=utf-8"
        assert by_accept.headers["content-type"] == "text/markdown; charset=utf-8"
        assert by_suffix.text == by_accept.text
        assert "<html" not in by_suffix.text
    operation = get(client, f"{BASE}/operations/list-pets.md").text
    assert operation.startswith("# List all pets\n")
    assert "`GET /pets`" in operation
    assert "| `limit` | query | `integer <int32>` | no |" in operation
    assert "curl 'http://petstore.swagger.io/v1/pets'" in operation
    overview = get(client, f"{BASE}.md").text
    assert "[/pets/{petId}](</apis/default/pets/v/1.0.0/operations/show-pet-by-id>)" in overview
    schema = get(client, f"{BASE}/schemas/Pet.md").text
    assert "- **id** `integer <int64>` (required)" in schema


def test_accept_header_negotiation(db, client):
    publish(db, "api:default/pets", "1.0.0", load_definition(PETSTORE))
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert get(client, BASE, headers={"accept": browser}).headers["content-type"].startswith("text/html")
    html_first = {"accept": "text/html, text/markdown;q=0.5"}
    assert get(client, BASE, headers=html_first).headers["content-type"].startswith("text/html")
    markdown_first = {"accept": "text/markdown, text/html;q=0.9"}
    assert get(client, BASE, headers=markdown_first).headers["content-type"].startswith("text/markdown")
    assert get(client, BASE, headers={"accept": "*/*"}).headers["content-type"].startswith("text/html")
    assert get(client, BASE).headers["vary"] == "Accept"


# --- layout: sidebar, permalinks, version switcher ----------------------------------------------------------


def test_operation_page_has_sidebar_permalinks_and_samples(db, client):
    publish(db, "api:default/pets", "1.0.0", load_definition(PETSTORE))
    html = get(client, f"{BASE}/operations/show-pet-by-id").text
    links = parse(html)
    assert f'href="{BASE}/operations/show-pet-by-id" aria-current="page"' in html
    assert f"{BASE}/operations/list-pets" in links.hrefs
    assert f"{BASE}/schemas" in links.hrefs
    for section in ("parameters", "responses", "response-200", "response-default"):
        assert section in links.ids
        assert f"#{section}" in links.hrefs, f"a permalink to #{section}"
    assert '<span class="method method-get">GET</span>' in html, "method badges carry text"
    assert 'class="tab-input" type="radio" name="sample-language"' in html
    assert "<script>" not in html and "onclick" not in html, "no inline scripts"
    assert '<script src="/static/js/docs.js" defer></script>' in html


def test_sidebar_groups_collapse_and_filter_works_without_javascript(db, client):
    doc = {
        "openapi": "3.0.3",
        "info": {"title": "Big", "version": "1"},
        "paths": {
            f"/things{i}": {
                "get": {
                    "operationId": f"getThing{i}",
                    "summary": f"Get thing {i}",
                    "tags": [f"group{i % 25}"],
                    "deprecated": i == 7,
                    "responses": {"200": {"description": "ok"}},
                }
            }
            for i in range(520)
        },
    }
    publish(db, "api:default/big", "1", doc)
    html = get(client, "/apis/default/big/v/1/operations/get-thing7").text
    assert html.count('<details class="ref-group"') == 25
    assert html.count('<details class="ref-group" data-group="tag-group7" open>') == 1, "the current group is open"
    assert html.count(" open>") == 1, "the others are closed"
    assert 'class="ref-op is-deprecated"' in html
    filtered = get(client, "/apis/default/big/v/1?filter=thing 51").text
    filtered = filtered.split('<nav class="ref-nav"', 1)[1].split("</nav>", 1)[0]
    assert "11 operations match" in filtered  # thing 51, 510-519
    assert "/apis/default/big/v/1/operations/get-thing51" in filtered
    assert "/apis/default/big/v/1/operations/get-thing52" not in filtered
    assert 'name="filter" value="thing 51"' in filtered


def test_version_switcher_lands_on_the_same_page_or_the_overview(db, client):
    doc = load_definition(PETSTORE)
    publish(db, "api:default/pets", "1.0.0", doc, lifecycle="deprecated")
    newer = load_definition(PETSTORE)
    del newer["paths"]["/pets/{petId}"]
    publish(db, "api:default/pets", "2.0.0", newer)
    html = get(client, f"{BASE}/operations/list-pets").text
    assert f'action="{BASE}/switch"' in html
    assert '<select id="ref-version-select" name="to" data-autosubmit>' in html
    assert '<option value="2.0.0">2.0.0 (latest)</option>' in html
    assert '<option value="1.0.0" selected>1.0.0 · deprecated</option>' in html
    assert '<input type="hidden" name="page" value="operations/list-pets">' in html
    assert "Deprecated version." in html

    def switch(page: str) -> str:
        response = get(
            client, f"{BASE}/switch", params={"to": "2.0.0", "page": page}, status=303, follow_redirects=False
        )
        return response.headers["location"]

    assert switch("operations/list-pets") == "/apis/default/pets/v/2.0.0/operations/list-pets"
    assert switch("operations/show-pet-by-id") == "/apis/default/pets/v/2.0.0", "gone there: the overview"
    assert switch("schemas/Pet") == "/apis/default/pets/v/2.0.0/schemas/Pet"
    assert switch("schemas") == "/apis/default/pets/v/2.0.0/schemas"
    assert switch("changes") == "/apis/default/pets/v/2.0.0/changes"
    assert switch("") == "/apis/default/pets/v/2.0.0"
    assert switch("https://evil.example.com/") == "/apis/default/pets/v/2.0.0", "never leaves the API"
    get(client, f"{BASE}/switch", params={"to": "7.0.0"}, status=404)


def test_lifecycle_is_rendered_per_request_not_cached(db, client):
    from devhub.specs.models import SpecVersion

    publish(db, "api:default/pets", "1.0.0", load_definition(PETSTORE))
    assert "Deprecated version." not in get(client, BASE).text
    with db.session() as session:
        session.query(SpecVersion).one().lifecycle = "retired"
        session.commit()
    html = get(client, BASE).text
    assert "Retired version." in html
    assert '<span class="badge badge-danger">retired</span>' in html


def test_overview_lists_servers_security_operations_and_downloads(db, client):
    publish(db, "api:default/twilio", "1.0.0", load_definition(CORPUS / "twilio" / "twilio_lookups_v2.json"))
    html = main_of(get(client, "/apis/default/twilio/v/1.0.0").text)
    assert "https://lookups.twilio.com" in html
    assert 'id="security-account-sid-auth-token"' in html
    assert "/api/v1/apis/default/twilio/versions/1.0.0/definition?bundled=true&amp;format=yaml" in html
    assert 'href="https://support.twilio.com" rel="noopener nofollow"' in html
    assert 'href="mailto:support@twilio.com"' in html
    assert "Apache 2.0" in html
    assert "/apis/default/twilio/v/1.0.0/operations/fetch-phone-number" in html


def test_schema_browser_filters_without_javascript(db, client):
    publish(db, "api:default/twilio", "1.0.0", load_definition(CORPUS / "twilio" / "twilio_lookups_v2.json"))
    base = "/apis/default/twilio/v/1.0.0"
    full = main_of(get(client, f"{base}/schemas").text)
    total = full.count('<th scope="row" class="break-anywhere">')
    assert total > 10
    filtered = main_of(get(client, f"{base}/schemas", params={"q": "pumping"}).text)
    rows = filtered.count('<th scope="row" class="break-anywhere">')
    assert 0 < rows < total
    assert f"{rows} of {total} match" in filtered
    none = main_of(get(client, f"{base}/schemas", params={"q": "zzzz"}).text)
    assert "No schema matches" in none


def test_private_api_docs_are_hidden_like_the_entity(db, client, settings, tmp_path):
    """Docs follow the catalog entity's visibility (here: an API nobody anonymous may see)."""
    from devhub.catalog import service as catalog_service
    from devhub.identity.policy import ANONYMOUS

    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: secret\n"
        "  annotations:\n    devhub.io/visibility: private\n"
        "spec:\n  type: graphql\n  lifecycle: production\n  owner: team-a\n  definition: 'type Query { a: Int }'\n",
        encoding="utf-8",
    )
    with db.session() as session:
        catalog_service.register_location(session, settings, str(folder / "catalog-info.yaml"), "file", trusted=True)
        session.commit()
        entity = catalog_service.get_entity(session, "api", "default", "secret")
        assert not catalog_service.entity_visible(ANONYMOUS, entity, set())
    publish(db, "api:default/secret", "1.0.0", load_definition(PETSTORE))
    get(client, "/apis/default/secret/v/1.0.0", status=404)
    get(client, "/apis/default/secret/v/1.0.0/operations/list-pets.md", status=404)


def test_definitions_published_by_the_catalog_render(db, client, settings, tmp_path):
    """The whole path: a catalog API entity whose definition the specs service publishes on import."""
    from devhub.catalog.service import register_location

    folder = tmp_path / "published"
    folder.mkdir()
    (folder / "petstore.yaml").write_text(PETSTORE.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: petstore\n"
        "  annotations:\n    devhub.io/visibility: public\n"
        "spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n"
        "  definition:\n    $text: ./petstore.yaml\n",
        encoding="utf-8",
    )
    with db.session() as session:
        register_location(session, settings, str(folder / "catalog-info.yaml"), "file", trusted=True)
        session.commit()
    location = get(client, "/apis/default/petstore", status=307, follow_redirects=False).headers["location"]
    assert location == "/apis/default/petstore/v/1.0.0"
    html = get(client, location).text
    assert "Swagger Petstore" in html and 'href="/catalog/default/api/petstore"' in html
    for anchor in ("list-pets", "create-pets", "show-pet-by-id"):
        get(client, f"{location}/operations/{anchor}")
        get(client, f"{location}/operations/{anchor}.md")
