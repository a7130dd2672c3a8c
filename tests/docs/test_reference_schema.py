"""Schema trees: nullable (3.0 and 3.1), readOnly/writeOnly, deprecated, allOf merged, oneOf with a
discriminator, enums, constraints, defaults, examples, arrays, additionalProperties and recursion; as view
models, on the schema pages and in markdown."""

from __future__ import annotations

import pytest

from devhub.docs import cache
from devhub.docs.render import build_reference, schema_page
from devhub.docs.schema_view import SchemaViewBuilder, example_value
from tests.docs.test_reference_support import HTML, publish

ZOO = {
    "openapi": "3.1.0",
    "info": {"title": "Zoo", "version": "1"},
    "paths": {
        "/animals": {
            "post": {
                "operationId": "addAnimal",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Animal"}}},
                },
                "responses": {
                    "201": {
                        "description": "created",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cat"}}},
                    }
                },
            }
        }
    },
    "components": {
        "schemas": {
            "Animal": {
                "description": "A cat or a dog.",
                "oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}],
                "discriminator": {
                    "propertyName": "kind",
                    "mapping": {"cat": "#/components/schemas/Cat", "dog": "#/components/schemas/Dog"},
                },
            },
            "Base": {
                "type": "object",
                "required": ["id", "kind"],
                "properties": {
                    "id": {"type": "string", "format": "uuid", "readOnly": True},
                    "kind": {"type": "string", "enum": ["cat", "dog"]},
                    "name": {
                        "type": ["string", "null"],
                        "minLength": 1,
                        "maxLength": 40,
                        "pattern": "^[A-Z]",
                        "examples": ["Rex"],
                        "description": "Its **name**.",
                    },
                    "password": {"type": "string", "writeOnly": True},
                    "legacyCode": {"type": "integer", "deprecated": True},
                    "parent": {"$ref": "#/components/schemas/Animal"},
                    "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True, "maxItems": 5},
                    "weight": {
                        "type": "number",
                        "exclusiveMinimum": 0,
                        "maximum": 500,
                        "multipleOf": 0.5,
                        "default": 1,
                    },
                    "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
                    "status": {"const": "alive"},
                },
            },
            "Cat": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "properties": {"indoor": {"type": "boolean", "default": True}}},
                ]
            },
            "Dog": {
                "allOf": [
                    {"$ref": "#/components/schemas/Base"},
                    {"type": "object", "properties": {"breed": {"type": "string", "example": "lab"}}},
                ]
            },
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            },
            "Legacy": {"type": "string", "nullable": True, "deprecated": True},
        }
    },
}
BASE = "/apis/default/zoo/v/1"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def reference():
    return build_reference(ZOO, format="openapi", format_version="3.1.0", title="Zoo", base=BASE)


def props(node) -> dict:
    return {child.label: child for child in node.properties}


def test_all_of_is_merged_with_every_property_feature():
    cat = schema_page(reference(), "Cat").node
    assert cat.all_of == [("Base", f"{BASE}/schemas/Base")]
    fields = props(cat)
    assert list(fields) == [
        "id",
        "kind",
        "name",
        "password",
        "legacyCode",
        "parent",
        "tags",
        "weight",
        "attributes",
        "status",
        "indoor",
    ]
    assert fields["id"].required and fields["id"].read_only and fields["id"].type_text == "string <uuid>"
    assert fields["kind"].enum == ['"cat"', '"dog"']
    name = fields["name"]
    assert name.nullable and not name.required and name.types == ["string"]
    assert name.constraints == ["length ≥ 1", "length ≤ 40"]
    assert name.pattern == "^[A-Z]" and name.examples == ['"Rex"']
    assert fields["password"].write_only
    assert fields["legacyCode"].deprecated
    assert fields["tags"].type_text == "array of string"
    assert fields["tags"].constraints == ["items ≤ 5", "unique items"]
    assert fields["weight"].constraints == ["> 0", "≤ 500", "multiple of 0.5"]
    assert fields["weight"].default == "1"
    assert fields["attributes"].additional.type_text == "string"
    assert fields["status"].const == '"alive"' and fields["status"].type_text == "string"
    assert fields["indoor"].default == "true"


def test_one_of_with_discriminator_and_recursion():
    animal = schema_page(reference(), "Animal").node
    assert animal.type_text == "one of"
    (composition,) = animal.compositions
    assert composition.kind == "oneOf"
    assert [v.label for v in composition.variants] == ["Cat", "Dog"]
    assert animal.discriminator.property_name == "kind"
    assert animal.discriminator.mapping == [
        ("cat", "Cat", f"{BASE}/schemas/Cat"),
        ("dog", "Dog", f"{BASE}/schemas/Dog"),
    ]
    cat_variant = composition.variants[0]
    parent = props(cat_variant)["parent"]
    assert parent.recursive and parent.ref_name == "Animal", "Animal inside Animal is a link, not expanded"

    node = schema_page(reference(), "Node").node
    children = props(node)["children"]
    assert children.type_text == "array of Node"
    assert children.items.recursive and children.items.ref_url == f"{BASE}/schemas/Node"


def test_nullable_in_openapi_30_and_31_styles():
    builder = SchemaViewBuilder({}, lambda key: None)
    assert builder.build({"type": "string", "nullable": True}).nullable
    assert builder.build({"type": ["integer", "null"]}).nullable
    assert builder.build({"type": "integer", "x-nullable": True}).nullable
    assert not builder.build({"type": "integer"}).nullable
    legacy = schema_page(reference(), "Legacy").node
    assert legacy.nullable and legacy.deprecated


def test_any_of_with_null_reads_as_nullable():
    """How pydantic (FastAPI) writes optional fields: anyOf [X, {type: null}] is X, nullable."""
    doc = {
        "components": {
            "schemas": {"User": {"type": "object", "title": "User", "properties": {"id": {"type": "integer"}}}}
        }
    }
    builder = SchemaViewBuilder(doc, lambda key: f"/s/{key}")
    status = builder.build(
        {"anyOf": [{"type": "string"}, {"type": "null"}], "title": "Status", "description": "The status."}, "status"
    )
    assert (status.type_text, status.nullable, status.description, status.show_title) == (
        "string",
        True,
        "The status.",
        False,
    )
    user = builder.build({"anyOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}]}, "owner")
    assert user.ref_name == "User" and user.nullable and [p.label for p in user.properties] == ["id"]
    choice = builder.build({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]})
    assert choice.type_text == "any of" and len(choice.compositions[0].variants) == 3


def test_limits_stop_huge_and_deep_trees():
    chain = {
        f"S{i}": {"type": "object", "properties": {"next": {"$ref": f"#/components/schemas/S{i + 1}"}}}
        for i in range(30)
    }
    chain["S30"] = {"type": "string"}
    doc = {"components": {"schemas": chain}}
    node = SchemaViewBuilder(doc, lambda key: f"/s/{key}").build({"$ref": "#/components/schemas/S0"})
    depth = 0
    while node.properties:
        node = node.properties[0]
        depth += 1
    assert node.truncated and node.ref_url, "past the limit, a link to the schema's page"
    assert depth <= 5
    wide = {
        "type": "object",
        "properties": {
            f"p{i}": {"type": "object", "properties": {f"q{j}": {"type": "string"} for j in range(50)}}
            for i in range(100)
        },
    }
    builder = SchemaViewBuilder({}, lambda key: None, max_nodes=500)
    builder.build(wide)
    assert builder.nodes <= 700


def test_generated_examples_respect_access_and_requirements():
    ref = reference()
    request = example_value(ref.doc, {"$ref": "#/components/schemas/Cat"}, mode="request")
    assert request == {"kind": "cat"}, "requests: required properties only, readOnly id left out"
    response = example_value(ref.doc, {"$ref": "#/components/schemas/Cat"}, mode="response")
    assert "password" not in response and response["id"] == "3fa85f64-5717-4562-b3fc-2c963f66afa6"
    assert response["name"] == "Rex" and response["weight"] == 1 and response["indoor"] is True
    assert example_value(ref.doc, {"$ref": "#/components/schemas/Node"}, mode="response") == {
        "value": 0,
        "children": [],
    }


def test_schema_pages_show_the_features(db, client):
    publish(db, "api:default/zoo", "1", ZOO)
    cat = client.get(f"{BASE}/schemas/Cat", headers=HTML).text
    for fragment in (
        '<span class="flag flag-required">required</span>',
        '<span class="flag">nullable</span>',
        '<span class="flag">read-only</span>',
        '<span class="flag">write-only</span>',
        '<span class="flag flag-deprecated">deprecated</span>',
        "<dt>Enum</dt>",
        "<code>&#34;cat&#34;</code>",
        "length ≥ 1, length ≤ 40",
        "<dt>Pattern</dt><dd><code>^[A-Z]</code></dd>",
        "&gt; 0, ≤ 500, multiple of 0.5",
        "<dt>Default</dt><dd><code>1</code></dd>",
        "<dt>All of</dt>",
        f'href="{BASE}/schemas/Base"',
        "Its <strong>name</strong>.",
        '<span class="schema-type">array of string</span>',
        "<summary>",
    ):
        assert fragment in cat, fragment
    assert '<a class="schema-ref schema-recursive" href="/apis/default/zoo/v/1/schemas/Cat">' in cat
    animal = client.get(f"{BASE}/schemas/Animal", headers=HTML).text
    assert "One of" in animal and "<dt>Discriminator</dt><dd><code>kind</code>" in animal
    assert (
        f'<code>cat</code> <span aria-hidden="true">→</span><span class="visually-hidden">maps to</span> <a href="{BASE}/schemas/Cat"'
        in animal
    )
    node = client.get(f"{BASE}/schemas/Node", headers=HTML).text
    assert "(recursive)" in node
    used = client.get(f"{BASE}/schemas/Animal", headers=HTML).text
    assert f'href="{BASE}/operations/add-animal"' in used, "used by the operation"
    markdown = client.get(f"{BASE}/schemas/Cat.md").text
    assert "- **id** `string <uuid>` (required, read-only)" in markdown
    assert "- **name** `string` (nullable)" in markdown
    assert "  Constraints: length ≥ 1, length ≤ 40" in markdown
    operation = client.get(f"{BASE}/operations/add-animal", headers=HTML).text
    assert "Discriminator" in operation and "Example" in operation
