"""Internal `$ref`s in a bundled definition: JSON pointers, chains of references, and the names of the
components the reference pages link to (schemas and AsyncAPI messages).

Bundled documents hold only internal references (`#/...`), which may be circular; nothing here recurses
into a document, so cycles are the callers' business (see `schema_view`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote

MAX_CHAIN = 32

# Where named schemas live, per format: pointer prefix -> the schema browser's key prefix.
SCHEMA_HOMES = (
    ("#/components/schemas/", ""),  # OpenAPI 3, AsyncAPI
    ("#/definitions/", ""),  # Swagger 2.0
    ("#/components/messages/", "messages/"),  # AsyncAPI
)


def unescape(token: str) -> str:
    return unquote(token).replace("~1", "/").replace("~0", "~")


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(doc: Any, ref: str) -> Any:
    """The value at an internal reference (`#/a/b~1c`), or None when it does not resolve."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    path = ref[1:]
    if path in ("", "/"):
        return doc
    if not path.startswith("/"):
        return None
    node = doc
    for raw in path[1:].split("/"):
        token = unescape(raw)
        if isinstance(node, dict):
            if token not in node:
                return None
            node = node[token]
        elif isinstance(node, list):
            try:
                node = node[int(token)]
            except (ValueError, IndexError):
                return None
        else:
            return None
    return node


def ref_of(node: Any) -> str | None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            return ref
    return None


def deref(doc: Any, node: Any) -> Any:
    """Follow a chain of `$ref`s to a value that is not a reference (or None when broken or looping).
    OpenAPI 3.1 siblings of `$ref` (summary, description) are kept over the target's."""
    seen: set[str] = set()
    overlay: dict[str, Any] = {}
    while (ref := ref_of(node)) is not None:
        if ref in seen or len(seen) >= MAX_CHAIN:
            return None
        seen.add(ref)
        for key in ("summary", "description"):
            if key in node and key not in overlay:
                overlay[key] = node[key]
        node = pointer(doc, ref)
    if node is None:
        return None
    if overlay and isinstance(node, dict):
        node = {**node, **overlay}
    return node


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []


def component_key(ref: str | None) -> str | None:
    """The schema browser's key for a reference to a named schema or message, else None:
    `#/components/schemas/Pet` -> `Pet`, `#/definitions/Pet` -> `Pet`, `#/components/messages/M` ->
    `messages/M`."""
    if not ref:
        return None
    for prefix, key_prefix in SCHEMA_HOMES:
        if ref.startswith(prefix):
            rest = ref[len(prefix) :]
            if rest and "/" not in rest:
                return key_prefix + unescape(rest)
    return None


def key_label(key: str) -> str:
    """The display name of a schema browser key (`messages/M` -> `M`)."""
    return key.split("/", 1)[1] if key.startswith("messages/") else key


def key_path(key: str) -> str:
    """A schema browser key as a URL path segment (the `messages/` prefix stays a real slash)."""
    if key.startswith("messages/"):
        return "messages/" + quote(key[len("messages/") :], safe="")
    return quote(key, safe="")
