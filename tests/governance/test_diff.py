"""Breaking-change rules: for each rule a pair of definitions that triggers it, and harmless pairs that don't.

Pure functions: no database."""

from __future__ import annotations

import copy
from datetime import date

import pytest

from devhub.governance.diff import RULES, Sunset, diff, semver_findings

TODAY = date(2030, 6, 1)


def doc(**paths) -> dict:
    base = {
        "openapi": "3.0.3",
        "info": {"title": "Pets", "version": "1.0.0"},
        "paths": {
            "/pets/{id}": {
                "get": {
                    "operationId": "getPet",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "fields", "in": "query", "schema": {"type": "string", "maxLength": 50}},
                    ],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "headers": {"X-Rate": {"required": True, "schema": {"type": "integer"}}},
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Pet"}}},
                        },
                        "404": {"description": "missing"},
                    },
                    "security": [{"key": []}],
                }
            },
            "/pets": {
                "post": {
                    "operationId": "addPet",
                    "requestBody": {
                        "required": False,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewPet"}}},
                    },
                    "responses": {"201": {"description": "created"}},
                }
            },
        },
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "k"}},
            "schemas": {
                "Pet": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {
                        "id": {"type": "string"},
                        "name": {"type": "string"},
                        "tag": {"type": "string"},
                        "status": {"type": "string", "enum": ["available", "sold"]},
                        "age": {"type": "integer", "format": "int32", "maximum": 100},
                    },
                },
                "NewPet": {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "maxLength": 100, "minLength": 1},
                        "kind": {"type": "string", "enum": ["cat", "dog", "bird"]},
                        "note": {"type": "string", "nullable": True},
                        "age": {"type": "integer", "minimum": 0},
                        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                    },
                },
            },
        },
    }
    return base


def _get(d):
    return d["paths"]["/pets/{id}"]["get"]


def _post(d):
    return d["paths"]["/pets"]["post"]


def _pet(d):
    return d["components"]["schemas"]["Pet"]


def _new(d):
    return d["components"]["schemas"]["NewPet"]


def _param(d, name):
    return next(p for p in _get(d)["parameters"] if p["name"] == name)


# (rule id, change applied to a copy of the base definition)
BREAKING = [
    ("api-path-removed-without-deprecation", lambda d: d["paths"].pop("/pets")),
    (
        "api-removed-without-deprecation",
        lambda d: d["paths"]["/pets/{id}"].update(delete=_get(d)) or d["paths"]["/pets/{id}"].pop("get"),
    ),
    (
        "new-required-request-parameter",
        lambda d: _get(d)["parameters"].append(
            {"name": "q", "in": "query", "required": True, "schema": {"type": "string"}}
        ),
    ),
    ("request-parameter-became-required", lambda d: _param(d, "fields").update(required=True)),
    ("request-parameter-type-changed", lambda d: _param(d, "fields")["schema"].update(type="boolean")),
    ("request-parameter-max-length-decreased", lambda d: _param(d, "fields")["schema"].update(maxLength=10)),
    ("request-parameter-pattern-added", lambda d: _param(d, "fields")["schema"].update(pattern="^[a-z,]+$")),
    ("request-parameter-became-enum", lambda d: _param(d, "fields")["schema"].update(enum=["a", "b"])),
    ("request-body-became-required", lambda d: _post(d)["requestBody"].update(required=True)),
    (
        "request-body-media-type-removed",
        lambda d: _post(d)["requestBody"].update(content={"application/xml": {"schema": {"type": "object"}}}),
    ),
    (
        "new-required-request-property",
        lambda d: (_new(d)["properties"].update(owner={"type": "string"}), _new(d)["required"].append("owner")),
    ),
    ("request-property-became-required", lambda d: _new(d)["required"].append("kind")),
    ("request-property-enum-value-removed", lambda d: _new(d)["properties"]["kind"].update(enum=["cat", "dog"])),
    ("request-property-max-length-decreased", lambda d: _new(d)["properties"]["name"].update(maxLength=20)),
    ("request-property-min-length-increased", lambda d: _new(d)["properties"]["name"].update(minLength=3)),
    ("request-property-min-increased", lambda d: _new(d)["properties"]["age"].update(minimum=1)),
    ("request-property-max-items-decreased", lambda d: _new(d)["properties"]["tags"].update(maxItems=5)),
    ("request-property-became-not-nullable", lambda d: _new(d)["properties"]["note"].pop("nullable")),
    ("request-property-type-changed", lambda d: _new(d)["properties"]["age"].update(type="string")),
    ("response-success-status-removed", lambda d: _get(d)["responses"].pop("200")),
    (
        "response-media-type-removed",
        lambda d: _get(d)["responses"]["200"].update(content={"text/plain": {"schema": {"type": "string"}}}),
    ),
    (
        "response-required-property-removed",
        lambda d: (_pet(d)["properties"].pop("name"), _pet(d)["required"].remove("name")),
    ),
    ("response-property-became-optional", lambda d: _pet(d)["required"].remove("name")),
    ("response-property-type-changed", lambda d: _pet(d)["properties"]["id"].update(type="integer")),
    ("response-property-format-changed", lambda d: _pet(d)["properties"]["age"].update(format="int64")),
    ("response-property-became-nullable", lambda d: _pet(d)["properties"]["tag"].update(nullable=True)),
    ("response-required-header-removed", lambda d: _get(d)["responses"]["200"].pop("headers")),
    ("api-security-added", lambda d: _post(d).update(security=[{"key": []}])),
    ("api-security-changed", lambda d: _get(d).update(security=[{"other": []}])),
    ("api-security-scope-added", lambda d: _get(d).update(security=[{"key": ["admin"]}])),
]
WARNINGS = [
    ("request-parameter-removed", lambda d: _get(d)["parameters"].pop(1)),
    ("request-property-removed", lambda d: _new(d)["properties"].pop("note")),
    ("response-optional-property-removed", lambda d: _pet(d)["properties"].pop("tag")),
    ("response-property-enum-value-added", lambda d: _pet(d)["properties"]["status"]["enum"].append("pending")),
    ("response-property-max-increased", lambda d: _pet(d)["properties"]["age"].update(maximum=200)),
    ("response-non-success-status-removed", lambda d: _get(d)["responses"].pop("404")),
    ("api-operation-id-changed", lambda d: _get(d).update(operationId="fetchPet")),
]
HARMLESS = [
    (
        "endpoint-added",
        lambda d: d["paths"].update({"/owners": {"get": {"responses": {"200": {"description": "ok"}}}}}),
    ),
    (
        "new-optional-request-parameter",
        lambda d: _get(d)["parameters"].append({"name": "q", "in": "query", "schema": {"type": "string"}}),
    ),
    ("new-optional-request-property", lambda d: _new(d)["properties"].update(color={"type": "string"})),
    ("request-property-enum-value-added", lambda d: _new(d)["properties"]["kind"]["enum"].append("fish")),
    ("request-property-type-generalized", lambda d: _new(d)["properties"]["age"].update(type="number")),
    (
        "request-body-media-type-added",
        lambda d: _post(d)["requestBody"]["content"].update({"application/xml": {"schema": {"type": "object"}}}),
    ),
    ("response-status-added", lambda d: _get(d)["responses"].update({"429": {"description": "slow down"}})),
    ("response-property-added", lambda d: _pet(d)["properties"].update(color={"type": "string"})),
    ("response-property-enum-value-removed", lambda d: _pet(d)["properties"]["status"].update(enum=["available"])),
    ("api-security-removed", lambda d: _get(d).pop("security")),
    ("api-security-alternative-added", lambda d: _get(d)["security"].append({"other": []})),
    ("api-deprecated", lambda d: _get(d).update(deprecated=True)),
]


def _pair(change):
    old = doc()
    new = copy.deepcopy(old)
    change(new)
    return old, new


@pytest.mark.parametrize(
    ("rule", "change"), BREAKING + WARNINGS + HARMLESS, ids=[r for r, _ in BREAKING + WARNINGS + HARMLESS]
)
def test_each_rule_fires_on_its_change_with_its_level_and_a_location(rule, change):
    old, new = _pair(change)
    report = diff(old, new, today=TODAY)
    found = [f for f in report.findings if f.rule == rule]
    assert found, f"{rule} not reported; got {[f.rule for f in report.findings]}"
    assert found[0].level == RULES[rule].level
    assert found[0].pointer.startswith("/")


@pytest.mark.parametrize(("rule", "change"), BREAKING, ids=[r for r, _ in BREAKING])
def test_breaking_changes_are_errors(rule, change):
    assert RULES[rule].level == "error"
    assert diff(*_pair(change), today=TODAY).breaking


@pytest.mark.parametrize(("rule", "change"), HARMLESS, ids=[r for r, _ in HARMLESS])
def test_harmless_changes_break_nothing(rule, change):
    report = diff(*_pair(change), today=TODAY)
    assert report.breaking == [], [f.message for f in report.breaking]


def test_the_same_definition_has_no_findings_and_renamed_path_parameters_match():
    old, new = _pair(lambda d: None)
    assert diff(old, new).findings == []
    renamed = copy.deepcopy(old)
    renamed["paths"]["/pets/{petId}"] = renamed["paths"].pop("/pets/{id}")
    renamed["paths"]["/pets/{petId}"]["get"]["parameters"][0]["name"] = "petId"
    assert diff(old, renamed).findings == []


def test_findings_name_the_operation_for_joining_with_traffic():
    report = diff(*_pair(lambda d: _param(d, "fields").update(required=True)))
    (finding,) = report.breaking
    assert (finding.method, finding.path, finding.operation_id) == ("get", "/pets/{id}", "getPet")
    assert finding.pointer == "/paths/~1pets~1{id}/get/parameters/1"


def test_removal_after_deprecation_depends_on_the_sunset_date():
    def deprecated(sunset):
        old = doc()
        _post(old)["deprecated"] = True
        if sunset:
            _post(old)["x-sunset"] = sunset
        new = copy.deepcopy(old)
        new["paths"].pop("/pets")
        return {f.rule: f.level for f in diff(old, new, today=TODAY).findings}

    assert deprecated("2030-01-01") == {"api-removed-after-sunset": "info"}
    assert deprecated("2031-01-01") == {"api-removed-before-sunset": "error"}
    assert deprecated(None) == {"api-removed-without-sunset": "warning"}


def test_the_portal_deprecations_count_as_much_as_the_document():
    old = doc()
    new = copy.deepcopy(old)
    new["paths"].pop("/pets")
    sunsets = {("post", "/pets"): Sunset(True, date(2029, 1, 1))}
    assert [f.rule for f in diff(old, new, sunsets=sunsets, today=TODAY).findings] == ["api-removed-after-sunset"]
    whole = {None: Sunset(True, date(2029, 1, 1))}
    assert [f.rule for f in diff(old, new, sunsets=whole, today=TODAY).findings] == ["api-removed-after-sunset"]


def test_swagger_2_parameters_and_bodies_are_compared():
    old = {
        "swagger": "2.0",
        "info": {"title": "S", "version": "1.0.0"},
        "paths": {
            "/a": {
                "post": {
                    "parameters": [
                        {"name": "q", "in": "query", "type": "string"},
                        {
                            "name": "b",
                            "in": "body",
                            "schema": {"type": "object", "properties": {"x": {"type": "string"}}},
                        },
                    ],
                    "responses": {"200": {"description": "ok", "schema": {"type": "object"}}},
                }
            }
        },
    }
    new = copy.deepcopy(old)
    new["paths"]["/a"]["post"]["parameters"][0]["enum"] = ["x"]
    new["paths"]["/a"]["post"]["parameters"][1]["schema"]["required"] = ["x"]
    rules = {f.rule for f in diff(old, new).findings}
    assert {"request-parameter-became-enum", "request-property-became-required"} <= rules


def test_recursive_schemas_terminate():
    old = doc()
    _pet(old)["properties"]["parent"] = {"$ref": "#/components/schemas/Pet"}
    new = copy.deepcopy(old)
    _pet(new)["properties"]["id"]["type"] = "integer"
    assert {f.rule for f in diff(old, new).breaking} == {"response-property-type-changed"}


def test_asyncapi_is_not_supported():
    assert diff({"asyncapi": "2.6.0"}, {"asyncapi": "2.6.0"}).supported is False


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("1.0.0", "1.1.0", "semver-breaking-change-in-minor"),
        ("1.0.0", "1.0.1", "semver-breaking-change-in-patch"),
        ("1.0.0", "2.0.0", None),
        ("0.1.0", "0.2.0", None),
        ("2024-01-01", "2024-02-01", None),
    ],
)
def test_semver_check(old, new, expected):
    report = diff(*_pair(lambda d: d["paths"].pop("/pets")))
    found = semver_findings(old, new, report.findings)
    assert [f.rule for f in found] == ([expected] if expected else [])
    assert semver_findings(old, new, []) == []


def test_changes_from_a_constrained_parameter():
    old = doc()
    _param(old, "fields").update(required=True)
    _param(old, "fields")["schema"]["pattern"] = "^[a-z]+$"
    new = copy.deepcopy(old)
    _param(new, "fields").pop("required")
    _param(new, "fields")["schema"]["pattern"] = "^[a-z,]+$"
    found = {f.rule: f.level for f in diff(old, new).findings}
    assert found == {"request-parameter-became-optional": "info", "request-parameter-pattern-changed": "warning"}
