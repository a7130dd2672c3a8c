"""Breaking changes between two versions of an OpenAPI (3.x or Swagger 2.0) definition.

Why hand-written: the reference tool, oasdiff, is Go (shipping and calling a Go binary from a pip-installed
portal is heavier than the rules themselves), and no maintained Python library judges compatibility.
Rule ids follow oasdiff's where they mean the same, so its documentation explains them.

Each finding has a rule id, a level (error: breaks clients; warning: may break some; info: harmless, for the
changelog), a JSON pointer (into the new document, or into the old one for what was removed: `side="old"`)
and the operation it concerns (method, path, operationId), so consumers can be joined on later.

Operations are matched by method and path with parameter names ignored (`/pets/{id}` = `/pets/{petId}`);
path parameters by position. Schemas are compared through `$ref`s with `allOf` merged; a pair of referenced
schemas is compared once and its findings reused for every operation that uses it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from devhub.governance.findings import (
    METHODS,
    Finding,
    Resolver,
    as_dict,
    as_list,
    at_least,
    counts,
    flavour,
    pointer,
    sort_key,
)

MAX_DEPTH = 12


@dataclass(frozen=True)
class DiffRule:
    id: str
    level: str
    description: str


RULES: dict[str, DiffRule] = {}


def _rule(rule_id: str, level: str, description: str) -> None:
    RULES[rule_id] = DiffRule(rule_id, level, description)


# Operations.
_rule("api-path-removed-without-deprecation", "error", "a path was removed without being deprecated first")
_rule("api-removed-without-deprecation", "error", "an operation was removed without being deprecated first")
_rule("api-removed-before-sunset", "error", "a deprecated operation was removed before its sunset date")
_rule("api-removed-without-sunset", "warning", "a deprecated operation without a sunset date was removed")
_rule("api-removed-after-sunset", "info", "a deprecated operation was removed after its sunset date")
_rule("endpoint-added", "info", "an operation was added")
_rule("api-deprecated", "info", "an operation was deprecated")
_rule("api-operation-id-changed", "warning", "an operation's operationId changed (generated clients rename it)")
# Security.
_rule("api-security-added", "error", "an operation that needed no security now needs it")
_rule("api-security-changed", "error", "a way of authenticating an operation was removed or changed")
_rule("api-security-scope-added", "error", "an operation's security requirement needs more scopes")
_rule("api-security-removed", "info", "an operation no longer needs security")
_rule("api-security-alternative-added", "info", "an operation accepts another way of authenticating")
# Parameters.
_rule("new-required-request-parameter", "error", "a required parameter was added")
_rule("new-optional-request-parameter", "info", "an optional parameter was added")
_rule("request-parameter-removed", "warning", "a parameter was removed (clients still sending it may be refused)")
_rule("request-parameter-became-required", "error", "an optional parameter became required")
_rule("request-parameter-became-optional", "info", "a required parameter became optional")
# Request body.
_rule("request-body-added-required", "error", "a required request body was added")
_rule("request-body-added", "info", "an optional request body was added")
_rule("request-body-removed", "warning", "the request body was removed")
_rule("request-body-became-required", "error", "the request body became required")
_rule("request-body-became-optional", "info", "the request body became optional")
_rule("request-body-media-type-removed", "error", "a request media type is no longer accepted")
_rule("request-body-media-type-added", "info", "a request media type was added")
_rule("new-required-request-property", "error", "a required request property was added")
_rule("new-optional-request-property", "info", "an optional request property was added")
_rule("request-property-removed", "warning", "a request property was removed")
_rule("request-property-became-required", "error", "a request property became required")
_rule("request-property-became-optional", "info", "a request property became optional")
# Responses.
_rule("response-success-status-removed", "error", "a success (2xx/3xx) response status was removed")
_rule("response-non-success-status-removed", "warning", "an error response status was removed")
_rule("response-status-added", "info", "a response status was added")
_rule("response-media-type-removed", "error", "a response media type was removed")
_rule("response-media-type-added", "info", "a response media type was added")
_rule("response-required-property-removed", "error", "a required response property was removed")
_rule("response-optional-property-removed", "warning", "an optional response property was removed")
_rule("response-property-became-optional", "error", "a required response property became optional")
_rule("response-property-became-required", "info", "an optional response property became required")
_rule("response-property-added", "info", "a response property was added")
_rule("response-required-header-removed", "error", "a required response header was removed")
_rule("response-optional-header-removed", "warning", "an optional response header was removed")
# Schemas: the same checks for parameters (request-parameter-*), request bodies and their properties
# (request-body-*, request-property-*), and response bodies and their properties (response-body-*,
# response-property-*).
for _prefix in ("request-parameter", "request-body", "request-property"):
    _rule(f"{_prefix}-type-changed", "error", "the type changed")
    _rule(f"{_prefix}-type-generalized", "info", "the type accepts more values (e.g. integer to number)")
    _rule(f"{_prefix}-format-changed", "error", "the format changed")
    _rule(f"{_prefix}-became-not-nullable", "error", "null is no longer accepted")
    _rule(f"{_prefix}-enum-value-removed", "error", "an enum value is no longer accepted")
    _rule(f"{_prefix}-enum-value-added", "info", "an enum value was added")
    _rule(f"{_prefix}-became-enum", "error", "the value is now restricted to an enum")
    _rule(f"{_prefix}-max-length-decreased", "error", "maxLength went down or was set")
    _rule(f"{_prefix}-min-length-increased", "error", "minLength went up")
    _rule(f"{_prefix}-max-decreased", "error", "maximum went down or was set")
    _rule(f"{_prefix}-min-increased", "error", "minimum went up or was set")
    _rule(f"{_prefix}-max-items-decreased", "error", "maxItems went down or was set")
    _rule(f"{_prefix}-min-items-increased", "error", "minItems went up")
    _rule(f"{_prefix}-pattern-added", "error", "a pattern was added")
    _rule(f"{_prefix}-pattern-changed", "warning", "the pattern changed")
for _prefix in ("response-body", "response-property"):
    _rule(f"{_prefix}-type-changed", "error", "the type changed")
    _rule(f"{_prefix}-type-narrowed", "info", "the type returns fewer kinds of value")
    _rule(f"{_prefix}-format-changed", "error", "the format changed")
    _rule(f"{_prefix}-became-nullable", "error", "the value may now be null")
    _rule(f"{_prefix}-enum-value-added", "warning", "an enum value was added (clients may not handle it)")
    _rule(f"{_prefix}-enum-value-removed", "info", "an enum value is no longer returned")
    _rule(f"{_prefix}-max-length-increased", "warning", "maxLength went up or was removed")
    _rule(f"{_prefix}-max-increased", "warning", "maximum went up or was removed")
# Versions.
_rule("semver-breaking-change-in-minor", "error", "a breaking change in a minor version (needs a major version)")
_rule("semver-breaking-change-in-patch", "error", "a breaking change in a patch version (needs a major version)")


# --- sunsets ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sunset:
    """What the portal knows of a deprecation: the old version's, or one operation's (by method and path)."""

    deprecated: bool = True
    sunset: date | None = None


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


# --- the report -------------------------------------------------------------------------------------------


@dataclass
class DiffReport:
    findings: list[Finding] = field(default_factory=list)
    old_version: str | None = None
    new_version: str | None = None
    supported: bool = True

    @property
    def counts(self) -> dict[str, int]:
        return counts(self.findings)

    @property
    def breaking(self) -> list[Finding]:
        return at_least(self.findings, "error")

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_version": self.old_version,
            "new_version": self.new_version,
            "supported": self.supported,
            "counts": self.counts,
            "findings": [f.to_dict() for f in self.findings],
        }


# --- normalised operations --------------------------------------------------------------------------------


@dataclass
class _Media:
    schema: Any
    parts: tuple


@dataclass
class _Param:
    name: str
    where: str
    required: bool
    schema: Any
    parts: tuple
    schema_parts: tuple = ()


@dataclass
class _Response:
    parts: tuple
    media: dict[str, _Media]
    headers: dict[str, tuple[bool, tuple]]


@dataclass
class _Op:
    method: str
    path: str
    parts: tuple
    obj: dict
    params: dict[tuple, _Param]
    body: dict[str, _Media] | None
    body_required: bool
    body_parts: tuple
    responses: dict[str, _Response]
    security: list | None

    @property
    def operation_id(self) -> str | None:
        value = self.obj.get("operationId")
        return value if isinstance(value, str) else None


class _Side:
    def __init__(self, doc: dict) -> None:
        self.doc = doc
        self.flavour = flavour(doc)
        self.resolver = Resolver(doc)
        self.swagger = self.flavour == "swagger"

    def deref(self, node: Any) -> Any:
        return self.resolver.deref(node)

    def operations(self) -> dict[tuple[str, str], _Op]:
        found = {}
        for path, raw in as_dict(self.doc.get("paths")).items():
            item = as_dict(self.deref(raw))
            for method in METHODS:
                if isinstance(item.get(method), dict):
                    op = self._op(str(path), method, item, item[method])
                    found[(method, re.sub(r"\{[^}]*\}", "{}", str(path)))] = op
        return found

    def _op(self, path: str, method: str, item: dict, obj: dict) -> _Op:
        parts = ("paths", path, method)
        doc = self.doc
        positions = {name: i for i, name in enumerate(re.findall(r"\{([^}]*)\}", path))}
        params: dict[tuple, _Param] = {}
        body: dict[str, _Media] | None = None
        body_required = False
        body_parts: tuple = (*parts, "requestBody")
        form_props: dict[str, Any] = {}
        form_required: list[str] = []
        sources = [((*("paths", path), "parameters", i), raw) for i, raw in enumerate(as_list(item.get("parameters")))]
        sources += [((*parts, "parameters", i), raw) for i, raw in enumerate(as_list(obj.get("parameters")))]
        for where_parts, raw in sources:
            param = as_dict(self.deref(raw))
            name, where = str(param.get("name")), str(param.get("in"))
            if self.swagger and where == "body":
                consumes = as_list(obj.get("consumes")) or as_list(doc.get("consumes")) or ["application/json"]
                body = {str(m): _Media(param.get("schema"), (*where_parts, "schema")) for m in consumes}
                body_required, body_parts = param.get("required") is True, where_parts
                continue
            if self.swagger and where == "formData":
                form_props[name] = param
                if param.get("required") is True:
                    form_required.append(name)
                continue
            schema = param if self.swagger else param.get("schema")
            schema_parts = where_parts if self.swagger else (*where_parts, "schema")
            if schema is None and isinstance(param.get("content"), dict) and param["content"]:
                media, value = next(iter(param["content"].items()))
                schema, schema_parts = as_dict(value).get("schema"), (*where_parts, "content", media, "schema")
            key = (
                ("path", positions.get(name, name))
                if where == "path"
                else (where, name.lower() if where == "header" else name)
            )
            params[key] = _Param(
                name, where, param.get("required") is True or where == "path", schema, where_parts, schema_parts
            )
        if form_props:
            consumes = [m for m in as_list(obj.get("consumes")) or as_list(doc.get("consumes")) if "form" in str(m)]
            schema = {"type": "object", "properties": form_props, "required": form_required}
            body = {
                str(m): _Media(schema, (*parts, "parameters"))
                for m in consumes or ["application/x-www-form-urlencoded"]
            }
            body_required = bool(form_required)
        if not self.swagger and "requestBody" in obj:
            request_body = as_dict(self.deref(obj["requestBody"]))
            body = {
                str(m): _Media(as_dict(v).get("schema"), (*parts, "requestBody", "content", m, "schema"))
                for m, v in as_dict(request_body.get("content")).items()
            }
            body_required = request_body.get("required") is True
        responses = {}
        for status, raw in as_dict(obj.get("responses")).items():
            response = as_dict(self.deref(raw))
            rparts = (*parts, "responses", status)
            if self.swagger:
                produces = as_list(obj.get("produces")) or as_list(doc.get("produces")) or ["application/json"]
                media = (
                    {str(m): _Media(response.get("schema"), (*rparts, "schema")) for m in produces}
                    if "schema" in response
                    else {}
                )
            else:
                media = {
                    str(m): _Media(as_dict(v).get("schema"), (*rparts, "content", m, "schema"))
                    for m, v in as_dict(response.get("content")).items()
                }
            headers = {
                str(h).lower(): (as_dict(self.deref(v)).get("required") is True, (*rparts, "headers", h))
                for h, v in as_dict(response.get("headers")).items()
            }
            responses[str(status)] = _Response(rparts, media, headers)
        security = obj.get("security") if "security" in obj else doc.get("security")
        return _Op(method, path, parts, obj, params, body, body_required, body_parts, responses, security)


# --- diff -------------------------------------------------------------------------------------------------


def diff(
    old: Any,
    new: Any,
    *,
    sunsets: Mapping[tuple[str, str] | None, Sunset] | None = None,
    today: date | None = None,
) -> DiffReport:
    """Compare two documents. `sunsets` holds what the portal knows of deprecations of the old version:
    key None for the whole version, (method, path) for an operation; `x-sunset` in the old document counts
    too. `today` decides whether a sunset date has passed (default: today, UTC)."""
    report = DiffReport(
        old_version=str(as_dict(as_dict(old).get("info")).get("version") or "") or None,
        new_version=str(as_dict(as_dict(new).get("info")).get("version") or "") or None,
    )
    if not (isinstance(old, dict) and isinstance(new, dict)):
        report.supported = False
        return report
    if flavour(old) not in ("swagger", "oas3_0", "oas3_1") or flavour(new) not in ("swagger", "oas3_0", "oas3_1"):
        report.supported = False
        return report
    engine = _Engine(_Side(old), _Side(new), sunsets or {}, today or datetime.now(UTC).date())
    engine.run()
    engine.findings.sort(key=sort_key)
    report.findings = engine.findings
    return report


class _Engine:
    def __init__(self, old: _Side, new: _Side, sunsets: Mapping, today: date) -> None:
        self.old, self.new = old, new
        self.sunsets, self.today = sunsets, today
        self.findings: list[Finding] = []
        self._memo: dict[tuple, list[tuple]] = {}
        self._stack: set[tuple] = set()
        self.op: _Op | None = None

    def emit(self, rule_id: str, parts: tuple, message: str, *, side: str = "new", op: _Op | None = None) -> None:
        op = op or self.op
        self.findings.append(
            Finding(
                rule_id,
                RULES[rule_id].level,
                message,
                pointer(*parts),
                method=op.method if op else None,
                path=op.path if op else None,
                operation_id=op.operation_id if op else None,
                side=side,
            )
        )

    def run(self) -> None:
        old_ops, new_ops = self.old.operations(), self.new.operations()
        new_paths = {key[1] for key in new_ops}
        for key, op in old_ops.items():
            if key not in new_ops:
                self._removed(op, path_gone=key[1] not in new_paths)
        for key, op in new_ops.items():
            before = old_ops.get(key)
            self.op = op
            if before is None:
                self.emit("endpoint-added", op.parts, f"{_label(op)} was added")
            else:
                self._compare_op(before, op)
            self.op = None

    def _removed(self, op: _Op, path_gone: bool) -> None:
        label = _label(op)
        known = self.sunsets.get((op.method, op.path)) or self.sunsets.get(None)
        deprecated = op.obj.get("deprecated") is True or (known is not None and known.deprecated)
        sunset = (known.sunset if known else None) or _date(op.obj.get("x-sunset"))
        if not deprecated:
            rule = "api-path-removed-without-deprecation" if path_gone else "api-removed-without-deprecation"
            self.emit(rule, op.parts, f"{label} was removed without being deprecated first", side="old", op=op)
        elif sunset is None:
            self.emit(
                "api-removed-without-sunset",
                op.parts,
                f"{label} was deprecated (no sunset date) and removed",
                side="old",
                op=op,
            )
        elif sunset > self.today:
            self.emit(
                "api-removed-before-sunset",
                op.parts,
                f"{label} was removed before its sunset date {sunset}",
                side="old",
                op=op,
            )
        else:
            self.emit(
                "api-removed-after-sunset",
                op.parts,
                f"{label} was removed after its sunset date {sunset}",
                side="old",
                op=op,
            )

    def _compare_op(self, old: _Op, new: _Op) -> None:
        label = _label(new)
        if new.obj.get("deprecated") is True and old.obj.get("deprecated") is not True:
            self.emit("api-deprecated", (*new.parts, "deprecated"), f"{label} is now deprecated")
        if old.operation_id and new.operation_id and old.operation_id != new.operation_id:
            self.emit(
                "api-operation-id-changed",
                (*new.parts, "operationId"),
                f"operationId of {label} changed from {old.operation_id} to {new.operation_id}",
            )
        self._security(old, new)
        self._params(old, new)
        self._body(old, new)
        self._responses(old, new)

    # -- security ----------------------------------------------------------------------------------------

    def _security(self, old: _Op, new: _Op) -> None:
        before, after = _alternatives(old.security), _alternatives(new.security)
        if before == after:
            return
        where = (*new.parts, "security") if "security" in new.obj else ("security",)
        label = _label(new)
        if not before or before == {frozenset()}:
            if after and frozenset() not in after:
                self.emit("api-security-added", where, f"{label} now needs authentication")
            return
        if not after or frozenset() in after:
            self.emit("api-security-removed", where, f"{label} no longer needs authentication")
            return
        for alternative in before:
            if alternative in after:
                continue
            schemes = {name for name, _ in alternative}
            wider = [a for a in after if {name for name, _ in a} == schemes]
            if wider and all(_scopes(alternative) <= _scopes(a) for a in wider):
                added = sorted(set().union(*(_scopes(a) for a in wider)) - _scopes(alternative))
                self.emit("api-security-scope-added", where, f"{label} needs more scopes: {', '.join(added)}")
            else:
                names = " and ".join(sorted(schemes)) or "none"
                self.emit("api-security-changed", where, f"{label} no longer accepts authentication by {names}")
        if after - before and before <= after:
            self.emit("api-security-alternative-added", where, f"{label} accepts another way of authenticating")

    # -- parameters --------------------------------------------------------------------------------------

    def _params(self, old: _Op, new: _Op) -> None:
        for key, param in new.params.items():
            label = f"{param.where} parameter `{param.name}`"
            before = old.params.get(key)
            if before is None:
                if param.required:
                    self.emit("new-required-request-parameter", param.parts, f"required {label} was added")
                else:
                    self.emit("new-optional-request-parameter", param.parts, f"optional {label} was added")
                continue
            if param.required and not before.required:
                self.emit("request-parameter-became-required", param.parts, f"{label} became required")
            elif before.required and not param.required:
                self.emit("request-parameter-became-optional", param.parts, f"{label} became optional")
            self._schema(before.schema, param.schema, param.schema_parts, "request-parameter", label, "request")
        for key, param in old.params.items():
            if key not in new.params:
                self.emit(
                    "request-parameter-removed",
                    param.parts,
                    f"{param.where} parameter `{param.name}` was removed",
                    side="old",
                )

    # -- request body ------------------------------------------------------------------------------------

    def _body(self, old: _Op, new: _Op) -> None:
        if old.body is None and new.body is None:
            return
        if old.body is None:
            rule = "request-body-added-required" if new.body_required else "request-body-added"
            self.emit(
                rule, new.body_parts, f"a {'required' if new.body_required else 'optional'} request body was added"
            )
            return
        if new.body is None:
            self.emit("request-body-removed", old.body_parts, "the request body was removed", side="old")
            return
        if new.body_required and not old.body_required:
            self.emit("request-body-became-required", new.body_parts, "the request body became required")
        elif old.body_required and not new.body_required:
            self.emit("request-body-became-optional", new.body_parts, "the request body became optional")
        for media, value in old.body.items():
            if media not in new.body:
                self.emit(
                    "request-body-media-type-removed",
                    value.parts[:-1],
                    f"request media type {media} was removed",
                    side="old",
                )
        for media, value in new.body.items():
            before = old.body.get(media)
            if before is None:
                self.emit("request-body-media-type-added", value.parts[:-1], f"request media type {media} was added")
            else:
                self._schema(before.schema, value.schema, value.parts, "request-body", "request body", "request")

    # -- responses ---------------------------------------------------------------------------------------

    def _responses(self, old: _Op, new: _Op) -> None:
        for status, response in old.responses.items():
            if status not in new.responses:
                success = status[:1] in ("2", "3")
                rule = "response-success-status-removed" if success else "response-non-success-status-removed"
                self.emit(rule, response.parts, f"response {status} was removed", side="old")
        for status, response in new.responses.items():
            before = old.responses.get(status)
            if before is None:
                self.emit("response-status-added", response.parts, f"response {status} was added")
                continue
            for media, value in before.media.items():
                if media not in response.media:
                    self.emit(
                        "response-media-type-removed",
                        value.parts[:-1],
                        f"response {status} media type {media} was removed",
                        side="old",
                    )
            for media, value in response.media.items():
                if media not in before.media:
                    self.emit(
                        "response-media-type-added", value.parts[:-1], f"response {status} media type {media} was added"
                    )
                else:
                    old_schema = before.media[media].schema
                    self._schema(
                        old_schema, value.schema, value.parts, "response-body", f"response {status} body", "response"
                    )
            for name, (required, parts) in before.headers.items():
                if name not in response.headers:
                    rule = "response-required-header-removed" if required else "response-optional-header-removed"
                    self.emit(rule, parts, f"response {status} header {name} was removed", side="old")

    # -- schemas -----------------------------------------------------------------------------------------

    def _schema(self, old: Any, new: Any, parts: tuple, prefix: str, label: str, direction: str) -> None:
        for rule_id, where, rel, text in self._compare(old, new, parts, prefix, direction, 0):
            subject = f"{label} property `{rel}`" if rel else label
            self.emit(rule_id, where, f"{subject} {text}")

    def _resolve(self, side: _Side, schema: Any, parts: tuple) -> tuple[dict, tuple, str | None]:
        """The schema behind `$ref`s with `allOf` merged, where it is defined, and its ref (for the memo)."""
        ref = schema.get("$ref") if isinstance(schema, dict) else None
        target = side.deref(schema)
        if isinstance(ref, str) and ref.startswith("#/"):
            parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/"))
        return _merge_all_of(side, as_dict(target)), parts, ref if isinstance(ref, str) else None

    def _compare(self, old: Any, new: Any, parts: tuple, prefix: str, direction: str, depth: int) -> list[tuple]:
        """(rule, pointer parts, property path relative to here, text) for each difference."""
        if depth > MAX_DEPTH or old is None or new is None:
            return []
        o, _, old_ref = self._resolve(self.old, old, parts)
        n, parts, new_ref = self._resolve(self.new, new, parts)
        key = (old_ref, new_ref, prefix, direction) if old_ref and new_ref else None
        if key is not None:
            if key in self._memo:
                return self._memo[key]
            if key in self._stack:
                return []
            self._stack.add(key)
        out = self._compare_resolved(o, n, parts, prefix, direction, depth)
        if key is not None:
            self._stack.discard(key)
            self._memo[key] = out
        return out

    def _compare_resolved(self, o: dict, n: dict, parts: tuple, prefix: str, direction: str, depth: int) -> list[tuple]:
        out: list[tuple] = []
        request = direction == "request"

        def add(suffix: str, text: str, where: tuple = parts, rel: str = "") -> None:
            out.append((f"{prefix}-{suffix}", where, rel, text))

        old_types, new_types = _types(o), _types(n)
        if old_types and new_types and old_types != new_types:
            widened = new_types >= old_types or (old_types == {"integer"} and "number" in new_types)
            narrowed = new_types <= old_types or (new_types == {"integer"} and "number" in old_types)
            shown = f"from {_type_text(old_types)} to {_type_text(new_types)}"
            if request and widened:
                add("type-generalized", f"type changed {shown}", (*parts, "type"))
            elif not request and narrowed:
                add("type-narrowed", f"type changed {shown}", (*parts, "type"))
            else:
                add("type-changed", f"type changed {shown}", (*parts, "type"))
            return out  # the rest compares like with like
        if o.get("format") and n.get("format") and o["format"] != n["format"]:
            add("format-changed", f"format changed from {o['format']} to {n['format']}", (*parts, "format"))
        if request and _nullable(o) and not _nullable(n):
            add("became-not-nullable", "no longer accepts null")
        if not request and _nullable(n) and not _nullable(o):
            add("became-nullable", "may now be null")
        self._enums(o, n, parts, request, add)
        if request:
            self._narrowed(o, n, parts, add)
        else:
            for name, suffix in (("maxLength", "max-length-increased"), ("maximum", "max-increased")):
                if isinstance(o.get(name), int | float) and (n.get(name) is None or n[name] > o[name]):
                    add(
                        suffix,
                        f"{name} went from {o[name]} to {n.get(name, 'none')}",
                        (*parts, name) if name in n else parts,
                    )
        child = "request-property" if request else "response-property"
        if "items" in o and "items" in n:
            for rule_id, where, rel, text in self._compare(
                o["items"],
                n["items"],
                (*parts, "items"),
                child if prefix.endswith("body") else prefix,
                direction,
                depth + 1,
            ):
                out.append((rule_id, where, f"[]{'.' + rel if rel else ''}", text))
        self._properties(o, n, parts, child, direction, depth, out)
        return out

    def _enums(self, o: dict, n: dict, parts: tuple, request: bool, add) -> None:
        old_enum, new_enum = _enum_set(o), _enum_set(n)
        if old_enum is None and new_enum is None:
            return
        where = (*parts, "enum")
        if old_enum is None:
            if request:
                add("became-enum", f"is now restricted to {', '.join(map(str, _enum_values(n)))}", where)
            return
        if new_enum is None:
            return
        removed = [v for v in _enum_values(o) if _key(v) not in new_enum]
        added = [v for v in _enum_values(n) if _key(v) not in old_enum]
        if removed:
            add("enum-value-removed", f"enum value{'s' if len(removed) > 1 else ''} {_show(removed)} removed", where)
        if added:
            add("enum-value-added", f"enum value{'s' if len(added) > 1 else ''} {_show(added)} added", where)

    def _narrowed(self, o: dict, n: dict, parts: tuple, add) -> None:
        def lower(name: str, suffix: str) -> None:
            after = n.get(name)
            before = o.get(name)
            if isinstance(after, int | float) and (before is None or after < before):
                add(
                    suffix, f"{name} {'set to' if before is None else f'went from {before} to'} {after}", (*parts, name)
                )

        def higher(name: str, suffix: str) -> None:
            after = n.get(name)
            before = o.get(name)
            if isinstance(after, int | float) and not isinstance(after, bool) and (before is None or after > before):
                if before is None and name in ("minLength", "minItems") and after == 0:
                    return
                add(
                    suffix, f"{name} {'set to' if before is None else f'went from {before} to'} {after}", (*parts, name)
                )

        lower("maxLength", "max-length-decreased")
        higher("minLength", "min-length-increased")
        lower("maximum", "max-decreased")
        higher("minimum", "min-increased")
        lower("maxItems", "max-items-decreased")
        higher("minItems", "min-items-increased")
        if isinstance(n.get("pattern"), str):
            if not isinstance(o.get("pattern"), str):
                add("pattern-added", f"must now match the pattern {n['pattern']}", (*parts, "pattern"))
            elif o["pattern"] != n["pattern"]:
                add("pattern-changed", f"pattern changed from {o['pattern']} to {n['pattern']}", (*parts, "pattern"))

    def _properties(self, o: dict, n: dict, parts: tuple, child: str, direction: str, depth: int, out: list) -> None:
        old_props, new_props = as_dict(o.get("properties")), as_dict(n.get("properties"))
        if not old_props and not new_props:
            return
        request = direction == "request"
        old_required = {str(r) for r in as_list(o.get("required"))}
        new_required = {str(r) for r in as_list(n.get("required"))}
        skip = "readOnly" if request else "writeOnly"
        for name, sub in new_props.items():
            where = (*parts, "properties", name)
            if as_dict(self.new.deref(sub)).get(skip) is True:
                continue
            if name not in old_props:
                if request:
                    rule = "new-required-request-property" if name in new_required else "new-optional-request-property"
                    out.append((rule, where, name, f"was added ({'required' if name in new_required else 'optional'})"))
                else:
                    out.append(("response-property-added", where, name, "was added"))
                continue
            if request and name in new_required and name not in old_required:
                out.append(("request-property-became-required", where, name, "became required"))
            elif request and name in old_required and name not in new_required:
                out.append(("request-property-became-optional", where, name, "became optional"))
            elif not request and name in old_required and name not in new_required:
                out.append(("response-property-became-optional", where, name, "became optional (may be missing)"))
            elif not request and name in new_required and name not in old_required:
                out.append(("response-property-became-required", where, name, "became required"))
            for rule_id, at, rel, text in self._compare(old_props[name], sub, where, child, direction, depth + 1):
                out.append((rule_id, at, f"{name}{rel if rel.startswith('[') else '.' + rel if rel else ''}", text))
        for name, sub in old_props.items():
            if name in new_props or as_dict(self.old.deref(sub)).get(skip) is True:
                continue
            where = (*parts, "properties", name)
            if request:
                out.append(("request-property-removed", where, name, "was removed"))
            else:
                rule = (
                    "response-required-property-removed"
                    if name in old_required
                    else "response-optional-property-removed"
                )
                out.append((rule, where, name, "was removed"))


# --- helpers ----------------------------------------------------------------------------------------------


def _label(op: _Op) -> str:
    return f"{op.method.upper()} {op.path}"


def _alternatives(security: Any) -> frozenset:
    if security is None:
        return frozenset()
    return frozenset(
        frozenset((str(name), tuple(sorted(map(str, as_list(scopes))))) for name, scopes in as_dict(req).items())
        for req in as_list(security)
    )


def _scopes(alternative: frozenset) -> set:
    return {f"{name}:{scope}" for name, scopes in alternative for scope in scopes}


def _merge_all_of(side: _Side, schema: dict, depth: int = 0) -> dict:
    if "allOf" not in schema or depth > 8:
        return schema
    merged = {k: v for k, v in schema.items() if k != "allOf"}
    properties: dict = {}
    required: list = []
    for member in as_list(schema.get("allOf")):
        flat = _merge_all_of(side, as_dict(side.deref(member)), depth + 1)
        properties.update(as_dict(flat.get("properties")))
        required.extend(as_list(flat.get("required")))
        for key in ("type", "format", "enum", "nullable", "items"):
            if key in flat and key not in merged:
                merged[key] = flat[key]
    properties.update(as_dict(schema.get("properties")))
    required.extend(as_list(schema.get("required")))
    if properties:
        merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _types(schema: dict) -> set[str]:
    raw = schema.get("type")
    return {t for t in (raw if isinstance(raw, list) else [raw]) if isinstance(t, str) and t != "null"}


def _type_text(types: set[str]) -> str:
    return " | ".join(sorted(types))


def _nullable(schema: dict) -> bool:
    raw = schema.get("type")
    return (
        schema.get("nullable") is True or schema.get("x-nullable") is True or (isinstance(raw, list) and "null" in raw)
    )


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _enum_values(schema: dict) -> list:
    return [v for v in as_list(schema.get("enum")) if v is not None]


def _enum_set(schema: dict) -> set[str] | None:
    if not isinstance(schema.get("enum"), list):
        return None
    return {_key(v) for v in _enum_values(schema)}


def _show(values: list) -> str:
    shown = ", ".join(json.dumps(v, default=str) for v in values[:8])
    return shown + (f" and {len(values) - 8} more" if len(values) > 8 else "")


# --- semantic versions ------------------------------------------------------------------------------------

_SEMVER = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+][0-9A-Za-z.-]*)?\Z")


def parse_semver(text: str | None) -> tuple[int, int, int] | None:
    match = _SEMVER.match(text or "")
    if not match:
        return None
    return int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0)


def semver_findings(old_version: str | None, new_version: str | None, findings: list[Finding]) -> list[Finding]:
    """A finding when breaking changes come in a minor or patch version (0.x: a minor version may break)."""
    old, new = parse_semver(old_version), parse_semver(new_version)
    if old is None or new is None or not at_least(findings, "error") or new[0] > old[0]:
        return []
    if new[0] == 0 and new[1] > old[1]:
        return []
    rule = (
        "semver-breaking-change-in-minor" if new[1] > old[1] or new[0] < old[0] else "semver-breaking-change-in-patch"
    )
    kind = "minor" if rule.endswith("minor") else "patch"
    return [
        Finding(
            rule,
            RULES[rule].level,
            f"{new_version} is a {kind} version after {old_version} but has breaking changes: make it a major version",
            "/info/version",
        )
    ]
