"""Values that match a JSON Schema: what the sandbox answers when the definition has no example.

Written here because no kept Python library fits the hot path: hypothesis-jsonschema draws through
Hypothesis's engine (tens of milliseconds per value, and not meant to run inside a server), and Faker
knows nothing of schemas. Patterns are the hard part and come from a library, `rstr` (its `xeger`, with our
own seeded `random.Random`). Everything is driven by one `random.Random`, so the same seed gives the same
value: static answers are seeded by the operation, dynamic ones (`Prefer: dynamic=true`) by the request.

Covered: `type` (or one inferred from the keywords), `enum`/`const`, `example`/`examples`/`default`
(static mode prefers them), formats (email, uuid, date-time, date, time, uri/url, hostname, ipv4/ipv6, byte,
int32/int64, float/double, password), minimum/maximum (inclusive, and exclusive in both the draft 4 and the
2020-12 spellings) and multipleOf, minLength/maxLength, pattern, minItems/maxItems/uniqueItems, required
and optional properties, allOf (merged), oneOf/anyOf (first branch, or a seeded one when dynamic),
nullable, and `$ref` (cycles cut at a depth).
"""

from __future__ import annotations

import base64
import math
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import rstr

from devhub.sandbox.compile import resolve

MAX_DEPTH = 8
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


class Generator:
    """Generates one value per call of `value`; `dynamic` ignores examples and draws randomly."""

    def __init__(self, document: dict[str, Any], seed: int, *, dynamic: bool = False) -> None:
        self.document = document
        self.random = random.Random(seed)
        self.dynamic = dynamic
        self.rstr = rstr.Rstr(self.random)

    def value(self, schema: Any, depth: int = 0, name: str = "") -> Any:
        schema = resolve(self.document, schema)
        if not isinstance(schema, dict) or depth > MAX_DEPTH + 4:
            return None
        if "allOf" in schema:
            schema = self._merge_all_of(schema, depth)
        if "const" in schema:
            return schema["const"]
        if not self.dynamic:
            found, example = self._example_of(schema)
            if found:
                return example
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            choices = [value for value in schema["enum"] if value is not None] or schema["enum"]
            return self.random.choice(choices) if self.dynamic else choices[0]
        for keyword in ("oneOf", "anyOf"):
            branches = schema.get(keyword)
            if isinstance(branches, list) and branches:
                branch = self._choose_branch(branches)
                merged = {k: v for k, v in schema.items() if k not in (keyword, "discriminator")}
                return self.value({"allOf": [merged, branch]} if merged else branch, depth + 1, name)
        kind = _kind(schema)
        if kind == "object":
            return self._object(schema, depth)
        if kind == "array":
            return self._array(schema, depth, name)
        if kind == "integer":
            return int(self._number(schema, integer=True))
        if kind == "number":
            return self._number(schema, integer=False)
        if kind == "boolean":
            return self.random.random() < 0.5 if self.dynamic else True
        if kind == "null":
            return None
        return self._string(schema, name)

    # --- examples and composition ---------------------------------------------------------------------

    def _example_of(self, schema: dict[str, Any]) -> tuple[bool, Any]:
        if "example" in schema:
            return True, schema["example"]
        if isinstance(schema.get("examples"), list) and schema["examples"]:
            return True, schema["examples"][0]
        if "default" in schema:
            return True, schema["default"]
        return False, None

    def _choose_branch(self, branches: list[Any]) -> Any:
        usable = [b for b in branches if _kind(resolve(self.document, b) or {}) != "null"] or branches
        return self.random.choice(usable) if self.dynamic else usable[0]

    def _merge_all_of(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        """One schema with the properties, required names and constraints of every allOf branch."""
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema.get("allOf") or []:
            part = resolve(self.document, part)
            if not isinstance(part, dict):
                continue
            if "allOf" in part and depth < MAX_DEPTH:
                part = self._merge_all_of(part, depth + 1)
            for key, value in part.items():
                if key == "properties" and isinstance(value, dict):
                    merged["properties"] = {**merged.get("properties", {}), **value}
                elif key == "required" and isinstance(value, list):
                    merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
                else:
                    merged.setdefault(key, value)
        return merged

    # --- containers -----------------------------------------------------------------------------------

    def _object(self, schema: dict[str, Any], depth: int) -> dict[str, Any]:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        required = schema.get("required") if isinstance(schema.get("required"), list) else []
        result: dict[str, Any] = {}
        for name, subschema in properties.items():
            resolved = resolve(self.document, subschema)
            if isinstance(resolved, dict) and resolved.get("writeOnly"):
                continue
            if name not in required and depth >= MAX_DEPTH // 2:
                continue  # deep optional branches (often recursive) are left out
            result[name] = self.value(subschema, depth + 1, name)
        for name in required:
            if name not in result:
                result[name] = self.value({}, depth + 1, name) if name not in properties else None
        extra = schema.get("additionalProperties")
        if not properties and isinstance(extra, dict) and depth < MAX_DEPTH:
            result[self._word()] = self.value(extra, depth + 1)
        return result

    def _array(self, schema: dict[str, Any], depth: int, name: str) -> list[Any]:
        items = schema.get("items") if isinstance(schema.get("items"), dict) else {}
        low = int(schema.get("minItems", 1 if depth < MAX_DEPTH else 0))
        high = int(schema.get("maxItems", max(low, 3 if self.dynamic else 1)))
        count = self.random.randint(low, max(low, high)) if self.dynamic else max(low, min(1, high))
        if depth >= MAX_DEPTH:
            count = low
        values: list[Any] = []
        attempts = 0
        while len(values) < count and attempts < count * 5 + 5:
            attempts += 1
            item = self.value(items, depth + 1, name)
            if schema.get("uniqueItems") and item in values:
                self.dynamic, was = True, self.dynamic  # vary the next draw
                item = self.value(items, depth + 1, name)
                self.dynamic = was
                if item in values:
                    continue
            values.append(item)
        return values

    # --- scalars --------------------------------------------------------------------------------------

    def _number(self, schema: dict[str, Any], *, integer: bool) -> float | int:
        low, high = _bounds(schema, integer)
        step = schema.get("multipleOf")
        if self.dynamic:
            value = self.random.uniform(low, high) if not integer else self.random.randint(int(low), int(high))
        else:
            value = low if low > 0 or high < 0 else (0 if integer else 0.0)
            if low <= 1 <= high and integer and "minimum" not in schema:
                value = 1
        if isinstance(step, int | float) and step > 0:
            value = _multiple_within(step, value, low, high)
        if integer:
            return int(value)
        return round(float(value), 2) if not step and round(float(value), 2) >= low else float(value)

    def _string(self, schema: dict[str, Any], name: str) -> str:
        fmt = str(schema.get("format", "")).lower()
        minimum = int(schema.get("minLength", 0))
        maximum = int(schema.get("maxLength", max(minimum, 64)))
        if isinstance(schema.get("pattern"), str):
            value = self._pattern(schema["pattern"], minimum, maximum)
            if value is not None:
                return value
        value = self._formatted(fmt, name)
        if value is not None and minimum <= len(value) <= maximum:
            return value
        value = self._word() if self.dynamic else (name or "string")
        if len(value) < minimum:
            value = (value + "x" * minimum)[:minimum]
        return value[:maximum]

    def _pattern(self, pattern: str, minimum: int, maximum: int) -> str | None:
        for _ in range(10):
            try:
                value = self.rstr.xeger(pattern)
            except Exception:  # a pattern Python's sre cannot parse (rstr uses it)
                return None
            if minimum <= len(value) <= maximum:
                return value
        return None

    def _formatted(self, fmt: str, name: str) -> str | None:
        r = self.random
        moment = _EPOCH + timedelta(seconds=r.randint(0, 3 * 365 * 86400) if self.dynamic else 0)
        match fmt:
            case "email" | "idn-email":
                return f"{self._word()}{r.randint(1, 999) if self.dynamic else ''}@example.com"
            case "uuid":
                return str(uuid.UUID(int=r.getrandbits(128), version=4))
            case "date-time":
                return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            case "date":
                return moment.strftime("%Y-%m-%d")
            case "time":
                return moment.strftime("%H:%M:%SZ")
            case "uri" | "url" | "iri" | "uri-reference" | "iri-reference":
                return f"https://example.com/{self._word()}"
            case "hostname" | "idn-hostname":
                return f"{self._word()}.example.com"
            case "ipv4":
                return f"192.0.2.{r.randint(1, 254) if self.dynamic else 1}"
            case "ipv6":
                return f"2001:db8::{r.randint(1, 0xFFFF) if self.dynamic else 1:x}"
            case "byte":
                return base64.b64encode(self._word().encode()).decode()
            case "binary":
                return self._word()
            case "duration":
                return "P1D"
            case "password":
                return "secret-password"
            case "uri-template":
                return "https://example.com/{id}"
            case "json-pointer":
                return "/a/b"
            case "regex":
                return "^[a-z]+$"
        return None

    def _word(self) -> str:
        return self.random.choice(_WORDS) if self.dynamic else _WORDS[0]


def _kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema or "additionalProperties" in schema or "required" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if any(k in schema for k in ("minimum", "maximum", "multipleOf", "exclusiveMinimum", "exclusiveMaximum")):
        return "number"
    if any(k in schema for k in ("pattern", "format", "minLength", "maxLength")):
        return "string"
    return None if not schema else "string"


def _bounds(schema: dict[str, Any], integer: bool) -> tuple[float, float]:
    """The inclusive range a value may take; exclusive bounds moved in by one (integers) or a little."""
    nudge = 1 if integer else 0.01
    low, high = schema.get("minimum"), schema.get("maximum")
    exclusive_low, exclusive_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(exclusive_low, bool):  # draft 4 (OpenAPI 2.0 and 3.0): a flag on minimum
        low = low + nudge if exclusive_low and isinstance(low, int | float) else low
    elif isinstance(exclusive_low, int | float):
        low = exclusive_low + nudge if low is None else max(low, exclusive_low + nudge)
    if isinstance(exclusive_high, bool):
        high = high - nudge if exclusive_high and isinstance(high, int | float) else high
    elif isinstance(exclusive_high, int | float):
        high = exclusive_high - nudge if high is None else min(high, exclusive_high - nudge)
    low = low if isinstance(low, int | float) else (min(0, high) if isinstance(high, int | float) else 0)
    high = high if isinstance(high, int | float) else max(low, 0) + 1000
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return low, max(low, high)


def _multiple_within(step: float, value: float, low: float, high: float) -> float:
    candidate = math.ceil(low / step) * step if value < low else round(value / step) * step
    if candidate < low:
        candidate += step
    if candidate > high:
        candidate = math.floor(high / step) * step
    return int(candidate) if float(candidate).is_integer() and isinstance(step, int) else candidate
