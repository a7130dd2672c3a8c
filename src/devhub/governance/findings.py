"""Findings of lint and diff, with their levels and locations, and the document helpers both engines share.

A finding names its rule, its level, a message and where it is: a JSON pointer into the document (the new
one for a diff, unless the thing was removed) and, when the source text is at hand, the file and line.
Findings about an operation also carry its method, path and operationId so they can be joined with
anything else keyed by operation (the stored operations, and later the gateway's metering).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from devhub.specs.errors import to_pointer

LEVELS = ("error", "warning", "info", "hint")
RANK = {"hint": 0, "info": 1, "warning": 2, "error": 3}
ALIASES = {"warn": "warning", "information": "info"}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def level_name(value: Any) -> str | None:
    """A level from a ruleset: error, warning (warn), info, hint; "off" (or false) is None."""
    if value is False or value in ("off", None):
        return None
    if value is True:
        return "default"
    text = ALIASES.get(str(value).lower(), str(value).lower())
    if text not in RANK:
        raise ValueError(f"{value!r} is not a severity: use error, warn, info, hint or off")
    return text


@dataclass
class Finding:
    rule: str
    level: str
    message: str
    pointer: str = ""
    line: int | None = None
    file: str | None = None
    method: str | None = None
    path: str | None = None
    operation_id: str | None = None
    side: str | None = None  # diff findings: "old" when the pointer is into the old document

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def operation(self) -> str | None:
        return f"{self.method.upper()} {self.path}" if self.method and self.path else None

    def where(self) -> str:
        """`file:line pointer`, as reports print it."""
        text = self.file or "definition"
        if self.line:
            text += f":{self.line}"
        return f"{text} {self.pointer}" if self.pointer else text


def at_least(findings: Iterable[Finding], level: str) -> list[Finding]:
    floor = RANK[level]
    return [f for f in findings if RANK.get(f.level, 0) >= floor]


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    result = dict.fromkeys(LEVELS, 0)
    for finding in findings:
        result[finding.level] = result.get(finding.level, 0) + 1
    return result


Locator = Callable[[Sequence[str]], tuple[str | None, int | None]]


def locate(findings: list[Finding], locator: Locator | None, old_locator: Locator | None = None) -> list[Finding]:
    """Fill in file and line from the JSON pointers (only for the findings: lines are worked out lazily).
    Findings about the old document (`side == "old"`) use `old_locator`."""
    from devhub.specs.errors import from_pointer

    for finding in findings:
        use = old_locator if finding.side == "old" else locator
        if use is None:
            continue
        if finding.line is None and finding.pointer:
            try:
                finding.file, finding.line = use(from_pointer(finding.pointer))
            except (ValueError, KeyError, IndexError):
                continue
    return findings


def sort_key(finding: Finding) -> tuple:
    return (-RANK.get(finding.level, 0), finding.rule, finding.pointer)


# --- document helpers -------------------------------------------------------------------------------------


def pointer(*parts: Any) -> str:
    return to_pointer(parts)


def flavour(doc: Any) -> str:
    """swagger | oas3_0 | oas3_1 | asyncapi | unknown."""
    if not isinstance(doc, dict):
        return "unknown"
    if "swagger" in doc:
        return "swagger"
    if "asyncapi" in doc:
        return "asyncapi"
    version = str(doc.get("openapi", ""))
    if version.startswith("3.1"):
        return "oas3_1"
    if version.startswith("3"):
        return "oas3_0"
    return "unknown"


class Resolver:
    """Follows local `$ref`s (`#/...`) of one document, with a cache and a guard against cycles."""

    def __init__(self, doc: Any) -> None:
        self.doc = doc
        self._cache: dict[str, Any] = {}

    def lookup(self, ref: str) -> Any:
        if ref in self._cache:
            return self._cache[ref]
        value: Any = None
        if ref.startswith("#"):
            from devhub.specs.errors import from_pointer

            try:
                value = self.doc
                for part in from_pointer(ref[1:]):
                    value = value[int(part)] if isinstance(value, list) else value[part]
            except (ValueError, KeyError, IndexError, TypeError):
                value = None
        self._cache[ref] = value
        return value

    def deref(self, node: Any) -> Any:
        """The value a `$ref` points to (chains followed), or the node itself."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 32:
            target = self.lookup(node["$ref"])
            if target is None:
                return {}
            node, seen = target, seen + 1
        return node


def as_dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else []
