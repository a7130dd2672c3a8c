"""One published OpenAPI document (2.0, 3.0 or 3.1) compiled into what the sandbox needs on each call.

The three versions are read into one shape (`Operation`: parameters, body, security, responses), so the
validator and the generator never look at the version again. Schemas stay where they are in the document
and are validated by JSON pointer through a jsonschema-rs `Registry` holding the whole (converted) document,
so `$ref`s between schemas resolve without copying anything. OpenAPI 2.0 and 3.0 schemas are JSON Schema
draft 4 plus `nullable`/`x-nullable` (turned into `type: [..., "null"]` here); 3.1's are draft 2020-12.

The document is converted twice: once for requests (readOnly properties are not required) and once for
responses (writeOnly properties are not required), as OpenAPI says.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from urllib.parse import quote

import jsonschema_rs

SPEC_URI = "urn:devhub:sandbox:spec"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PARAM_LOCATIONS = ("path", "query", "header", "cookie")
_TEMPLATE_PART = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # path | query | header | cookie
    required: bool
    pointer: str | None  # JSON pointer of the schema in the document
    schema: dict[str, Any]  # the schema itself, $refs at its top resolved (for coercion)
    explode: bool
    style: str


@dataclass(frozen=True)
class MediaType:
    name: str  # application/json, ...
    pointer: str | None
    schema: dict[str, Any] | None
    examples: dict[str, Any]  # name -> value; "example" for a lone `example`


@dataclass(frozen=True)
class Body:
    required: bool
    media: dict[str, MediaType]


@dataclass(frozen=True)
class Response:
    status: str  # "200", "4XX" or "default"
    media: dict[str, MediaType]


@dataclass
class Operation:
    method: str
    template: str
    operation_id: str | None
    params: list[Param]
    body: Body | None
    security: list[dict[str, list]]  # alternatives; [] or [{}] means none needed
    responses: dict[str, Response]

    @property
    def needs_credentials(self) -> bool:
        return bool(self.security) and all(requirement for requirement in self.security)


@dataclass
class PathTemplate:
    template: str
    pattern: re.Pattern[str]
    names: list[str]
    literal_length: int
    operations: dict[str, Operation] = field(default_factory=dict)


@dataclass
class CompiledSpec:
    """Everything answering one API version needs; built once per version and cached by the service."""

    format_version: str
    security_schemes: dict[str, dict[str, Any]]
    paths: list[PathTemplate]
    request_document: dict[str, Any]
    response_document: dict[str, Any]
    draft: Any
    _registries: dict[str, jsonschema_rs.Registry] = field(default_factory=dict)
    _validators: dict[tuple[str, str], Any] = field(default_factory=dict)

    def match(self, path: str) -> tuple[PathTemplate, dict[str, str]] | None:
        """The path template a concrete path matches: templates with fewer parameters win (Prism's rule
        that `/pets/mine` beats `/pets/{id}`), then the order of the document."""
        for candidate in self.paths:
            found = candidate.pattern.fullmatch(path)
            if found:
                return candidate, found.groupdict()
        return None

    def validator(self, pointer: str | None, direction: str, inline: dict[str, Any] | None = None):
        """A compiled validator of the schema at `pointer` (or of an `inline` schema the reader built, such as
        a 2.0 operation's form fields), for `request` or `response` documents."""
        key = (direction, pointer or f"inline:{id(inline)}")
        validator = self._validators.get(key)
        if validator is None:
            registry = self._registries.get(direction)
            if registry is None:
                document = self.request_document if direction == "request" else self.response_document
                registry = jsonschema_rs.Registry([(SPEC_URI, document)], draft=self.draft)
                self._registries[direction] = registry
            cls = jsonschema_rs.Draft202012Validator if self.draft == jsonschema_rs.Draft202012 else None
            cls = cls or jsonschema_rs.Draft4Validator
            schema = (
                {"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}
                if pointer
                else _convert(copy.deepcopy(inline), direction, True)
            )
            formats = _LEGACY_FORMATS if cls is jsonschema_rs.Draft4Validator else None
            validator = cls(schema, registry=registry, validate_formats=True, formats=formats)
            self._validators[key] = validator
        return validator

    def resolve(self, schema: Any, direction: str = "response") -> Any:
        """Follow `$ref`s at the top of a schema (internal references only, which bundling guarantees)."""
        document = self.request_document if direction == "request" else self.response_document
        return resolve(document, schema)


def _is_uuid(value: str) -> bool:
    return bool(_UUID.fullmatch(value))


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


# Formats OpenAPI 2.0/3.0 use that draft 4 does not define (draft 2020-12 knows them already).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_LEGACY_FORMATS = {"uuid": _is_uuid, "date": _is_date}


def resolve(document: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    while isinstance(schema, dict) and isinstance(schema.get("$ref"), str) and depth < 32:
        target = lookup(document, schema["$ref"])
        if target is None:
            return {}
        schema, depth = target, depth + 1
    return schema


def lookup(document: dict[str, Any], ref: str) -> Any:
    if not ref.startswith("#"):
        return None
    node: Any = document
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
        if node is None:
            return None
    return node


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


# --- Schema conversion ----------------------------------------------------------------------------------


def _convert(node: Any, direction: str, legacy: bool) -> Any:
    """OpenAPI schema dialect to plain JSON Schema, in place over a deep copy of the whole document."""
    if isinstance(node, list):
        for item in node:
            _convert(item, direction, legacy)
        return node
    if not isinstance(node, dict):
        return node
    # nullable adds "null" to the types; an enum must still list null itself (OpenAPI 3.0.3's clarification)
    if legacy and (node.get("nullable") is True or node.get("x-nullable") is True) and "$ref" not in node:
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
    properties = node.get("properties")
    required = node.get("required")
    if isinstance(properties, dict) and isinstance(required, list):
        skip = "readOnly" if direction == "request" else "writeOnly"
        node["required"] = [
            name for name in required if not (isinstance(properties.get(name), dict) and properties[name].get(skip))
        ]
        if legacy and not node["required"]:
            del node["required"]  # draft 4 forbids an empty list
    for key, value in node.items():
        if key not in ("example", "examples", "enum", "default", "const", "x-example"):
            _convert(value, direction, legacy)
    return node


def _document_for(document: dict[str, Any], direction: str, legacy: bool) -> dict[str, Any]:
    return _convert(copy.deepcopy(document), direction, legacy)


# --- Reading the document ------------------------------------------------------------------------------


def compile_spec(document: dict[str, Any], format_version: str) -> CompiledSpec:
    is_swagger = str(document.get("swagger", "")).startswith("2") or format_version.startswith("2")
    is_31 = str(document.get("openapi", "")).startswith("3.1")
    legacy = not is_31
    spec = CompiledSpec(
        format_version=format_version,
        security_schemes=_security_schemes(document, is_swagger),
        paths=[],
        request_document=_document_for(document, "request", legacy),
        response_document=_document_for(document, "response", legacy),
        draft=jsonschema_rs.Draft202012 if is_31 else jsonschema_rs.Draft4,
    )
    paths = document.get("paths") or {}
    global_security = document.get("security") or []
    reader = _SwaggerReader(document, spec) if is_swagger else _OpenApiReader(document, spec)
    templates = []
    for index, (template, item) in enumerate(paths.items()):
        item = resolve(document, item)
        if not isinstance(item, dict) or not template.startswith("/"):
            continue
        path_template = _path_template(template)
        for method in METHODS:
            operation = item.get(method)
            if isinstance(operation, dict):
                path_template.operations[method] = reader.operation(template, method, item, operation, global_security)
        templates.append((len(path_template.names), -path_template.literal_length, index, path_template))
    spec.paths = [entry[-1] for entry in sorted(templates, key=lambda entry: entry[:3])]
    return spec


def _path_template(template: str) -> PathTemplate:
    names: list[str] = []
    pattern = ""
    position = 0
    for found in _TEMPLATE_PART.finditer(template):
        pattern += re.escape(template[position : found.start()])
        group = f"p{len(names)}"
        names.append(found.group(1))
        pattern += f"(?P<{group}>[^/]+)"
        position = found.end()
    pattern += re.escape(template[position:])
    literal = len(_TEMPLATE_PART.sub("", template))
    return PathTemplate(template, re.compile(pattern.rstrip("/") + "/?"), names, literal)


def _security_schemes(document: dict[str, Any], is_swagger: bool) -> dict[str, dict[str, Any]]:
    if is_swagger:
        schemes = document.get("securityDefinitions") or {}
    else:
        schemes = (document.get("components") or {}).get("securitySchemes") or {}
    return {name: resolve(document, scheme) for name, scheme in schemes.items() if isinstance(scheme, dict)}


def _merged_params(document: dict, item: dict, operation: dict, base: str) -> list[tuple[str, dict]]:
    """Path-level parameters overridden by operation-level ones of the same name and location."""
    found: dict[tuple[str, str], tuple[str, dict]] = {}
    for scope, owner in ((base, item), (f"{base}/{{method}}", operation)):
        for index, raw in enumerate(owner.get("parameters") or []):
            pointer = f"{scope}/parameters/{index}"
            if isinstance(raw, dict) and isinstance(raw.get("$ref"), str):
                pointer = raw["$ref"][1:]
            param = resolve(document, raw)
            if isinstance(param, dict) and "name" in param and "in" in param:
                found[(param["in"], param["name"])] = (pointer, param)
    return list(found.values())


def _examples(document: dict, media: dict) -> dict[str, Any]:
    examples: dict[str, Any] = {}
    for name, example in (media.get("examples") or {}).items():
        example = resolve(document, example)
        if isinstance(example, dict) and "value" in example:
            examples[name] = example["value"]
    if "example" in media:
        examples.setdefault("example", media["example"])
    return examples


class _OpenApiReader:
    def __init__(self, document: dict, spec: CompiledSpec) -> None:
        self.document = document
        self.spec = spec

    def operation(self, template: str, method: str, item: dict, raw: dict, global_security: list) -> Operation:
        base = f"/paths/{escape(template)}"
        params = []
        for pointer, param in _merged_params(self.document, item, raw, base):
            pointer = pointer.replace("{method}", method)
            params.append(self._param(pointer, param))
        return Operation(
            method=method,
            template=template,
            operation_id=raw.get("operationId"),
            params=params,
            body=self._body(f"{base}/{method}/requestBody", raw.get("requestBody")),
            security=raw["security"] if isinstance(raw.get("security"), list) else global_security,
            responses=self._responses(f"{base}/{method}/responses", raw.get("responses") or {}),
        )

    def _param(self, pointer: str, param: dict) -> Param:
        location = param["in"]
        schema_pointer = f"{pointer}/schema" if isinstance(param.get("schema"), dict) else None
        schema = self.spec.resolve(param.get("schema") or {}, "request")
        if schema_pointer is None and isinstance(param.get("content"), dict):  # content-typed parameter
            name, media = next(iter(param["content"].items()), (None, None))
            if isinstance(media, dict) and isinstance(media.get("schema"), dict):
                schema_pointer = f"{pointer}/content/{escape(name)}/schema"
                schema = self.spec.resolve(media["schema"], "request")
        style = param.get("style") or ("form" if location in ("query", "cookie") else "simple")
        return Param(
            name=param["name"],
            location=location,
            required=bool(param.get("required")) or location == "path",
            pointer=schema_pointer,
            schema=schema if isinstance(schema, dict) else {},
            explode=param.get("explode", style == "form"),
            style=style,
        )

    def _body(self, pointer: str, raw: Any) -> Body | None:
        if isinstance(raw, dict) and "$ref" in raw:
            pointer = raw["$ref"][1:]
        body = resolve(self.document, raw)
        if not isinstance(body, dict):
            return None
        return Body(bool(body.get("required")), self._media(f"{pointer}/content", body.get("content") or {}))

    def _media(self, pointer: str, content: dict) -> dict[str, MediaType]:
        media = {}
        for name, entry in content.items():
            entry = entry if isinstance(entry, dict) else {}
            has_schema = isinstance(entry.get("schema"), dict)
            media[name.lower()] = MediaType(
                name=name.lower(),
                pointer=f"{pointer}/{escape(name)}/schema" if has_schema else None,
                schema=entry.get("schema") if has_schema else None,
                examples=_examples(self.document, entry),
            )
        return media

    def _responses(self, pointer: str, raw: dict) -> dict[str, Response]:
        responses = {}
        for status, response in raw.items():
            where = f"{pointer}/{escape(str(status))}"
            if isinstance(response, dict) and isinstance(response.get("$ref"), str):
                where = response["$ref"][1:]
            response = resolve(self.document, response)
            if isinstance(response, dict):
                responses[str(status)] = Response(
                    str(status), self._media(f"{where}/content", response.get("content") or {})
                )
        return responses


class _SwaggerReader:
    """OpenAPI 2.0: body and formData parameters become a request body, `produces` the response media."""

    def __init__(self, document: dict, spec: CompiledSpec) -> None:
        self.document = document
        self.spec = spec
        self.consumes = document.get("consumes") or ["application/json"]
        self.produces = document.get("produces") or ["application/json"]

    def operation(self, template: str, method: str, item: dict, raw: dict, global_security: list) -> Operation:
        base = f"/paths/{escape(template)}"
        params: list[Param] = []
        body: Body | None = None
        form: list[dict] = []
        consumes = [c.lower() for c in raw.get("consumes") or self.consumes]
        for pointer, param in _merged_params(self.document, item, raw, base):
            pointer = pointer.replace("{method}", method)
            if param["in"] == "body":
                media = MediaType("", f"{pointer}/schema" if "schema" in param else None, param.get("schema"), {})
                body = Body(
                    bool(param.get("required")), {c: MediaType(c, media.pointer, media.schema, {}) for c in consumes}
                )
            elif param["in"] == "formData":
                form.append(param)
            elif param["in"] in PARAM_LOCATIONS:
                params.append(self._param(pointer, param))
        if form:
            body = self._form_body(form, consumes)
        produces = [p.lower() for p in raw.get("produces") or self.produces]
        return Operation(
            method=method,
            template=template,
            operation_id=raw.get("operationId"),
            params=params,
            body=body,
            security=raw["security"] if isinstance(raw.get("security"), list) else global_security,
            responses=self._responses(f"{base}/{method}/responses", raw.get("responses") or {}, produces),
        )

    def _param(self, pointer: str, param: dict) -> Param:
        # A 2.0 parameter is its own schema (type, format, enum, ...), less the fields that are not schema.
        keep = ("name", "in", "required", "description", "collectionFormat", "allowEmptyValue")
        schema = {k: v for k, v in param.items() if k not in keep}
        return Param(
            name=param["name"],
            location=param["in"],
            required=bool(param.get("required")) or param["in"] == "path",
            pointer=None,
            schema=schema,
            explode=param.get("collectionFormat") == "multi",
            style="form",
        )

    def _form_body(self, form: list[dict], consumes: list[str]) -> Body:
        properties = {}
        for param in form:
            keep = ("name", "in", "required", "description", "collectionFormat")
            schema = {k: v for k, v in param.items() if k not in keep}
            properties[param["name"]] = {"type": "string"} if schema.get("type") == "file" else schema
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        required = [p["name"] for p in form if p.get("required")]
        if required:
            schema["required"] = required
        types = [c for c in consumes if c.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))]
        types = types or ["application/x-www-form-urlencoded"]
        # An inline schema has no pointer: the validator compiles it on its own (it has no $refs to resolve).
        return Body(bool(required), {c: MediaType(c, None, schema, {}) for c in types})

    def _responses(self, pointer: str, raw: dict, produces: list[str]) -> dict[str, Response]:
        responses = {}
        for status, response in raw.items():
            where = f"{pointer}/{escape(str(status))}"
            if isinstance(response, dict) and isinstance(response.get("$ref"), str):
                where = response["$ref"][1:]
            response = resolve(self.document, response)
            if not isinstance(response, dict):
                continue
            examples = response.get("examples") if isinstance(response.get("examples"), dict) else {}
            media = {}
            if isinstance(response.get("schema"), dict) or examples:
                for name in produces or ["application/json"]:
                    example = {"example": examples[name]} if name in examples else {}
                    has_schema = isinstance(response.get("schema"), dict)
                    media[name] = MediaType(
                        name, f"{where}/schema" if has_schema else None, response.get("schema"), example
                    )
            responses[str(status)] = Response(str(status), media)
        return responses


def quote_path(path: str) -> str:
    return quote(path, safe="/{}")
