"""The reference of one published version: an index of a bundled document (operations with their anchors,
tag groups, named schemas) and the overview and schema-page view models built from it.

`Reference` is built once per version and cached (`cache.py`): versions are immutable. Operation pages
are in `operation_view.py` (OpenAPI, Swagger) and `async_view.py` (AsyncAPI). Everything here is plain
data: templates and `export.py` turn it into HTML and markdown, and descriptions stay markdown until a
template sends them through `render_markdown`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from devhub.docs.refs import as_dict, as_list, component_key, deref, key_label, key_path, pointer, ref_of
from devhub.docs.refs import escape as escape_token
from devhub.docs.schema_view import SchemaNode, SchemaViewBuilder, example_text, example_value, json_text
from devhub.markdown import render_markdown

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ASYNC2_ACTIONS = ("publish", "subscribe")
SAFE_SCHEMES = ("http://", "https://", "mailto:")


def safe_url(value: Any) -> str | None:
    """A URL that may become a link: http, https and mailto only (anything else is shown as text)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text.lower().startswith(SAFE_SCHEMES) and not re.search(r"[\s<>\"'`]", text) else None


@functools.lru_cache(maxsize=8192)
def markdown(value: str | None) -> Markup:
    """`devhub.markdown.render_markdown` (which sanitises), memoised: the same descriptions come back many
    times in a definition (shared parameters, properties) and across the pages of a version."""
    return render_markdown(value)


def path_breaks(value: str | None) -> Markup:
    """A path or channel address that may wrap after each `/` (escaped, with <wbr> break hints)."""
    return Markup("/<wbr>").join(escape(part) for part in str(value or "").split("/"))


def text(value: Any) -> str | None:
    """A string field of the document, or None when absent or not a string."""
    return value if isinstance(value, str) and value.strip() else None


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")  # as devhub.specs.extract.slug


def slugify(value: str) -> str:
    """`listPets` -> `list-pets`, `get /pets/{petId}` -> `get-pets-petid`."""
    value = _CAMEL.sub("-", value)
    slug = re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
    return slug[:200] or "operation"


def tag_names(tags: Any) -> list[str]:
    names = []
    for tag in as_list(tags):
        if isinstance(tag, str):
            names.append(tag)
        elif isinstance(tag, dict) and isinstance(tag.get("name"), str):
            names.append(tag["name"])
    return names


@dataclass
class OpEntry:
    """One operation as the sidebar, tables and permalinks know it."""

    anchor: str
    method: str  # get, post, ... or publish/subscribe (AsyncAPI 2), send/receive (AsyncAPI 3)
    path: str  # the path, the webhook's name, or the channel's address
    summary: str | None
    operation_id: str | None
    tags: list[str]
    deprecated: bool
    locator: tuple  # ("path", path, method) | ("webhook", name, method) | ("channel", name, action) | ("op", key)
    url: str = ""

    @property
    def title(self) -> str:
        return self.summary or self.operation_id or f"{self.method.upper()} {self.path}"

    @property
    def nav_label(self) -> str:
        """What the sidebar shows: the summary; for AsyncAPI operations without one, their id (many share
        one address); else the path."""
        if self.summary:
            return self.summary
        if self.locator[0] in ("op", "channel") and self.operation_id:
            return self.operation_id
        return self.path

    @property
    def method_label(self) -> str:
        return self.method.upper()


@dataclass
class Group:
    name: str
    description: str | None
    ops: list[OpEntry]
    slug: str = ""


@dataclass
class Reference:
    """A version's document with its index. `base` is the URL of the version's overview."""

    format: str  # openapi | asyncapi
    format_version: str
    flavour: str  # swagger | openapi3 | asyncapi2 | asyncapi3
    doc: dict
    base: str
    title: str
    ops: list[OpEntry] = field(default_factory=list)
    webhooks: list[OpEntry] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    schema_keys: list[str] = field(default_factory=list)
    schema_refs: dict[str, str] = field(default_factory=dict)  # key -> internal reference
    by_anchor: dict[str, OpEntry] = field(default_factory=dict)
    _usage: dict[str, list[OpEntry]] | None = None

    @property
    def is_async(self) -> bool:
        return self.flavour.startswith("asyncapi")

    @property
    def format_label(self) -> str:
        if self.flavour == "swagger":
            return f"Swagger {self.format_version}"
        return f"{'AsyncAPI' if self.is_async else 'OpenAPI'} {self.format_version}"

    def schema_url(self, key: str | None) -> str | None:
        if key is None or key not in self.schema_refs:
            return None
        return f"{self.base}/schemas/{key_path(key)}"

    def op_url(self, anchor: str) -> str:
        return f"{self.base}/operations/{quote(anchor, safe='')}"

    def builder(self, **limits: int) -> SchemaViewBuilder:
        return SchemaViewBuilder(self.doc, self.schema_url, **limits)

    def find_operation_id(self, operation_id: str) -> OpEntry | None:
        for entry in self.ops:
            if entry.operation_id == operation_id:
                return entry
        return None

    def usage(self, key: str) -> list[OpEntry]:
        """Operations that use a named schema directly (through parameters, bodies, responses, messages)."""
        if self._usage is None:
            self._usage = _schema_usage(self)
        return self._usage.get(key, [])


def flavour_of(format: str, format_version: str, doc: dict) -> str:
    if format == "asyncapi" or "asyncapi" in doc:
        version = str(doc.get("asyncapi") or format_version or "")
        return "asyncapi2" if version.startswith("2") else "asyncapi3"
    version = str(doc.get("openapi") or doc.get("swagger") or format_version or "")
    return "swagger" if version.startswith("2") or "swagger" in doc else "openapi3"


def build_reference(
    doc: dict,
    *,
    format: str,
    format_version: str,
    title: str,
    base: str,
    rows: list[tuple[str, str | None, str, str | None]] = (),
) -> Reference:
    """Index a bundled document. `rows` are the version's stored operations as (anchor, method, path,
    operation_id): their anchors are used where they match an operation, so permalinks agree with the
    rest of the portal; operations without a row get `operationId` or `method-path` slugs."""
    doc = doc if isinstance(doc, dict) else {}
    flavour = flavour_of(format, format_version, doc)
    ref = Reference(format, format_version, flavour, doc, base, title)
    by_location = {((m or "").lower(), p): a for a, m, p, _ in rows}
    by_id = {oid: a for a, _, _, oid in rows if oid}
    used = set()
    entries = _async_entries(doc, flavour) if ref.is_async else _http_entries(doc)
    pending = []
    for entry in entries:
        if entry.locator[0] == "op":  # AsyncAPI 3: the operation's key is unique, its action and address may not be
            anchor = by_id.get(entry.operation_id or "") or by_location.get((entry.method, entry.path))
        else:
            anchor = by_location.get((entry.method, entry.path))
        if anchor is not None and anchor not in used:
            entry.anchor = anchor
            used.add(anchor)
        else:
            pending.append(entry)
    for entry in pending:
        entry.anchor = _unique(slugify(entry.operation_id or f"{entry.method}-{entry.path}"), used)
    for entry in entries:
        entry.url = ref.op_url(entry.anchor)
        ref.by_anchor[entry.anchor] = entry
    ref.ops = entries
    if not ref.is_async:
        for entry in _webhook_entries(doc):
            entry.anchor = _unique("webhook-" + slugify(entry.operation_id or f"{entry.path}-{entry.method}"), used)
            entry.url = ref.op_url(entry.anchor)
            ref.by_anchor[entry.anchor] = entry
            ref.webhooks.append(entry)
    ref.groups = _groups(ref)
    _index_schemas(ref)
    return ref


def _unique(anchor: str, used: set[str]) -> str:
    candidate, n = anchor, 1
    while candidate in used:
        n += 1
        candidate = f"{anchor}-{n}"
    used.add(candidate)
    return candidate


def path_item(doc: dict, item: Any) -> dict:
    resolved = deref(doc, item) if ref_of(item) else item
    return resolved if isinstance(resolved, dict) else {}


def _http_entries(doc: dict) -> list[OpEntry]:
    entries = []
    for path, raw_item in as_dict(doc.get("paths")).items():
        item = path_item(doc, raw_item)
        for method, op in item.items():
            if method not in HTTP_METHODS or not isinstance(op, dict):
                continue
            entries.append(_entry(method, str(path), op, ("path", path, method)))
    return entries


def _webhook_entries(doc: dict) -> list[OpEntry]:
    entries = []
    for name, raw_item in as_dict(doc.get("webhooks")).items():
        item = path_item(doc, raw_item)
        for method, op in item.items():
            if method in HTTP_METHODS and isinstance(op, dict):
                entries.append(_entry(method, str(name), op, ("webhook", name, method)))
    return entries


def _entry(method: str, path: str, op: dict, locator: tuple) -> OpEntry:
    return OpEntry(
        anchor="",
        method=method,
        path=path,
        summary=text(op.get("summary")),
        operation_id=text(op.get("operationId")),
        tags=tag_names(op.get("tags")),
        deprecated=op.get("deprecated") is True,
        locator=locator,
    )


def channel_address(doc: dict, channel_key: str | None, channel: dict) -> str:
    address = channel.get("address")
    if isinstance(address, str):
        return address
    return channel_key or "(no address)"


def _async_entries(doc: dict, flavour: str) -> list[OpEntry]:
    entries = []
    if flavour == "asyncapi2":
        for name, raw in as_dict(doc.get("channels")).items():
            channel = path_item(doc, raw)
            for action in ASYNC2_ACTIONS:
                op = channel.get(action)
                if isinstance(op, dict):
                    entries.append(_entry(action, str(name), op, ("channel", name, action)))
        return entries
    for key, raw in as_dict(doc.get("operations")).items():
        op = deref(doc, raw)
        if not isinstance(op, dict):
            continue
        channel_ref = ref_of(op.get("channel"))
        channel = as_dict(deref(doc, op.get("channel")))
        channel_key = channel_ref.rsplit("/", 1)[-1] if channel_ref else None
        action = op.get("action") if op.get("action") in ("send", "receive") else "send"
        entry = _entry(action, channel_address(doc, channel_key, channel), op, ("op", key))
        entry.operation_id = str(key)
        entries.append(entry)
    return entries


def _groups(ref: Reference) -> list[Group]:
    doc = ref.doc
    declared = {
        t["name"]: t for t in as_list(doc.get("tags")) if isinstance(t, dict) and isinstance(t.get("name"), str)
    }
    any_tags = any(entry.tags for entry in ref.ops)
    groups: dict[str, Group] = {}
    if not any_tags:
        if ref.ops:
            groups["Operations"] = Group("Operations", None, list(ref.ops))
    else:
        for name in declared:
            groups[name] = Group(name, text(declared[name].get("description")), [])
        for entry in ref.ops:
            for tag in entry.tags or ["Other"]:
                group = groups.setdefault(tag, Group(tag, None, []))
                if entry not in group.ops:
                    group.ops.append(entry)
    used: set[str] = set()
    result = [g for g in groups.values() if g.ops]
    for group in result:
        group.slug = _unique("tag-" + slugify(group.name), used)
    return result


def _index_schemas(ref: Reference) -> None:
    doc = ref.doc
    homes = [("#/definitions/", as_dict(doc.get("definitions")))] if ref.flavour == "swagger" else []
    homes.append(("#/components/schemas/", as_dict(as_dict(doc.get("components")).get("schemas"))))
    keys: list[tuple[str, str]] = []
    for prefix, schemas in homes:
        for name in schemas:
            ref_text = prefix + escape_token(str(name))
            key = component_key(ref_text)
            if key and key not in ref.schema_refs:
                ref.schema_refs[key] = ref_text
                keys.append((key, ref_text))
    keys.sort(key=lambda pair: pair[0].lower())
    messages = []
    if ref.is_async:
        for name in as_dict(as_dict(doc.get("components")).get("messages")):
            ref_text = "#/components/messages/" + escape_token(str(name))
            key = component_key(ref_text)
            if key:
                ref.schema_refs[key] = ref_text
                messages.append(key)
        messages.sort(key=str.lower)
    ref.schema_keys = [k for k, _ in keys] + messages


def _schema_usage(ref: Reference) -> dict[str, list[OpEntry]]:
    """Named schemas each operation mentions, following references to other components (parameters,
    responses, bodies, messages, channels) but not from one schema into another."""
    usage: dict[str, list[OpEntry]] = {}
    for entry in ref.ops + ref.webhooks:
        op = operation_object(ref, entry)
        found: set[str] = set()
        _walk_refs(ref.doc, op, found, set(), 0)
        for key in found:
            usage.setdefault(key, []).append(entry)
    return usage


def _walk_refs(doc: Any, node: Any, found: set[str], visited: set[str], level: int) -> None:
    if level > 60:
        return
    if isinstance(node, dict):
        target = node.get("$ref")
        if isinstance(target, str):
            key = component_key(target)
            if key is not None:
                found.add(key)
                if not key.startswith("messages/"):
                    return
            if target in visited:
                return
            visited.add(target)
            _walk_refs(doc, pointer(doc, target), found, visited, level + 1)
            return
        for value in node.values():
            _walk_refs(doc, value, found, visited, level + 1)
    elif isinstance(node, list):
        for value in node:
            _walk_refs(doc, value, found, visited, level + 1)


def operation_object(ref: Reference, entry: OpEntry) -> dict:
    doc = ref.doc
    kind = entry.locator[0]
    if kind == "path":
        return as_dict(path_item(doc, as_dict(doc.get("paths")).get(entry.locator[1])).get(entry.locator[2]))
    if kind == "webhook":
        return as_dict(path_item(doc, as_dict(doc.get("webhooks")).get(entry.locator[1])).get(entry.locator[2]))
    if kind == "channel":
        return as_dict(path_item(doc, as_dict(doc.get("channels")).get(entry.locator[1])).get(entry.locator[2]))
    return as_dict(deref(doc, as_dict(doc.get("operations")).get(entry.locator[1])))


# -- overview ---------------------------------------------------------------------------------------------


@dataclass
class Variable:
    name: str
    default: str | None
    enum: list[str]
    description: str | None


@dataclass
class ServerView:
    url: str
    name: str | None = None
    description: str | None = None
    protocol: str | None = None
    protocol_version: str | None = None
    variables: list[Variable] = field(default_factory=list)
    bindings: list[tuple[str, str]] = field(default_factory=list)
    security: list[list[tuple[str, list[str]]]] = field(default_factory=list)


@dataclass
class Flow:
    name: str
    urls: list[tuple[str, str, str | None]]  # label, text, safe link
    scopes: list[tuple[str, str | None]]


@dataclass
class SecuritySchemeView:
    name: str
    type: str
    description: str | None
    details: list[tuple[str, str, str | None]]  # label, text, safe link
    flows: list[Flow]
    anchor: str = ""


@dataclass
class TagView:
    name: str
    description: str | None
    external_url: str | None
    external_text: str | None
    count: int
    slug: str


@dataclass
class ChannelView:
    key: str
    address: str
    description: str | None
    parameters: list[tuple[str, str | None, SchemaNode | None, str | None]]  # name, description, schema, location
    bindings: list[tuple[str, str]]
    ops: list[OpEntry]
    messages: list[tuple[str, str | None]]  # name, url


@dataclass
class Overview:
    title: str
    api_version: str | None
    summary: str | None
    description: str | None
    format_label: str
    servers: list[ServerView]
    security_schemes: list[SecuritySchemeView]
    security: list[list[tuple[str, list[str]]]]
    contact_name: str | None
    contact_url: tuple[str, str | None] | None  # text, safe link
    contact_email: tuple[str, str | None] | None
    license_name: str | None
    license_url: tuple[str, str | None] | None
    license_identifier: str | None
    terms: tuple[str, str | None] | None
    external_docs: tuple[str, str | None, str | None] | None  # url text, safe link, description
    tags: list[TagView]
    channels: list[ChannelView]
    default_content_type: str | None
    consumes: list[str]
    produces: list[str]


def _url_pair(value: Any) -> tuple[str, str | None] | None:
    value = text(value)
    return (value, safe_url(value)) if value else None


def bindings_view(value: Any) -> list[tuple[str, str]]:
    """Bindings as (protocol, JSON text) pairs."""
    return [(str(k), json_text(v, indent=2)) for k, v in as_dict(value).items()]


def security_requirements(value: Any, doc: Any = None) -> list[list[tuple[str, list[str]]]]:
    """Security requirements as alternatives, each a list of (scheme name, scopes). OpenAPI and AsyncAPI 2
    map scheme names to scopes; AsyncAPI 3 lists scheme objects, or references to them, instead."""
    result = []
    for requirement in as_list(value):
        if not isinstance(requirement, dict):
            continue
        target = ref_of(requirement)
        if target is not None:
            scheme = as_dict(deref(doc, requirement)) if doc is not None else {}
            result.append([(target.rsplit("/", 1)[-1], [str(s) for s in as_list(scheme.get("scopes"))])])
        elif isinstance(requirement.get("type"), str):
            name = text(requirement.get("name")) or requirement["type"]
            result.append([(name, [str(s) for s in as_list(requirement.get("scopes"))])])
        else:
            result.append([(str(name), [str(s) for s in as_list(scopes)]) for name, scopes in requirement.items()])
    return result


def servers_view(ref: Reference, raw_servers: Any = None) -> list[ServerView]:
    doc = ref.doc
    if ref.flavour == "swagger" and raw_servers is None:
        host = text(doc.get("host"))
        if not host:
            return []
        base_path = text(doc.get("basePath")) or ""
        schemes = [s for s in as_list(doc.get("schemes")) if isinstance(s, str)] or ["https"]
        return [ServerView(url=f"{scheme}://{host}{base_path}") for scheme in schemes]
    servers = raw_servers if raw_servers is not None else doc.get("servers")
    items = servers.items() if isinstance(servers, dict) else ((None, s) for s in as_list(servers))
    result = []
    for name, raw in items:
        server = as_dict(deref(doc, raw))
        if ref.is_async and "host" in server:
            url = f"{server.get('host', '')}{server.get('pathname', '') or ''}"
        else:
            url = text(server.get("url")) or ""
        variables = [
            Variable(
                str(var_name),
                None
                if as_dict(deref(doc, var)).get("default") is None
                else str(as_dict(deref(doc, var)).get("default")),
                [str(v) for v in as_list(as_dict(deref(doc, var)).get("enum"))],
                text(as_dict(deref(doc, var)).get("description")),
            )
            for var_name, var in as_dict(server.get("variables")).items()
        ]
        result.append(
            ServerView(
                url=url,
                name=str(name) if name is not None else None,
                description=text(server.get("description")) or text(server.get("title")),
                protocol=text(server.get("protocol")),
                protocol_version=text(server.get("protocolVersion")),
                variables=variables,
                bindings=bindings_view(server.get("bindings")),
                security=security_requirements(server.get("security"), doc),
            )
        )
    return result


def security_schemes_view(ref: Reference) -> list[SecuritySchemeView]:
    doc = ref.doc
    raw = (
        doc.get("securityDefinitions")
        if ref.flavour == "swagger"
        else as_dict(doc.get("components")).get("securitySchemes")
    )
    result = []
    used: set[str] = set()
    for name, value in as_dict(raw).items():
        scheme = as_dict(deref(doc, value))
        kind = str(scheme.get("type") or "unknown")
        details: list[tuple[str, str, str | None]] = []
        for label, key in (
            ("In", "in"),
            ("Name", "name"),
            ("Scheme", "scheme"),
            ("Bearer format", "bearerFormat"),
            ("Flow", "flow"),
        ):
            if text(scheme.get(key)):
                details.append((label, scheme[key], None))
        for label, key in (
            ("OpenID Connect URL", "openIdConnectUrl"),
            ("Authorization URL", "authorizationUrl"),
            ("Token URL", "tokenUrl"),
        ):
            if text(scheme.get(key)):
                details.append((label, scheme[key], safe_url(scheme[key])))
        flows = []
        for flow_name, flow in as_dict(scheme.get("flows")).items():
            flow = as_dict(flow)
            urls = [
                (label, flow[key], safe_url(flow[key]))
                for label, key in (
                    ("Authorization URL", "authorizationUrl"),
                    ("Token URL", "tokenUrl"),
                    ("Refresh URL", "refreshUrl"),
                )
                if text(flow.get(key))
            ]
            scopes = as_dict(flow.get("scopes")) or as_dict(flow.get("availableScopes"))
            flows.append(Flow(str(flow_name), urls, [(str(k), text(v)) for k, v in scopes.items()]))
        if ref.flavour == "swagger" and scheme.get("scopes"):
            flows.append(
                Flow(
                    str(scheme.get("flow") or "oauth2"),
                    [],
                    [(str(k), text(v)) for k, v in as_dict(scheme["scopes"]).items()],
                )
            )
        result.append(
            SecuritySchemeView(
                name=str(name),
                type=kind,
                description=text(scheme.get("description")),
                details=details,
                flows=flows,
                anchor=_unique("security-" + slugify(str(name)), used),
            )
        )
    return result


def overview(ref: Reference) -> Overview:
    doc = ref.doc
    info = as_dict(doc.get("info"))
    contact = as_dict(info.get("contact"))
    license_ = as_dict(info.get("license"))
    external = as_dict(doc.get("externalDocs"))
    tag_counts = {group.name: len(group.ops) for group in ref.groups}
    group_slugs = {group.name: group.slug for group in ref.groups}
    tags = []
    for raw in as_list(doc.get("tags")):
        if not isinstance(raw, dict) or not text(raw.get("name")):
            continue
        docs = as_dict(raw.get("externalDocs"))
        tags.append(
            TagView(
                name=raw["name"],
                description=text(raw.get("description")),
                external_url=safe_url(docs.get("url")),
                external_text=text(docs.get("description")) or text(docs.get("url")),
                count=tag_counts.get(raw["name"], 0),
                slug=group_slugs.get(raw["name"], ""),
            )
        )
    email = text(contact.get("email"))
    return Overview(
        title=text(info.get("title")) or ref.title,
        api_version=None if info.get("version") is None else str(info.get("version")),
        summary=text(info.get("summary")),
        description=text(info.get("description")),
        format_label=ref.format_label,
        servers=servers_view(ref),
        security_schemes=security_schemes_view(ref),
        security=security_requirements(doc.get("security"), doc),
        contact_name=text(contact.get("name")),
        contact_url=_url_pair(contact.get("url")),
        contact_email=(email, safe_url(f"mailto:{email}")) if email else None,
        license_name=text(license_.get("name")),
        license_url=_url_pair(license_.get("url")),
        license_identifier=text(license_.get("identifier")),
        terms=_url_pair(info.get("termsOfService")),
        external_docs=(
            (external["url"], safe_url(external["url"]), text(external.get("description")))
            if text(external.get("url"))
            else None
        ),
        tags=tags,
        channels=channels_view(ref) if ref.is_async else [],
        default_content_type=text(doc.get("defaultContentType")),
        consumes=[str(c) for c in as_list(doc.get("consumes"))],
        produces=[str(c) for c in as_list(doc.get("produces"))],
    )


def channel_parameters(ref: Reference, channel: dict) -> list[tuple[str, str | None, SchemaNode | None, str | None]]:
    result = []
    builder = ref.builder(max_nodes=200)
    for name, raw in as_dict(channel.get("parameters")).items():
        param = as_dict(deref(ref.doc, raw))
        schema = param.get("schema")
        if schema is None:  # AsyncAPI 3 parameters are strings, with enum, default and examples of their own
            schema = {"type": "string"} | {k: param[k] for k in ("enum", "default", "examples") if k in param}
        node = builder.build(schema) if schema is not None else None
        result.append((str(name), text(param.get("description")), node, text(param.get("location"))))
    return result


def channels_view(ref: Reference) -> list[ChannelView]:
    doc = ref.doc
    result = []
    ops_by_channel: dict[str, list[OpEntry]] = {}
    for entry in ref.ops:
        ops_by_channel.setdefault(entry.path, []).append(entry)
    for key, raw in as_dict(doc.get("channels")).items():
        channel = path_item(doc, raw)
        address = str(key) if ref.flavour == "asyncapi2" else channel_address(doc, str(key), channel)
        messages = []
        for message_name, message in as_dict(channel.get("messages")).items():
            messages.append((str(message_name), ref.schema_url(component_key(ref_of(message)))))
        result.append(
            ChannelView(
                key=str(key),
                address=address,
                description=text(channel.get("description")) or text(channel.get("summary")),
                parameters=channel_parameters(ref, channel),
                bindings=bindings_view(channel.get("bindings")),
                ops=ops_by_channel.get(address, []),
                messages=messages,
            )
        )
    return result


# -- schemas ----------------------------------------------------------------------------------------------


@dataclass
class SchemaPage:
    key: str
    name: str
    is_message: bool
    node: SchemaNode | None
    example: str | None
    used_by: list[OpEntry]
    message: Any = None  # async_view.MessageView for messages


def schema_page(ref: Reference, key: str) -> SchemaPage | None:
    target_ref = ref.schema_refs.get(key)
    if target_ref is None:
        return None
    schema = pointer(ref.doc, target_ref)
    if key.startswith("messages/"):
        from devhub.docs.async_view import message_view

        message = message_view(ref, {"$ref": target_ref}, key_label(key))
        return SchemaPage(key, key_label(key), True, None, None, ref.usage(key), message)
    node = ref.builder().build(schema, key_label(key), self_ref=target_ref)
    value = example_value(ref.doc, {"$ref": target_ref}, mode="response")
    example = example_text(value) if value is not None else None
    return SchemaPage(key, key_label(key), False, node, example, ref.usage(key))


@dataclass
class SchemaListItem:
    key: str
    name: str
    url: str
    type_text: str
    description: str | None
    is_message: bool
    deprecated: bool


def schema_list(ref: Reference) -> list[SchemaListItem]:
    items = []
    for key in ref.schema_keys:
        schema = as_dict(deref(ref.doc, {"$ref": ref.schema_refs[key]}))
        node = SchemaNode()
        if not key.startswith("messages/"):
            ref.builder(max_depth=0)._scalars(node, schema)
        description = text(schema.get("summary")) or text(schema.get("description")) or text(schema.get("title"))
        items.append(
            SchemaListItem(
                key=key,
                name=key_label(key),
                url=ref.schema_url(key) or "",
                type_text="message" if key.startswith("messages/") else (node.type_text if node.types else "schema"),
                description=description,
                is_message=key.startswith("messages/"),
                deprecated=schema.get("deprecated") is True,
            )
        )
    return items
