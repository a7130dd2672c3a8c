"""Reading one definition file, JSON or YAML, into plain JSON values, with source lines for errors.

YAML goes through `devhub.yamlload` (size and depth limits, alias bombs) and is then converted from its
node graph with YAML 1.2 scalar rules, as other OpenAPI tools read it: `yes`, `on` and dates stay
strings, and mapping keys are the text written (`200:` is the key "200"). JSON is read with `json`
(fast on multi-megabyte files); its source lines are worked out only when an error needs them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from devhub.specs.errors import SpecError, SpecInvalid, invalid, to_pointer
from devhub.specs.limits import Limits
from devhub.yamlload import YamlError, load_documents

_TAG = "tag:yaml.org,2002:"
_RESOLVED_TAGS = {_TAG + name for name in ("int", "float", "bool", "null", "timestamp", "value")}
_NULL = {"~", "null", "Null", "NULL", ""}
_TRUE = {"true", "True", "TRUE"}
_FALSE = {"false", "False", "FALSE"}
_INT = re.compile(r"[-+]?[0-9]+\Z")
_OCT = re.compile(r"0o[0-7]+\Z")
_HEX = re.compile(r"0x[0-9a-fA-F]+\Z")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\],:]|[^\s{}\[\],:"]+')


@dataclass
class Source:
    """One parsed file of a definition."""

    path: str
    text: str
    data: Any
    is_json: bool
    node: yaml.Node | None = None
    _json_lines: dict[tuple, int] | None = field(default=None, repr=False)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest value found along `path` (JSON pointer segments)."""
        segments = _segments(self.data, path)
        if self.node is not None:
            return yaml_line(self.node, segments)
        if self._json_lines is None:
            self._json_lines = json_lines(self.text)
        for end in range(len(segments), -1, -1):
            line = self._json_lines.get(tuple(segments[:end]))
            if line is not None:
                return line
        return None

    def resolve(self, path: Sequence[str | int]) -> Any:
        """The value at `path`; KeyError when there is none."""
        return resolve_path(self.data, path)


def yaml_line(node: yaml.Node, path: Sequence[str | int]) -> int:
    """The line of the deepest node along `path`; for a value under a key, the key's line (where an editor
    shows `get:`, not the first line of what follows it)."""
    line = node.start_mark.line + 1
    current = node
    for segment in path:
        if isinstance(current, yaml.MappingNode):
            found = next(
                ((k, v) for k, v in current.value if isinstance(k, yaml.ScalarNode) and k.value == str(segment)),
                None,
            )
            if found is None:
                break
            line, current = found[0].start_mark.line + 1, found[1]
        elif isinstance(current, yaml.SequenceNode) and isinstance(segment, int) and 0 <= segment < len(current.value):
            current = current.value[segment]
            line = current.start_mark.line + 1
        else:
            break
    return line


def _segments(data: Any, path: Sequence[str | int]) -> list[str | int]:
    """Pointer segments typed as the data is: list indexes as ints, mapping keys as strings."""
    out: list[str | int] = []
    current = data
    for part in path:
        if isinstance(current, list):
            try:
                index = int(part)
            except (TypeError, ValueError):
                out.append(part)
                current = None
                continue
            out.append(index)
            current = current[index] if 0 <= index < len(current) else None
        else:
            key = str(part)
            out.append(key)
            current = current.get(key) if isinstance(current, dict) else None
    return out


def resolve_path(data: Any, path: Sequence[str | int]) -> Any:
    current = data
    for part in path:
        if isinstance(current, dict):
            key = str(part)
            if key not in current:
                raise KeyError(to_pointer(path))
            current = current[key]
        elif isinstance(current, list):
            try:
                index = int(part)
            except (TypeError, ValueError):
                raise KeyError(to_pointer(path)) from None
            if not 0 <= index < len(current) or (isinstance(part, str) and not part.isdigit()):
                raise KeyError(to_pointer(path))
            current = current[index]
        else:
            raise KeyError(to_pointer(path))
    return current


def looks_like_json(path: str, text: str) -> bool:
    return path.lower().endswith(".json") or text.lstrip()[:1] in ("{", "[")


def parse_source(path: str, text: str, limits: Limits) -> Source:
    """Parse one file; raise SpecInvalid with the file and line on syntax errors or limits exceeded."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if looks_like_json(path, text):
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise invalid(f"nests deeper than {limits.max_depth} levels", file=path) from None
        except (json.JSONDecodeError, ValueError) as exc:
            if path.lower().endswith(".json"):
                line = getattr(exc, "lineno", None)
                raise invalid(f"not valid JSON: {getattr(exc, 'msg', exc)}", file=path, line=line) from None
        else:
            _check_json(data, path, limits)
            return Source(path, text, data, is_json=True)
    return _parse_yaml(path, text, limits)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _check_json(data: Any, path: str, limits: Limits) -> None:
    """JSON has no aliases, so only nesting needs a check."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > limits.max_depth:
            raise invalid(f"nests deeper than {limits.max_depth} levels", file=path)
        if isinstance(value, dict):
            stack.extend((child, depth + 1) for child in value.values() if isinstance(child, dict | list))
        elif isinstance(value, list):
            stack.extend((child, depth + 1) for child in value if isinstance(child, dict | list))


def _parse_yaml(path: str, text: str, limits: Limits) -> Source:
    try:
        documents = list(load_documents(text, max_depth=limits.max_depth, max_nodes=limits.max_nodes))
    except YamlError as exc:
        raise invalid(str(exc), file=path, line=exc.line) from None
    if not documents:
        raise invalid("the file is empty", file=path)
    if len(documents) > 1:
        raise invalid("holds several YAML documents; a definition is one document", file=path, line=documents[1].line)
    node = documents[0].node
    errors: list[SpecError] = []
    data = _convert(node, {}, path, errors)
    if errors:
        raise SpecInvalid(errors)
    return Source(path, text, data, is_json=False, node=node)


def _convert(node: yaml.Node, memo: dict[int, Any], path: str, errors: list[SpecError]) -> Any:
    known = memo.get(id(node), memo)
    if known is not memo:
        return known
    if isinstance(node, yaml.ScalarNode):
        value = _scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = memo[id(node)] = []
        value.extend(_convert(child, memo, path, errors) for child in node.value)
    else:
        value = memo[id(node)] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                for source in value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]:
                    converted = _convert(source, memo, path, errors)
                    if isinstance(converted, dict):
                        for key, item in converted.items():
                            merged.setdefault(key, item)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                errors.append(
                    SpecError("mapping keys must be plain values", file=path, line=key_node.start_mark.line + 1)
                )
                continue
            value[key_node.value] = _convert(value_node, memo, path, errors)
        for key, item in merged.items():
            value.setdefault(key, item)
    memo[id(node)] = value
    return value


def _scalar(node: yaml.ScalarNode) -> Any:
    """YAML 1.2 core schema for plain scalars (PyYAML resolves them by YAML 1.1: `yes` is true, `1e3` a
    string); quoted and block scalars are strings unless tagged."""
    text = node.value
    if node.tag in _RESOLVED_TAGS or (not node.style and node.tag == _TAG + "str"):
        return plain_scalar(text)
    return text


def plain_scalar(text: str) -> Any:
    if text in _NULL:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _HEX.match(text):
        return int(text[2:], 16)
    if _FLOAT.match(text):
        number = float(text)
        return number if math.isfinite(number) else text
    return text  # .inf and .nan stay text: they are not JSON


def json_lines(text: str) -> dict[tuple, int]:
    """The line where each value of a JSON text starts (for a value under a key: the key's line)."""
    lines: dict[tuple, int] = {}
    stack: list[list[Any]] = []  # [is_object, path, key or index, key line]
    line, pos = 1, 0
    for match in _JSON_TOKEN.finditer(text):
        start = match.start()
        line += text.count("\n", pos, start)
        pos = start
        token = match.group()
        first = token[0]
        if first in ",:":
            continue
        if first in "}]":
            if stack:
                stack.pop()
            continue
        frame = stack[-1] if stack else None
        if frame is not None and frame[0] and frame[2] is None:
            try:
                frame[2] = json.loads(token)
            except ValueError:
                frame[2] = token
            frame[3] = line
            continue
        if frame is None:
            path: tuple = ()
            where = line
        elif frame[0]:
            path, where = (*frame[1], frame[2]), frame[3]
            frame[2] = None
        else:
            path, where = (*frame[1], frame[2]), line
            frame[2] += 1
        lines[path] = where
        if first == "{":
            stack.append([True, path, None, line])
        elif first == "[":
            stack.append([False, path, 0, line])
    return lines
