"""What changed between two versions of a definition, structurally: operations added, removed and changed
(parameters, request body, responses, deprecation, security) and named schemas added, removed and changed
(properties, required, types, enums, nullability). No judgement about what breaks clients: that is a
separate set of rules built on this result.

Operations are matched by method (or AsyncAPI action) and path with parameter names ignored
(`/pets/{id}` matches `/pets/{petId}`); schemas by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from devhub.docs.refs import as_dict, as_list, component_key, deref, key_label, pointer, ref_of
from devhub.docs.render import OpEntry, Reference, operation_object, path_item

MAX_PROPERTY_DEPTH = 3


@dataclass
class Detail:
    change: str  # added | removed | changed
    subject: str  # parameter, request body, media type, response, property, required, type, enum, ...
    name: str
    text: str


@dataclass
class OpSummary:
    method: str
    path: str
    summary: str | None
    url: str | None


@dataclass
class OpChange:
    op: OpSummary
    old_url: str | None
    details: list[Detail]


@dataclass
class SchemaSummary:
    key: str
    name: str
    url: str | None


@dataclass
class SchemaChange:
    schema: SchemaSummary
    old_url: str | None
    details: list[Detail]


@dataclass
class Changes:
    operations_added: list[OpSummary] = field(default_factory=list)
    operations_removed: list[OpSummary] = field(default_factory=list)
    operations_changed: list[OpChange] = field(default_factory=list)
    schemas_added: list[SchemaSummary] = field(default_factory=list)
    schemas_removed: list[SchemaSummary] = field(default_factory=list)
    schemas_changed: list[SchemaChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.operations_added,
                self.operations_removed,
                self.operations_changed,
                self.schemas_added,
                self.schemas_removed,
                self.schemas_changed,
            )
        )

    @property
    def counts(self) -> dict[str, int]:
        return {
            "operations added": len(self.operations_added),
            "operations removed": len(self.operations_removed),
            "operations changed": len(self.operations_changed),
            "schemas added": len(self.schemas_added),
            "schemas removed": len(self.schemas_removed),
            "schemas changed": len(self.schemas_changed),
        }


def compare(old: Reference, new: Reference) -> Changes:
    result = Changes()
    old_ops = {_op_key(e): e for e in old.ops}
    new_ops = {_op_key(e): e for e in new.ops}
    for key, entry in new_ops.items():
        if key not in old_ops:
            result.operations_added.append(_summary(entry))
    for key, entry in old_ops.items():
        if key not in new_ops:
            result.operations_removed.append(_summary(entry))
    for key, entry in new_ops.items():
        before = old_ops.get(key)
        if before is None:
            continue
        details = _compare_shapes(_shape(old, before), _shape(new, entry))
        if details:
            result.operations_changed.append(OpChange(_summary(entry), before.url, details))
    for key in new.schema_keys:
        if key not in old.schema_refs:
            result.schemas_added.append(SchemaSummary(key, key_label(key), new.schema_url(key)))
    for key in old.schema_keys:
        if key not in new.schema_refs:
            result.schemas_removed.append(SchemaSummary(key, key_label(key), old.schema_url(key)))
        else:
            details = _compare_schema(old, new, key)
            if details:
                result.schemas_changed.append(
                    SchemaChange(SchemaSummary(key, key_label(key), new.schema_url(key)), old.schema_url(key), details)
                )
    return result


def _op_key(entry: OpEntry) -> tuple[str, str]:
    return entry.method, re.sub(r"\{[^}]*\}", "{}", entry.path)


def _summary(entry: OpEntry) -> OpSummary:
    return OpSummary(entry.method, entry.path, entry.summary, entry.url)


# -- type signatures ---------------------------------------------------------------------------------------


def signature(doc: Any, schema: Any, depth: int = 0) -> str:
    """A short, comparable description of a schema's type: a named schema's name, `array of X`,
    `string <date-time>`, `oneOf(A, B)`."""
    if schema is None:
        return "none"
    key = component_key(ref_of(schema))
    if key is not None:
        return key_label(key)
    target = deref(doc, schema) if ref_of(schema) else schema
    if not isinstance(target, dict):
        return "any"
    if depth > 4:
        return "…"
    for kind in ("oneOf", "anyOf", "allOf"):
        if as_list(target.get(kind)):
            return f"{kind}({', '.join(signature(doc, m, depth + 1) for m in target[kind])})"
    raw = target.get("type")
    types = [t for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str) and t != "null"]
    text = " | ".join(types) if types else ("object" if "properties" in target else "any")
    if types == ["array"]:
        text = f"array of {signature(doc, target.get('items'), depth + 1)}"
    if isinstance(target.get("format"), str):
        text += f" <{target['format']}>"
    return text


def _nullable(doc: Any, schema: Any) -> bool:
    target = deref(doc, schema) if ref_of(schema) else schema
    if not isinstance(target, dict):
        return False
    raw = target.get("type")
    return (
        target.get("nullable") is True or target.get("x-nullable") is True or (isinstance(raw, list) and "null" in raw)
    )


# -- operations --------------------------------------------------------------------------------------------


@dataclass
class _Shape:
    deprecated: bool
    params: dict[tuple[str, str], tuple[bool, str]]  # (in, name) -> (required, type)
    body: dict[str, str] | None  # media type -> type
    body_required: bool
    responses: dict[str, dict[str, str]]  # status -> media type -> type
    security: list


def _shape(ref: Reference, entry: OpEntry) -> _Shape:
    doc = ref.doc
    op = operation_object(ref, entry)
    if ref.is_async:
        return _async_shape(ref, entry, op)
    kind, key, _ = entry.locator
    item = path_item(doc, as_dict(doc.get("webhooks" if kind == "webhook" else "paths")).get(key))
    params: dict[tuple[str, str], tuple[bool, str]] = {}
    body: dict[str, str] | None = None
    body_required = False
    swagger = ref.flavour == "swagger"
    form: dict[str, Any] = {}
    for raw in as_list(item.get("parameters")) + as_list(op.get("parameters")):
        param = as_dict(deref(doc, raw))
        name, where = str(param.get("name")), str(param.get("in"))
        if swagger and where == "body":
            consumes = as_list(op.get("consumes")) or as_list(doc.get("consumes")) or ["application/json"]
            body = {str(m): signature(doc, param.get("schema")) for m in consumes}
            body_required = param.get("required") is True
            continue
        if swagger and where == "formData":
            form[name] = param
            continue
        schema = param if swagger else param.get("schema")
        if schema is None and isinstance(param.get("content"), dict):
            schema = as_dict(next(iter(param["content"].values()), {})).get("schema")
        params[(where, name)] = (param.get("required") is True or where == "path", signature(doc, schema))
    if form:
        consumes = [m for m in as_list(op.get("consumes")) or as_list(doc.get("consumes")) if "form" in str(m)]
        body = {str(m): "form" for m in consumes or ["application/x-www-form-urlencoded"]}
        body_required = any(p.get("required") is True for p in form.values())
        for name, param in form.items():
            params[("formData", name)] = (param.get("required") is True, signature(doc, param))
    if not swagger and "requestBody" in op:
        request_body = as_dict(deref(doc, op.get("requestBody")))
        body = {
            str(m): signature(doc, as_dict(v).get("schema")) for m, v in as_dict(request_body.get("content")).items()
        }
        body_required = request_body.get("required") is True
    responses = {}
    for status, raw in as_dict(op.get("responses")).items():
        response = as_dict(deref(doc, raw))
        if swagger:
            produces = as_list(op.get("produces")) or as_list(doc.get("produces")) or ["application/json"]
            media = {str(m): signature(doc, response.get("schema")) for m in produces} if "schema" in response else {}
        else:
            media = {
                str(m): signature(doc, as_dict(v).get("schema")) for m, v in as_dict(response.get("content")).items()
            }
        responses[str(status)] = media
    security = op.get("security") if "security" in op else doc.get("security")
    return _Shape(op.get("deprecated") is True, params, body, body_required, responses, as_list(security))


def _async_shape(ref: Reference, entry: OpEntry, op: dict) -> _Shape:
    doc = ref.doc
    if ref.flavour == "asyncapi2":
        channel = path_item(doc, as_dict(doc.get("channels")).get(entry.locator[1]))
        message = as_dict(deref(doc, op.get("message")))
        members = (
            as_list(message.get("oneOf")) if "oneOf" in message and "payload" not in message else [op.get("message")]
        )
    else:
        channel = as_dict(deref(doc, op.get("channel")))
        members = as_list(op.get("messages")) if "messages" in op else list(as_dict(channel.get("messages")).values())
    messages = {}
    for i, raw in enumerate(members, 1):
        target = as_dict(deref(doc, raw))
        name = str(target.get("name") or (ref_of(raw) or "").rsplit("/", 1)[-1] or f"message {i}")
        messages[name] = signature(doc, target.get("payload"))
    params = {
        ("channel", str(name)): (True, signature(doc, as_dict(deref(doc, raw)).get("schema")))
        for name, raw in as_dict(channel.get("parameters")).items()
    }
    return _Shape(op.get("deprecated") is True, params, messages, False, {}, as_list(op.get("security")))


def _compare_shapes(old: _Shape, new: _Shape) -> list[Detail]:
    details: list[Detail] = []
    if old.deprecated != new.deprecated:
        details.append(
            Detail("changed", "deprecated", "", "now deprecated" if new.deprecated else "no longer deprecated")
        )
    for key, (required, type_) in new.params.items():
        where, name = key
        if key not in old.params:
            details.append(
                Detail(
                    "added",
                    "parameter",
                    name,
                    f"{where} parameter `{name}` added ({'required' if required else 'optional'})",
                )
            )
            continue
        old_required, old_type = old.params[key]
        if old_required != required:
            details.append(
                Detail(
                    "changed",
                    "parameter",
                    name,
                    f"{where} parameter `{name}` is now {'required' if required else 'optional'}",
                )
            )
        if old_type != type_:
            details.append(
                Detail(
                    "changed", "parameter", name, f"{where} parameter `{name}` type changed from {old_type} to {type_}"
                )
            )
    for key in old.params:
        if key not in new.params:
            details.append(Detail("removed", "parameter", key[1], f"{key[0]} parameter `{key[1]}` removed"))
    details.extend(_compare_body(old, new))
    for status, media in new.responses.items():
        if status not in old.responses:
            details.append(Detail("added", "response", status, f"response {status} added"))
            continue
        details.extend(_compare_media(old.responses[status], media, f"response {status}"))
    for status in old.responses:
        if status not in new.responses:
            details.append(Detail("removed", "response", status, f"response {status} removed"))
    if old.security != new.security:
        details.append(Detail("changed", "security", "", "security requirements changed"))
    return details


def _compare_body(old: _Shape, new: _Shape) -> list[Detail]:
    if old.body is None and new.body is None:
        return []
    if old.body is None:
        return [Detail("added", "request body", "", "request body added")]
    if new.body is None:
        return [Detail("removed", "request body", "", "request body removed")]
    details = []
    if old.body_required != new.body_required:
        details.append(
            Detail(
                "changed", "request body", "", f"request body is now {'required' if new.body_required else 'optional'}"
            )
        )
    details.extend(_compare_media(old.body, new.body, "request body"))
    return details


def _compare_media(old: dict[str, str], new: dict[str, str], where: str) -> list[Detail]:
    details = []
    for media, type_ in new.items():
        if media not in old:
            details.append(Detail("added", "media type", media, f"{where}: media type {media} added"))
        elif old[media] != type_:
            details.append(
                Detail("changed", "type", media, f"{where} ({media}) type changed from {old[media]} to {type_}")
            )
    for media in old:
        if media not in new:
            details.append(Detail("removed", "media type", media, f"{where}: media type {media} removed"))
    return details


# -- schemas -----------------------------------------------------------------------------------------------


def _flatten(doc: Any, schema: Any, seen: frozenset = frozenset()) -> dict:
    """A schema with its allOf members' properties and required lists merged in (one level of names)."""
    ref = ref_of(schema)
    if ref is not None:
        if ref in seen:
            return {}
        seen = seen | {ref}
    target = deref(doc, schema) if ref else schema
    if not isinstance(target, dict):
        return {}
    if "allOf" not in target:
        return target
    merged = {k: v for k, v in target.items() if k != "allOf"}
    properties = {}
    required: list = []
    for member in as_list(target.get("allOf")):
        flat = _flatten(doc, member, seen)
        properties.update(as_dict(flat.get("properties")))
        required.extend(as_list(flat.get("required")))
        if "type" in flat and "type" not in merged:
            merged["type"] = flat["type"]
    properties.update(as_dict(target.get("properties")))
    required.extend(as_list(target.get("required")))
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _compare_schema(old: Reference, new: Reference, key: str) -> list[Detail]:
    old_schema = pointer(old.doc, old.schema_refs[key])
    new_schema = pointer(new.doc, new.schema_refs[key])
    if key.startswith("messages/"):
        old_message, new_message = as_dict(deref(old.doc, old_schema)), as_dict(deref(new.doc, new_schema))
        details = []
        for part in ("payload", "headers"):
            before = signature(old.doc, old_message.get(part))
            after = signature(new.doc, new_message.get(part))
            if before != after:
                details.append(Detail("changed", "type", part, f"{part} changed from {before} to {after}"))
            elif ref_of(old_message.get(part)) is None and old_message.get(part) != new_message.get(part):
                details.extend(
                    _compare_objects(old.doc, new.doc, old_message.get(part), new_message.get(part), f"{part}.", 1)
                )
        return details
    return _compare_objects(old.doc, new.doc, old_schema, new_schema, "", 0)


def _type_only(doc: Any, schema: Any) -> str:
    """The type of a schema itself (not the name it is referenced by)."""
    target = deref(doc, schema) if ref_of(schema) else schema
    return signature(doc, target) if isinstance(target, dict) else "any"


def _compare_objects(old_doc: Any, new_doc: Any, old_schema: Any, new_schema: Any, prefix: str, depth: int) -> list:
    details: list[Detail] = []
    old_flat, new_flat = _flatten(old_doc, old_schema), _flatten(new_doc, new_schema)
    old_type, new_type = _type_only(old_doc, old_flat), _type_only(new_doc, new_flat)
    label = prefix.rstrip(".") or "schema"
    if old_type != new_type:
        details.append(
            Detail(
                "changed",
                "type",
                label,
                f"{'`' + label + '`' if prefix else 'type'} changed from {old_type} to {new_type}",
            )
        )
    old_enum, new_enum = as_list(old_flat.get("enum")), as_list(new_flat.get("enum"))
    if old_enum != new_enum and (old_enum or new_enum):
        added = [v for v in new_enum if v not in old_enum]
        removed = [v for v in old_enum if v not in new_enum]
        if added:
            details.append(Detail("added", "enum", label, f"{label}: enum values added: {', '.join(map(str, added))}"))
        if removed:
            details.append(
                Detail("removed", "enum", label, f"{label}: enum values removed: {', '.join(map(str, removed))}")
            )
    if _nullable(old_doc, old_flat) != _nullable(new_doc, new_flat):
        now = _nullable(new_doc, new_flat)
        details.append(Detail("changed", "nullable", label, f"{label} is {'now' if now else 'no longer'} nullable"))
    old_props, new_props = as_dict(old_flat.get("properties")), as_dict(new_flat.get("properties"))
    old_required = {r for r in as_list(old_flat.get("required")) if isinstance(r, str)}
    new_required = {r for r in as_list(new_flat.get("required")) if isinstance(r, str)}
    for name, sub in new_props.items():
        path = f"{prefix}{name}"
        if name not in old_props:
            state = "required" if name in new_required else "optional"
            details.append(Detail("added", "property", path, f"property `{path}` added ({state})"))
            continue
        before, after = signature(old_doc, old_props[name]), signature(new_doc, sub)
        if before != after:
            details.append(Detail("changed", "type", path, f"property `{path}` type changed from {before} to {after}"))
        elif depth < MAX_PROPERTY_DEPTH and ref_of(sub) is None and ref_of(old_props[name]) is None:
            details.extend(_compare_objects(old_doc, new_doc, old_props[name], sub, f"{path}.", depth + 1))
    for name in old_props:
        if name not in new_props:
            details.append(Detail("removed", "property", f"{prefix}{name}", f"property `{prefix}{name}` removed"))
    for name in sorted(new_required - old_required):
        if name in old_props and name in new_props:
            details.append(Detail("changed", "required", f"{prefix}{name}", f"`{prefix}{name}` is now required"))
    for name in sorted(old_required - new_required):
        if name in new_props:
            details.append(Detail("changed", "required", f"{prefix}{name}", f"`{prefix}{name}` is no longer required"))
    return details
