"""Safe YAML for untrusted files: multi-document, with source lines, and bounded in size and depth.

PyYAML's safe loader refuses arbitrary objects but not an alias bomb (a few lines of anchors that expand
to billions of nodes when the result is walked or serialised) nor absurd nesting. We compose the node
graph first (libyaml when present), measure what it would expand to, and only then construct Python
objects. Nothing here is specific to the catalog; spec publishing uses the same limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 64
MAX_EXPANDED_NODES = 1_000_000


class YamlError(ValueError):
    """A document that cannot be read: `line` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None, rule: str = "yaml-syntax") -> None:
        super().__init__(message)
        self.line = line
        self.rule = rule


@dataclass
class Document:
    data: Any
    line: int  # 1-based line where the document starts
    node: yaml.Node

    def line_of(self, path: Sequence[str | int]) -> int:
        """The line of the deepest node reachable along `path` (a field path like ("metadata", "name"))."""
        return node_line(self.node, path)


def node_line(node: yaml.Node, path: Sequence[str | int]) -> int:
    current = node
    for segment in path:
        child = _child(current, segment)
        if child is None:
            break
        current = child
    return current.start_mark.line + 1


def _child(node: yaml.Node, segment: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(segment):
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(segment, int) and 0 <= segment < len(node.value):
        return node.value[segment]
    return None


def load_documents(
    text: str | bytes, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_EXPANDED_NODES
) -> Iterator[Document]:
    """Yield each document of a YAML stream; raise YamlError on syntax errors or limits exceeded."""
    loader = _Loader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = mark.line + 1 if mark else None
                raise YamlError(f"YAML syntax error: {exc.problem or exc}", line) from None
            except Exception as exc:  # libyaml raises plain errors on some malformed input
                raise YamlError(f"YAML could not be read: {exc}") from None
            if node is None:
                continue
            _check_size(node, max_depth, max_nodes)
            try:
                data = loader.construct_document(node)
            except yaml.YAMLError as exc:
                raise YamlError(f"YAML value error: {exc}", node.start_mark.line + 1) from None
            yield Document(data=data, line=node.start_mark.line + 1, node=node)
    finally:
        loader.dispose()


def _check_size(root: yaml.Node, max_depth: int, max_nodes: int) -> None:
    """Count the nodes the document expands to (aliases counted at every use) without expanding it."""
    sizes: dict[int, int] = {}

    def size(node: yaml.Node, depth: int) -> int:
        if depth > max_depth:
            raise YamlError(f"document nests deeper than {max_depth} levels", node.start_mark.line + 1, "yaml-limit")
        known = sizes.get(id(node))
        if known is not None:
            return known
        if isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k, depth + 1) + size(v, depth + 1) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(item, depth + 1) for item in node.value)
        else:
            total = 1
        if total > max_nodes:
            raise YamlError(
                f"document expands to more than {max_nodes:,} nodes (an alias bomb?)",
                node.start_mark.line + 1,
                "yaml-limit",
            )
        sizes[id(node)] = total
        return total

    size(root, 0)
