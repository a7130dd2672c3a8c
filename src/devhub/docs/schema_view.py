"""JSON Schema (OpenAPI 2.0/3.0/3.1, AsyncAPI) as a view model for the reference pages: a tree of
`SchemaNode`s with everything a reader needs (types, nullability, access, constraints, enums, defaults,
examples, compositions, discriminators), and deterministic example values generated from a schema.

Schemas in bundled documents may be circular and very large. The tree builder expands `$ref`s inline,
but a reference already being expanded on the current path becomes a "recursive" link, and a depth limit,
a limit on nested named schemas and a node budget per tree turn what is left into links to the schema's
own page. Nothing here produces HTML: templates (`docs/_schema.html`) and `export.py` render the tree.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devhub.docs.refs import as_dict, as_list, component_key, deref, key_label, pointer, ref_of

MAX_DEPTH = 12  # nesting of properties/items below the root
MAX_REF_DEPTH = 4  # named schemas expanded inside one another on one path
MAX_NODES = 1500  # nodes per tree; past it named schemas become links and the rest is cut


def json_text(value: Any, indent: int | None = None) -> str:
    """A value as JSON text, for enums, defaults and examples (non-JSON values from YAML become strings)."""
    return json.dumps(value, ensure_ascii=False, indent=indent, default=str)


def example_text(value: Any) -> str:
    """An example as shown: strings as they are (XML, CSV, plain text), anything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json_text(value, indent=2)


@dataclass
class Discriminator:
    property_name: str
    mapping: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # value, key, url


@dataclass
class Composition:
    kind: str  # allOf | oneOf | anyOf | prefixItems
    variants: list[SchemaNode]


@dataclass
class SchemaNode:
    label: str | None = None  # property name, "items", or a variant's label
    required: bool = False
    types: list[str] = field(default_factory=list)
    format: str | None = None
    ref_key: str | None = None  # schema browser key of the named schema this node is
    ref_url: str | None = None
    recursive: bool = False  # the named schema is already being shown above: a link, not expanded
    truncated: bool = False  # limits reached: children not shown here (see ref_url)
    unresolved: str | None = None  # a $ref that does not resolve
    title: str | None = None
    description: str | None = None
    nullable: bool = False
    read_only: bool = False
    write_only: bool = False
    deprecated: bool = False
    default: str | None = None
    enum: list[str] = field(default_factory=list)
    const: str | None = None
    constraints: list[str] = field(default_factory=list)
    pattern: str | None = None
    examples: list[str] = field(default_factory=list)
    properties: list[SchemaNode] = field(default_factory=list)
    items: SchemaNode | None = None
    additional: SchemaNode | None = None
    additional_closed: bool = False  # additionalProperties: false
    pattern_properties: list[SchemaNode] = field(default_factory=list)
    all_of: list[tuple[str, str | None]] = field(default_factory=list)  # merged from: (name, url)
    compositions: list[Composition] = field(default_factory=list)
    discriminator: Discriminator | None = None
    not_schema: SchemaNode | None = None
    raw: str | None = None  # a schema in another format (Avro, Protobuf, ...) as text

    @property
    def show_title(self) -> bool:
        """A title worth showing: not just the property's or the schema's name again (pydantic adds those)."""
        if not self.title:
            return False

        def squash(value: str | None) -> str:
            return "".join(ch for ch in (value or "").lower() if ch.isalnum())

        return squash(self.title) not in (squash(self.label), squash(self.ref_name))

    @property
    def ref_name(self) -> str | None:
        return key_label(self.ref_key) if self.ref_key else None

    @property
    def type_text(self) -> str:
        """A one-line type: `string <date-time>`, `array of Pet`, `object`, `integer | string`."""
        if self.unresolved:
            return "unresolved reference"
        types = [t for t in self.types if t != "null"]
        if types == ["array"] and self.items is not None:
            inner = self.items.ref_name or self.items.type_text or "any"
            text = f"array of {inner}"
        elif types:
            text = " | ".join(types)
        elif self.compositions:
            text = {"oneOf": "one of", "anyOf": "any of", "allOf": "all of", "prefixItems": "tuple"}.get(
                self.compositions[0].kind, self.compositions[0].kind
            )
        elif self.ref_name and (self.recursive or self.truncated):
            text = self.ref_name
        elif self.raw is not None:
            text = "schema"
        else:
            text = "any"
        if self.format:
            text += f" <{self.format}>"
        return text

    @property
    def has_children(self) -> bool:
        return bool(
            self.properties
            or (self.items is not None and self.items.expandable)
            or self.additional is not None
            or self.pattern_properties
            or self.compositions
            or self.not_schema is not None
        )

    @property
    def expandable(self) -> bool:
        return self.has_children or bool(self.enum or self.constraints or self.pattern or self.examples)

    @property
    def is_empty(self) -> bool:
        return not (self.types or self.has_children or self.ref_key or self.raw or self.enum or self.const)


class SchemaViewBuilder:
    """Builds `SchemaNode` trees for one document. `link(key)` gives the URL of a named schema's page."""

    def __init__(
        self,
        doc: Any,
        link: Callable[[str], str | None],
        *,
        max_depth: int = MAX_DEPTH,
        max_ref_depth: int = MAX_REF_DEPTH,
        max_nodes: int = MAX_NODES,
    ) -> None:
        self.doc = doc
        self.link = link
        self.max_depth = max_depth
        self.max_ref_depth = max_ref_depth
        self.max_nodes = max_nodes
        self.nodes = 0

    def build(self, schema: Any, label: str | None = None, *, self_ref: str | None = None) -> SchemaNode:
        """A fresh tree (its own node budget). `self_ref`: the reference of the schema being shown on its
        own page, so that it shows as recursive where it contains itself."""
        self.nodes = 0
        stack = (self_ref,) if self_ref else ()
        return self._node(schema, label, False, 0, stack, 0)

    # -- internals --------------------------------------------------------------------------------------

    def _node(self, schema: Any, label: str | None, required: bool, depth: int, stack: tuple, ref_depth: int):
        self.nodes += 1
        node = SchemaNode(label=label, required=required)
        if isinstance(schema, bool):
            node.types = ["any"] if schema else ["never"]
            return node
        ref = ref_of(schema)
        if ref is not None:
            key = component_key(ref)
            node.ref_key = key
            node.ref_url = self.link(key) if key else None
            siblings = {k: v for k, v in schema.items() if k != "$ref"}
            if ref in stack:
                node.recursive = True
                self._scalars(node, siblings)
                return node
            target = pointer(self.doc, ref)
            while ref_of(target) is not None and ref_of(target) not in stack and ref_of(target) != ref:
                stack = (*stack, ref)
                ref = ref_of(target)
                target = pointer(self.doc, ref)
            if ref_of(target) is not None:  # a loop of bare references
                node.recursive = True
                return node
            if target is None:
                node.unresolved = ref
                return node
            if not isinstance(target, dict):
                target = {} if target is True else {"not": {}} if target is False else {}
            limited = (
                (key is not None and ref_depth >= self.max_ref_depth)
                or depth >= self.max_depth
                or (self.nodes > self.max_nodes and key is not None)
            )
            schema = {**target, **siblings} if siblings else target
            if limited:
                node.truncated = True
                self._scalars(node, schema)
                return node
            stack = (*stack, ref)
            if key is not None:
                ref_depth += 1
        if not isinstance(schema, dict):
            node.types = ["any"]
            return node
        if depth >= self.max_depth or self.nodes > self.max_nodes:
            node.truncated = True
            self._scalars(node, schema)
            return node
        single = nullable_variant(schema)
        if single is not None:  # anyOf/oneOf [X, null]: X, nullable (how pydantic and others spell it)
            inner = self._node(single, label, required, depth, stack, ref_depth)
            outer = SchemaNode()
            self._scalars(outer, {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")})
            for attr in ("title", "description", "default", "const"):
                if getattr(outer, attr) is not None:
                    setattr(inner, attr, getattr(outer, attr))
            inner.examples = outer.examples or inner.examples
            inner.deprecated = inner.deprecated or outer.deprecated
            inner.read_only = inner.read_only or outer.read_only
            inner.write_only = inner.write_only or outer.write_only
            inner.nullable = True
            return inner

        if "allOf" in schema:
            merged = merge_all_of(self.doc, schema, stack)
            if merged is not None:
                schema, sources, member_refs = merged
                node.all_of = [(key_label(k), self.link(k)) for k in sources]
                stack = (*stack, *member_refs)
        self._scalars(node, schema)
        self._children(node, schema, depth, stack, ref_depth)
        return node

    def _scalars(self, node: SchemaNode, schema: dict) -> None:
        """Everything about a schema that is not a child schema."""
        raw_type = schema.get("type")
        types = [t for t in (raw_type if isinstance(raw_type, list) else [raw_type]) if isinstance(t, str)]
        if "null" in types:
            node.nullable = True
        types = [t for t in types if t != "null"] + (["null"] if types == ["null"] else [])
        if not types:
            if isinstance(schema.get("properties"), dict) or "additionalProperties" in schema:
                types = ["object"]
            elif "items" in schema or "prefixItems" in schema:
                types = ["array"]
            elif "const" in schema and schema["const"] is not None:
                types = [_json_type(schema["const"])]
        node.types = types
        if schema.get("nullable") is True or schema.get("x-nullable") is True:
            node.nullable = True
        if isinstance(schema.get("format"), str):
            node.format = schema["format"]
        if isinstance(schema.get("title"), str):
            node.title = schema["title"]
        if isinstance(schema.get("description"), str):
            node.description = schema["description"]
        node.read_only = schema.get("readOnly") is True
        node.write_only = schema.get("writeOnly") is True
        node.deprecated = schema.get("deprecated") is True
        if "default" in schema:
            node.default = json_text(schema["default"])
        if isinstance(schema.get("enum"), list):
            node.enum = [json_text(v) for v in schema["enum"]]
            if None in schema["enum"]:
                node.nullable = True
        if "const" in schema:
            node.const = json_text(schema["const"])
        node.constraints = _constraints(schema)
        if isinstance(schema.get("pattern"), str):
            node.pattern = schema["pattern"]
        examples = []
        if "example" in schema:
            examples.append(schema["example"])
        if "x-example" in schema:
            examples.append(schema["x-example"])
        if isinstance(schema.get("examples"), list):
            examples.extend(schema["examples"])
        elif isinstance(schema.get("examples"), dict):  # not valid JSON Schema, but seen in the wild
            examples.extend(v.get("value", v) if isinstance(v, dict) else v for v in schema["examples"].values())
        node.examples = [json_text(v) for v in examples[:5]]

    def _children(self, node: SchemaNode, schema: dict, depth: int, stack: tuple, ref_depth: int) -> None:
        child_depth = depth + 1
        required = {r for r in as_list(schema.get("required")) if isinstance(r, str)}
        for name, sub in as_dict(schema.get("properties")).items():
            node.properties.append(self._node(sub, str(name), name in required, child_depth, stack, ref_depth))
        for pattern, sub in as_dict(schema.get("patternProperties")).items():
            node.pattern_properties.append(self._node(sub, str(pattern), False, child_depth, stack, ref_depth))
        additional = schema.get("additionalProperties")
        if additional is False:
            node.additional_closed = True
        elif isinstance(additional, dict):
            node.additional = self._node(additional, "additional properties", False, child_depth, stack, ref_depth)
        items = schema.get("items")
        if isinstance(items, dict | bool):
            node.items = self._node(items, "items", False, child_depth, stack, ref_depth)
        elif isinstance(items, list):  # JSON Schema draft 4 tuples
            variants = [self._node(s, f"[{i}]", False, child_depth, stack, ref_depth) for i, s in enumerate(items)]
            node.compositions.append(Composition("prefixItems", variants))
        if isinstance(schema.get("prefixItems"), list):
            variants = [
                self._node(s, f"[{i}]", False, child_depth, stack, ref_depth)
                for i, s in enumerate(schema["prefixItems"])
            ]
            node.compositions.append(Composition("prefixItems", variants))
        for kind in ("allOf", "oneOf", "anyOf"):
            members = as_list(schema.get(kind))
            if members:
                variants = [
                    self._node(member, _variant_label(self.doc, member, i), False, child_depth, stack, ref_depth)
                    for i, member in enumerate(members, 1)
                ]
                node.compositions.append(Composition(kind, variants))
        if "not" in schema:
            node.not_schema = self._node(schema["not"], "not", False, child_depth, stack, ref_depth)
        discriminator = schema.get("discriminator")
        if isinstance(discriminator, str):  # Swagger 2.0: just the property name
            discriminator = {"propertyName": discriminator}
        if isinstance(discriminator, dict) and isinstance(discriminator.get("propertyName"), str):
            node.discriminator = self._discriminator(discriminator, schema)

    def _discriminator(self, discriminator: dict, schema: dict) -> Discriminator:
        result = Discriminator(discriminator["propertyName"])
        mapping = as_dict(discriminator.get("mapping"))
        for value, target in mapping.items():
            key = component_key(target) if isinstance(target, str) and target.startswith("#") else None
            if key is None and isinstance(target, str) and not target.startswith("#"):
                key = target if pointer(self.doc, f"#/components/schemas/{target}") is not None else None
            result.mapping.append((str(value), key, self.link(key) if key else None))
        if not mapping:
            for member in as_list(schema.get("oneOf")) + as_list(schema.get("anyOf")):
                key = component_key(ref_of(member))
                if key:
                    result.mapping.append((key_label(key), key, self.link(key)))
        return result


def merge_all_of(doc: Any, schema: dict, stack: tuple = ()) -> tuple[dict, list[str], list[str]] | None:
    """allOf of object schemas as one object: properties in order, required united. Returns the merged
    schema, the schema browser keys it was merged from and the references followed; None when a member is
    not an object (or recurses), in which case callers list the members instead."""
    members: list[tuple[str | None, dict]] = []
    seen = set(stack)
    if not _collect_all_of(doc, schema, members, seen, 0):
        return None
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict[str, Any] = {}
    required: list[str] = []
    sources: list[str] = []
    member_refs: list[str] = []
    for ref, member in members:
        key = component_key(ref)
        if key and key not in sources:
            sources.append(key)
        if ref:
            member_refs.append(ref)
        properties.update(as_dict(member.get("properties")))
        required.extend(r for r in as_list(member.get("required")) if isinstance(r, str))
        for extra in ("type", "additionalProperties", "oneOf", "anyOf", "nullable"):
            if extra in member and extra not in merged:
                merged[extra] = member[extra]
    properties.update(as_dict(schema.get("properties")))
    required.extend(r for r in as_list(schema.get("required")) if isinstance(r, str))
    if properties:
        merged["properties"] = properties
        merged.setdefault("type", "object")
    if required:
        merged["required"] = list(dict.fromkeys(required))
    return merged, sources, member_refs


def _is_null(schema: Any) -> bool:
    return (
        isinstance(schema, dict)
        and (schema.get("type") == "null" or schema.get("type") == ["null"])
        and not (set(schema) - {"type", "title", "description"})
    )


def nullable_variant(schema: dict) -> Any:
    """The one non-null member of `anyOf`/`oneOf: [X, {type: null}]` when that is all the schema says, else None."""
    if "type" in schema or "properties" in schema or "allOf" in schema:
        return None
    for kind in ("anyOf", "oneOf"):
        members = schema.get(kind)
        if (
            isinstance(members, list)
            and len(members) >= 2
            and not any(k in schema for k in ("anyOf", "oneOf") if k != kind)
        ):
            others = [m for m in members if not _is_null(m)]
            if len(others) == 1 and len(others) < len(members):
                return others[0]
    return None


def _collect_all_of(doc: Any, schema: dict, out: list, seen: set, level: int) -> bool:
    if level > 8:
        return False
    for member in as_list(schema.get("allOf")):
        ref = ref_of(member)
        if ref is not None:
            if ref in seen:
                return False
            seen = seen | {ref}
        target = deref(doc, member) if ref else member
        if not isinstance(target, dict):
            return False
        if "allOf" in target:
            nested: list = []
            if not _collect_all_of(doc, target, nested, seen, level + 1):
                return False
            rest = {k: v for k, v in target.items() if k != "allOf"}
            out.extend(nested)
            if rest.get("properties") or rest.get("required"):
                out.append((None, rest))
            if ref:
                out.append((ref, {}))
            continue
        raw_type = target.get("type")
        if raw_type not in (None, "object") and not (isinstance(raw_type, list) and "object" in raw_type):
            return False
        if raw_type is None and not (
            "properties" in target or "required" in target or set(target) <= {"description", "title", "example"}
        ):
            return False
        out.append((ref, target))
    return True


def _variant_label(doc: Any, member: Any, index: int) -> str:
    if isinstance(member, dict):
        key = component_key(ref_of(member))
        target = deref(doc, member) if ref_of(member) else member
        if isinstance(target, dict) and isinstance(target.get("title"), str):
            return target["title"]
        if key:
            return key_label(key)
        if isinstance(target, dict) and isinstance(target.get("type"), str):
            return target["type"]
    return f"Option {index}"


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _num(value: Any) -> str:
    return json_text(value)


def _constraints(schema: dict) -> list[str]:
    out: list[str] = []
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    exclusive_min, exclusive_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(exclusive_min, int | float) and not isinstance(exclusive_min, bool):
        out.append(f"> {_num(exclusive_min)}")
    elif isinstance(minimum, int | float) and not isinstance(minimum, bool):
        out.append(f"{'>' if exclusive_min is True else '≥'} {_num(minimum)}")
    if isinstance(exclusive_max, int | float) and not isinstance(exclusive_max, bool):
        out.append(f"< {_num(exclusive_max)}")
    elif isinstance(maximum, int | float) and not isinstance(maximum, bool):
        out.append(f"{'<' if exclusive_max is True else '≤'} {_num(maximum)}")
    for low, high, noun in (
        ("minLength", "maxLength", "length"),
        ("minItems", "maxItems", "items"),
        ("minProperties", "maxProperties", "properties"),
    ):
        lo, hi = schema.get(low), schema.get(high)
        lo = lo if isinstance(lo, int) and not isinstance(lo, bool) else None
        hi = hi if isinstance(hi, int) and not isinstance(hi, bool) else None
        if lo is not None and lo == hi:
            out.append(f"{noun} = {lo}")
            continue
        if lo is not None and lo > 0:
            out.append(f"{noun} ≥ {lo}")
        if hi is not None:
            out.append(f"{noun} ≤ {hi}")
    if isinstance(schema.get("multipleOf"), int | float) and not isinstance(schema.get("multipleOf"), bool):
        out.append(f"multiple of {_num(schema['multipleOf'])}")
    if schema.get("uniqueItems") is True:
        out.append("unique items")
    for key, label in (("contentMediaType", "media type"), ("contentEncoding", "encoding")):
        if isinstance(schema.get(key), str):
            out.append(f"{label}: {schema[key]}")
    return out


# -- examples -----------------------------------------------------------------------------------------------

_FORMAT_EXAMPLES = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "idn-email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "iri": "https://example.com",
    "uri-reference": "/path",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "uuid": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
    "byte": "U3dhZ2dlciByb2Nrcw==",
    "binary": "<binary>",
    "password": "********",
    "duration": "P1D",
}


def example_value(doc: Any, schema: Any, mode: str = "request", _depth: int = 0, _stack: tuple = ()) -> Any:
    """A deterministic, minimal example of `schema`: its own example/default/const/enum when it has one,
    else generated (requests: required properties only, unless none are required; readOnly properties left
    out of requests and writeOnly out of responses). Recursion and depth stop at empty containers."""
    ref = ref_of(schema)
    if ref is not None:
        if ref in _stack or _depth > 10:
            return None
        _stack = (*_stack, ref)
        schema = deref(doc, schema)
    if not isinstance(schema, dict):
        return None
    if "example" in schema:
        return schema["example"]
    if "x-example" in schema:
        return schema["x-example"]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if _depth > 8:
        return None
    if isinstance(schema.get("allOf"), list):
        merged = merge_all_of(doc, schema, _stack)
        if merged is not None:
            return example_value(doc, merged[0], mode, _depth + 1, (*_stack, *merged[2]))
        result: Any = None
        for member in schema["allOf"]:
            value = example_value(doc, member, mode, _depth + 1, _stack)
            if isinstance(value, dict):
                result = {**(result if isinstance(result, dict) else {}), **value}
            elif result is None:
                result = value
        own = {k: v for k, v in schema.items() if k != "allOf"}
        if own.get("properties"):
            value = example_value(doc, own, mode, _depth + 1, _stack)
            if isinstance(value, dict):
                result = {**(result if isinstance(result, dict) else {}), **value}
        return result
    for kind in ("oneOf", "anyOf"):
        members = as_list(schema.get(kind))
        if members:
            return example_value(doc, members[0], mode, _depth + 1, _stack)
    raw_type = schema.get("type")
    types = [t for t in (raw_type if isinstance(raw_type, list) else [raw_type]) if isinstance(t, str)]
    kind = next((t for t in types if t != "null"), None)
    if kind is None:
        if isinstance(schema.get("properties"), dict):
            kind = "object"
        elif "items" in schema:
            kind = "array"
        elif types == ["null"]:
            return None
    if kind == "object":
        properties = as_dict(schema.get("properties"))
        skip = "readOnly" if mode == "request" else "writeOnly"
        shown = {}
        for name, sub in properties.items():
            target = deref(doc, sub) if ref_of(sub) else sub
            if isinstance(target, dict) and target.get(skip) is True:
                continue
            shown[name] = sub
        required = [r for r in as_list(schema.get("required")) if r in shown]
        names = required if mode == "request" and required else list(shown)
        return {name: example_value(doc, shown[name], mode, _depth + 1, _stack) for name in names}
    if kind == "array":
        items = schema.get("items")
        if isinstance(items, dict):
            value = example_value(doc, items, mode, _depth + 1, _stack)
            return [] if value is None and ref_of(items) in _stack else [value]
        return []
    if kind == "string":
        fmt = schema.get("format")
        return _FORMAT_EXAMPLES.get(fmt, "string") if isinstance(fmt, str) else "string"
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        if isinstance(low, int | float) and not isinstance(low, bool):
            value = math.floor(low) + 1 if schema.get("exclusiveMinimum") not in (None, False) else low
            return math.ceil(value) if kind == "integer" else value
        return 0
    if kind == "boolean":
        return True
    return None
