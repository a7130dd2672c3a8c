"""Choosing and building the answer to a valid call: status, media type and body, as Prism does.

Status: `Prefer: code=N` when given (400 when the operation has no such response and no `default`), else
the lowest 2XX the operation defines (then `default` as 200). Media type: the first the `Accept` header
takes (406 when it takes none), JSON first. Body: `Prefer: example=name` (as written), else the media type's
first example that matches the response's schema (definitions' examples are often stale: answering one
that breaks the contract would teach developers the wrong shape), else a value generated from the schema
(which prefers the schema's own examples); `Prefer: dynamic=true`
always generates, seeded by the request so the same call gets the same answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from devhub.sandbox.compile import CompiledSpec, MediaType, Operation, Response
from devhub.sandbox.generate import Generator
from devhub.sandbox.validate import FieldError, Rejection, media_matches


@dataclass(frozen=True)
class Preferences:
    code: str | None = None
    example: str | None = None
    dynamic: bool = False


def parse_prefer(header: str | None) -> Preferences:
    """`Prefer: code=404, example=not-found, dynamic=true` (RFC 7240 preferences, as Prism reads them)."""
    values: dict[str, str] = {}
    for part in (header or "").replace(";", ",").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            values[name.strip().lower()] = value.strip().strip('"')
    return Preferences(values.get("code") or None, values.get("example") or None, values.get("dynamic") == "true")


@dataclass
class Answer:
    status: int
    body: Any = None  # data to serialise, or None for no body
    media_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # a body already serialised (text examples)


def choose_response(operation: Operation, prefer: Preferences) -> tuple[int, Response | None]:
    responses = operation.responses
    if prefer.code:
        if prefer.code in responses:
            return _status(prefer.code), responses[prefer.code]
        wildcard = f"{prefer.code[:1]}XX"
        if wildcard in responses:
            return _status(prefer.code), responses[wildcard]
        if "default" in responses and prefer.code.isdigit():
            return int(prefer.code), responses["default"]
        raise Rejection(
            400,
            "No such response",
            f"Prefer asks for code={prefer.code}, which this operation does not define: {', '.join(responses)}",
            [FieldError("header", "prefer", "unknown response code", "prefer")],
        )
    successes = sorted(code for code in responses if code[:1] == "2" and code[1:].isdigit())
    if successes:
        return int(successes[0]), responses[successes[0]]
    if "2XX" in responses:
        return 200, responses["2XX"]
    if "default" in responses:
        return 200, responses["default"]
    return 200, None


def _status(code: str) -> int:
    if code.isdigit():
        return int(code)
    return int(code[:1]) * 100  # "4XX" asked by name: its first code


def choose_media(response: Response | None, accept: str | None) -> MediaType | None:
    if response is None or not response.media:
        return None
    media = sorted(response.media.values(), key=lambda m: (not _is_json(m.name),))
    wanted = [part.split(";")[0].strip().lower() for part in (accept or "*/*").split(",") if part.strip()]
    for want in wanted:
        for candidate in media:
            if media_matches(candidate.name, want) or media_matches(want, candidate.name):
                return candidate
    raise Rejection(406, "Not acceptable", f"this response is only available as {', '.join(m.name for m in media)}")


def _is_json(name: str) -> bool:
    return name == "application/json" or name.endswith("+json")


def seed_of(*parts: Any) -> int:
    digest = hashlib.blake2b("\x1f".join(str(part) for part in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def body_for(spec: CompiledSpec, media: MediaType, prefer: Preferences, seed: int) -> Any:
    """An example by name, the first example, or a generated value (see module doc)."""
    if prefer.example:
        if prefer.example not in media.examples:
            names = ", ".join(media.examples) or "none"
            raise Rejection(
                404,
                "No such example",
                f"Prefer asks for example={prefer.example}; this response's examples: {names}",
                [FieldError("header", "prefer", "unknown example", "prefer")],
            )
        return media.examples[prefer.example]
    if not prefer.dynamic and media.examples:
        found, example = first_valid_example(spec, media)
        if found:
            return example
    if media.schema is None:
        return None
    if prefer.dynamic:
        return Generator(spec.response_document, seed, dynamic=True).value(media.schema)
    return static_body(spec, media, seed)


def static_body(spec: CompiledSpec, media: MediaType, seed: int) -> Any:
    """A static answer, generated once per definition, media type and seed (callers must not mutate it)."""
    cache: dict[tuple[int, int], Any] = spec.__dict__.setdefault("_static_bodies", {})
    key = (id(media), seed)
    if key not in cache:
        if len(cache) > 4096:
            cache.clear()
        cache[key] = Generator(spec.response_document, seed).value(media.schema)
    return cache[key]


_NO_EXAMPLE = object()


def first_valid_example(spec: CompiledSpec, media: MediaType) -> tuple[bool, Any]:
    """The first of the media type's examples that its schema accepts (checked once per definition)."""
    cache: dict[int, Any] = spec.__dict__.setdefault("_valid_examples", {})
    key = id(media)
    if key not in cache:
        cache[key] = _NO_EXAMPLE
        for example in media.examples.values():
            if media.pointer is None or spec.validator(media.pointer, "response").is_valid(example):
                cache[key] = example
                break
    found = cache[key]
    return (False, None) if found is _NO_EXAMPLE else (True, found)
