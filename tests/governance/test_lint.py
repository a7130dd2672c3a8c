"""Lint rules, each with a definition that fails it and one that passes; organisation rulesets. No database."""

from __future__ import annotations

import copy

import pytest

from devhub.governance.lint import RULES, lint
from devhub.governance.ruleset import RulesetError, parse_ruleset

EVERYTHING = parse_ruleset("extends: [[spectral:oas, all]]")


def clean() -> dict:
    """A definition every built-in rule accepts."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Pets",
            "version": "1.0.0",
            "description": "Pets.",
            "contact": {"name": "Team", "url": "https://example.com", "email": "t@example.com"},
            "license": {"name": "MIT", "url": "https://opensource.org/licenses/MIT"},
        },
        "servers": [{"url": "https://api.example.com"}],
        "tags": [{"name": "pets", "description": "Pets."}],
        "security": [{"key": []}],
        "paths": {
            "/pets/{id}": {
                "get": {
                    "operationId": "getPet",
                    "description": "One pet.",
                    "tags": ["pets"],
                    "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Pet"},
                                    "example": {"id": "a", "status": "sold"},
                                }
                            },
                        }
                    },
                }
            }
        },
        "components": {
            "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "k"}},
            "schemas": {
                "Pet": {
                    "type": "object",
                    "required": ["id"],
                    "properties": {
                        "id": {"type": "string", "example": "a"},
                        "status": {"type": "string", "enum": ["available", "sold"]},
                        "tags": {"type": "array", "items": {"type": "string"}},
                    },
                }
            },
        },
    }


def op(d):
    return d["paths"]["/pets/{id}"]["get"]


def pet(d):
    return d["components"]["schemas"]["Pet"]


BREAKERS = {
    "info-contact": lambda d: d["info"].pop("contact"),
    "info-description": lambda d: d["info"].pop("description"),
    "info-license": lambda d: d["info"].pop("license"),
    "license-url": lambda d: d["info"]["license"].pop("url"),
    "contact-properties": lambda d: d["info"]["contact"].pop("email"),
    "openapi-tags": lambda d: d.pop("tags"),
    "openapi-tags-uniqueness": lambda d: d["tags"].append({"name": "pets", "description": "again"}),
    "tag-description": lambda d: d["tags"][0].pop("description"),
    "operation-operationId": lambda d: op(d).pop("operationId"),
    "operation-operationId-unique": lambda d: d["paths"].update(
        {"/b": {"get": {**copy.deepcopy(op(d)), "parameters": []}}}
    ),
    "operation-operationId-valid-in-url": lambda d: op(d).update(operationId="get pet"),
    "operation-description": lambda d: op(d).pop("description"),
    "operation-tags": lambda d: op(d).pop("tags"),
    "operation-tag-defined": lambda d: op(d)["tags"].append("cats"),
    "operation-success-response": lambda d: op(d).update(responses={"404": {"description": "no"}}),
    "operation-parameters": lambda d: op(d)["parameters"].append(dict(op(d)["parameters"][0])),
    "path-params": lambda d: op(d).update(parameters=[]),
    "path-declarations-must-exist": lambda d: d["paths"].update({"/x/{}": {}}),
    "path-keys-no-trailing-slash": lambda d: d["paths"].update({"/x/": {}}),
    "path-not-include-query": lambda d: d["paths"].update({"/x?y=1": {}}),
    "no-$ref-siblings": lambda d: op(d)["responses"]["200"]["content"]["application/json"]["schema"].update(
        description="x"
    ),
    "typed-enum": lambda d: pet(d)["properties"]["status"]["enum"].append(3),
    "duplicated-entry-in-enum": lambda d: pet(d)["properties"]["status"]["enum"].append("sold"),
    "array-items": lambda d: pet(d)["properties"]["tags"].pop("items"),
    "no-eval-in-markdown": lambda d: d["info"].update(description="eval(alert(1))"),
    "no-script-tags-in-markdown": lambda d: d["info"].update(description="<script>alert(1)</script>"),
    "oas3-api-servers": lambda d: d.pop("servers"),
    "oas3-server-trailing-slash": lambda d: d["servers"][0].update(url="https://api.example.com/"),
    "oas3-operation-security-defined": lambda d: d["security"].append({"oauth": []}),
    "oas3-examples-value-or-externalValue": lambda d: op(d)["responses"]["200"]["content"]["application/json"].update(
        examples={"one": {"value": {"id": "a"}, "externalValue": "https://x"}}
    ),
    "oas3-valid-media-example": lambda d: op(d)["responses"]["200"]["content"]["application/json"].update(
        example={"status": "sold"}
    ),
    "oas3-valid-schema-example": lambda d: pet(d)["properties"]["id"].update(example=3),
    "oas3-unused-component": lambda d: d["components"]["schemas"].update(Unused={"type": "string"}),
}

SWAGGER_BREAKERS = {
    "oas2-api-host": lambda d: d.pop("host"),
    "oas2-api-schemes": lambda d: d.pop("schemes"),
    "oas2-operation-security-defined": lambda d: d.update(security=[{"nope": []}]),
    "oas2-unused-definition": lambda d: d["definitions"].update(Unused={"type": "string"}),
    "oas2-valid-schema-example": lambda d: d["definitions"]["Pet"].update(example={"id": 1}),
    "oas2-valid-media-example": lambda d: d["paths"]["/p"]["get"]["responses"]["200"].update(
        examples={"application/json": {"id": 1}}
    ),
}


def swagger() -> dict:
    return {
        "swagger": "2.0",
        "info": {"title": "S", "version": "1"},
        "host": "api.example.com",
        "schemes": ["https"],
        "paths": {
            "/p": {"get": {"responses": {"200": {"description": "ok", "schema": {"$ref": "#/definitions/Pet"}}}}}
        },
        "definitions": {"Pet": {"type": "object", "properties": {"id": {"type": "string"}}}},
    }


def test_the_clean_definitions_pass_every_rule():
    assert lint(clean(), EVERYTHING).findings == []
    assert [f.rule for f in lint(swagger(), EVERYTHING).findings if f.rule.startswith("oas2")] == []
    assert lint(clean()).score == 100


def test_every_builtin_rule_has_a_failing_case():
    assert set(BREAKERS) | set(SWAGGER_BREAKERS) == set(RULES)


@pytest.mark.parametrize("rule", sorted(BREAKERS))
def test_rule_fails_its_definition(rule):
    d = clean()
    BREAKERS[rule](d)
    found = [f for f in lint(d, EVERYTHING).findings if f.rule == rule]
    assert found, rule
    assert found[0].level == RULES[rule].level


@pytest.mark.parametrize("rule", sorted(SWAGGER_BREAKERS))
def test_swagger_rule_fails_its_definition(rule):
    d = swagger()
    SWAGGER_BREAKERS[rule](d)
    assert rule in {f.rule for f in lint(d, EVERYTHING).findings}


def test_findings_carry_the_operation_and_a_pointer():
    d = clean()
    op(d).pop("description")
    (finding,) = lint(d).findings
    assert finding.pointer == "/paths/~1pets~1{id}/get"
    assert (finding.method, finding.path, finding.operation_id) == ("get", "/pets/{id}", "getPet")


def test_score_drops_per_rule_by_its_worst_level():
    d = clean()
    op(d).pop("description")
    op(d).pop("operationId")
    assert lint(d).score == 100 - 4 - 4
    pet(d)["properties"]["tags"].pop("items")
    assert lint(d).score == 100 - 4 - 4 - 10


def test_organisation_severities_and_custom_rules():
    ruleset = parse_ruleset(
        """
rules:
  operation-description: error
  info-license: off
  operation-id-camel-case:
    description: operationIds are camelCase
    severity: warn
    given: "$.paths[*][*]"
    then: {field: operationId, function: casing, functionOptions: {type: camel}}
  tags-lower:
    severity: info
    given: "$.tags[*]"
    then: [{field: name, function: pattern, functionOptions: {match: "^[a-z]+$"}}, {field: name, function: length, functionOptions: {max: 3}}]
  servers-https:
    given: "$.servers[*].url"
    then: {function: pattern, functionOptions: {match: "/^https:/i"}}
  title-set:
    given: "$.info"
    then: {field: summary, function: truthy}
  methods:
    given: "$.paths[*]"
    then: {field: "@key", function: enumeration, functionOptions: {values: ["/pets/{id}"]}}
""",
        "org.yaml",
    )
    d = clean()
    op(d).pop("description")
    op(d)["operationId"] = "Get_pet"
    d["info"].pop("license")
    d["servers"][0]["url"] = "http://x"
    found = {f.rule: f for f in lint(d, ruleset).findings}
    assert found["operation-description"].level == "error"
    assert "info-license" not in found
    assert found["operation-id-camel-case"].level == "warning"
    assert found["operation-id-camel-case"].pointer == "/paths/~1pets~1{id}/get/operationId"
    assert found["operation-id-camel-case"].method == "get"
    assert found["tags-lower"].level == "info"  # "pets" is longer than 3
    assert "servers-https" in found
    assert "title-set" in found
    assert "methods" not in found
    fine = clean()
    fine["info"]["summary"] = "s"
    fine["tags"][0]["name"] = "pet"
    op(fine)["tags"] = ["pet"]
    assert {f.rule for f in lint(fine, ruleset).findings} == set()


@pytest.mark.parametrize(
    "text",
    [
        "rules: {x: loud}",
        "rules: {x: {given: paths, then: {function: truthy}}}",
        "rules: {x: {given: '$.a', then: {function: nope}}}",
        "rules: {x: {given: '$.a', then: {function: casing, functionOptions: {type: weird}}}}",
        "rules: {x: {given: '$[', then: {function: truthy}}}",
        "gate: {fail_on: hint}",
        "scorecards: {lint_threshold: 101}",
        "- a list",
    ],
)
def test_invalid_rulesets_are_refused_with_a_reason(text):
    with pytest.raises(RulesetError):
        parse_ruleset(text, "org.yaml")


def test_gate_policy_is_read():
    ruleset = parse_ruleset("gate: {fail_on: warning, allow_breaking: true, protected_lifecycles: [stable, beta]}")
    assert ruleset.gate.fail_on == "warning" and ruleset.gate.allow_breaking
    assert ruleset.gate.protected_lifecycles == ("stable", "beta")


def test_asyncapi_is_only_checked_by_custom_rules():
    assert lint({"asyncapi": "2.6.0", "info": {}}).findings == []
