"""Changes between two versions: the structural diff, its page, its markdown and the default comparison."""

from __future__ import annotations

import copy

import pytest

from devhub.docs import cache
from devhub.docs.changes import compare
from devhub.docs.render import build_reference
from tests.docs.test_reference_support import HTML, publish

V1 = {
    "openapi": "3.0.3",
    "info": {"title": "Shop", "version": "1.0.0"},
    "paths": {
        "/pets": {
            "get": {
                "operationId": "listPets",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer"}}],
                "responses": {
                    "200": {
                        "description": "ok",
                        "content": {
                            "application/json": {
                                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Pet"}}
                            }
                        },
                    }
                },
            },
            "post": {
                "operationId": "createPet",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
                },
                "responses": {"201": {"description": "created"}},
            },
        },
        "/pets/{id}": {
            "get": {
                "operationId": "getPet",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "ok"}},
            },
            "delete": {
                "operationId": "deletePet",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {"204": {"description": "gone"}},
            },
        },
    },
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "tag": {"type": "string"},
                    "status": {"type": "string", "enum": ["available", "sold"]},
                },
            },
            "Error": {"type": "object", "properties": {"message": {"type": "string"}}},
            "Legacy": {"type": "string"},
        }
    },
}


def _v2() -> dict:
    doc = copy.deepcopy(V1)
    doc["info"]["version"] = "2.0.0"
    pets = doc["paths"]["/pets"]
    pets["get"]["deprecated"] = True
    pets["get"]["parameters"] = [
        {"name": "limit", "in": "query", "required": True, "schema": {"type": "string"}},
        {"name": "sort", "in": "query", "schema": {"type": "string"}},
    ]
    pets["post"]["requestBody"]["required"] = False
    pets["post"]["responses"]["409"] = {"description": "conflict"}
    item = doc["paths"].pop("/pets/{id}")
    del item["delete"]
    item["get"]["parameters"][0]["name"] = "petId"
    doc["paths"]["/pets/{petId}"] = item
    doc["paths"]["/owners"] = {
        "get": {"operationId": "listOwners", "summary": "List owners", "responses": {"200": {"description": "ok"}}}
    }
    schemas = doc["components"]["schemas"]
    pet = schemas["Pet"]
    pet["required"] = ["id", "name"]
    del pet["properties"]["tag"]
    pet["properties"]["age"] = {"type": "integer"}
    pet["properties"]["id"] = {"type": "string"}
    pet["properties"]["status"]["enum"] = ["available", "pending"]
    del schemas["Legacy"]
    schemas["Owner"] = {"type": "object", "properties": {"name": {"type": "string"}}}
    return doc


V2 = _v2()


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def main_of(html: str) -> str:
    return html.split('<main id="main"', 1)[1].split("</main>", 1)[0]


def ref(doc: dict, version: str):
    return build_reference(
        doc, format="openapi", format_version="3.0.3", title="Shop", base=f"/apis/default/shop/v/{version}"
    )


def test_structural_changes():
    changes = compare(ref(V1, "1.0.0"), ref(V2, "2.0.0"))
    assert [(o.method, o.path) for o in changes.operations_added] == [("get", "/owners")]
    assert changes.operations_added[0].url == "/apis/default/shop/v/2.0.0/operations/list-owners"
    assert [(o.method, o.path) for o in changes.operations_removed] == [("delete", "/pets/{id}")]
    assert changes.operations_removed[0].url == "/apis/default/shop/v/1.0.0/operations/delete-pet"
    changed = {(c.op.method, c.op.path): [d.text for d in c.details] for c in changes.operations_changed}
    assert changed == {
        ("get", "/pets"): [
            "now deprecated",
            "query parameter `limit` is now required",
            "query parameter `limit` type changed from integer to string",
            "query parameter `sort` added (optional)",
        ],
        ("post", "/pets"): ["request body is now optional", "response 409 added"],
        ("get", "/pets/{petId}"): [
            "path parameter `petId` added (required)",
            "path parameter `id` removed",
        ],
    }
    assert [s.name for s in changes.schemas_added] == ["Owner"]
    assert [s.name for s in changes.schemas_removed] == ["Legacy"]
    (pet,) = changes.schemas_changed
    assert pet.schema.name == "Pet"
    assert [(d.change, d.text) for d in pet.details] == [
        ("changed", "property `id` type changed from integer to string"),
        ("added", "status: enum values added: pending"),
        ("removed", "status: enum values removed: sold"),
        ("added", "property `age` added (optional)"),
        ("removed", "property `tag` removed"),
        ("changed", "`name` is now required"),
    ]
    assert changes.counts == {
        "operations added": 1,
        "operations removed": 1,
        "operations changed": 3,
        "schemas added": 1,
        "schemas removed": 1,
        "schemas changed": 1,
    }


def test_identical_versions_have_no_changes():
    assert compare(ref(V1, "1.0.0"), ref(copy.deepcopy(V1), "1.0.1")).empty


def test_changes_page_defaults_to_the_previous_version(db, client):
    publish(db, "api:default/shop", "1.0.0", V1)
    publish(db, "api:default/shop", "2.0.0", V2)
    first = client.get("/apis/default/shop/v/1.0.0/changes", headers=HTML).text
    assert "This is the first published version" in first
    html = client.get("/apis/default/shop/v/2.0.0/changes", headers=HTML).text
    assert "From <code>1.0.0</code> to <code>2.0.0</code>." in html
    assert '<option value="1.0.0" selected>1.0.0</option>' in html
    assert "1 operation added" in html and "3 operations changed" in html
    assert 'href="/apis/default/shop/v/2.0.0/operations/list-owners"' in html
    assert "query parameter <code>sort</code> added (optional)" in html
    assert 'href="/apis/default/shop/v/2.0.0/schemas/Owner"' in html
    assert 'href="/apis/default/shop/v/1.0.0/schemas/Legacy"' in html, "removed schemas link to the old version"
    explicit = client.get("/apis/default/shop/v/2.0.0/changes", params={"from": "1.0.0"}, headers=HTML).text
    assert main_of(explicit) == main_of(html)
    backwards = client.get("/apis/default/shop/v/1.0.0/changes", params={"from": "2.0.0"}, headers=HTML).text
    assert "Operations removed" in backwards and "/apis/default/shop/v/2.0.0/operations/list-owners" in backwards
    markdown = client.get("/apis/default/shop/v/2.0.0/changes.md").text
    assert markdown.startswith("# Changes · Shop\n\nFrom `1.0.0` to `2.0.0`.")
    assert (
        "## Operations added\n\n- [GET /owners](</apis/default/shop/v/2.0.0/operations/list-owners>) — List owners"
        in markdown
    )
    assert "  - added: query parameter `sort` added (optional)" in markdown
    assert "## Schemas removed\n\n- [Legacy](</apis/default/shop/v/1.0.0/schemas/Legacy>)" in markdown
    same = client.get("/apis/default/shop/v/2.0.0/changes", params={"from": "2.0.0"}, headers=HTML)
    assert same.status_code == 400
