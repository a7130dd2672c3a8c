"""Every OpenAPI definition of the shared corpus: each GET operation's answer validates against its response
schema (checked by openapi-schema-validator, not by the sandbox's own validator), and invalid calls get the
status Prism would give. The sandbox is driven as the route drives it (`Sandbox.answer` on a compiled
definition, state in the database); a second test goes through the HTTP route for a few published specs."""

from __future__ import annotations

import functools
from pathlib import Path

import openapi_schema_validator
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT202012

from devhub.sandbox.compile import compile_spec
from devhub.sandbox.generate import Generator
from devhub.sandbox.service import Caller, Sandbox
from devhub.sandbox.validate import Rejection, SandboxRequest
from devhub.specs.bundle import bundle
from tests.sandbox.conftest import CORPUS, signed

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the state of GETs: no writes

SPECS = sorted(CORPUS.glob("oai/*.yaml")) + sorted(CORPUS.glob("twilio/*.json"))
SIGNED = Caller("corpus-key", True)
ANONYMOUS = Caller("anonymous", False)


@functools.cache
def _bundled(path: Path) -> dict:
    return bundle(path.name, {path.name: path.read_text()}).document


@functools.cache
def _compiled(path: Path):
    document = _bundled(path)
    return compile_spec(document, str(document.get("openapi") or document.get("swagger")))


@functools.cache
def _registry(path: Path) -> Registry:
    document = _bundled(path)
    is_31 = str(document.get("openapi", "")).startswith("3.1")
    resource = Resource.from_contents(document, default_specification=DRAFT202012 if is_31 else DRAFT4)
    return Registry().with_resource("urn:corpus", resource)


def _independent_validator(path: Path, pointer: str):
    """openapi-schema-validator's OAS 3.0/3.1 dialect over the original document (nullable, $refs...)."""
    is_31 = str(_bundled(path).get("openapi", "")).startswith("3.1")
    cls = openapi_schema_validator.OAS31Validator if is_31 else openapi_schema_validator.OAS30Validator
    return cls({"$ref": f"urn:corpus#{pointer}"}, registry=_registry(path))


def _valid_call(spec, template, operation, seed: int = 1) -> SandboxRequest:
    """A GET with every required parameter filled from its schema (the way a developer copies the docs)."""
    generator = Generator(spec.request_document, seed)
    path, query, headers = template.template, [], {}
    for param in operation.params:
        if not (param.required or param.location == "path"):
            continue
        value = generator.value(param.schema) if param.schema else "x"
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if param.location == "path":
            path = path.replace("{" + param.name + "}", text)
        elif param.location == "query":
            query.append((param.name, text))
        elif param.location == "header":
            headers[param.name.lower()] = text
    return SandboxRequest("GET", path, query, headers, {}, b"")


def _expected_invalid_status(raw_operation: dict) -> int:
    responses = {str(code) for code in raw_operation.get("responses", {})}
    return 400 if "400" in responses and "422" not in responses else 422


def test_every_get_of_every_corpus_definition_answers_per_its_schema(db):
    sandbox = Sandbox(db.engine, "corpus-secret")
    checked = 0
    failures = []
    for path in SPECS:
        spec = _compiled(path)
        for template in spec.paths:
            operation = template.operations.get("get")
            if operation is None:
                continue
            call = _valid_call(spec, template, operation)
            try:
                answer = sandbox.answer(spec, f"api:corpus/{path.stem}", "1", SIGNED, call)
            except Rejection as rejection:
                failures.append(f"{path.name} GET {call.path}: {rejection.status} {rejection.detail}")
                continue
            checked += 1
            response = operation.responses.get(str(answer.status))
            media = response.media.get(answer.media_type) if response and answer.media_type else None
            if media is None or media.pointer is None:
                continue
            errors = list(_independent_validator(path, media.pointer).iter_errors(answer.body))
            failures += [f"{path.name} GET {template.template}: {e.message[:200]}" for e in errors[:1]]
    assert failures == []
    assert checked > 350  # every GET of the corpus, not a sample


def test_invalid_corpus_calls_get_prisms_statuses(db):
    sandbox = Sandbox(db.engine, "corpus-secret")
    seen: set[int] = set()
    for path in SPECS:
        document, spec = _bundled(path), _compiled(path)

        def status_of(call: SandboxRequest, caller: Caller = SIGNED) -> int:
            try:
                return sandbox.answer(spec, "api:corpus/x", "1", caller, call).status  # noqa: B023
            except Rejection as rejection:
                return rejection.status

        assert status_of(SandboxRequest("GET", "/no/such/path/anywhere", [], {}, {}, b"")) == 404
        for raw_path, item in document.get("paths", {}).items():
            template = spec.match(raw_path.replace("{", "").replace("}", ""))
            gets = item.get("get")
            if gets is None or template is None or template[0].template != raw_path:
                continue
            valid = _valid_call(spec, template[0], template[0].operations["get"])
            assert status_of(SandboxRequest("TRACE", valid.path, [], {}, {}, b"")) == 405
            seen.add(405)
            security = gets.get("security", document.get("security"))
            if security and all(security):
                assert status_of(valid, ANONYMOUS) == 401, f"{path.name} {raw_path}"
                seen.add(401)
            required = [p for p in gets.get("parameters", []) if p.get("in") == "query" and p.get("required")]
            if required:
                missing = SandboxRequest("GET", valid.path, [], valid.headers, {}, b"")
                assert status_of(missing) == _expected_invalid_status(gets), f"{path.name} {raw_path}"
                seen.add(_expected_invalid_status(gets))
            numeric = [
                p
                for p in item.get("parameters", []) + gets.get("parameters", [])
                if p.get("in") == "query" and (p.get("schema") or {}).get("type") == "integer"
            ]
            if numeric:
                bad = SandboxRequest(
                    "GET", valid.path, [*valid.query, (numeric[0]["name"], "many")], valid.headers, {}, b""
                )
                assert status_of(bad) == _expected_invalid_status(gets), f"{path.name} {raw_path}"
    assert {401, 405, 422} <= seen


@pytest.mark.parametrize("name", ["oai/petstore-expanded.yaml", "twilio/twilio_pricing_v1.json"])
def test_published_corpus_definitions_answer_through_the_route(client, published, settings, name):
    path = CORPUS / name
    api = path.stem.replace("_", "-").lower()
    ref = published(api, path.read_text())
    spec = _compiled(path)
    headers = signed(settings, "route-key", ref)
    for template in spec.paths:
        operation = template.operations.get("get")
        if operation is None:
            continue
        call = _valid_call(spec, template, operation)
        response = client.get(
            f"/sandbox/default/{api}/1.0.0{call.path}", params=call.query, headers={**headers, **call.headers}
        )
        assert response.status_code < 300, (call.path, response.text)
        media = operation.responses[str(response.status_code)].media.get(response.headers["content-type"])
        if media is not None and media.pointer is not None:
            _independent_validator(path, media.pointer).validate(response.json())
