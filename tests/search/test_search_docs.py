"""Search over API operations and guides: what gets indexed, how hits look, filters and facets, and that
re-indexing entities leaves these documents alone. Runs on SQLite and on PostgreSQL (the `db` fixture).

Versions and operations are inserted directly: these tests do not depend on the publishing code.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from devhub.catalog.models import Entity, EntityTag
from devhub.db import utcnow
from devhub.docs import service as docs
from devhub.pagination import PageRequest
from devhub.search import service as search
from devhub.search.models import SearchDocument
from devhub.specs.models import SpecOperation, SpecVersion

PAGE = PageRequest(page=1, size=50)
API_REF = "api:default/payments-api"
OWNER = "group:default/payments-core"

BUNDLED = {
    "openapi": "3.0.3",
    "info": {"title": "Payments", "version": "2.0.0"},
    "paths": {
        "/payments/{paymentId}/refunds": {
            "post": {
                "operationId": "createRefund",
                "summary": "Refund a captured payment",
                "description": "Starts an **asynchronous** refund; the webhook `refund.succeeded` follows.",
            }
        },
        "/payments": {"get": {"operationId": "listPayments", "summary": "List payments"}},
        "/health": {"get": {"description": "Liveness probe for the load balancer."}},
    },
}
OPERATIONS = [
    # anchor, method, path, operation_id, summary, tags
    ("post-payments-paymentid-refunds", "post", "/payments/{paymentId}/refunds", "createRefund",
     "Refund a captured payment", ["Refunds", "Money movement"]),
    ("listPayments", "get", "/payments", "listPayments", "List payments", ["Payments"]),
    ("get-health", "get", "/health", None, None, []),
]  # fmt: skip


def make_entity(
    name: str, kind: str = "API", owner: str | None = OWNER, tags: list[str] | None = None, visibility: str = "public"
) -> Entity:
    tags = tags or []
    entity = Entity(
        ref=f"{kind.lower()}:default/{name}",
        kind=kind,
        namespace="default",
        name=name,
        api_version="backstage.io/v1alpha1",
        title=None,
        sort_key=name,
        description=f"The {name} entity.",
        owner_ref=owner,
        body={"apiVersion": "backstage.io/v1alpha1", "kind": kind, "metadata": {"name": name, "tags": tags}},
        content_hash="x",
        visibility=visibility,
    )
    entity.tags = [EntityTag(tag=tag) for tag in tags]
    return entity


def add_version(
    session,
    version: str,
    *,
    api_ref: str = API_REF,
    lifecycle: str = "stable",
    age_days: int = 0,
    operations=OPERATIONS,
    bundled=None,
) -> SpecVersion:
    row = SpecVersion(
        api_ref=api_ref,
        version=version,
        lifecycle=lifecycle,
        format="openapi",
        format_version="3.0.3",
        title="Payments",
        description=None,
        content_hash=f"hash-{api_ref}-{version}",
        source_kind="cli",
        source_name="openapi.yaml",
        original_text="openapi: 3.0.3",
        original_files=None,
        bundled=BUNDLED if bundled is None else bundled,
        operation_count=len(operations),
        publisher="tests",
        published_at=utcnow() - timedelta(days=age_days),
    )
    row.operations = [
        SpecOperation(anchor=a, method=m, path=p, operation_id=o, summary=s, tags=t, deprecated=False)
        for a, m, p, o, s, t in operations
    ]
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def api(db):
    """The payments API in the catalog, with version 2.0.0 published and indexed."""
    with db.session() as session:
        entity = make_entity("payments-api", tags=["rest"])
        session.add(entity)
        session.flush()
        search.index_entities(session, [entity])
        search.index_spec_version(session, add_version(session, "2.0.0"))
    return db


def run(db, query: str, **filters):
    with db.session() as session:
        return search.search(session, query, page=filters.pop("page", PAGE), **filters)


def operation_docs(db, ref: str = API_REF) -> list[SearchDocument]:
    with db.session() as session:
        query = select(SearchDocument).where(SearchDocument.doc_type == "operation", SearchDocument.ref == ref)
        return list(session.scalars(query.order_by(SearchDocument.name)))


# --- Operations ---------------------------------------------------------------------------------


def test_an_operation_is_found_by_operation_id_fragment_and_links_to_its_anchor(api) -> None:
    results = run(api, "createref")
    assert [(h.doc_type, h.kind, h.name) for h in results.hits] == [("operation", "operation", "createRefund")]
    hit = results.hits[0]
    assert hit.url == "/apis/default/payments-api/v/2.0.0/operations/post-payments-paymentid-refunds"
    assert hit.ref == API_REF
    assert hit.owner_ref == OWNER
    assert hit.title == "Refund a captured payment"
    assert (hit.method, hit.path) == ("POST", "/payments/{paymentId}/refunds")
    assert hit.tags == ["Refunds", "Money movement"]
    assert hit.snippet == "Starts an asynchronous refund; the webhook refund.succeeded follows."


def test_an_operation_is_found_by_path_fragment_summary_word_and_method(api) -> None:
    assert [h.name for h in run(api, "refunds", kinds=["operation"]).hits] == ["createRefund"]
    assert [h.name for h in run(api, "{paymentid}").hits] == ["createRefund"]
    assert [h.name for h in run(api, "captured").hits] == ["createRefund"]
    assert {h.name for h in run(api, "get", kinds=["operation"]).hits} == {"listPayments", "GET /health"}
    # without an operationId or summary, the name and the title are "METHOD /path"
    health = run(api, "liveness").hits[0]
    assert (health.name, health.title, health.method, health.path) == ("GET /health", "GET /health", "GET", "/health")


def test_the_kind_facet_counts_operations_and_the_owner_facet_their_api_owner(api) -> None:
    results = run(api, "payments")
    kinds = dict(results.facets["kind"])
    assert kinds == {"api": 1, "operation": 2}
    assert dict(results.facets["owner"]) == {OWNER: 3}
    assert [h.doc_type for h in run(api, "payments", kinds=["operation"]).hits] == ["operation", "operation"]


def test_the_tag_filter_and_facet_work_for_operations_and_entities(api) -> None:
    results = run(api, "payments")
    assert dict(results.facets["tag"]) == {"rest": 1, "Refunds": 1, "Money movement": 1, "Payments": 1}
    assert [h.name for h in run(api, "payments", tags=["Money movement"]).hits] == ["createRefund"]
    assert [h.name for h in run(api, "payments", tags=["Refunds", "Money movement"]).hits] == ["createRefund"]
    assert [h.name for h in run(api, "payments", tags=["rest"]).hits] == ["payments-api"]
    assert run(api, "payments", tags=["rest", "Refunds"]).hits == []
    assert run(api, "payments", tags=["money"]).hits == []  # whole tags only


def test_entity_tags_do_not_leak_onto_operations_and_operation_tags_do_not_leak_onto_entities(api) -> None:
    # the operations' entity_id is the API's: the entity tag join must not tag them
    assert {h.doc_type for h in run(api, "payments", tags=["rest"]).hits} == {"entity"}
    with api.session() as session:
        session.add(make_entity("refunds-service", kind="Component", tags=["payments"]))
        session.flush()
        search.index_entities(session, session.scalars(select(Entity).where(Entity.name == "refunds-service")).all())
    assert [h.name for h in run(api, "refund", tags=["Payments"]).hits] == []  # an op tag, not the entity's
    assert [h.name for h in run(api, "refund", tags=["payments"]).hits] == ["refunds-service"]


def test_only_the_latest_published_version_is_indexed(api) -> None:
    newer = [("get-payouts", "get", "/payouts", "listPayouts", "List payouts", [])]
    with api.session() as session:
        search.index_spec_version(session, add_version(session, "3.0.0-draft", lifecycle="draft", operations=newer))
    assert [d.name for d in operation_docs(api)] == ["GET /health", "createRefund", "listPayments"]
    assert run(api, "payouts").hits == []

    with api.session() as session:
        search.index_spec_version(session, add_version(session, "1.0.0", age_days=30, operations=newer))
    assert run(api, "payouts").hits == []  # older than 2.0.0

    with api.session() as session:
        search.index_spec_version(session, add_version(session, "3.0.0", operations=newer))
    assert [d.name for d in operation_docs(api)] == ["listPayouts"]
    assert run(api, "payouts").hits[0].url == "/apis/default/payments-api/v/3.0.0/operations/get-payouts"
    assert run(api, "createrefund").hits == []


def test_a_retired_or_draft_only_api_falls_back_to_its_newest_version(db) -> None:
    with db.session() as session:
        search.index_spec_version(session, add_version(session, "0.9", lifecycle="retired", age_days=3))
        search.index_spec_version(session, add_version(session, "1.0-draft", lifecycle="draft"))
    docs_ = operation_docs(db)
    assert {d.url.split("/v/")[1].split("/")[0] for d in docs_} == {"1.0-draft"}
    # no API entity in the catalog: no entity id, no owner; still found
    assert {(d.entity_id, d.owner_ref) for d in docs_} == {(None, None)}
    assert [h.name for h in run(db, "createrefund").hits] == ["createRefund"]


def test_version_and_anchor_are_escaped_in_the_url(db) -> None:
    with db.session() as session:
        ops = [("a b", "get", "/x", "weirdOp", None, [])]
        search.index_spec_version(session, add_version(session, "2024/01 beta", operations=ops))
    assert run(db, "weirdop").hits[0].url == "/apis/default/payments-api/v/2024%2F01%20beta/operations/a%20b"


def test_reindexing_an_entity_keeps_its_operation_and_guide_documents_and_refreshes_their_owner(api) -> None:
    with api.session() as session:
        docs.save_guide(session, API_REF, "authentication", "Authentication", "Send a bearer token.", 0, None)
    with api.session() as session:
        entity = session.scalar(select(Entity).where(Entity.ref == API_REF))
        entity.owner_ref = "group:default/new-owners"
        search.index_entities(session, [entity])
        search.index_entities(session, [entity])
    hits = run(api, "payments").hits + run(api, "bearer").hits
    assert {h.doc_type for h in hits} == {"entity", "operation", "guide"}
    assert {h.owner_ref for h in hits} == {"group:default/new-owners"}
    assert len(operation_docs(api)) == 3


def test_an_entity_deleted_and_created_again_gets_its_operations_and_guides_back(api) -> None:
    with api.session() as session:
        docs.save_guide(session, API_REF, "errors", "Errors", "Every error is a problem document.", 0, None)
    with api.session() as session:
        session.delete(session.scalar(select(Entity).where(Entity.ref == API_REF)))
    assert run(api, "createrefund").hits == []  # ON DELETE CASCADE
    assert run(api, "problem").hits == []  # guides of an entity not in the catalog are not searchable
    with api.session() as session:
        entity = make_entity("payments-api", owner="group:default/other")
        session.add(entity)
        session.flush()
        search.index_entities(session, [entity])
    assert [(h.name, h.owner_ref) for h in run(api, "createrefund").hits] == [("createRefund", "group:default/other")]
    assert [h.name for h in run(api, "problem").hits] == ["errors"]


def test_operation_documents_store_tags_as_json(api) -> None:
    stored = {d.name: d.tags for d in operation_docs(api)}
    assert json.loads(stored["createRefund"]) == ["Refunds", "Money movement"]
    assert json.loads(stored["GET /health"]) == []


def test_description_lookup_handles_asyncapi_and_odd_documents() -> None:
    operation = SpecOperation(anchor="a", method="subscribe", path="user/signedup", operation_id="onSignup", tags=[])
    asyncapi2 = {"channels": {"user/signedup": {"subscribe": {"description": "A user signed up."}}}}
    asyncapi3 = {"operations": {"onSignup": {"description": "Three."}}}
    assert search._operation_description(asyncapi2, operation) == "A user signed up."
    assert search._operation_description(asyncapi3, operation) == "Three."
    assert search._operation_description({"paths": []}, operation) == ""
    assert search._operation_description(None, operation) == ""


# --- Guides -------------------------------------------------------------------------------------


def test_a_guide_is_found_by_a_word_in_its_body_and_links_to_its_page(api) -> None:
    body = "# Getting started\n\nCreate a **sandbox** key, then call `GET /payments`.\n\n![diagram](arch.png)"
    with api.session() as session:
        docs.save_guide(session, API_REF, "getting-started", "Getting started", body, 0, "ada")
    hits = run(api, "sandbox").hits
    assert [(h.doc_type, h.kind, h.name, h.title) for h in hits] == [
        ("guide", "guide", "getting-started", "Getting started")
    ]
    assert hits[0].url == "/docs/default/api/payments-api/getting-started"
    assert hits[0].ref == API_REF and hits[0].owner_ref == OWNER
    assert "Create a sandbox key" in hits[0].snippet and "**" not in hits[0].snippet
    assert dict(run(api, "payments").facets["kind"]) == {"api": 1, "operation": 2, "guide": 1}
    assert [h.name for h in run(api, "sandbox", kinds=["guide"]).hits] == ["getting-started"]


def test_editing_and_deleting_a_guide_updates_the_index(api) -> None:
    with api.session() as session:
        docs.save_guide(session, API_REF, "limits", "Limits", "At most 100 requests per second.", 0, None)
    assert [h.name for h in run(api, "second").hits] == ["limits"]
    with api.session() as session:
        docs.save_guide(session, API_REF, "limits", "Rate limits", "At most 50 calls per minute.", 0, None)
    assert run(api, "second").hits == []
    assert [h.title for h in run(api, "minute").hits] == ["Rate limits"]
    with api.session() as session:
        docs.delete_guide(session, API_REF, "limits")
    assert run(api, "minute").hits == []


# --- Visibility ---------------------------------------------------------------------------------


def test_a_viewer_finds_only_operations_and_guides_of_entities_it_may_see(api) -> None:
    from devhub.identity.policy import ANONYMOUS, Principal

    secret_ref = "api:default/secret-api"
    with api.session() as session:
        entity = make_entity("secret-api", owner="group:default/vault-team", visibility="private")
        session.add(entity)
        session.flush()
        search.index_entities(session, [entity])
        ops = [("get-vault", "get", "/vault/refunds", "readVault", "Read the refund vault", ["Refunds"])]
        search.index_spec_version(session, add_version(session, "1.0", api_ref=secret_ref, operations=ops))
        docs.save_guide(session, secret_ref, "vault-refunds", "Vault refunds", "Refunds from the vault.", 0, None)
        orphan = [("get-orphan", "get", "/orphan/refunds", "orphanRefunds", None, [])]
        search.index_spec_version(session, add_version(session, "1.0", api_ref="api:default/gone", operations=orphan))

    everything = {h.name for h in run(api, "refunds").hits}
    assert {"readVault", "vault-refunds", "createRefund", "orphanRefunds"} <= everything  # no viewer: all
    anonymous = run(api, "refunds", viewer=ANONYMOUS)
    assert {h.name for h in anonymous.hits} == {"createRefund", "orphanRefunds"}  # public API, and no entity
    assert dict(anonymous.facets["tag"]) == {"Refunds": 1, "Money movement": 1}
    assert "group:default/vault-team" not in dict(anonymous.facets["owner"])
    team = Principal(user_id=7, email="v@example.com", status="approved", teams=frozenset({"group:default/vault-team"}))
    assert {h.name for h in run(api, "refunds", viewer=team).hits} == everything
    admin = Principal(user_id=1, email="a@example.com", status="approved", is_admin=True)
    assert {h.name for h in run(api, "refunds", viewer=admin).hits} == everything
    # the statement cache keeps one statement per visibility: the anonymous one still filters
    assert {h.name for h in run(api, "refunds", viewer=ANONYMOUS).hits} == {"createRefund", "orphanRefunds"}


# --- Pages and JSON -----------------------------------------------------------------------------


def test_the_search_page_shows_operation_and_guide_hits_distinctly(api, settings, client) -> None:
    with api.session() as session:
        docs.save_guide(session, API_REF, "refund-policy", "Refund policy", "Refunds within 180 days.", 0, None)
    html = client.get("/search", params={"q": "refund"}, headers={"accept": "text/html"}).text
    assert '<li class="card search-hit" data-doc-type="operation">' in html
    assert '<li class="card search-hit" data-doc-type="guide">' in html
    assert '<span class="badge badge-success mono">POST</span>' in html
    assert '<code class="mono small">/payments/{paymentId}/refunds</code>' in html
    assert 'href="/apis/default/payments-api/v/2.0.0/operations/post-payments-paymentid-refunds"' in html
    assert 'href="/docs/default/api/payments-api/refund-policy"' in html
    assert "Guide for" in html
    # an operation's tags narrow the search rather than pointing at catalog tags
    assert "/search?q=refund&amp;tag=Money+movement" in html


def test_the_json_search_includes_method_and_path_on_operation_hits_only(api, client) -> None:
    body = client.get("/api/v1/search", params={"q": "payments"}).json()
    by_type = {}
    for item in body["items"]:
        by_type.setdefault(item["doc_type"], item)
    assert by_type["operation"]["method"] in ("GET", "POST") and by_type["operation"]["path"].startswith("/payments")
    assert "method" not in by_type["entity"] and "path" not in by_type["entity"]
    assert {f["value"] for f in body["facets"]["kind"]} == {"api", "operation"}


def test_counting_documents_by_type(api) -> None:
    with api.session() as session:
        rows = session.execute(select(SearchDocument.doc_type, func.count()).group_by(SearchDocument.doc_type))
        counts = {doc_type: n for doc_type, n in rows}
    assert counts == {"entity": 1, "operation": 3}
