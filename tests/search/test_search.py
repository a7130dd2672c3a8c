"""Search: part-of-word matching, ranking, filters, facets, pagination and the JSON route.

Every test runs on SQLite and on PostgreSQL. The PostgreSQL server is `DEVHUB_TEST_POSTGRES_URL`
(default `postgresql+psycopg://postgres@127.0.0.1:5432/test`); each run makes its own database and
drops it afterwards. Without a server the PostgreSQL half is skipped, or fails when `CI=true`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from devhub.catalog.models import Entity, EntityTag
from devhub.db import Database
from devhub.identity.deps import get_principal
from devhub.identity.policy import OPERATOR
from devhub.pagination import PageRequest
from devhub.search import api as search_api
from devhub.search.models import SearchDocument
from devhub.search.service import (
    document_for_entity,
    entity_url,
    index_entities,
    make_snippet,
    query_terms,
    remove_entities,
    search,
)
from devhub.settings import Settings

POSTGRES_URL = os.environ.get("DEVHUB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PAGE = PageRequest(page=1, size=50)


@dataclass
class Seed:
    name: str
    kind: str = "Component"
    owner: str | None = "group:default/team-payments"
    tags: list[str] = field(default_factory=list)
    title: str | None = None
    description: str | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)


SEEDS = [
    Seed("payments", tags=["java", "payments"], title="Payments", description="Takes the money."),
    Seed("payments-api", kind="API", tags=["java", "rest"], description="The public payments API."),
    Seed("payments-db", kind="Resource", tags=["postgres"], description="Where payments are kept."),
    Seed(
        "old-payments-service",
        owner="group:default/team-legacy",
        tags=["java", "deprecated"],
        description="Being replaced.",
    ),
    Seed("gl-service", owner="group:default/team-finance", tags=["go"], title="Payments General Ledger"),
    Seed(
        "checkout",
        owner="group:default/team-shop",
        tags=["python"],
        description="Calls the payments API to charge cards.",
        annotations={"github.com/project-slug": "acme/checkout"},
        labels={"tier": "gold"},
    ),
    Seed("user-auth", owner="group:default/team-identity", tags=["python", "security"], description="Logs in."),
    Seed("rate_limiter", owner=None, tags=["go"], description="Keeps 100% of abusers out."),
    Seed("ratexlimiter", owner=None, tags=["go"], description="Counts 1000 requests a second."),
    Seed("quota-service", owner=None, description='Says "no" when over quota; see C:\\quota\\rules.'),
    Seed("geo-lookup", owner=None, title="Straßen in Zürich", description="Ünïcödé ÉTÉ addresses."),
]


# --- Databases ----------------------------------------------------------------------------------


def _postgres_database() -> Iterator[str]:
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = f"devhub_test_search_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as error:
        admin.dispose()
        reason = f"PostgreSQL at {make_url(POSTGRES_URL).render_as_string()} is unreachable: {error.orig}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db(request, tmp_path_factory) -> Iterator[Database]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path_factory.mktemp('search') / 'devhub.sqlite3'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    database = Database(url)
    try:
        database.upgrade()
        with database.session() as session:
            entities = [make_entity(seed) for seed in SEEDS]
            session.add_all(entities)
            session.flush()
            index_entities(session, entities)
        yield database
    finally:
        database.dispose()
        next(urls, None)  # drops the PostgreSQL database


def make_entity(seed: Seed) -> Entity:
    metadata: dict = {"name": seed.name, "tags": seed.tags}
    if seed.annotations:
        metadata["annotations"] = seed.annotations
    if seed.labels:
        metadata["labels"] = seed.labels
    entity = Entity(
        ref=f"{seed.kind.lower()}:default/{seed.name}",
        kind=seed.kind,
        namespace="default",
        name=seed.name,
        api_version="backstage.io/v1alpha1",
        title=seed.title,
        sort_key=(seed.title or seed.name).lower(),
        description=seed.description,
        owner_ref=seed.owner,
        body={"apiVersion": "backstage.io/v1alpha1", "kind": seed.kind, "metadata": metadata},
        content_hash="x",
    )
    entity.tags = [EntityTag(tag=tag) for tag in seed.tags]
    return entity


def names(db: Database, query: str, **kwargs) -> list[str]:
    with db.session() as session:
        return [hit.name for hit in search(session, query, page=kwargs.pop("page", PAGE), **kwargs).hits]


def expected(query: str) -> set[str]:
    """What a plain substring search over the seeds' documents finds: the oracle."""
    terms = query_terms(query)
    found = set()
    for seed in SEEDS:
        haystack = document_for_entity(make_entity(seed))["haystack"]
        if terms and all(term in haystack for term in terms):
            found.add(seed.name)
    return found


# --- Documents ----------------------------------------------------------------------------------


def test_document_for_entity() -> None:
    entity = make_entity(SEEDS[5])
    entity.id = 7
    document = document_for_entity(entity)
    assert document["doc_type"] == "entity"
    assert document["entity_id"] == 7
    assert document["kind"] == "component"
    assert document["url"] == entity_url(entity) == "/catalog/default/component/checkout"
    assert document["tags"] == "python"
    assert document["text"] == "Calls the payments API to charge cards."  # what a hit shows
    assert document["title"] == ""
    assert document["haystack"] == document["haystack"].lower()
    assert document["haystack"].startswith("checkout python calls the payments api")
    assert "acme/checkout" in document["haystack"] and "gold" in document["haystack"]  # annotation, label values
    assert "project-slug" not in document["haystack"]  # keys are on every entity: not searchable


def test_document_tolerates_a_sparse_body() -> None:
    entity = Entity(
        id=1,
        ref="component:default/bare",
        kind="Component",
        namespace="default",
        name="Bare",
        sort_key="bare",
        api_version="v1",
        body={"metadata": {"tags": "not-a-list", "annotations": None}},
        content_hash="x",
    )
    document = document_for_entity(entity)
    assert document["haystack"] == "bare"
    assert document["tags"] == document["text"] == ""


def test_query_terms() -> None:
    assert query_terms("  Payments   API payments ") == ["payments", "api"]
    assert query_terms("") == []
    assert len(query_terms(" ".join(f"t{i}" for i in range(20)))) == 8
    assert query_terms("x" * 100) == ["x" * 64]


def test_snippet() -> None:
    text = "word " * 60 + "the payments engine " + "more " * 60
    snippet = make_snippet(text, ["payments"])
    assert "payments" in snippet
    assert len(snippet) <= 160
    assert snippet.startswith("…") and snippet.endswith("…")
    assert make_snippet("short text", ["zzz"]) == "short text"
    assert make_snippet("a " * 200, ["zzz"]).startswith("a a")


# --- Matching -----------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["paym", "ments", "PAYMENTS-API", "payments-api", "ments-a"])
def test_part_of_word(db: Database, query: str) -> None:
    found = names(db, query)
    assert "payments-api" in found
    assert set(found) == expected(query)


def test_exact_name_ranks_first(db: Database) -> None:
    assert names(db, "payments") == [
        "payments",  # exact name
        "payments-db",  # name starts with the query, shorter first
        "payments-api",
        "old-payments-service",  # name contains it
        "gl-service",  # title contains it
        "checkout",  # description only
    ]
    assert names(db, "Payments-API")[0] == "payments-api"


def test_all_terms_must_match(db: Database) -> None:
    assert set(names(db, "payments java")) == {"payments", "payments-api", "old-payments-service"}
    assert set(names(db, "java payments")) == expected("java payments")
    assert names(db, "paym zzzz") == []
    assert names(db, "paym zz") == []  # a short term takes the LIKE path, still ANDed
    assert set(names(db, "pay db")) == {"payments-db"}


@pytest.mark.parametrize("query", ["db", "gl", "s", "100", "Go"])
def test_short_queries(db: Database, query: str) -> None:
    assert set(names(db, query)) == expected(query)
    assert expected(query)


def test_short_query_ranking(db: Database) -> None:
    assert names(db, "gl")[0] == "gl-service"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("e_l", {"rate_limiter"}),  # `_` is not a wildcard
        ("_", {"rate_limiter"}),
        ("100%", {"rate_limiter"}),  # `%` neither
        ("%", {"rate_limiter"}),
        ("%%", set()),
        ("c:\\quota", {"quota-service"}),
        ("\\", {"quota-service"}),
    ],
)
def test_like_wildcards_are_literal(db: Database, query: str, found: set[str]) -> None:
    assert set(names(db, query)) == found


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        '"""',
        '"no"',
        'pay"ments',
        "'",
        "a'b",
        "pay*",
        "***",
        "NOT",
        "AND OR",
        "(",
        "^pay",
        "col:pay",
        "\x00pay",
    ],
)
def test_odd_characters_do_not_error(db: Database, query: str) -> None:
    assert set(names(db, query)) == expected(query)


@pytest.mark.parametrize("query", ["zür", "ZÜRICH", "straß", "été", "ünï"])
def test_non_ascii(db: Database, query: str) -> None:
    assert names(db, query) == ["geo-lookup"]


def test_nul_in_filters_is_harmless(db: Database) -> None:
    assert names(db, "payments", kinds=["api\x00"], owners=["\x00"], tags=["\x00"]) == ["payments-api"]


def test_quoted_text_is_found(db: Database) -> None:
    assert names(db, '"no"') == ["quota-service"]


def test_empty_query(db: Database) -> None:
    with db.session() as session:
        results = search(session, "   ", page=PAGE)
    assert results.hits == [] and results.total == 0
    assert results.facets == {"kind": [], "owner": [], "tag": []}


def test_hit_fields(db: Database) -> None:
    with db.session() as session:
        hit = search(session, "checkout", page=PAGE).hits[0]
    assert hit.ref == "component:default/checkout"
    assert hit.kind == "component"
    assert hit.title == ""
    assert hit.owner_ref == "group:default/team-shop"
    assert hit.url == "/catalog/default/component/checkout"
    assert hit.doc_type == "entity"
    assert hit.tags == ["python"]
    assert hit.snippet.startswith("Calls the payments API")


# --- Filters and facets -------------------------------------------------------------------------


def test_facets(db: Database) -> None:
    with db.session() as session:
        results = search(session, "payments", page=PAGE)
    assert results.total == 6
    assert results.facets["kind"] == [("component", 4), ("api", 1), ("resource", 1)]
    assert results.facets["owner"] == [
        ("group:default/team-payments", 3),
        ("group:default/team-finance", 1),
        ("group:default/team-legacy", 1),
        ("group:default/team-shop", 1),
    ]
    assert results.facets["tag"] == [
        ("java", 3),
        ("deprecated", 1),
        ("go", 1),
        ("payments", 1),
        ("postgres", 1),
        ("python", 1),
        ("rest", 1),
    ]


def test_kind_filter(db: Database) -> None:
    with db.session() as session:
        results = search(session, "payments", kinds=["Resource"], page=PAGE)
    assert [hit.name for hit in results.hits] == ["payments-db"]
    assert results.total == 1
    # The kind facet ignores the kind filter, so the other kinds stay selectable.
    assert results.facets["kind"] == [("component", 4), ("api", 1), ("resource", 1)]
    assert results.facets["owner"] == [("group:default/team-payments", 1)]
    assert results.facets["tag"] == [("postgres", 1)]


def test_several_kinds_are_any_of(db: Database) -> None:
    assert set(names(db, "payments", kinds=["api", "resource"])) == {"payments-api", "payments-db"}


def test_owner_filter(db: Database) -> None:
    with db.session() as session:
        results = search(
            session, "payments", owners=["group:default/team-legacy", "group:default/team-shop"], page=PAGE
        )
    assert {hit.name for hit in results.hits} == {"old-payments-service", "checkout"}
    assert results.facets["kind"] == [("component", 2)]
    assert results.facets["owner"][0] == ("group:default/team-payments", 3)  # own filter not applied
    assert dict(results.facets["tag"]) == {"java": 1, "deprecated": 1, "python": 1}


def test_tag_filter_requires_every_tag(db: Database) -> None:
    assert set(names(db, "payments", tags=["java"])) == {"payments", "payments-api", "old-payments-service"}
    assert names(db, "payments", tags=["java", "deprecated"]) == ["old-payments-service"]
    assert names(db, "payments", tags=["java", "python"]) == []
    with db.session() as session:
        results = search(session, "payments", tags=["java"], page=PAGE)
    assert results.facets["tag"][0] == ("java", 3)
    assert results.facets["kind"] == [("component", 2), ("api", 1)]


def test_filters_combine(db: Database) -> None:
    found = names(db, "s", kinds=["component"], owners=["group:default/team-payments"], tags=["java"])
    assert found == ["payments"]


def test_blank_filter_values_are_ignored(db: Database) -> None:
    assert names(db, "payments", kinds=[""], owners=[" "], tags=[]) == names(db, "payments")


def test_tag_facet_is_capped_at_20(db: Database) -> None:
    with db.session() as session:
        entity = make_entity(Seed("tagged-zebra", tags=[f"t{i:02}" for i in range(30)]))
        session.add(entity)
        session.flush()
        index_entities(session, [entity])
        try:
            results = search(session, "zebra", page=PAGE)
            assert len(results.facets["tag"]) == 20
            assert results.facets["tag"][0] == ("t00", 1)
        finally:
            session.delete(entity)


# --- Pagination ---------------------------------------------------------------------------------


def test_pagination(db: Database) -> None:
    everything = names(db, "payments")
    pages = []
    with db.session() as session:
        for number in (1, 2, 3):
            results = search(session, "payments", page=PageRequest(page=number, size=2))
            assert results.total == 6
            assert results.page.pages == 3
            assert results.meta.total == 6
            pages += [hit.name for hit in results.hits]
        beyond = search(session, "payments", page=PageRequest(page=9, size=2))
    assert pages == everything
    assert beyond.hits == [] and beyond.total == 6


# --- Keeping the index in step ------------------------------------------------------------------


def _fts_is_consistent(db: Database) -> None:
    if db.is_sqlite:
        with db.session() as session:
            session.execute(text("INSERT INTO search_fts(search_fts, rank) VALUES ('integrity-check', 1)"))


def test_reindexing_replaces_the_document(db: Database) -> None:
    with db.session() as session:
        entity = make_entity(Seed("zebra-stripes", description="Black and white."))
        session.add(entity)
        session.flush()
        index_entities(session, [entity])
        index_entities(session, [entity, entity])
    assert names(db, "zebra") == ["zebra-stripes"]
    with db.session() as session:
        entity = session.get(Entity, entity.id)
        entity.description = "Now in colour."
        index_entities(session, [entity])
        count = session.scalar(
            select(func.count()).select_from(SearchDocument).where(SearchDocument.entity_id == entity.id)
        )
        assert count == 1
    assert names(db, "colour") == ["zebra-stripes"]
    assert names(db, "black") == []
    _fts_is_consistent(db)
    with db.session() as session:
        remove_entities(session, [entity.id])
    assert names(db, "zebra") == []
    _fts_is_consistent(db)
    with db.session() as session:
        session.delete(session.get(Entity, entity.id))


def test_deleting_an_entity_removes_it(db: Database) -> None:
    with db.session() as session:
        entity = make_entity(Seed("okapi-service", tags=["okapi-tag"]))
        session.add(entity)
        session.flush()
        index_entities(session, [entity])
    assert names(db, "okapi") == ["okapi-service"]
    with db.session() as session:
        session.delete(session.get(Entity, entity.id))
    assert names(db, "okapi") == []
    assert names(db, "oka") == []
    _fts_is_consistent(db)
    with db.session() as session:
        left = session.scalar(
            select(func.count()).select_from(SearchDocument).where(SearchDocument.ref.contains("okapi"))
        )
    assert left == 0


def test_indexing_many_entities(db: Database) -> None:
    with db.session() as session:
        entities = [make_entity(Seed(f"bulk-yak-{i:04}", tags=["yak"])) for i in range(1200)]
        session.add_all(entities)
        session.flush()
        index_entities(session, entities)
        index_entities(session, entities)
        try:
            results = search(session, "yak", page=PageRequest(page=1, size=10))
            assert results.total == 1200
            assert results.facets["tag"] == [("yak", 1200)]
            assert [hit.name for hit in results.hits][:2] == ["bulk-yak-0000", "bulk-yak-0001"]
        finally:
            for entity in entities:
                session.delete(entity)
    assert names(db, "yak") == []
    _fts_is_consistent(db)


# --- JSON API -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def client(db: Database, tmp_path_factory) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.db = db
    app.state.settings = Settings(data_dir=Path(tmp_path_factory.mktemp("data")))
    app.include_router(search_api.router)
    app.dependency_overrides[get_principal] = lambda: OPERATOR  # these tests are about search, not access
    try:
        from devhub.problems import install_handlers

        install_handlers(app)
    except ImportError:  # the web layer is not there yet: answer problems without it
        from devhub.problems import Problem, problem_response

        app.add_exception_handler(Problem, lambda request, exc: problem_response(exc))
    with TestClient(app) as test_client:
        yield test_client


def test_api_search(client: TestClient) -> None:
    response = client.get("/api/v1/search", params={"q": "paym", "size": 2})
    assert response.status_code == 200
    body = response.json()
    assert [item["name"] for item in body["items"]] == ["payments", "payments-db"]
    assert body["meta"] == {"page": 1, "size": 2, "total": 6, "pages": 3}
    assert body["items"][0] == {
        "ref": "component:default/payments",
        "kind": "component",
        "name": "payments",
        "title": "Payments",
        "owner_ref": "group:default/team-payments",
        "url": "/catalog/default/component/payments",
        "snippet": "Takes the money.",
        "doc_type": "entity",
        "tags": ["java", "payments"],
    }
    assert body["facets"]["kind"] == [
        {"value": "component", "count": 4},
        {"value": "api", "count": 1},
        {"value": "resource", "count": 1},
    ]


def test_api_repeated_filters(client: TestClient) -> None:
    response = client.get(
        "/api/v1/search", params=[("q", "payments"), ("kind", "api"), ("kind", "resource"), ("tag", "java")]
    )
    assert response.status_code == 200
    assert [item["name"] for item in response.json()["items"]] == ["payments-api"]
    response = client.get("/api/v1/search", params=[("q", "payments"), ("owner", "group:default/team-shop")])
    assert [item["name"] for item in response.json()["items"]] == ["checkout"]


def test_api_empty_query(client: TestClient) -> None:
    response = client.get("/api/v1/search")
    assert response.status_code == 200
    assert response.json() == {
        "items": [],
        "meta": {"page": 1, "size": 25, "total": 0, "pages": 1},
        "facets": {"kind": [], "owner": [], "tag": []},
    }


def test_api_rejects_long_queries(client: TestClient) -> None:
    assert client.get("/api/v1/search", params={"q": "x" * 200}).status_code == 200
    response = client.get("/api/v1/search", params={"q": "x" * 201})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 400


def test_api_page_bounds(client: TestClient) -> None:
    assert client.get("/api/v1/search", params={"q": "pay", "page": 0}).status_code == 422
    response = client.get("/api/v1/search", params={"q": "pay", "size": 1000})
    assert response.json()["meta"]["size"] == 100
