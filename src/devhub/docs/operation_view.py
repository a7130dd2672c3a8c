"""One OpenAPI (3.0, 3.1) or Swagger (2.0) operation as a view model: parameters, request body, responses
with headers, examples and links, callbacks (as nested operations), security, servers, and the values the
code samples are built from."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from devhub.docs.refs import as_dict, as_list, deref, pointer, ref_of, unescape
from devhub.docs.render import (
    HTTP_METHODS,
    OpEntry,
    Reference,
    ServerView,
    _entry,
    operation_object,
    path_item,
    safe_url,
    security_requirements,
    servers_view,
    slugify,
    tag_names,
    text,
)
from devhub.docs.schema_view import SchemaNode, SchemaViewBuilder, example_text, example_value, json_text

MAX_CALLBACK_DEPTH = 2
JSONISH = re.compile(r"[/+]json\b|^application/json", re.I)


@dataclass
class ExampleView:
    name: str | None
    summary: str | None
    description: str | None
    text: str | None
    external_url: str | None = None
    external_text: str | None = None
    generated: bool = False


@dataclass
class ParamView:
    name: str
    location: str
    required: bool
    deprecated: bool
    description: str | None
    schema: SchemaNode | None
    examples: list[ExampleView]
    style: str | None = None
    explode: bool | None = None
    value: Any = None  # what code samples put here

    @property
    def type_text(self) -> str:
        return self.schema.type_text if self.schema is not None else ""

    @property
    def example_text(self) -> str | None:
        return self.examples[0].text if self.examples else None

    @property
    def distinct_examples(self) -> list[tuple[str | None, str]]:
        """Up to three examples with different values, as (name, text); names only when each is distinct
        from the others (definitions often repeat one value under many names)."""
        texts = [ex.text if ex.text is not None else ex.external_text for ex in self.examples]
        texts = [t for t in texts if t is not None]
        unique = list(dict.fromkeys(texts))
        if len(unique) == len(texts):
            return [(ex.name, t) for ex, t in zip(self.examples, texts, strict=False)][:3]
        return [(None, t) for t in unique[:3]]


@dataclass
class MediaView:
    media_type: str  # one media type, or several joined by ", " when they share everything
    schema: SchemaNode | None
    examples: list[ExampleView]
    id: str = ""
    value: Any = None  # the request body code samples send
    has_value: bool = False

    @property
    def media_types(self) -> list[str]:
        return [m.strip() for m in self.media_type.split(",")]


@dataclass
class BodyView:
    description: str | None
    required: bool
    contents: list[MediaView]


@dataclass
class LinkView:
    name: str
    target_text: str | None
    target_url: str | None
    description: str | None
    parameters: list[tuple[str, str]]
    request_body: str | None


@dataclass
class ResponseView:
    status: str
    description: str | None
    headers: list[ParamView]
    contents: list[MediaView]
    links: list[LinkView]
    id: str = ""

    @property
    def status_class(self) -> str:
        return {"2": "success", "3": "info", "4": "warning", "5": "danger"}.get(self.status[:1], "neutral")


@dataclass
class CallbackView:
    name: str
    id: str
    expressions: list[tuple[str, list[OperationView]]]


@dataclass
class OperationView:
    entry: OpEntry
    id_prefix: str
    method: str
    path: str
    summary: str | None
    description: str | None
    deprecated: bool
    operation_id: str | None
    tags: list[str]
    external_docs: tuple[str, str | None, str | None] | None
    servers: list[ServerView]
    security: list[list[tuple[str, list[str]]]]
    security_source: str  # operation | document | none
    parameters: list[ParamView] = field(default_factory=list)
    request_body: BodyView | None = None
    responses: list[ResponseView] = field(default_factory=list)
    callbacks: list[CallbackView] = field(default_factory=list)
    is_webhook: bool = False
    samples: list = field(default_factory=list)  # samples.Sample, main operation only

    @property
    def title(self) -> str:
        return self.summary or self.operation_id or f"{self.method.upper()} {self.path}"

    def sid(self, name: str) -> str:
        return f"{self.id_prefix}{name}"

    @property
    def console_fields(self) -> list[ConsoleField]:
        """The try-it console's parameter fields (see `console_fields`)."""
        return console_fields(self)

    @property
    def console_body(self) -> ConsoleBody | None:
        return console_body(self)


def operation_view(ref: Reference, entry: OpEntry) -> OperationView:
    op = operation_object(ref, entry)
    kind, key, _ = entry.locator
    home = "webhooks" if kind == "webhook" else "paths"
    item = path_item(ref.doc, as_dict(ref.doc.get(home)).get(key))
    view = _build(ref, entry, op, item, "", 0)
    view.is_webhook = kind == "webhook"
    from devhub.docs.samples import samples_for

    view.samples = [] if view.is_webhook else samples_for(ref, view)
    return view


def _build(ref: Reference, entry: OpEntry, op: dict, item: dict, prefix: str, depth: int) -> OperationView:
    doc = ref.doc
    builder = ref.builder()
    external = as_dict(op.get("externalDocs"))
    if "security" in op:
        security, source = security_requirements(op.get("security"), doc), "operation"
    else:
        security, source = security_requirements(doc.get("security"), doc), "document"
    if not security and "security" in op:
        source = "none"
    raw_servers = op.get("servers") if "servers" in op else item.get("servers") if "servers" in item else None
    view = OperationView(
        entry=entry,
        id_prefix=prefix,
        method=entry.method,
        path=entry.path,
        summary=text(op.get("summary")),
        description=text(op.get("description")),
        deprecated=op.get("deprecated") is True,
        operation_id=text(op.get("operationId")),
        tags=tag_names(op.get("tags")),
        external_docs=(
            (external["url"], safe_url(external["url"]), text(external.get("description")))
            if text(external.get("url"))
            else None
        ),
        servers=servers_view(ref, raw_servers) if raw_servers is not None else [],
        security=security,
        security_source=source,
    )
    raw_params = _merged_parameters(doc, item, op)
    swagger = ref.flavour == "swagger"
    body_params = [p for p in raw_params if p.get("in") == "body"]
    form_params = [p for p in raw_params if p.get("in") == "formData"]
    for param in raw_params:
        if param.get("in") in ("body", "formData"):
            continue
        view.parameters.append(_param_view(doc, builder, param, swagger))
    if swagger:
        view.request_body = _swagger_body(ref, builder, op, body_params, form_params, prefix)
    elif "requestBody" in op:
        body = as_dict(deref(doc, op.get("requestBody")))
        view.request_body = BodyView(
            description=text(body.get("description")),
            required=body.get("required") is True,
            contents=_contents(ref, builder, body.get("content"), "request", prefix + "request-"),
        )
    used_ids: set[str] = set()
    for status, raw in as_dict(op.get("responses")).items():
        status = str(status)
        response = as_dict(deref(doc, raw))
        rid = _unique_id(prefix + "response-" + slugify(status), used_ids)
        if swagger:
            contents = _swagger_response_contents(ref, builder, op, response, rid + "-")
        else:
            contents = _contents(ref, builder, response.get("content"), "response", rid + "-")
        view.responses.append(
            ResponseView(
                status=status,
                description=text(response.get("description")),
                headers=[
                    _param_view(
                        doc, builder, {"name": str(name), "in": "header", **as_dict(deref(doc, header))}, swagger
                    )
                    for name, header in as_dict(response.get("headers")).items()
                ],
                contents=contents,
                links=_links(ref, response.get("links")),
                id=rid,
            )
        )
    if depth < MAX_CALLBACK_DEPTH:
        for name, raw in as_dict(op.get("callbacks")).items():
            callback = as_dict(deref(doc, raw))
            cid = _unique_id(prefix + "callback-" + slugify(str(name)), used_ids)
            expressions = []
            for expression, raw_item in callback.items():
                cb_item = path_item(doc, raw_item)
                ops = []
                for cb_method, cb_op in cb_item.items():
                    if cb_method not in HTTP_METHODS or not isinstance(cb_op, dict):
                        continue
                    cb_entry = _entry(cb_method, str(expression), cb_op, ("callback", expression, cb_method))
                    cb_entry.anchor = f"{cid}-{cb_method}"
                    ops.append(_build(ref, cb_entry, cb_op, cb_item, f"{cid}-{cb_method}-", depth + 1))
                expressions.append((str(expression), ops))
            view.callbacks.append(CallbackView(str(name), cid, expressions))
    return view


def _unique_id(candidate: str, used: set[str]) -> str:
    value, n = candidate, 1
    while value in used:
        n += 1
        value = f"{candidate}-{n}"
    used.add(value)
    return value


def _merged_parameters(doc: Any, item: dict, op: dict) -> list[dict]:
    merged: dict[tuple[str, str], dict] = {}
    for source in (item.get("parameters"), op.get("parameters")):
        for raw in as_list(source):
            param = deref(doc, raw)
            if isinstance(param, dict) and isinstance(param.get("name"), str):
                merged[(param["name"], str(param.get("in")))] = param
    return list(merged.values())


_SWAGGER_SCHEMA_KEYS = {
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
    "x-example",
    "x-nullable",
}


def swagger_schema(param: dict) -> dict:
    """A Swagger 2.0 non-body parameter (or header) is its own schema."""
    schema = {k: v for k, v in param.items() if k in _SWAGGER_SCHEMA_KEYS}
    if schema.get("type") == "file":
        schema["type"] = "string"
        schema["format"] = "binary"
    return schema


def _examples_of(doc: Any, holder: dict) -> list[ExampleView]:
    """`example` and `examples` (a map of Example objects) of a parameter, header or media type."""
    out = []
    if "example" in holder:
        out.append(ExampleView(None, None, None, example_text(holder["example"])))
    if "x-example" in holder:
        out.append(ExampleView(None, None, None, example_text(holder["x-example"])))
    for name, raw in as_dict(holder.get("examples")).items():
        example = as_dict(deref(doc, raw))
        external = text(example.get("externalValue"))
        out.append(
            ExampleView(
                name=str(name),
                summary=text(example.get("summary")),
                description=text(example.get("description")),
                text=example_text(example["value"]) if "value" in example else None,
                external_url=safe_url(external),
                external_text=external,
            )
        )
    return out


def _first_value(doc: Any, holder: dict) -> tuple[bool, Any]:
    if "example" in holder:
        return True, holder["example"]
    if "x-example" in holder:
        return True, holder["x-example"]
    for raw in as_dict(holder.get("examples")).values():
        example = as_dict(deref(doc, raw))
        if "value" in example:
            return True, example["value"]
    return False, None


def _param_view(doc: Any, builder: SchemaViewBuilder, param: dict, swagger: bool) -> ParamView:
    schema: Any = swagger_schema(param) if swagger else param.get("schema")
    content_type = None
    if schema is None and isinstance(param.get("content"), dict) and param["content"]:
        content_type, media = next(iter(param["content"].items()))
        schema = as_dict(media).get("schema")
    node = builder.build(schema, str(param.get("name"))) if schema is not None else None
    examples = _examples_of(doc, param)
    has, value = _first_value(doc, param)
    if not has:
        value = param_placeholder(doc, str(param.get("name")), schema)
    view = ParamView(
        name=str(param.get("name")),
        location=str(param.get("in") or ""),
        required=param.get("required") is True or param.get("in") == "path",
        deprecated=param.get("deprecated") is True,
        description=text(param.get("description")),
        schema=node,
        examples=examples,
        style=text(param.get("style")) or text(param.get("collectionFormat")),
        explode=param.get("explode") if isinstance(param.get("explode"), bool) else None,
        value=value,
    )
    if content_type:
        view.style = content_type
    return view


def param_placeholder(doc: Any, name: str, schema: Any) -> Any:
    """A parameter's value in code samples when it has no example: the schema's own example, default or
    first enum value, else a value of its type; plain strings become the name in capitals (`PET_ID`)."""
    target = deref(doc, schema) if ref_of(schema) else schema
    if isinstance(target, dict):
        plain_string = target.get("type") == "string" and not any(
            k in target for k in ("format", "enum", "example", "examples", "default", "const", "x-example")
        )
        if not plain_string and (target.get("type") or any(k in target for k in ("enum", "example", "default"))):
            value = example_value(doc, target, mode="request")
            if value is not None:
                return value
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^A-Za-z0-9]+", "_", words).strip("_").upper() or "VALUE"


def _contents(ref: Reference, builder: SchemaViewBuilder, content: Any, mode: str, prefix: str) -> list[MediaView]:
    doc = ref.doc
    views: list[MediaView] = []
    seen: list[tuple[Any, MediaView]] = []
    used: set[str] = set()
    for media_type, raw in as_dict(content).items():
        media = as_dict(raw)
        for earlier_media, earlier in seen:
            if earlier_media == media:
                earlier.media_type += f", {media_type}"
                break
        else:
            schema = media.get("schema")
            node = builder.build(schema) if schema is not None else None
            examples = _examples_of(doc, media)
            has, value = _first_value(doc, media)
            if not has and schema is not None:
                value = example_value(doc, schema, mode=mode)
                has = value is not None
                if has and not examples:
                    examples = [ExampleView(None, None, None, example_text(value), generated=True)]
            view = MediaView(
                str(media_type), node, examples, _unique_id(prefix + slugify(str(media_type)), used), value, has
            )
            seen.append((media, view))
            views.append(view)
    return views


def _swagger_body(
    ref: Reference, builder: SchemaViewBuilder, op: dict, body: list[dict], form: list[dict], prefix: str
) -> BodyView | None:
    doc = ref.doc
    consumes = [str(c) for c in as_list(op.get("consumes")) or as_list(doc.get("consumes"))]
    if body:
        param = body[0]
        schema = param.get("schema")
        media_types = consumes or ["application/json"]
        examples = [
            ExampleView(str(k), None, None, example_text(v)) for k, v in as_dict(param.get("x-examples")).items()
        ]
        value = example_value(doc, schema, mode="request") if schema is not None else None
        if not examples and value is not None:
            examples = [ExampleView(None, None, None, example_text(value), generated=True)]
        media = MediaView(
            ", ".join(media_types),
            builder.build(schema) if schema is not None else None,
            examples,
            prefix + "request-" + slugify(media_types[0]),
            value,
            value is not None,
        )
        return BodyView(text(param.get("description")), param.get("required") is True, [media])
    if form:
        schema = {
            "type": "object",
            "properties": {str(p["name"]): {**swagger_schema(p), "description": p.get("description")} for p in form},
            "required": [str(p["name"]) for p in form if p.get("required") is True],
        }
        for prop in schema["properties"].values():
            if prop["description"] is None:
                del prop["description"]
        has_file = any(p.get("type") == "file" for p in form)
        form_types = [c for c in consumes if "form" in c]
        media_types = form_types or ["multipart/form-data" if has_file else "application/x-www-form-urlencoded"]
        value = example_value(doc, schema, mode="request")
        media = MediaView(
            ", ".join(media_types),
            builder.build(schema),
            [ExampleView(None, None, None, example_text(value), generated=True)],
            prefix + "request-" + slugify(media_types[0]),
            value,
            True,
        )
        return BodyView(None, any(p.get("required") is True for p in form), [media])
    return None


def _swagger_response_contents(
    ref: Reference, builder: SchemaViewBuilder, op: dict, response: dict, prefix: str
) -> list[MediaView]:
    doc = ref.doc
    schema = response.get("schema")
    examples = as_dict(response.get("examples"))
    if schema is None and not examples:
        return []
    produces = [str(c) for c in as_list(op.get("produces")) or as_list(doc.get("produces"))] or ["application/json"]
    views = [ExampleView(str(k), None, None, example_text(v)) for k, v in examples.items()]
    value = None
    if not views and schema is not None:
        value = example_value(doc, schema, mode="response")
        if value is not None:
            views = [ExampleView(None, None, None, example_text(value), generated=True)]
    return [
        MediaView(
            ", ".join(produces),
            builder.build(schema) if schema is not None else None,
            views,
            prefix + slugify(produces[0]),
            value,
            value is not None,
        )
    ]


def _links(ref: Reference, raw: Any) -> list[LinkView]:
    doc = ref.doc
    result = []
    for name, value in as_dict(raw).items():
        link = as_dict(deref(doc, value))
        target_text, target_url = None, None
        if text(link.get("operationId")):
            target_text = link["operationId"]
            entry = ref.find_operation_id(link["operationId"])
            target_url = entry.url if entry else None
        elif text(link.get("operationRef")):
            target_text = link["operationRef"]
            target_url = _operation_ref_url(ref, link["operationRef"])
        result.append(
            LinkView(
                name=str(name),
                target_text=target_text,
                target_url=target_url,
                description=text(link.get("description")),
                parameters=[
                    (str(k), v if isinstance(v, str) else json_text(v))
                    for k, v in as_dict(link.get("parameters")).items()
                ],
                request_body=None if "requestBody" not in link else json_text(link["requestBody"]),
            )
        )
    return result


def _operation_ref_url(ref: Reference, operation_ref: str) -> str | None:
    """`#/paths/~12.0~1repositories~1{username}/get` -> that operation's page."""
    match = re.fullmatch(r"#/paths/([^/]+)/([a-z]+)", operation_ref)
    if not match or pointer(ref.doc, operation_ref) is None:
        return None
    path, method = unescape(match.group(1)), match.group(2)
    for entry in ref.ops:
        if entry.locator == ("path", path, method):
            return entry.url
    return None


# -- the try-it console's form -----------------------------------------------------------------------------

CONSOLE_LOCATIONS = ("path", "query", "header", "cookie")
# Header parameters the console never offers: those OpenAPI says to ignore, the connection's own, the
# gateway's credential, routing and identity headers, forwarding; and the gateway's key query parameter.
CONSOLE_SKIPPED_HEADERS = frozenset(
    {
        "accept",
        "content-type",
        "authorization",
        "host",
        "connection",
        "content-length",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "keep-alive",
        "expect",
        "cookie",
        "forwarded",
        "x-api-key",
    }
)
CONSOLE_SKIPPED_HEADER_PREFIXES = ("x-devhub-", "proxy-", "x-forwarded-")
CONSOLE_SKIPPED_QUERY = frozenset({"api_key"})


@dataclass
class ConsoleField:
    """One parameter field of the try-it console, prefilled with the value the code samples use."""

    name: str
    location: str  # path | query | header | cookie
    required: bool
    value: str
    type_text: str
    description: str | None
    is_array: bool
    explode: bool
    enum: list[str]

    @property
    def form_name(self) -> str:
        """The form field's name: `query.limit`, `path.petId`."""
        return f"{self.location}.{self.name}"


@dataclass
class ConsoleBody:
    media_types: list[str]
    value: str
    required: bool


def console_value_text(value: Any) -> str:
    """A parameter value as the console's text field shows it: scalars as they are, arrays comma-joined
    (the simple and form styles), objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(console_value_text(item) for item in value)
    if isinstance(value, dict):
        return json_text(value)
    return str(value)


def console_fields(view: OperationView) -> list[ConsoleField]:
    """The parameters the console can send, path first. Left out: header parameters OpenAPI says to ignore
    (Accept, Content-Type, Authorization), `Host` (the console only ever calls the gateway's host) and the
    other headers of `CONSOLE_SKIPPED_HEADERS`, and the gateway's own key parameter."""
    fields = []
    for param in view.parameters:
        if param.location not in CONSOLE_LOCATIONS or not _console_offers(param.location, param.name.lower()):
            continue
        schema = param.schema
        is_array = schema is not None and "array" in schema.types
        fields.append(
            ConsoleField(
                name=param.name,
                location=param.location,
                required=param.required,
                value=console_value_text(param.value),
                type_text=param.type_text,
                description=param.description,
                is_array=is_array,
                explode=param.explode if param.explode is not None else param.location in ("query", "cookie"),
                enum=list(schema.enum) if schema is not None else [],
            )
        )
    return sorted(fields, key=lambda f: CONSOLE_LOCATIONS.index(f.location))


def _console_offers(location: str, name: str) -> bool:
    if location == "header":
        return name not in CONSOLE_SKIPPED_HEADERS and not name.startswith(CONSOLE_SKIPPED_HEADER_PREFIXES)
    return not (location == "query" and name in CONSOLE_SKIPPED_QUERY)


def console_body(view: OperationView) -> ConsoleBody | None:
    """The request body field: the operation's media types (JSON first) and its example as text."""
    if view.request_body is None or not view.request_body.contents:
        return None
    contents = sorted(view.request_body.contents, key=lambda media: not JSONISH.search(media.media_type))
    media_types = [media_type for media in contents for media_type in media.media_types]
    first = contents[0]
    value = "" if not first.has_value else example_text(first.value)
    return ConsoleBody(media_types, value, view.request_body.required)
