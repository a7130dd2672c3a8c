"""What a bundled definition says about itself: title, description, version, and its operations.

OpenAPI and Swagger: one operation per method of each path (webhooks are not operations here).
AsyncAPI 2: `publish` and `subscribe` of each channel. AsyncAPI 3: the `operations` map, each with its
`action` (send, receive) and its channel's address. Anchors are URL-safe slugs, unique within a version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from devhub.specs.errors import from_pointer
from devhub.specs.parse import resolve_path
from devhub.specs.validate import Format

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
MAX_ANCHOR = 200
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass
class Operation:
    anchor: str
    method: str | None
    path: str
    operation_id: str | None
    summary: str | None
    tags: list[str] = field(default_factory=list)
    deprecated: bool = False


@dataclass
class Info:
    title: str
    description: str | None
    version: str | None


def info(document: dict) -> Info:
    raw = document.get("info") if isinstance(document.get("info"), dict) else {}
    title = raw.get("title")
    description = raw.get("description")
    version = raw.get("version")
    return Info(
        title=str(title).strip()[:255] if title not in (None, "") else "Untitled API",
        description=str(description) if description not in (None, "") else None,
        version=str(version).strip() if version not in (None, "") else None,
    )


def slug(text: str) -> str:
    """`listPets` -> list-pets, `get /pets/{id}` -> get-pets-id."""
    spaced = _CAMEL.sub("-", text)
    return _NOT_SLUG.sub("-", spaced.lower()).strip("-")[:MAX_ANCHOR].strip("-")


def deref(document: Any, value: Any, hops: int = 16) -> Any:
    """Follow internal `$ref`s (the bundled document has no other kind that resolves)."""
    while hops and isinstance(value, dict) and isinstance(value.get("$ref"), str) and value["$ref"].startswith("#"):
        hops -= 1
        try:
            value = resolve_path(document, from_pointer(unquote(value["$ref"][1:])))
        except (KeyError, ValueError):
            return None
    return value


def operations(document: dict, fmt: Format) -> list[Operation]:
    if fmt.family == "asyncapi2":
        found = _asyncapi2(document)
    elif fmt.family == "asyncapi3":
        found = _asyncapi3(document)
    else:
        found = _openapi(document)
    used: set[str] = set()
    for operation in found:
        base = operation.anchor or "operation"
        anchor, counter = base, 1
        while anchor in used:
            counter += 1
            anchor = f"{base[: MAX_ANCHOR - 6]}-{counter}"
        used.add(anchor)
        operation.anchor = anchor
    return found


def _tags(raw: Any) -> list[str]:
    if not isinstance(raw, list):
        return []
    names = []
    for tag in raw:
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str | int | float) and str(name):
            names.append(str(name)[:255])
    return list(dict.fromkeys(names))


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int | float) and str(value).strip() else None


def _openapi(document: dict) -> list[Operation]:
    paths = deref(document, document.get("paths"))
    out: list[Operation] = []
    if not isinstance(paths, dict):
        return out
    for path, item in paths.items():
        item = deref(document, item)
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            operation = deref(document, item.get(method))
            if not isinstance(operation, dict):
                continue
            out.append(_verb_operation(operation, method, path))
    return out


def _verb_operation(operation: dict, verb: str, where: object) -> Operation:
    """An operation found under a verb of a named place: an OpenAPI path's HTTP method, an AsyncAPI 2
    channel's publish or subscribe. Without an operationId its anchor comes from the verb and the place."""
    operation_id = _text(operation.get("operationId"))
    return Operation(
        anchor=slug(operation_id) if operation_id else slug(f"{verb}-{where}"),
        method=verb,
        path=str(where)[:2048],
        operation_id=operation_id[:255] if operation_id else None,
        summary=_text(operation.get("summary")),
        tags=_tags(operation.get("tags")),
        deprecated=operation.get("deprecated") is True,
    )


def _asyncapi2(document: dict) -> list[Operation]:
    channels = deref(document, document.get("channels"))
    out: list[Operation] = []
    if not isinstance(channels, dict):
        return out
    for name, channel in channels.items():
        channel = deref(document, channel)
        if not isinstance(channel, dict):
            continue
        for action in [key for key in channel if key in ("publish", "subscribe")]:
            operation = deref(document, channel.get(action))
            if not isinstance(operation, dict):
                continue
            out.append(_verb_operation(operation, action, name))
    return out


def _asyncapi3(document: dict) -> list[Operation]:
    raw = deref(document, document.get("operations"))
    out: list[Operation] = []
    if not isinstance(raw, dict):
        return out
    for operation_id, operation in raw.items():
        operation = deref(document, operation)
        if not isinstance(operation, dict):
            continue
        channel = deref(document, operation.get("channel"))
        address = None
        if isinstance(channel, dict):
            address = _text(channel.get("address"))
            if address is None and isinstance(operation.get("channel"), dict):
                pointer = operation["channel"].get("$ref")
                address = pointer.rsplit("/", 1)[-1] if isinstance(pointer, str) else None
        action = _text(operation.get("action"))
        out.append(
            Operation(
                anchor=slug(str(operation_id)),
                method=action[:16] if action else None,
                path=(address or "")[:2048],
                operation_id=str(operation_id)[:255],
                summary=_text(operation.get("summary")) or _text(operation.get("title")),
                tags=_tags(operation.get("tags")),
                deprecated=operation.get("deprecated") is True,
            )
        )
    return out
