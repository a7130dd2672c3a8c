"""Which format a definition is in, and whether it is valid for it.

OpenAPI 3.0 and 3.1 and Swagger 2.0 are checked with openapi-spec-validator (the format's JSON Schema,
then its semantic checks: path parameters, duplicate operation ids, schemas, defaults; the first step runs
on jsonschema-rs when that is installed, about 1.5 s less on the 1.9 MB Twilio spec); AsyncAPI 2.x and
3.x with jsonschema against the AsyncAPI Initiative's schemas vendored in `schemas_asyncapi/`. Every
error is reported (up to `MAX_ERRORS`), each with the path of the offending value.

References are never fetched: external `$ref`s are bundled (or refused) before validation, and the
validator's resolver refuses any URI it would otherwise open (openapi-spec-validator falls back to
`urllib` for schemes it has no handler for; that fallback is closed here).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, relevance
from jsonschema.validators import validator_for
from jsonschema_path import SchemaPath
from jsonschema_specifications import REGISTRY as JSON_SCHEMA_SPECIFICATIONS
from openapi_spec_validator import OpenAPIV2SpecValidator, OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.schemas import schema_v2, schema_v30, schema_v31
from openapi_spec_validator.validation import keywords
from referencing.jsonschema import DRAFT7

from devhub.specs.errors import SpecError, SpecInvalid
from devhub.specs.limits import MAX_ERRORS

ASYNCAPI_VERSIONS = ("2.0.0", "2.1.0", "2.2.0", "2.3.0", "2.4.0", "2.5.0", "2.6.0", "3.0.0", "3.1.0")
SUPPORTED = "OpenAPI 3.0.x and 3.1.x, Swagger 2.0, AsyncAPI 2.0 to 2.6, 3.0 and 3.1"
_OPENAPI = re.compile(r"3\.([01])\.\d+(-.+)?\Z")
_MESSAGE_LIMIT = 300

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Format:
    format: str  # openapi | asyncapi (Swagger 2.0 is "openapi" 2.0)
    version: str  # as declared: 3.0.3, 3.1.0, 2.0, 2.6.0, 3.0.0
    family: str  # swagger2 | openapi30 | openapi31 | asyncapi2 | asyncapi3

    @property
    def label(self) -> str:
        if self.family == "swagger2":
            return "Swagger 2.0"
        return f"{'OpenAPI' if self.format == 'openapi' else 'AsyncAPI'} {self.version}"


def detect(document: Any) -> Format:
    """The format of a parsed document; SpecInvalid when it is none of the supported ones."""
    if not isinstance(document, dict):
        raise SpecInvalid([SpecError("a definition is a mapping (a JSON object) at the top level")])
    for field in ("openapi", "swagger", "asyncapi"):
        if field in document:
            value = document[field]
            if not isinstance(value, str):
                raise SpecInvalid(
                    [
                        SpecError(
                            f'{field} must be a string such as "{_example(field)}" (quote it in YAML), '
                            f"not {json.dumps(value)}",
                            pointer=f"/{field}",
                        )
                    ]
                )
            found = _format(field, value.strip())
            if found is None:
                raise SpecInvalid(
                    [SpecError(f"{field} {value} is not supported; supported: {SUPPORTED}", pointer=f"/{field}")]
                )
            return found
    raise SpecInvalid(
        [
            SpecError(
                "not an OpenAPI, Swagger or AsyncAPI document: it needs a top-level openapi, swagger or "
                f"asyncapi field (supported: {SUPPORTED})"
            )
        ]
    )


def _example(field: str) -> str:
    return {"openapi": "3.0.3", "swagger": "2.0", "asyncapi": "3.0.0"}[field]


def _format(field: str, value: str) -> Format | None:
    if field == "swagger":
        return Format("openapi", "2.0", "swagger2") if value == "2.0" else None
    if field == "openapi":
        match = _OPENAPI.match(value)
        if match is None:
            return None
        return Format("openapi", value, "openapi30" if match.group(1) == "0" else "openapi31")
    if value in ASYNCAPI_VERSIONS:
        return Format("asyncapi", value, "asyncapi2" if value.startswith("2.") else "asyncapi3")
    return None


# --- Validation -----------------------------------------------------------------------------------------


@dataclass
class Issue:
    path: Path
    message: str


def validate(document: dict, fmt: Format) -> tuple[list[Issue], int]:
    """Every problem found (up to MAX_ERRORS) and how many more there were."""
    if fmt.format == "asyncapi":
        errors = _asyncapi_validator(fmt.version).iter_errors(document)
        return _collect(_issue(error, ()) for error in errors)
    validator_class = {"swagger2": _SwaggerValidator, "openapi30": _OpenAPI30Validator}.get(
        fmt.family, _OpenAPI31Validator
    )
    validator = validator_class(document)
    if not validator.schema_validator.is_valid(document):
        # Described by the pure-Python validator whatever the backend: its errors carry the alternatives
        # tried (for "the closest one"). With jsonschema-rs installed, valid documents never get here.
        errors = _python_schema_validator(fmt.family).iter_errors(document)
        return _collect(_issue(error, ()) for error in errors)  # the semantic checks need a valid structure
    try:
        return _collect(
            _issue(error, getattr(error, "devhub_path", ()))
            for error in validator.root_validator(validator.schema_path)
        )
    except RecursionError:
        return [Issue((), "the document nests too deeply to be checked")], 0
    except Exception as exc:  # a $ref the resolver refused, or a shape the checks did not expect
        return [Issue((), f"the document could not be checked: {_short(str(exc))}")], 0


def _collect(issues) -> tuple[list[Issue], int]:
    """At most MAX_ERRORS distinct issues, and how many more there were."""
    out: list[Issue] = []
    seen: set[tuple] = set()
    omitted = 0
    for issue in issues:
        key = (issue.path, issue.message)
        if key in seen:
            continue
        seen.add(key)
        if len(out) < MAX_ERRORS:
            out.append(issue)
        else:
            omitted += 1
    return out, omitted


def _issue(error: ValidationError, base: Path) -> Issue:
    error = _specific(error)
    return Issue((*base, *error.absolute_path), _message(error))


def _specific(error: ValidationError) -> ValidationError:
    """For "not valid under any of the given schemas", an error of the alternative that came closest: the
    one with the fewest errors, leaving out a `$ref` alternative (Reference Object) when there is another;
    within it a concrete error (a missing field, a wrong value) before a nested "any of"."""
    for _ in range(16):
        if not error.context:
            break
        branches: dict[Any, list[ValidationError]] = {}
        for candidate in error.context:
            key = candidate.relative_schema_path[0] if candidate.relative_schema_path else None
            branches.setdefault(key, []).append(candidate)
        usable = [b for b in branches.values() if not any(_reference_branch(e) for e in b)] or list(branches.values())
        closest = min(usable, key=len)
        concrete = [e for e in closest if e.validator not in ("oneOf", "anyOf")]
        if concrete:
            return max(concrete, key=relevance)
        error = closest[0]
    return error


def _reference_branch(error: ValidationError) -> bool:
    return (error.validator == "required" and error.validator_value == ["$ref"]) or (
        error.validator == "required" and "'$ref' is a required property" in error.message
    )


def _message(error: ValidationError) -> str:
    validator, expected = error.validator, error.validator_value
    if validator == "type":
        kinds = " or ".join(expected) if isinstance(expected, list) else expected
        return f"must be of type {kinds}, not {_kind(error.instance)}"
    if validator == "enum":
        return (
            f"must be one of {', '.join(json.dumps(v) for v in expected)}; found {_short(json.dumps(error.instance))}"
        )
    if validator == "const":
        return f"must be {json.dumps(expected)}; found {_short(json.dumps(error.instance))}"
    if validator in ("oneOf", "anyOf"):
        return "matches none of the allowed forms" if validator == "anyOf" or not error.context else error.message
    return _short(error.message)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), type(value).__name__
    )


def _short(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


# --- OpenAPI: openapi-spec-validator, with paths on its semantic errors and no network ------------------


class _Unknown(dict):
    """What a `$ref` to an http(s) URL stands for while checking: it is never fetched, so anything.
    Any key of it is another unknown, so pointers into it resolve too."""

    def __missing__(self, key: object) -> _Unknown:
        return _Unknown()


def _refuse(uri: str) -> Any:
    if uri.lower().startswith(("http://", "https://")):
        return _Unknown()
    raise ValueError(f"$ref to {uri} refused: definitions are checked without reading files")


class _RefuseEverything(dict):
    """Resolver handlers that answer every scheme (including the ones with no handler, which
    jsonschema-path would otherwise open with urllib) without reading anything."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str):
        return _refuse


def _located(cls: type) -> type:
    """A keyword validator whose errors carry the path of the part of the document it was checking."""
    is_value_validator = issubclass(cls, keywords.ValueValidator)

    def __call__(self, *args, **kwargs):
        where = next((arg for arg in args if isinstance(arg, SchemaPath)), None)
        base: Path = tuple(where.parts) if where is not None else ()
        if is_value_validator:
            base = (*base, "default")
        for error in cls.__call__(self, *args, **kwargs):
            if getattr(error, "devhub_path", None) is None:
                error.devhub_path = base
            yield error

    return type(cls.__name__, (cls,), {"__call__": __call__})


def _spec_validator(base: type) -> type:
    located = {name: _located(cls) for name, cls in base.keyword_validators.items()}

    def iter_errors(self):
        # Not the base class's: its lru_cache keeps every validated document alive for the process's life.
        yield from self.schema_validator.iter_errors(self.schema)
        yield from self.root_validator(self.schema_path)

    return type(
        base.__name__,
        (base,),
        {"keyword_validators": located, "resolver_handlers": _RefuseEverything(), "iter_errors": iter_errors},
    )


@lru_cache(maxsize=3)
def _python_schema_validator(family: str) -> Any:
    schema = dict({"swagger2": schema_v2, "openapi30": schema_v30, "openapi31": schema_v31}[family])
    return validator_for(schema)(schema)


_SwaggerValidator = _spec_validator(OpenAPIV2SpecValidator)
_OpenAPI30Validator = _spec_validator(OpenAPIV30SpecValidator)
_OpenAPI31Validator = _spec_validator(OpenAPIV31SpecValidator)


# --- AsyncAPI: the vendored JSON Schemas -----------------------------------------------------------------


@lru_cache(maxsize=len(ASYNCAPI_VERSIONS))
def _asyncapi_validator(version: str) -> Draft7Validator:
    text = resources.files("devhub.specs").joinpath("schemas_asyncapi", f"{version}.json").read_text("utf-8")
    schema = json.loads(text)
    registry = JSON_SCHEMA_SPECIFICATIONS.with_resource(schema["$id"], DRAFT7.create_resource(schema)).crawl()
    return Draft7Validator(schema, registry=registry)
