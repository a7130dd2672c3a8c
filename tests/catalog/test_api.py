"""The catalog's REST API: import, list with filters, facets, entity detail, locations, problem documents."""

from __future__ import annotations

import functools
import http.server
from collections.abc import Iterator

import pytest

from tests.conftest import FIXTURES
from tests.loopback import http_server

ORG = str(FIXTURES / "org" / "catalog-info.yaml")


@pytest.fixture(autouse=True)
def as_admin(client, admin_headers):
    """These tests exercise the API as an administrator; access rules have their own tests."""
    client.headers.update(admin_headers)


@pytest.fixture
def imported(client):
    response = client.post("/api/v1/catalog/locations", json={"target": ORG})
    assert response.status_code == 201, response.text
    return response.json()


def test_import_reports_counts_and_problems(client, imported):
    assert imported["location"]["type"] == "file"
    assert imported["refresh"]["added"] == 15
    assert imported["refresh"]["errors"] == 2
    detail = client.get(f"/api/v1/catalog/locations/{imported['location']['id']}").json()
    assert [(e["rule"], e["line"]) for e in detail["errors"]] == [("invalid-name", 20), ("missing-field", 31)]
    assert all(e["source"].endswith("bad.yaml") for e in detail["errors"])


def test_importing_the_same_location_twice_changes_nothing(client, imported):
    again = client.post("/api/v1/catalog/locations", json={"target": ORG}).json()
    assert again["location"]["id"] == imported["location"]["id"]
    assert again["refresh"]["unchanged"] == 15
    assert client.get("/api/v1/catalog/locations").json()["meta"]["total"] == 1


def test_list_filters_by_kind_owner_tag_and_lifecycle(client, imported):
    def names(**params):
        body = client.get("/api/v1/catalog/entities", params=params).json()
        return sorted(item["name"] for item in body["items"])

    assert names(kind="API") == ["ledger-events", "ledger-schema", "payments-api"]
    assert names(kind="component", owner="payments") == ["payments-service"]
    assert names(owner="group:default/platform", kind="Component") == ["good-sibling", "ledger"]
    assert names(tag="java") == ["payments-service"]
    assert names(lifecycle="experimental", kind="Component") == ["ledger"]
    assert names(system="checkout", kind="resource") == ["payments-db"]
    assert names(text="ledg") == ["ledger", "ledger-events", "ledger-schema"]
    assert names(kind=["user", "domain"]) == ["alice", "bob", "commerce"]


def test_list_paginates_and_sorts(client, imported):
    first = client.get("/api/v1/catalog/entities", params={"size": 4, "sort": "name"}).json()
    second = client.get("/api/v1/catalog/entities", params={"size": 4, "page": 2, "sort": "name"}).json()
    assert first["meta"] == {"page": 1, "size": 4, "total": 15, "pages": 4}
    ordered = [(item["title"] or item["name"]).lower() for item in first["items"] + second["items"]]
    assert ordered == sorted(ordered)
    assert not {i["ref"] for i in first["items"]} & {i["ref"] for i in second["items"]}
    descending = client.get("/api/v1/catalog/entities", params={"size": 15, "sort": "-name"}).json()
    names = [(item["title"] or item["name"]).lower() for item in descending["items"]]
    assert names == sorted(names, reverse=True) and len(names) == 15
    capped = client.get("/api/v1/catalog/entities", params={"size": 100000}).json()
    assert capped["meta"]["size"] == 100


def test_bad_query_parameters_get_a_problem_document(client):
    response = client.get("/api/v1/catalog/entities", params={"sort": "drop table", "page": 0})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == 422 and body["title"] == "Invalid request"
    assert {e["pointer"] for e in body["errors"]} == {"/query/sort", "/query/page"}


def test_facets_count_each_filter_with_the_others_applied(client, imported):
    facets = client.get("/api/v1/catalog/facets", params={"kind": "Component"}).json()["facets"]
    kinds = {f["value"]: f["count"] for f in facets["kind"]}
    owners = {f["value"]: f["count"] for f in facets["owner"]}
    assert kinds["API"] == 3 and kinds["Component"] == 3  # kind facet ignores the kind filter
    assert owners == {"group:default/platform": 2, "group:default/payments": 1}


def test_entity_detail_has_relations_source_and_body(client, imported):
    body = client.get("/api/v1/catalog/entities/component/default/payments-service").json()
    assert body["ref"] == "component:default/payments-service"
    assert body["owner"] == "group:default/payments"
    assert {"type": "providesApi", "target": "api:default/payments-api", "exists": True} in body["relations"]
    assert {"type": "dependsOn", "target": "resource:default/payments-db", "exists": True} in body["relations"]
    assert body["source"].endswith("services/payments/catalog-info.yaml")
    assert body["entity"]["metadata"]["tags"] == ["java", "payments"]
    # Case-insensitive, like Backstage refs.
    assert client.get("/api/v1/catalog/entities/Component/default/payments-service").status_code == 200


def test_related_lists_what_a_team_owns(client, imported):
    body = client.get("/api/v1/catalog/entities/group/default/payments/related/ownerOf").json()
    assert body["meta"]["total"] == 5
    assert {i["ref"] for i in body["items"]} >= {"component:default/payments-service", "system:default/checkout"}


def test_unknown_entity_and_location_are_404_problems(client):
    response = client.get("/api/v1/catalog/entities/component/default/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "component:default/nope is not in the catalog"
    assert client.get("/api/v1/catalog/locations/999").status_code == 404


def test_the_web_api_cannot_read_files_outside_the_import_roots(client):
    response = client.post("/api/v1/catalog/locations", json={"target": "/etc/hostname"})
    assert response.status_code == 422
    assert "DEVHUB_IMPORT_ROOTS" in response.json()["detail"]
    git = client.post("/api/v1/catalog/locations", json={"target": "git+file:///etc//hostname"})
    assert git.status_code == 422
    assert client.get("/api/v1/catalog/locations").json()["meta"]["total"] == 0


def test_refresh_and_delete_a_location(client, imported):
    location_id = imported["location"]["id"]
    refreshed = client.post(f"/api/v1/catalog/locations/{location_id}/refresh").json()
    assert refreshed["refresh"]["unchanged"] == 15
    assert client.delete(f"/api/v1/catalog/locations/{location_id}").status_code == 204
    assert client.get("/api/v1/catalog/entities").json()["meta"]["total"] == 0


def test_kind_schemas_are_published_as_json_schema(client):
    schemas = client.get("/api/v1/catalog/schemas").json()
    assert set(schemas) >= {"Envelope", "Component", "API", "Group", "User", "Location"}
    assert "owner" in schemas["Component"]["required"]


def test_openapi_document_describes_the_catalog_api(client):
    document = client.get("/api/v1/openapi.json").json()
    assert document["info"]["title"] == "devhub"
    assert "/api/v1/catalog/entities" in document["paths"]
    assert "/api/v1/search" in document["paths"]
    assert not any(path.startswith("/catalog") for path in document["paths"])  # pages stay out


@pytest.fixture
def fixture_server() -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(FIXTURES))
    with http_server(handler) as url:
        yield url


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_url_import_from_a_private_host_needs_the_allow_list(client, fixture_server, settings):
    target = f"{fixture_server}/unknown/catalog-info.yaml"
    refused = client.post("/api/v1/catalog/locations", json={"target": target})
    assert refused.status_code == 422
    assert "DEVHUB_CATALOG_ALLOWED_HOSTS" in refused.json()["detail"]

    settings.catalog_allowed_hosts = ["127.0.0.1"]
    accepted = client.post("/api/v1/catalog/locations", json={"target": target})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["location"]["type"] == "url"
    widget = client.get("/api/v1/catalog/entities/widget/default/spinner").json()
    assert widget["source"] == target


def test_url_import_follows_locations_but_refuses_globs_and_escapes(client, fixture_server, settings):
    settings.catalog_allowed_hosts = ["127.0.0.1"]
    body = client.post("/api/v1/catalog/locations", json={"target": f"{fixture_server}/org/catalog-info.yaml"}).json()
    detail = client.get(f"/api/v1/catalog/locations/{body['location']['id']}").json()
    rules = sorted(e["rule"] for e in detail["errors"])
    # The glob target cannot be listed over HTTP; teams.yaml and bad.yaml are still read.
    assert rules == ["invalid-name", "location-escape", "missing-field"]
    assert client.get("/api/v1/catalog/entities/user/default/alice").status_code == 200
