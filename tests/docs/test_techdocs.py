"""Docs-as-code folders (`backstage.io/techdocs-ref: dir:...`) and docs folders next to a definition become
guides: slugs, titles, order from the mkdocs nav, links between pages, refresh and removal.

Each test writes its catalog tree to tmp_path and imports it like any location. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import textwrap
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from devhub.catalog import service as catalog
from devhub.docs import service
from devhub.pagination import PageRequest
from devhub.search import service as search
from devhub.search.models import SearchDocument

HTML = {"accept": "text/html"}
REF = "component:default/payments"
DOCS = "/docs/default/component/payments"


def entity_yaml(name: str = "payments", techdocs: str | None = "dir:./docs") -> str:
    """A public component (anyone reads its guides), with or without a docs-as-code folder."""
    annotations = "  annotations:\n    devhub.io/visibility: public\n"
    if techdocs:
        annotations += f"    backstage.io/techdocs-ref: {techdocs}\n"
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n{annotations}"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-payments\n"
    )


MKDOCS = """\
site_name: Payments
nav:
  - Home: index.md
  - Guides:
      - guides/errors.md
      - Sign in: guides/auth.md
  - External: https://example.com/status
markdown_extensions:
  - pymdownx.emoji:
      emoji_index: !!python/name:material.extensions.emoji.twemoji
extra:
  analytics: !ENV GOOGLE_ANALYTICS_KEY
"""

PAGES = {
    "index.md": """\
        # Payments

        Start with [authentication](guides/auth.md#tokens), then [errors](./guides/errors.md).
        Also [the guides folder](guides/) and [external](https://example.com/x) and [top](#payments).

        ![Architecture diagram](img/arch.png)
        """,
    "guides/auth.md": """\
        # Authentication

        ## Tokens

        Back [home](../index.md), on to [errors](errors.md#codes), a [file](../files/spec.pdf),
        [outside](../../secrets.md) and [absolute](/catalog).
        """,
    "guides/errors.md": """\
        Errors
        ======

        ## Codes
        """,
    "guides/index.md": "# About the guides\n",
    "zz-extra.md": "No heading here.\n",
}


def write_tree(root: Path, pages: dict[str, str] | None = None, mkdocs: str | None = MKDOCS, **entity) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "catalog-info.yaml").write_text(entity_yaml(**entity))
    docs = root / "docs"
    for path, text in (PAGES if pages is None else pages).items():
        (docs / path).parent.mkdir(parents=True, exist_ok=True)
        (docs / path).write_text(textwrap.dedent(text))
    if mkdocs is not None:
        docs.mkdir(parents=True, exist_ok=True)
        (docs / "mkdocs.yml").write_text(mkdocs)
    return root / "catalog-info.yaml"


def import_tree(db, settings, path: Path):
    with db.session() as session:
        location, _ = catalog.register_location(session, settings, str(path), "file", trusted=True)
        return location.id


def refresh(db, settings, location_id: int) -> None:
    with db.session() as session:
        catalog.refresh_location(session, settings, catalog.get_location(session, location_id), trusted=True)


def guides(db, ref: str = REF) -> list[tuple[str, str, int, str, str | None]]:
    with db.session() as session:
        return [(g.slug, g.title, g.position, g.source, g.source_path) for g in service.list_guides(session, ref)]


def slugs(db, ref: str = REF) -> list[str]:
    return [slug for slug, *_ in guides(db, ref)]


class Links(HTMLParser):
    """The hrefs in the guide navigation (`nav.guide-nav`) and in the rendered page (`article.prose`)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.nav: list[str] = []
        self.prose: list[str] = []
        self.images = 0
        self._stack: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag in ("nav", "article"):
            self._stack.append("nav" if "guide-nav" in classes else "prose" if "prose" in classes else "other")
        where = self._stack[-1] if self._stack else None
        if tag == "a" and where in ("nav", "prose"):
            (self.nav if where == "nav" else self.prose).append(attributes.get("href") or "")
        if tag == "img" and where == "prose":
            self.images += 1

    def handle_endtag(self, tag):
        if tag in ("nav", "article") and self._stack:
            self._stack.pop()


@pytest.fixture
def imported(db, settings, tmp_path):
    return import_tree(db, settings, write_tree(tmp_path / "repo"))


# --- Import -------------------------------------------------------------------------------------


def test_pages_follow_the_mkdocs_nav_with_titles_from_nav_or_heading(db, imported) -> None:
    assert guides(db) == [
        ("index", "Home", 0, "techdocs", "index.md"),
        ("guides/errors", "Errors", 1, "techdocs", "guides/errors.md"),  # setext heading
        ("guides/auth", "Sign in", 2, "techdocs", "guides/auth.md"),  # nav title wins
        # not in the nav: after it, alphabetical (files of a folder before its sub-folders, index first)
        ("zz-extra", "Zz extra", 3, "techdocs", "zz-extra.md"),  # no heading: from the file name
        ("guides/index", "About the guides", 4, "techdocs", "guides/index.md"),
    ]


def test_the_page_navigation_follows_the_nav_order(db, imported, client) -> None:
    html = client.get(f"{DOCS}/guides/auth", headers=HTML).text
    nav = [href for href in Links(html).nav if href.startswith(DOCS + "/")]
    assert nav == [
        f"{DOCS}/index",
        f"{DOCS}/guides/errors",
        f"{DOCS}/guides/auth",
        f"{DOCS}/guides/index",  # shown in its folder's section
        f"{DOCS}/zz-extra",
    ]
    assert f'<a href="{DOCS}/guides/auth" aria-current="page">Sign in</a>' in html
    assert '<span class="nav-section">Guides</span>' in html
    assert re.search(rf'rel="prev" href="{DOCS}/guides/errors"', html)
    assert re.search(rf'rel="next" href="{DOCS}/guides/index"', html)  # reading order follows the navigation
    assert "Read from file guides/auth.md in the docs-as-code folder" in html


def test_relative_links_between_pages_are_rewritten_and_images_show_their_alt_text(db, imported, client) -> None:
    index = Links(client.get(f"{DOCS}/index", headers=HTML).text)
    assert index.prose == [
        f"{DOCS}/guides/auth#tokens",
        f"{DOCS}/guides/errors",
        f"{DOCS}/guides/index",  # a folder link goes to its index page
        "https://example.com/x",
        "#payments",
    ]
    assert index.images == 0
    assert "Architecture diagram" in client.get(f"{DOCS}/index", headers=HTML).text

    auth_html = client.get(f"{DOCS}/guides/auth", headers=HTML).text
    auth = Links(auth_html)
    # a file the portal cannot serve and a path leaving the folder lose their link, keeping their text
    assert auth.prose == [f"{DOCS}/index", f"{DOCS}/guides/errors#codes", "/catalog"]
    assert ">file<" not in auth_html and "file" in auth_html and "outside" in auth_html
    assert '<h2 id="tokens">Tokens</h2>' in auth_html
    assert '<h2 id="codes">Codes</h2>' in client.get(f"{DOCS}/guides/errors", headers=HTML).text


def test_imported_guides_are_searchable(db, imported) -> None:
    with db.session() as session:
        hits = search.search(session, "tokens", page=PageRequest(1, 10)).hits
    assert [(h.doc_type, h.name, h.url) for h in hits] == [("guide", "guides/auth", f"{DOCS}/guides/auth")]


def test_refresh_after_deleting_a_page_removes_it(db, settings, tmp_path) -> None:
    path = write_tree(tmp_path / "repo")
    location_id = import_tree(db, settings, path)
    (path.parent / "docs" / "guides" / "errors.md").unlink()
    (path.parent / "docs" / "guides" / "auth.md").write_text("# Authentication\n\nNow with passkeys.\n")
    refresh(db, settings, location_id)
    assert slugs(db) == ["index", "guides/auth", "zz-extra", "guides/index"]
    with db.session() as session:
        assert search.search(session, "codes", page=PageRequest(1, 10)).hits == []
        assert [h.name for h in search.search(session, "passkeys", page=PageRequest(1, 10)).hits] == ["guides/auth"]
        left = session.scalars(select(SearchDocument.name).where(SearchDocument.doc_type == "guide")).all()
    assert sorted(left) == ["guides/auth", "guides/index", "index", "zz-extra"]


def test_removing_the_annotation_removes_the_techdocs_guides_but_not_portal_ones(db, settings, tmp_path) -> None:
    path = write_tree(tmp_path / "repo")
    location_id = import_tree(db, settings, path)
    with db.session() as session:
        service.save_guide(session, REF, "faq", "FAQ", "Questions.", 9, None)
    path.write_text(entity_yaml(techdocs=None))
    refresh(db, settings, location_id)
    assert guides(db) == [("faq", "FAQ", 9, "portal", None)]


def test_an_entity_leaving_the_catalog_takes_its_techdocs_guides_with_it(db, settings, tmp_path) -> None:
    path = write_tree(tmp_path / "repo")
    location_id = import_tree(db, settings, path)
    path.write_text(entity_yaml(name="billing"))  # payments is gone, billing comes with the same folder
    refresh(db, settings, location_id)
    assert slugs(db) == []
    assert slugs(db, "component:default/billing")[:2] == ["index", "guides/errors"]
    with db.session() as session:
        refs = set(session.scalars(select(SearchDocument.ref).where(SearchDocument.doc_type == "guide")))
    assert refs == {"component:default/billing"}


def test_unchanged_files_are_not_rewritten_on_refresh(db, settings, tmp_path) -> None:
    path = write_tree(tmp_path / "repo")
    location_id = import_tree(db, settings, path)
    with db.session() as session:
        before = {g.slug: (g.id, g.updated_at) for g in service.list_guides(session, REF)}
    refresh(db, settings, location_id)
    with db.session() as session:
        after = {g.slug: (g.id, g.updated_at) for g in service.list_guides(session, REF)}
    assert after == before


def test_without_mkdocs_pages_are_alphabetical_with_index_first(db, settings, tmp_path) -> None:
    pages = {
        "b.md": "# Bee\n",
        "index.md": "Welcome.\n",
        "a/z.md": "# Zed\n",
        "a/index.md": "# A\n",
        "A_Big File.md": "",
    }
    import_tree(db, settings, write_tree(tmp_path / "repo", pages, mkdocs=None))
    assert [(slug, title) for slug, title, *_ in guides(db)] == [
        ("index", "Home"),
        ("a-big-file", "A Big File"),
        ("b", "Bee"),
        ("a/index", "A"),
        ("a/z", "Zed"),
    ]


def test_a_broken_mkdocs_file_falls_back_to_alphabetical_order(db, settings, tmp_path) -> None:
    pages = {"b.md": "# B\n", "a.md": "# A\n"}
    import_tree(db, settings, write_tree(tmp_path / "repo", pages, mkdocs="nav: [unclosed\n  - {{{\n"))
    assert slugs(db) == ["a", "b"]


def test_an_alias_bomb_in_mkdocs_is_refused(db, settings, tmp_path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    import_tree(db, settings, write_tree(tmp_path / "repo", {"b.md": "# B\n", "a.md": "# A\n"}, mkdocs=bomb))
    assert slugs(db) == ["a", "b"]


def test_mkdocs_at_the_root_with_a_docs_dir(db, settings, tmp_path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "catalog-info.yaml").write_text(entity_yaml(techdocs="dir:."))
    (root / "mkdocs.yml").write_text("site_name: x\nnav:\n  - Errors: errors.md\n  - Home: index.md\n")
    (root / "README.md").write_text("# Not a page\n")
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# Home\n\nSee [errors](errors.md).\n")
    (root / "docs" / "errors.md").write_text("# Errors\n")
    import_tree(db, settings, root / "catalog-info.yaml")
    assert guides(db) == [
        ("errors", "Errors", 0, "techdocs", "docs/errors.md"),
        ("index", "Home", 1, "techdocs", "docs/index.md"),
    ]


def test_slugs_clashing_with_portal_guides_or_routes_are_suffixed(db, settings, tmp_path) -> None:
    pages = {"index.md": "# Home\n\n[Edit](edit.md)\n", "edit.md": "# Edit\n"}
    path = write_tree(tmp_path / "repo", pages, techdocs=None)
    location_id = import_tree(db, settings, path)
    with db.session() as session:  # written in the portal before the docs folder was named
        service.save_guide(session, REF, "index", "Our own index", "Mine.", 0, None)
    path.write_text(entity_yaml())
    refresh(db, settings, location_id)
    assert sorted((slug, source) for slug, _, _, source, _ in guides(db)) == [
        ("edit-page", "techdocs"),
        ("index", "portal"),
        ("index-2", "techdocs"),
    ]
    with db.session() as session:
        imported = service.get_guide(session, REF, "index-2")
        html = service.render_guide(imported, service.list_guides(session, REF)).html
    assert f'href="{DOCS}/edit-page"' in html


def test_page_built_from_files_handles_odd_paths() -> None:
    pages = service.build_pages(
        {
            "../escape.md": "# No\n",
            "/abs.md": "# No\n",
            "ok.md": "# Ok\n",
            "notes.txt": "ignored",
            "Sub Dir/New.md": "# New\n",
            "new.md": "# A page called new\n",
            "sub/delete.md": "# Delete\n",
        }
    )
    assert [(p.slug, p.path) for p in pages] == [
        ("new-page", "new.md"),  # would read as the form's route
        ("ok", "ok.md"),
        ("sub/delete-page", "sub/delete.md"),
        ("sub-dir/new", "Sub Dir/New.md"),
    ]
    assert service.build_pages({}) == []


# --- Docs folder next to a definition -----------------------------------------------------------


def test_import_folder_guides_replaces_the_folder_guides(db, settings, tmp_path, client, admin_headers) -> None:
    import_tree(db, settings, write_tree(tmp_path / "repo", {}, mkdocs=None))
    files = {
        "docs/mkdocs.yml": "nav:\n  - Start: getting-started.md\n  - errors.md\n",
        "docs/errors.md": "# Errors\n\nBack to the [start](getting-started.md).\n",
        "docs/getting-started.md": "# Getting started\n\nCall the sandbox.\n",
        "docs/logo.png": "not text really",
    }
    with db.session() as session:
        written = service.import_folder_guides(session, REF, files)
        assert [g.slug for g in written] == ["getting-started", "errors"]
    assert guides(db) == [
        ("getting-started", "Start", 0, "folder", "getting-started.md"),  # paths inside the docs folder
        ("errors", "Errors", 1, "folder", "errors.md"),
    ]
    html = client.get(f"{DOCS}/errors", headers=HTML).text
    assert f'href="{DOCS}/getting-started"' in html
    assert "docs folder next to the API definition" in html
    response = client.put(
        "/api/v1/docs/default/component/payments/guides/errors", json={"title": "x", "body": "y"}, headers=admin_headers
    )
    assert response.status_code == 409
    with db.session() as session:
        assert [h.name for h in search.search(session, "sandbox", page=PageRequest(1, 10)).hits] == ["getting-started"]

    with db.session() as session:
        service.import_folder_guides(session, REF, {"errors.md": "# Errors v2\n"})
    assert [(slug, title) for slug, title, *_ in guides(db)] == [("errors", "Errors v2")]
    with db.session() as session:
        service.import_folder_guides(session, REF, {})
        assert search.search(session, "errors", kinds=["guide"], page=PageRequest(1, 10)).hits == []
    assert guides(db) == []


def test_folder_guides_of_an_entity_not_in_the_catalog_wait_for_it(db) -> None:
    with db.session() as session:
        service.import_folder_guides(session, "api:default/later-api", {"index.md": "# Later\n\nPatience.\n"})
        assert search.search(session, "patience", page=PageRequest(1, 10)).hits == []
    assert slugs(db, "api:default/later-api") == ["index"]


# --- mkdocs configuration -----------------------------------------------------------------------


def test_nav_entries_and_config_loading() -> None:
    config = service.load_mkdocs_config(MKDOCS)
    assert config["site_name"] == "Payments"
    assert service.nav_entries(config) == [
        ("index.md", "Home"),
        ("guides/errors.md", None),
        ("guides/auth.md", "Sign in"),
    ]
    assert service.load_mkdocs_config("- just\n- a list\n") == {}
    assert service.load_mkdocs_config(": : :\n\t") == {}
    assert service.nav_entries({"nav": "index.md"}) == []
    assert service.nav_entries({"nav": [{"A": [{"B": [{"C": "deep/page.md"}]}]}, 42, None]}) == [("deep/page.md", "C")]
