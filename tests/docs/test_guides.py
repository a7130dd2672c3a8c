"""Guides written in the portal: the pages and forms, the JSON API, validation, access and safe rendering.

Every test runs on SQLite and on PostgreSQL (the `db` fixture). The entity comes from a small catalog file
written to tmp_path and imported like any other location. The test client is signed in as an admin (who may
write every guide); `test_who_may_read_and_write_guides` tries the other roles.
"""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from devhub.catalog import service as catalog
from devhub.docs import service
from devhub.docs.models import Guide
from tests.conftest import bearer, make_account

HTML = {"accept": "text/html"}
DOCS = "/docs/default/component/shop"
API = "/api/v1/docs/default/component/shop/guides"
REF = "component:default/shop"

CATALOG = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: shop
  title: Shop
  annotations:
    backstage.io/techdocs-ref: dir:./docs
    devhub.io/visibility: public
spec:
  type: website
  lifecycle: production
  owner: team-shop
"""


class Parsed(HTMLParser):
    """Every element of a page as (tag, attributes), plus the elements and text inside `.prose`."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.prose: list[tuple[str, dict[str, str | None]]] = []
        self.prose_text: list[str] = []
        self._depth = 0  # >0 inside the .prose element
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if self._depth:
            self.prose.append((tag, attributes))
            if tag not in ("br", "hr", "img", "input"):
                self._depth += 1
        elif "prose" in (attributes.get("class") or "").split():
            self._depth = 1

    def handle_endtag(self, tag):
        if self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.prose_text.append(data)

    def links(self) -> list[str]:
        return [a.get("href") or "" for tag, a in self.prose if tag == "a"]

    def text(self) -> str:
        return " ".join("".join(self.prose_text).split())


@pytest.fixture(autouse=True)
def as_admin(client, admin_browser):
    """Write as a portal admin; the CSRF header stands in for the field every form carries (also sent)."""
    client.headers["x-csrf-token"] = admin_browser()["csrf_token"]


def page(client, url: str, status: int = 200) -> str:
    response = client.get(url, headers=HTML)
    assert response.status_code == status, f"{url}: {response.status_code}\n{response.text[:2000]}"
    return response.text


def write_catalog(root: Path, text: str = CATALOG, docs: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "catalog-info.yaml").write_text(text)
    for path, body in (docs or {}).items():
        target = root / "docs" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(body))
    return root / "catalog-info.yaml"


@pytest.fixture
def shop(db, settings, tmp_path):
    """The `shop` component in the catalog, with one techdocs page (docs/runbook.md)."""
    path = write_catalog(tmp_path / "shop", docs={"runbook.md": "# Runbook\n\nRestart one pod at a time.\n"})
    with db.session() as session:
        catalog.register_location(session, settings, str(path), "file", trusted=True)
    return db


def guides(db) -> list[Guide]:
    with db.session() as session:
        found = service.list_guides(session, REF)
        session.expunge_all()
        return found


def form_token(client, url: str = f"{DOCS}/new") -> str:
    """The CSRF token a form of ours carries for this browser (empty when nothing issues tokens)."""
    found = re.search(r'name="csrf_token" value="([^"]*)"', page(client, url))
    assert found, "every form carries a csrf_token field"
    return found.group(1)


def post(client, url: str, data: dict | None = None, token: str | None = None):
    """A form post from this browser, with the token its forms carry."""
    if token is None:
        token = getattr(client, "_guide_token", None)
        if token is None:
            token = client._guide_token = form_token(client)
    return client.post(url, data={**(data or {}), "csrf_token": token}, headers=HTML, follow_redirects=False)


def create(client, **fields) -> object:
    data = {"title": "Getting started", "slug": "", "body": "Hello.", "position": "0"}
    data.update(fields)
    return post(client, f"{DOCS}/new", data)


# --- Pages and forms ----------------------------------------------------------------------------


def test_the_index_lists_guides_with_navigation_and_a_write_action(shop, client) -> None:
    html = page(client, DOCS)
    assert f'href="{DOCS}/new"' in html and "Write a guide" in html
    assert f'href="{DOCS}/runbook"' in html and "Runbook" in html
    assert 'class="guide-nav' in html


def test_the_index_of_an_entity_without_guides_is_an_empty_state(db, settings, tmp_path, client) -> None:
    path = write_catalog(tmp_path / "bare", CATALOG.replace("    backstage.io/techdocs-ref: dir:./docs\n", ""))
    with db.session() as session:
        catalog.register_location(session, settings, str(path), "file", trusted=True)
    html = page(client, DOCS)
    assert 'class="empty-state"' in html and "No guides for Shop yet" in html
    assert f'<a class="btn btn-primary" href="{DOCS}/new">Write a guide</a>' in html


def test_pages_of_an_entity_not_in_the_catalog_are_404(shop, client) -> None:
    ghost = "/docs/default/component/ghost"
    for url in (ghost, f"{ghost}/new", f"{ghost}/anything", f"{ghost}/anything.md", f"{ghost}/anything/edit"):
        assert client.get(url, headers=HTML).status_code == 404, url
    assert post(client, f"{ghost}/new", {"title": "T", "body": "B"}).status_code == 404
    assert post(client, f"{ghost}/x/delete").status_code == 404
    response = client.get("/api/v1/docs/default/component/ghost/guides")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{DOCS}/no-such-guide", headers=HTML).status_code == 404


def test_writing_a_guide_through_the_form(shop, client) -> None:
    form = page(client, f"{DOCS}/new")
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]*">', form)
    assert 'name="title"' in form and 'name="slug"' in form and 'name="position"' in form
    assert '<textarea id="guide-body" name="body"' in form and "Markdown help" in form

    body = "# Getting started\n\nInstall it.\n\n## Sign in\n\nSee [the runbook](runbook.md#restart) and [errors](errors.md).\n\n## Next steps\n"
    response = create(client, title="Getting started", body=body, position="1")
    assert response.status_code == 303
    assert response.headers["location"] == f"{DOCS}/getting-started"  # the slug made from the title

    html = page(client, f"{DOCS}/getting-started")
    parsed = Parsed(html)
    assert ("h2", {"id": "sign-in"}) in parsed.prose
    assert "Getting started" not in parsed.text()  # the first heading is the page's title, shown once
    assert html.count("<h1") == 1
    assert f"{DOCS}/runbook#restart" in parsed.links()  # a link to another guide, rewritten
    assert "errors" in parsed.text() and not any("errors" in href for href in parsed.links())  # no such page
    assert f'href="{DOCS}/getting-started/edit"' in html
    assert 'href="#sign-in"' in html  # "On this page"

    (guide,) = [g for g in guides(shop) if g.slug == "getting-started"]
    assert (guide.source, guide.position, guide.title, guide.source_path) == ("portal", 1, "Getting started", None)


def test_the_markdown_variant_returns_the_raw_text(shop, client) -> None:
    create(client, slug="intro", body="# Intro\n\n<b>raw</b> *stays*\n")
    response = client.get(f"{DOCS}/intro.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.text == "# Intro\n\n<b>raw</b> *stays*\n"
    assert client.get(f"{DOCS}/runbook.md").text.startswith("# Runbook")
    assert client.get(f"{DOCS}/missing.md").status_code == 404


def test_form_errors_are_shown_in_the_form_with_what_was_typed(shop, client) -> None:
    response = create(client, title="", slug="Bad Slug!", body="   ", position="first")
    assert response.status_code == 422
    html = response.text
    assert "The guide was not saved" in html
    for field in ("title", "slug", "body", "position"):
        assert f'id="guide-{field}-error"' in html, field
    assert html.count('aria-invalid="true"') == 4
    assert 'value="Bad Slug!"' in html and 'value="first"' in html
    assert guides(shop)[0].slug == "runbook" and len(guides(shop)) == 1


def test_limits_and_reserved_slugs(shop, client) -> None:
    assert create(client, title="x" * (service.MAX_TITLE_LENGTH + 1)).status_code == 422
    assert create(client, body="x" * (service.MAX_BODY_LENGTH + 1)).status_code == 422
    assert create(client, slug="new").status_code == 422
    assert create(client, slug="a/b").status_code == 422  # slashes are for imported folders only
    assert create(client, slug="x", position=str(service.MAX_POSITION + 1)).status_code == 422
    assert create(client, title="Line\none").status_code == 422
    assert len(guides(shop)) == 1


def test_a_new_guide_cannot_take_a_used_slug(shop, client) -> None:
    assert create(client, slug="intro").status_code == 303
    response = create(client, slug="intro", title="Another")
    assert response.status_code == 409 and "already a guide" in response.text
    response = create(client, slug="runbook", title="Mine")  # a techdocs page
    assert response.status_code == 409
    assert [g.title for g in guides(shop) if g.slug == "intro"] == ["Getting started"]


def test_editing_renaming_and_deleting_a_guide(shop, client) -> None:
    create(client, slug="intro", title="Intro", body="First.")
    form = page(client, f"{DOCS}/intro/edit")
    assert 'value="Intro"' in form and ">First.</textarea>" in form
    assert f'action="{DOCS}/intro/delete"' in form
    assert form.split('<main id="main"')[1].count('name="csrf_token"') == 2  # the guide form and delete

    response = post(
        client,
        f"{DOCS}/intro/edit",
        {"title": "Introduction", "slug": "introduction", "body": "Second.", "position": "3"},
        token=form_token(client, f"{DOCS}/intro/edit"),
    )
    assert response.status_code == 303 and response.headers["location"] == f"{DOCS}/introduction"
    assert client.get(f"{DOCS}/intro", headers=HTML).status_code == 404
    assert "Second." in page(client, f"{DOCS}/introduction")

    bad = post(client, f"{DOCS}/introduction/edit", {"title": "", "slug": "introduction", "body": "x"})
    assert bad.status_code == 422 and 'id="guide-title-error"' in bad.text
    clash = post(client, f"{DOCS}/introduction/edit", {"title": "T", "slug": "runbook", "body": "x"})
    assert clash.status_code == 409

    response = post(client, f"{DOCS}/introduction/delete")
    assert response.status_code == 303 and response.headers["location"] == DOCS
    assert client.get(f"{DOCS}/introduction", headers=HTML).status_code == 404
    assert [g.slug for g in guides(shop)] == ["runbook"]


def test_imported_guides_are_read_only_in_the_pages(shop, client) -> None:
    html = page(client, f"{DOCS}/runbook")
    assert f"{DOCS}/runbook/edit" not in html
    assert "Read from file runbook.md in the docs-as-code folder (backstage.io/techdocs-ref: dir:./docs)" in html
    assert client.get(f"{DOCS}/runbook/edit", headers=HTML).status_code == 409
    assert post(client, f"{DOCS}/runbook/edit", {"title": "x", "slug": "runbook", "body": "y"}).status_code == 409
    assert post(client, f"{DOCS}/runbook/delete").status_code == 409
    assert [g.source for g in guides(shop)] == ["techdocs"]


# --- JSON API -----------------------------------------------------------------------------------


def test_guides_crud_through_the_api(shop, client) -> None:
    response = client.put(f"{API}/errors", json={"title": "Errors", "body": "## Codes\n\n`E42`", "position": 2})
    assert response.status_code == 201
    assert response.headers["location"] == f"{API}/errors"
    created = response.json()
    assert created["slug"] == "errors" and created["source"] == "portal" and created["editable"] is True
    assert created["url"] == f"{DOCS}/errors"
    assert '<h2 id="codes">Codes</h2>' in created["html"] and created["body"] == "## Codes\n\n`E42`"

    response = client.put(f"{API}/errors", json={"title": "Error codes", "body": "Changed."})
    assert response.status_code == 200
    assert (response.json()["title"], response.json()["position"]) == ("Error codes", 0)

    listed = client.get(API).json()
    assert [(g["slug"], g["source"], g["editable"]) for g in listed["items"]] == [
        ("errors", "portal", True),
        ("runbook", "techdocs", False),
    ]
    assert listed["meta"] == {"page": 1, "size": 25, "total": 2, "pages": 1}
    assert [g["slug"] for g in client.get(API, params={"size": 1, "page": 2}).json()["items"]] == ["runbook"]

    detail = client.get(f"{API}/runbook").json()
    assert detail["source_path"] == "runbook.md" and "Restart one pod" in detail["html"]

    assert client.delete(f"{API}/errors").status_code == 204
    missing = client.get(f"{API}/errors")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("application/problem+json")
    assert client.delete(f"{API}/errors").status_code == 404


def test_api_errors_are_problems(shop, client) -> None:
    response = client.put(f"{API}/Bad%20Slug", json={"title": "", "body": ""})
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and response.headers["content-type"].startswith("application/problem+json")
    assert {e["pointer"] for e in problem["errors"]} == {"/slug", "/title", "/body"}

    assert client.put(f"{API}/ok", json={"title": "T"}).status_code == 422  # no body at all
    assert client.put(f"{API}/ok", json={"title": "T", "body": "b", "position": "x"}).status_code == 422
    assert client.put(f"{API}/nested/slug", json={"title": "T", "body": "b"}).status_code == 422

    conflict = client.put(f"{API}/runbook", json={"title": "Mine now", "body": "b"})
    assert conflict.status_code == 409 and conflict.json()["source"] == "techdocs"
    assert client.delete(f"{API}/runbook").status_code == 409
    assert (
        client.put("/api/v1/docs/default/component/nope/guides/x", json={"title": "T", "body": "b"}).status_code == 404
    )


# --- Access -------------------------------------------------------------------------------------

PRIVATE = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: vault
  annotations:
    devhub.io/visibility: private
spec:
  type: service
  lifecycle: production
  owner: team-vault
"""


def test_who_may_read_and_write_guides(shop, settings, tmp_path, client) -> None:
    path = write_catalog(tmp_path / "vault", PRIVATE)
    with shop.session() as session:
        catalog.register_location(session, settings, str(path), "file", trusted=True)
        service.save_guide(session, "component:default/vault", "keys", "Keys", "Rotate them.", 0, None)
    assert create(client, slug="intro").status_code == 303  # the admin writes

    anonymous = TestClient(client.app)
    assert anonymous.get(f"{DOCS}/intro", headers=HTML).status_code == 200  # a public entity: anyone reads
    assert f"{DOCS}/new" not in anonymous.get(DOCS, headers=HTML).text
    assert f"{DOCS}/intro/edit" not in anonymous.get(f"{DOCS}/intro", headers=HTML).text
    assert anonymous.get(f"{DOCS}/new", headers=HTML).status_code == 401
    assert anonymous.put(f"{API}/intro", json={"title": "T", "body": "B"}).status_code == 401
    assert anonymous.delete(f"{API}/intro").status_code == 401
    # a private entity is not there for those who may not see it, guides and all
    for url in ("/docs/default/component/vault", "/docs/default/component/vault/keys"):
        assert anonymous.get(url, headers=HTML).status_code == 404
    assert anonymous.get("/api/v1/docs/default/component/vault/guides").status_code == 404

    rw = ("read", "write")
    stranger = bearer(shop, settings, make_account(shop, settings, "stranger@example.com"), scopes=rw)
    assert anonymous.put(f"{API}/intro", json={"title": "T", "body": "B"}, headers=stranger).status_code == 403
    assert anonymous.delete(f"{API}/intro", headers=stranger).status_code == 403
    shopper = make_account(shop, settings, "shopper@example.com", teams={"group:default/team-shop": "member"})
    owner = bearer(shop, settings, shopper, scopes=rw)
    response = anonymous.put(f"{API}/intro", json={"title": "By the team", "body": "B"}, headers=owner)
    assert response.status_code == 200 and response.json()["updated_by"] == "shopper@example.com"
    assert anonymous.delete(f"{API}/intro", headers=owner).status_code == 204
    assert client.get("/api/v1/docs/default/component/vault/guides/keys").status_code == 200  # admins see all
    assert anonymous.delete(f"{API}/runbook", headers=owner).status_code == 409
    html = anonymous.get("/docs/default/component/vault", headers={**HTML, **owner}).text
    assert "Write a guide" not in html  # the vault team's entity: an outsider with a token cannot even see it


def test_the_empty_state_tells_readers_who_writes_guides(db, settings, tmp_path, client) -> None:
    path = write_catalog(tmp_path / "bare", CATALOG.replace("    backstage.io/techdocs-ref: dir:./docs\n", ""))
    with db.session() as session:
        catalog.register_location(session, settings, str(path), "file", trusted=True)
    html = TestClient(client.app).get(DOCS, headers=HTML).text
    assert "Its owner team writes the guides here" in html and f"{DOCS}/new" not in html
    assert 'href="/login?next=/docs/default/component/shop"' in html or "/login?next=%2Fdocs" in html


# --- Safe rendering -----------------------------------------------------------------------------

HOSTILE = """\
# Hostile

<script>alert(1)</script>

<img src=x onerror=alert(1)>

<a href="javascript:alert(1)">raw link</a>

[js link](javascript:alert(1)) [data link](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)
[vb](vbscript:msgbox(1)) [ok](https://example.com/ok)

![pixel](data:image/png;base64,iVBORw0KGgo=) ![remote](https://example.com/a.png)

<svg onload=alert(1)><iframe src="javascript:alert(1)"></iframe>

[ref link][r]

[r]: javascript:alert(2)
"""


def test_hostile_markdown_renders_inert(shop, client) -> None:
    assert create(client, slug="hostile", title="Hostile", body=HOSTILE).status_code == 303
    html = page(client, f"{DOCS}/hostile")
    parsed = Parsed(html)
    tags = {tag for tag, _ in parsed.prose}
    assert not tags & {"script", "iframe", "svg", "object", "embed", "style"}
    for tag, attributes in parsed.prose:
        for name, value in attributes.items():
            assert not name.startswith("on"), (tag, name)
            if name in ("href", "src"):
                assert not (value or "").strip().lower().startswith(("javascript:", "data:", "vbscript:")), (tag, value)
    assert "https://example.com/ok" in parsed.links()
    assert "img" not in tags  # images are not served: their alt text shows
    assert "pixel" in parsed.text() and "remote" in parsed.text()
    assert "<script>alert(1)</script>" in parsed.text()  # raw HTML is shown as text, not run
    assert all((a.get("rel") or "").startswith("noopener") for tag, a in parsed.prose if tag == "a")

    detail = Parsed('<div class="prose">' + client.get(f"{API}/hostile").json()["html"] + "</div>")
    assert detail.prose == parsed.prose  # the API's HTML is the page's


def test_a_hostile_title_is_escaped(shop, client) -> None:
    create(client, slug="t", title='<img src=x onerror="alert(1)">', body="Body.")
    html = page(client, f"{DOCS}/t")
    assert '<img src=x onerror="alert(1)">' not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html


# --- Service ------------------------------------------------------------------------------------


def test_slugify_and_validation() -> None:
    assert service.slugify("Getting Started!") == "getting-started"
    assert service.slugify("Ünïcödé — errors & retries") == "unicode-errors-retries"
    assert service.validate_guide("ok-slug", "Title", "Body", 0) == {}
    assert set(service.validate_guide("", "", "", -1)) == {"slug", "title", "body", "position"}
    assert "reserved" in service.validate_guide("edit", "T", "B", 0)["slug"]
    assert set(service.validate_guide("a--b", "T", "B\x00", True)) == {"slug", "body", "position"}


def test_save_guide_needs_the_entity_in_the_catalog(db) -> None:
    from devhub.problems import NotFound

    with db.session() as session, pytest.raises(NotFound):
        service.save_guide(session, "component:default/ghost", "intro", "Intro", "Body", 0, None)


def test_heading_anchors_are_unique_and_level_one_headings_are_demoted(shop) -> None:
    guide = Guide(
        entity_ref=REF, slug="g", title="Guide", body="# Other\n\n## A b\n\n## A b\n\n### Ça va?\n", source="portal"
    )
    rendered = service.render_guide(guide, [])
    assert '<h2 id="other">Other</h2>' in rendered.html
    assert '<h2 id="a-b">A b</h2>' in rendered.html and '<h2 id="a-b_1">A b</h2>' in rendered.html
    assert [(e.level, e.anchor) for e in rendered.toc] == [(2, "other"), (2, "a-b"), (2, "a-b_1"), (3, "ca-va")]
