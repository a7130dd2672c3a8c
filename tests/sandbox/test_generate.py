"""Values generated from schemas: formats, enums, bounds, lengths, patterns, composition; deterministic."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime

import jsonschema
import pytest

from devhub.sandbox.generate import Generator

DOCUMENT = {
    "components": {
        "schemas": {
            "Pet": {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "integer", "minimum": 1},
                    "name": {"type": "string", "minLength": 3, "maxLength": 12},
                    "owner": {"$ref": "#/components/schemas/Owner"},
                    "secret": {"type": "string", "writeOnly": True},
                },
            },
            "Owner": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"}}},
        }
    }
}


def generate(schema, seed: int = 1, dynamic: bool = False):
    return Generator(DOCUMENT, seed, dynamic=dynamic).value(schema)


@pytest.mark.parametrize("dynamic", [False, True])
def test_formats_are_honoured(dynamic):
    def value(fmt):
        return generate({"type": "string", "format": fmt}, seed=7, dynamic=dynamic)

    assert re.fullmatch(r"[a-z]+\d*@example\.com", value("email"))
    assert uuid.UUID(value("uuid")).version == 4
    assert datetime.fromisoformat(value("date-time").replace("Z", "+00:00"))
    assert date.fromisoformat(value("date"))
    assert value("uri").startswith("https://")
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value("ipv4"))


@pytest.mark.parametrize("seed", range(5))
def test_dynamic_values_stay_within_the_schema(seed):
    schemas = [
        {"type": "integer", "minimum": 10, "maximum": 20},
        {"type": "integer", "minimum": 10, "exclusiveMinimum": True, "maximum": 12},  # draft 4 spelling
        {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},  # 2020-12 spelling
        {"type": "integer", "multipleOf": 5, "minimum": 1, "maximum": 100},
        {"type": "string", "minLength": 5, "maxLength": 8},
        {"type": "string", "pattern": "^[A-Z]{2}[0-9a-f]{32}$"},
        {"type": "string", "enum": ["queued", "sent", "failed"]},
        {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 4, "uniqueItems": True},
    ]
    for schema in schemas:
        value = generate(schema, seed=seed, dynamic=True)
        draft4 = isinstance(schema.get("exclusiveMinimum"), bool)
        validator = jsonschema.Draft4Validator if draft4 else jsonschema.Draft202012Validator
        validator(schema).validate(value)


def test_static_values_prefer_examples_then_enums_then_bounds():
    assert generate({"type": "string", "example": "Rex"}) == "Rex"
    assert generate({"type": "string", "examples": ["Tom"]}) == "Tom"
    assert generate({"type": "integer", "default": 42}) == 42
    assert generate({"type": "string", "enum": ["b", "a"]}) == "b"
    assert generate({"type": "integer", "minimum": 5}) == 5
    assert generate({"type": "integer", "maximum": -3}) == -3


def test_required_properties_refs_and_write_only():
    pet = generate({"$ref": "#/components/schemas/Pet"})
    assert {"id", "name"} <= pet.keys()
    assert "secret" not in pet  # writeOnly never appears in responses
    assert pet["id"] >= 1 and 3 <= len(pet["name"]) <= 12
    assert pet["owner"]["email"].endswith("@example.com")


def test_all_of_merges_and_one_of_picks_a_branch():
    merged = generate(
        {
            "allOf": [
                {"$ref": "#/components/schemas/Pet"},
                {"type": "object", "required": ["color"], "properties": {"color": {"enum": ["red"]}}},
            ]
        }
    )
    assert merged["color"] == "red" and "name" in merged
    assert isinstance(generate({"oneOf": [{"type": "null"}, {"type": "integer", "minimum": 3}]}), int)
    assert generate({"type": "string", "nullable": True}) is not None


def test_recursive_schemas_terminate():
    node = generate({"$ref": "#/components/schemas/Node"})
    depth = 0
    while isinstance(node, dict) and "child" in node:
        node, depth = node["child"], depth + 1
    assert depth < 12


def test_same_seed_same_value_and_other_seeds_differ():
    schema = {"$ref": "#/components/schemas/Pet"}
    assert generate(schema, seed=3, dynamic=True) == generate(schema, seed=3, dynamic=True)
    values = {repr(generate({"type": "string", "format": "uuid"}, seed=s, dynamic=True)) for s in range(5)}
    assert len(values) == 5
