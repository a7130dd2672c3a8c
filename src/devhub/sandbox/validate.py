"""Validating a sandbox call against its operation, in Prism's order of precedence.

Prism (stoplightio/prism, docs/guides/02-request-validation.md and its mocker) first routes the call (no
path: 404; a path without that method: 405), then checks security (401 with `WWW-Authenticate`), then the
body's content type (415), and only then validates parameters and body together, answering 422, or 400
when the operation defines a 400 response and no 422. We follow that order, and add one step Prism folds
into its 422: a body that does not parse as its declared content type is 400 (the request is malformed,
not merely invalid). Every failing field is named in the problem body: `errors` (our problem shape:
`in`, `name`, `pointer`, `detail`) and `validation` (Prism's shape: `location`, `message`, `code`).

Schema validation is jsonschema-rs's; what is written here is the HTTP side OpenAPI adds on top: reading
parameters out of path, query, headers and cookies and turning their strings into the schema's types.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from devhub.sandbox.compile import Body, CompiledSpec, MediaType, Operation, Param

JSON_TYPES = ("application/json",)
# OpenAPI: header parameters with these names are ignored (content negotiation and security describe them).
IGNORED_HEADERS = ("accept", "content-type", "authorization")


@dataclass
class SandboxRequest:
    method: str
    path: str  # the path inside the API, as written in the spec's `paths`
    query: list[tuple[str, str]]
    headers: dict[str, str]  # lower-case names
    cookies: dict[str, str]
    body: bytes
    form: dict[str, Any] | None = None  # multipart fields, parsed by the endpoint


@dataclass
class FieldError:
    location: str  # path | query | header | cookie | body
    name: str
    detail: str
    code: str = "invalid"

    def to_dict(self) -> dict[str, Any]:
        pointer = f"/{self.location}" + (f"/{self.name}" if self.name else "")
        return {"in": self.location, "name": self.name, "pointer": pointer, "detail": self.detail, "code": self.code}

    def to_prism(self) -> dict[str, Any]:
        location = [self.location, *[part for part in self.name.split("/") if part]]
        return {"location": location, "message": self.detail, "code": self.code, "severity": "Error"}


@dataclass
class Rejection(Exception):
    """A call the definition refuses: a problem document and its headers."""

    status: int
    title: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [error.to_dict() for error in self.errors]
            body["validation"] = [error.to_prism() for error in self.errors]
        return body


@dataclass
class ValidRequest:
    """What validation read out of the call, typed: the generator and the state use it."""

    params: dict[str, dict[str, Any]]  # location -> name -> value
    body: Any
    media_type: str | None


def media_base(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def media_matches(offered: str, declared: str) -> bool:
    if declared in ("*/*", offered):
        return True
    kind, _, sub = declared.partition("/")
    return sub == "*" and offered.startswith(kind + "/")


# --- Security --------------------------------------------------------------------------------------------


def check_security(spec: CompiledSpec, operation: Operation, signed: bool) -> None:
    """A call the gateway signed has satisfied the operation's security; an unsigned one only reaches
    operations that need no credentials."""
    if signed or not operation.needs_credentials:
        return
    names = [name for requirement in operation.security for name in requirement]
    raise Rejection(
        401,
        "Unauthorized",
        "this operation needs credentials: call it through the gateway's sandbox with a sandbox key "
        f"(security: {', '.join(dict.fromkeys(names))})",
        headers={"WWW-Authenticate": _challenge(spec, names)},
    )


def _challenge(spec: CompiledSpec, names: list[str]) -> str:
    challenges = []
    for name in dict.fromkeys(names):
        scheme = spec.security_schemes.get(name) or {}
        kind = str(scheme.get("type", "")).lower()
        if kind == "basic" or (kind == "http" and str(scheme.get("scheme", "")).lower() == "basic"):
            challenges.append('Basic realm="sandbox"')
        elif kind == "apikey":
            challenges.append(
                f'ApiKey realm="sandbox", in="{scheme.get("in", "header")}", name="{scheme.get("name", "")}"'
            )
        else:
            challenges.append('Bearer realm="sandbox"')
    return ", ".join(dict.fromkeys(challenges)) or 'Bearer realm="sandbox"'


# --- Content type and body -------------------------------------------------------------------------------


def check_content_type(operation: Operation, request: SandboxRequest) -> MediaType | None:
    """The declared media type the body is sent as (415 when the operation does not take it)."""
    body = operation.body
    content_type = request.headers.get("content-type")
    if body is None or not body.media:
        return None
    if content_type is None and not request.body:
        return None  # no body (a missing required body is a 422 below)
    offered = media_base(content_type or "")
    for declared, media in body.media.items():
        if media_matches(offered, declared):
            return media
    raise Rejection(
        415,
        "Unsupported media type",
        f"the body's content type {offered or '(none)'!r} is not one this operation takes: {', '.join(body.media)}",
        [FieldError("header", "content-type", f"expected one of {', '.join(body.media)}", "content-type")],
    )


def parse_body(media: MediaType | None, request: SandboxRequest) -> Any:
    """The body as data (400 when it does not parse as its content type)."""
    if not request.body and request.form is None:
        return None
    offered = media_base(request.headers.get("content-type", ""))
    try:
        if offered in JSON_TYPES or offered.endswith("+json"):
            return json.loads(request.body)
        if offered == "application/x-www-form-urlencoded":
            return _form_fields(parse_qs(request.body.decode(), keep_blank_values=True), media)
        if offered == "multipart/form-data" and request.form is not None:
            return _form_fields({k: v if isinstance(v, list) else [v] for k, v in request.form.items()}, media)
        if offered.startswith("text/"):
            return request.body.decode()
    except (ValueError, UnicodeDecodeError) as error:
        raise Rejection(
            400,
            "Bad request",
            f"the body is not valid {offered}: {error}",
            [FieldError("body", "", str(error), "parse")],
        ) from None
    return request.body


def _form_fields(fields: dict[str, list[str]], media: MediaType | None) -> dict[str, Any]:
    schema = (media.schema if media else None) or {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    properties = properties if isinstance(properties, dict) else {}
    return {name: coerce(values, properties.get(name) or {}, explode=True) for name, values in fields.items()}


# --- Parameters ------------------------------------------------------------------------------------------


def coerce(values: list[str], schema: dict[str, Any], *, explode: bool) -> Any:
    """Strings from the wire as the schema's type; left as they are when they do not convert (the schema
    validator then names the field)."""
    kind = _type_of(schema)
    if kind == "array":
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        parts = values if explode or len(values) > 1 else [p for p in values[0].split(",")] if values[0] else []
        return [_scalar(part, items) for part in parts]
    return _scalar(values[-1], schema)


def _type_of(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def _scalar(value: str, schema: dict[str, Any]) -> Any:
    kind = _type_of(schema)
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
        if kind == "null" and value in ("", "null"):
            return None
    except ValueError:
        return value
    return value


def _raw_params(request: SandboxRequest, path_values: dict[str, str]) -> dict[str, dict[str, list[str]]]:
    query: dict[str, list[str]] = {}
    for name, value in request.query:
        query.setdefault(name, []).append(value)
    return {
        "path": {name: [value] for name, value in path_values.items()},
        "query": query,
        "header": {name: [value] for name, value in request.headers.items()},
        "cookie": {name: [value] for name, value in request.cookies.items()},
    }


def read_params(
    spec: CompiledSpec, operation: Operation, request: SandboxRequest, path_values: dict[str, str]
) -> tuple[dict[str, dict[str, Any]], list[FieldError]]:
    raw = _raw_params(request, path_values)
    values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}, "cookie": {}}
    errors: list[FieldError] = []
    for param in operation.params:
        if param.location == "header" and param.name.lower() in IGNORED_HEADERS:
            continue
        key = param.name.lower() if param.location == "header" else param.name
        found = raw[param.location].get(key)
        if found is None:
            if param.required:
                errors.append(
                    FieldError(param.location, param.name, f"the {param.location} parameter is required", "required")
                )
            continue
        value = coerce(found, param.schema, explode=param.explode)
        values[param.location][param.name] = value
        errors.extend(_schema_errors(spec, param, value))
    return values, errors


def _schema_errors(spec: CompiledSpec, param: Param, value: Any) -> list[FieldError]:
    if param.pointer is None and not param.schema:
        return []
    validator = spec.validator(param.pointer, "request", param.schema)
    return [_field_error(param.location, param.name, error) for error in validator.iter_errors(value)]


def _field_error(location: str, name: str, error) -> FieldError:
    """One schema error as the field it is about; a missing required property is named itself."""
    parts = [str(part) for part in error.instance_path]
    code = type(error.kind).__name__.lower() if error.kind is not None else "invalid"
    if code == "required" and isinstance(getattr(error.kind, "property", None), str):
        parts.append(error.kind.property)
    return FieldError(location, "/".join(part for part in (name, *parts) if part), error.message, code)


def body_errors(spec: CompiledSpec, body: Body | None, media: MediaType | None, value: Any) -> list[FieldError]:
    if body is None:
        return []
    if value is None:
        return [FieldError("body", "", "a request body is required", "required")] if body.required else []
    if media is None or (media.pointer is None and not media.schema):
        return []
    if isinstance(value, bytes):
        return []  # a body we do not parse (XML, binary): its content type was checked
    validator = spec.validator(media.pointer, "request", media.schema)
    return [_field_error("body", "", error) for error in validator.iter_errors(value)]


def validate(
    spec: CompiledSpec, operation: Operation, request: SandboxRequest, path_values: dict[str, str], *, signed: bool
) -> ValidRequest:
    """Security, content type, body syntax, then every parameter and the body at once (see module doc)."""
    check_security(spec, operation, signed)
    media = check_content_type(operation, request)
    body = parse_body(media, request)
    params, errors = read_params(spec, operation, request, path_values)
    errors.extend(body_errors(spec, operation.body, media, body))
    if errors:
        status = 400 if "400" in operation.responses and "422" not in operation.responses else 422
        names = ", ".join(dict.fromkeys(f"{e.location} {e.name}".strip() for e in errors))
        raise Rejection(status, "Invalid request", f"the request does not match the definition: {names}", errors)
    return ValidRequest(params, body, media.name if media else None)
