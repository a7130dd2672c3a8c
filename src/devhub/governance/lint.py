"""Lint an OpenAPI (or Swagger 2.0) document against the built-in ruleset and the organisation's rules.

Why hand-written: the reference linter, Spectral, is JavaScript (running it would mean shipping Node.js
with a pip-installed portal), and there is no maintained Python port of its `spectral:oas` ruleset. The
rules below keep Spectral's rule names and default severities where they mean the same thing, so teams
can read Spectral's documentation and move rulesets between the two. Organisation rules (severities and
custom `given`/`then` rules with JSONPath selectors) are in `ruleset.py`.

One pass collects the operations; one iterative walk of the document feeds the rules that look at every
schema or string (enums, `$ref` siblings, examples, markdown). A 1.9 MB definition lints in about a second.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from devhub.governance.findings import (
    METHODS,
    RANK,
    Finding,
    Resolver,
    as_dict,
    as_list,
    counts,
    flavour,
    pointer,
    sort_key,
)

OAS2, OAS3_0, OAS3_1 = "swagger", "oas3_0", "oas3_1"
OAS3 = (OAS3_0, OAS3_1)
ALL = (OAS2, OAS3_0, OAS3_1)
SCORE_WEIGHTS = {"error": 10, "warning": 4, "info": 1, "hint": 0}
MAX_VALIDATION_DEPTH = 24

Emit = Callable[..., None]


@dataclass(frozen=True)
class BuiltinRule:
    id: str
    level: str
    description: str
    formats: tuple[str, ...]
    recommended: bool = True


RULES: dict[str, BuiltinRule] = {}


def _rule(rule_id: str, level: str, description: str, formats=ALL, recommended: bool = True) -> None:
    RULES[rule_id] = BuiltinRule(rule_id, level, description, tuple(formats), recommended)


_rule("info-contact", "warning", "info must have a contact object")
_rule("info-description", "warning", "info must have a non-empty description")
_rule("info-license", "warning", "info should have a license")
_rule("license-url", "warning", "the license should have a url")
_rule("contact-properties", "info", "the contact should have name, url and email", recommended=False)
_rule("openapi-tags", "warning", "the document should list its tags at the top level", recommended=False)
_rule("openapi-tags-uniqueness", "error", "top-level tags must have unique names")
_rule("tag-description", "warning", "top-level tags should have a description", recommended=False)
_rule("operation-operationId", "warning", "operations must have an operationId")
_rule("operation-operationId-unique", "error", "every operationId must be unique")
_rule("operation-operationId-valid-in-url", "warning", "operationIds must use only URL-safe characters")
_rule("operation-description", "warning", "operations must have a non-empty description")
_rule("operation-tags", "warning", "operations must have at least one tag")
_rule("operation-tag-defined", "warning", "operation tags must be declared in the top-level tags")
_rule("operation-success-response", "warning", "operations must have at least one 2xx or 3xx response")
_rule("operation-parameters", "warning", "an operation's parameters must be unique by name and location")
_rule("path-params", "error", "path parameters must be declared and used, and paths must not be equivalent")
_rule("path-declarations-must-exist", "warning", "path parameter declarations must not be empty ({})")
_rule("path-keys-no-trailing-slash", "warning", "paths must not end with a slash")
_rule("path-not-include-query", "warning", "paths must not include a query string")
_rule("no-$ref-siblings", "error", "$ref must not have siblings (ignored before OpenAPI 3.1)", (OAS2, OAS3_0))
_rule("typed-enum", "warning", "enum values must match the schema's type")
_rule("duplicated-entry-in-enum", "warning", "enum values must be unique")
_rule("array-items", "error", "array schemas must define items")
_rule("no-eval-in-markdown", "warning", "descriptions and titles must not contain eval(")
_rule("no-script-tags-in-markdown", "warning", "descriptions and titles must not contain <script> tags")
_rule("oas3-api-servers", "warning", "the document must list servers with a url", OAS3)
_rule("oas3-server-trailing-slash", "warning", "server urls must not end with a slash", OAS3)
_rule("oas3-operation-security-defined", "warning", "security requirements must name declared schemes", OAS3)
_rule("oas3-examples-value-or-externalValue", "warning", "an example has value or externalValue, not both", OAS3)
_rule("oas3-valid-media-example", "error", "media examples must be valid against their schema", OAS3)
_rule("oas3-valid-schema-example", "error", "schema examples and defaults must be valid against the schema", OAS3)
_rule("oas3-unused-component", "warning", "every component should be referenced", OAS3)
_rule("oas2-api-host", "info", "the document should have a host", (OAS2,))
_rule("oas2-api-schemes", "warning", "the document should have schemes", (OAS2,))
_rule("oas2-operation-security-defined", "warning", "security requirements must name declared schemes", (OAS2,))
_rule("oas2-unused-definition", "warning", "every definition should be referenced", (OAS2,))
_rule("oas2-valid-schema-example", "error", "schema examples and defaults must be valid against the schema", (OAS2,))
_rule("oas2-valid-media-example", "error", "response examples must be valid against their schema", (OAS2,))


# --- the report -------------------------------------------------------------------------------------------


@dataclass
class LintReport:
    findings: list[Finding] = field(default_factory=list)
    format: str = "unknown"
    operations: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.findings)

    @property
    def score(self) -> int:
        """100 minus, for each rule with findings, its worst level's weight (error 10, warning 4, info 1):
        fixing a rule everywhere gains its points, whatever the size of the API."""
        worst: dict[str, str] = {}
        for finding in self.findings:
            if RANK[finding.level] > RANK.get(worst.get(finding.rule, "hint"), 0) or finding.rule not in worst:
                worst[finding.rule] = finding.level
        return max(0, 100 - sum(SCORE_WEIGHTS[level] for level in worst.values()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "score": self.score,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.findings],
        }


# --- operations -------------------------------------------------------------------------------------------


@dataclass
class Op:
    method: str
    path: str
    obj: dict
    item: dict
    parts: tuple  # ("paths", path, method)

    @property
    def operation_id(self) -> str | None:
        value = self.obj.get("operationId")
        return value if isinstance(value, str) else None


def operations(doc: dict, resolver: Resolver) -> list[Op]:
    found = []
    for path, raw in as_dict(doc.get("paths")).items():
        item = as_dict(resolver.deref(raw))
        for method in METHODS:
            op = item.get(method)
            if isinstance(op, dict):
                found.append(Op(method, str(path), op, item, ("paths", path, method)))
    return found


# --- lint -------------------------------------------------------------------------------------------------


def lint(doc: Any, ruleset: Any = None) -> LintReport:
    """Every finding of the enabled rules, sorted by level then rule. `ruleset` is a `ruleset.Ruleset`."""
    from devhub.governance.ruleset import DEFAULT_RULESET

    ruleset = ruleset or DEFAULT_RULESET
    fmt = flavour(doc)
    report = LintReport(format=fmt)
    if fmt in ("asyncapi", "unknown") or not isinstance(doc, dict):
        report.findings = ruleset.run_custom(doc)
        return report
    findings: list[Finding] = []
    levels = {rule.id: ruleset.level_of(rule.id) for rule in RULES.values() if fmt in rule.formats}
    enabled = {rule_id: level for rule_id, level in levels.items() if level is not None}
    current_op: list[Op | None] = [None]

    def emit(rule_id: str, parts: tuple, message: str, op: Op | None = None) -> None:
        level = enabled.get(rule_id)
        if level is None:
            return
        op = op or current_op[0]
        if op is None and len(parts) >= 3 and parts[0] == "paths":
            op = op_index.get((parts[1], parts[2]))
        findings.append(
            Finding(
                rule_id,
                level,
                message,
                pointer(*parts),
                method=op.method if op else None,
                path=op.path if op else None,
                operation_id=op.operation_id if op else None,
            )
        )

    resolver = Resolver(doc)
    ops = operations(doc, resolver)
    op_index = {(op.path, op.method): op for op in ops}
    report.operations = len(ops)
    _document_rules(doc, fmt, emit)
    _operation_rules(doc, fmt, ops, resolver, emit, current_op)
    _walk_rules(doc, fmt, resolver, enabled, emit)
    if "oas3-unused-component" in enabled or "oas2-unused-definition" in enabled:
        _unused(doc, fmt, emit)
    findings.extend(ruleset.run_custom(doc))
    findings.sort(key=sort_key)
    report.findings = findings
    return report


def _document_rules(doc: dict, fmt: str, emit: Emit) -> None:
    info = as_dict(doc.get("info"))
    if not isinstance(info.get("contact"), dict):
        emit("info-contact", ("info",), "info has no contact object")
    else:
        contact = info["contact"]
        missing = [k for k in ("name", "url", "email") if not contact.get(k)]
        if missing:
            emit("contact-properties", ("info", "contact"), f"the contact has no {', '.join(missing)}")
    if not (isinstance(info.get("description"), str) and info["description"].strip()):
        emit("info-description", ("info",), "info has no description")
    if not isinstance(info.get("license"), dict):
        emit("info-license", ("info",), "info has no license")
    elif not info["license"].get("url") and not info["license"].get("identifier"):
        emit("license-url", ("info", "license"), "the license has no url")
    tags = as_list(doc.get("tags"))
    if not tags:
        emit("openapi-tags", (), "the document lists no tags")
    names: dict[str, int] = {}
    for i, tag in enumerate(tags):
        name = as_dict(tag).get("name")
        if name in names:
            emit("openapi-tags-uniqueness", ("tags", i, "name"), f"tag {name!r} is listed twice")
        names[name] = i
        if not as_dict(tag).get("description"):
            emit("tag-description", ("tags", i), f"tag {name!r} has no description")
    if fmt in OAS3:
        servers = doc.get("servers")
        if not isinstance(servers, list) or not servers:
            emit("oas3-api-servers", (), "the document lists no servers")
        else:
            for i, server in enumerate(servers):
                url = as_dict(server).get("url")
                if not isinstance(url, str) or not url:
                    emit("oas3-api-servers", ("servers", i), "the server has no url")
                elif url.endswith("/") and url != "/":
                    emit("oas3-server-trailing-slash", ("servers", i, "url"), f"server url {url!r} ends with /")
    else:
        if not doc.get("host"):
            emit("oas2-api-host", (), "the document has no host")
        if not as_list(doc.get("schemes")):
            emit("oas2-api-schemes", (), "the document has no schemes")
    seen: dict[str, str] = {}
    for path in as_dict(doc.get("paths")):
        text = str(path)
        if len(text) > 1 and text.endswith("/"):
            emit("path-keys-no-trailing-slash", ("paths", path), f"path {text} ends with /")
        if "?" in text:
            emit("path-not-include-query", ("paths", path), f"path {text} includes a query string")
        if "{}" in text:
            emit("path-declarations-must-exist", ("paths", path), f"path {text} has an empty parameter {{}}")
        names_in = re.findall(r"\{([^}]*)\}", text)
        if len(names_in) != len(set(names_in)):
            emit("path-params", ("paths", path), f"path {text} names a parameter twice")
        normal = re.sub(r"\{[^}]*\}", "{}", text)
        if normal in seen:
            emit("path-params", ("paths", path), f"paths {seen[normal]} and {text} are equivalent")
        else:
            seen[normal] = text


_URL_SAFE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]*\Z")


def _operation_rules(doc: dict, fmt: str, ops: list[Op], resolver: Resolver, emit: Emit, current: list) -> None:
    declared_tags = {as_dict(t).get("name") for t in as_list(doc.get("tags"))}
    schemes_key = ("components", "securitySchemes") if fmt in OAS3 else ("securityDefinitions",)
    schemes = as_dict(doc.get(schemes_key[0]))
    if fmt in OAS3:
        schemes = as_dict(schemes.get("securitySchemes"))
    security_rule = "oas3-operation-security-defined" if fmt in OAS3 else "oas2-operation-security-defined"
    for i, requirement in enumerate(as_list(doc.get("security"))):
        for name in as_dict(requirement):
            if name not in schemes:
                emit(security_rule, ("security", i, name), f"security scheme {name!r} is not declared")
    ids: dict[str, Op] = {}
    for op in ops:
        current[0] = op
        obj, parts = op.obj, op.parts
        label = f"{op.method.upper()} {op.path}"
        op_id = obj.get("operationId")
        if not (isinstance(op_id, str) and op_id):
            emit("operation-operationId", parts, f"{label} has no operationId")
        else:
            if op_id in ids:
                emit("operation-operationId-unique", (*parts, "operationId"), f"operationId {op_id!r} is used twice")
            ids[op_id] = op
            if not _URL_SAFE.match(op_id):
                emit("operation-operationId-valid-in-url", (*parts, "operationId"), f"{op_id!r} is not URL-safe")
        if not (isinstance(obj.get("description"), str) and obj["description"].strip()):
            emit("operation-description", parts, f"{label} has no description")
        tags = as_list(obj.get("tags"))
        if not tags:
            emit("operation-tags", parts, f"{label} has no tags")
        for i, tag in enumerate(tags):
            if tag not in declared_tags:
                emit("operation-tag-defined", (*parts, "tags", i), f"tag {tag!r} is not declared in the top-level tags")
        responses = as_dict(obj.get("responses"))
        if not any(str(code)[:1] in ("2", "3") for code in responses):
            emit("operation-success-response", (*parts, "responses"), f"{label} has no 2xx or 3xx response")
        _parameter_rules(op, resolver, emit)
        for i, requirement in enumerate(as_list(obj.get("security"))):
            for name in as_dict(requirement):
                if name not in schemes:
                    emit(security_rule, (*parts, "security", i, name), f"security scheme {name!r} is not declared")
    current[0] = None


def _parameter_rules(op: Op, resolver: Resolver, emit: Emit) -> None:
    seen: set[tuple] = set()
    path_params: set[str] = set()
    bodies = 0
    for level, params in (("item", as_list(op.item.get("parameters"))), ("op", as_list(op.obj.get("parameters")))):
        for i, raw in enumerate(params):
            param = as_dict(resolver.deref(raw))
            key = (param.get("in"), param.get("name"))
            if level == "op":
                if key in seen:
                    emit(
                        "operation-parameters",
                        (*op.parts, "parameters", i),
                        f"{key[0]} parameter {key[1]!r} is listed twice",
                    )
                bodies += param.get("in") == "body"
            seen.add(key)
            if param.get("in") == "path":
                path_params.add(str(param.get("name")))
    if bodies > 1:
        emit("operation-parameters", (*op.parts, "parameters"), "an operation has at most one body parameter")
    in_template = set(re.findall(r"\{([^}]+)\}", op.path))
    for name in sorted(in_template - path_params):
        emit("path-params", op.parts, f'the operation must define the path parameter "{name}" used in {op.path}')
    for name in sorted(path_params - in_template):
        emit("path-params", op.parts, f'path parameter "{name}" does not appear in {op.path}')


# --- the walk ---------------------------------------------------------------------------------------------

_DATA_KEYS = {"example", "examples", "default", "enum", "const", "x-examples"}
_JSON_TYPES = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}


def _walk(doc: Any) -> Iterator[tuple[tuple, dict]]:
    """Every mapping of the document with its path, skipping example data and extensions."""
    stack: list[tuple[tuple, Any]] = [((), doc)]
    while stack:
        parts, node = stack.pop()
        if isinstance(node, dict):
            yield parts, node
            for key, value in node.items():
                if isinstance(value, dict | list) and key not in _DATA_KEYS and not str(key).startswith("x-"):
                    stack.append(((*parts, key), value))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                if isinstance(value, dict | list):
                    stack.append(((*parts, i), value))


def _is_schema_context(parts: tuple) -> bool:
    return any(p in ("schema", "schemas", "definitions", "properties", "items") for p in parts[-3:])


def _walk_rules(doc: dict, fmt: str, resolver: Resolver, enabled: dict, emit: Emit) -> None:
    ref_siblings = "no-$ref-siblings" in enabled
    schema_examples = "oas3-valid-schema-example" if fmt in OAS3 else "oas2-valid-schema-example"
    check_examples = schema_examples in enabled
    media_examples = "oas3-valid-media-example" in enabled and fmt in OAS3
    oas2_media = "oas2-valid-media-example" in enabled and fmt == OAS2
    nullable_list = fmt == OAS3_1
    for parts, node in _walk(doc):
        if ref_siblings and "$ref" in node and len(node) > 1:
            extra = sorted(str(k) for k in node if k != "$ref")
            emit("no-$ref-siblings", parts, f"$ref has siblings that are ignored: {', '.join(extra)}")
        for key in ("description", "title"):
            text = node.get(key)
            if isinstance(text, str):
                if "eval(" in text:
                    emit("no-eval-in-markdown", (*parts, key), f"{key} contains eval(")
                if "<script" in text.lower():
                    emit("no-script-tags-in-markdown", (*parts, key), f"{key} contains a <script> tag")
        if "enum" in node and isinstance(node["enum"], list):
            _enum_rules(node, parts, emit, nullable_list)
        type_ = node.get("type")
        is_array = type_ == "array" or (isinstance(type_, list) and "array" in type_)
        if (is_array and "items" not in node) and (
            _is_schema_context(parts) or parts[-2:-1] == ("parameters",) or "in" in node
        ):
            emit("array-items", parts, "the array schema has no items")
        if check_examples and _is_schema_context(parts) and parts[-1:] != ("properties",):
            for key in ("example", "default"):
                if key in node and ("type" in node or "properties" in node or "$ref" in node):
                    error = validate(resolver, node, node[key])
                    if error:
                        emit(schema_examples, (*parts, key), f"the {key} is not valid against the schema: {error}")
        if media_examples and parts[-2:-1] == ("content",) and "schema" in node:
            if "example" in node:
                error = validate(resolver, node["schema"], node["example"])
                if error:
                    emit("oas3-valid-media-example", (*parts, "example"), f"the example is not valid: {error}")
            for name, example in as_dict(node.get("examples")).items():
                example = as_dict(resolver.deref(example))
                if "value" in example and "externalValue" in example:
                    emit(
                        "oas3-examples-value-or-externalValue",
                        (*parts, "examples", name),
                        "the example has both value and externalValue",
                    )
                if "value" in example:
                    error = validate(resolver, node["schema"], example["value"])
                    if error:
                        emit(
                            "oas3-valid-media-example",
                            (*parts, "examples", name, "value"),
                            f"example {name!r} is not valid: {error}",
                        )
        if oas2_media and "examples" in node and "schema" in node and parts[-2:-1] == ("responses",):
            for media, value in as_dict(node["examples"]).items():
                if "json" in str(media):
                    error = validate(resolver, node["schema"], value)
                    if error:
                        emit(
                            "oas2-valid-media-example",
                            (*parts, "examples", media),
                            f"the {media} example is not valid: {error}",
                        )


def _enum_rules(node: dict, parts: tuple, emit: Emit, nullable_list: bool) -> None:
    values = node["enum"]
    seen: set[str] = set()
    for i, value in enumerate(values):
        key = json.dumps(value, sort_keys=True, default=str)
        if key in seen:
            emit("duplicated-entry-in-enum", (*parts, "enum", i), f"enum value {value!r} is listed twice")
        seen.add(key)
    raw = node.get("type")
    types = [t for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str) and t in _JSON_TYPES]
    if not types:
        return
    nullable = node.get("nullable") is True or node.get("x-nullable") is True or "null" in types
    for i, value in enumerate(values):
        if value is None and nullable:
            continue
        if not any(_is_type(value, t) for t in types):
            emit("typed-enum", (*parts, "enum", i), f"enum value {value!r} is not of type {' or '.join(types)}")


def _is_type(value: Any, type_: str) -> bool:
    if type_ in ("integer", "number") and isinstance(value, bool):
        return False
    if type_ == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _JSON_TYPES[type_])


def validate(resolver: Resolver, schema: Any, value: Any, depth: int = 0, where: str = "") -> str | None:
    """The first reason `value` does not match `schema` (OpenAPI's dialect, lenient where unsure), or None."""
    if depth > MAX_VALIDATION_DEPTH:
        return None
    schema = resolver.deref(schema)
    if not isinstance(schema, dict) or not schema:
        return None
    here = where or "the value"
    for member in as_list(schema.get("allOf")):
        error = validate(resolver, member, value, depth + 1, where)
        if error:
            return error
    for kind in ("oneOf", "anyOf"):
        members = as_list(schema.get(kind))
        if members and all(validate(resolver, m, value, depth + 1, where) for m in members):
            return f"{here} matches none of {kind}"
    raw = schema.get("type")
    types = [t for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str) and t in _JSON_TYPES]
    if value is None and (schema.get("nullable") is True or schema.get("x-nullable") is True or "null" in types):
        return None
    if types and not any(_is_type(value, t) for t in types):
        return f"{here} is not of type {' or '.join(types)}"
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and value not in enum:
        return f"{here} is not one of the enum values"
    if isinstance(value, str):
        if isinstance(schema.get("maxLength"), int) and len(value) > schema["maxLength"]:
            return f"{here} is longer than {schema['maxLength']}"
        if isinstance(schema.get("minLength"), int) and len(value) < schema["minLength"]:
            return f"{here} is shorter than {schema['minLength']}"
        pattern = schema.get("pattern")
        if isinstance(pattern, str):
            try:
                if not re.search(pattern, value):
                    return f"{here} does not match the pattern {pattern}"
            except re.error:
                pass
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if isinstance(schema.get("maximum"), int | float) and value > schema["maximum"]:
            return f"{here} is above the maximum {schema['maximum']}"
        if isinstance(schema.get("minimum"), int | float) and value < schema["minimum"]:
            return f"{here} is below the minimum {schema['minimum']}"
    elif isinstance(value, list):
        if isinstance(schema.get("maxItems"), int) and len(value) > schema["maxItems"]:
            return f"{here} has more than {schema['maxItems']} items"
        if isinstance(schema.get("minItems"), int) and len(value) < schema["minItems"]:
            return f"{here} has fewer than {schema['minItems']} items"
        if "items" in schema:
            for i, item in enumerate(value[:100]):
                error = validate(resolver, schema["items"], item, depth + 1, f"{where or 'value'}[{i}]")
                if error:
                    return error
    elif isinstance(value, dict):
        properties = as_dict(schema.get("properties"))
        for name in as_list(schema.get("required")):
            if name not in value and not as_dict(resolver.deref(properties.get(name))).get("readOnly"):
                return f"{where + '.' if where else ''}{name} is required"
        for name, item in value.items():
            sub = properties.get(name)
            path = f"{where}.{name}" if where else str(name)
            if sub is not None:
                error = validate(resolver, sub, item, depth + 1, path)
                if error:
                    return error
            elif schema.get("additionalProperties") is False and not as_list(schema.get("allOf")):
                return f"{path} is not an allowed property"
    return None


# --- unused components --------------------------------------------------------------------------------

_COMPONENT_SECTIONS = ("schemas", "responses", "parameters", "examples", "requestBodies", "headers", "links")


def _unused(doc: dict, fmt: str, emit: Emit) -> None:
    refs: set[str] = set()
    stack: list[Any] = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                refs.add(ref)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend(v for v in node if isinstance(v, dict | list))
    used = {_ref_prefix(ref) for ref in refs}
    if fmt in OAS3:
        components = as_dict(doc.get("components"))
        for section in _COMPONENT_SECTIONS:
            for name in as_dict(components.get(section)):
                key = pointer("components", section, name)
                if key not in used:
                    emit("oas3-unused-component", ("components", section, name), f"{section}/{name} is never used")
    else:
        for name in as_dict(doc.get("definitions")):
            if pointer("definitions", name) not in used:
                emit("oas2-unused-definition", ("definitions", name), f"definition {name} is never used")


def _ref_prefix(ref: str) -> str:
    """`#/components/schemas/Pet/properties/id` -> `/components/schemas/Pet`."""
    parts = ref.lstrip("#").split("/")
    return "/".join(parts[:4]) if len(parts) > 3 and parts[1] == "components" else "/".join(parts[:3])
