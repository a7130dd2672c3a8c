"""Validation: each error with its JSON pointer, file and source line; formats detected or clearly refused."""

from __future__ import annotations

import json
import textwrap

import pytest

from devhub.specs import service
from devhub.specs.errors import SpecInvalid


def problems(name: str, text: str, **files: str) -> list[str]:
    with pytest.raises(SpecInvalid) as excinfo:
        service.prepare(name, {name: textwrap.dedent(text).lstrip(), **files})
    return [error.describe() for error in excinfo.value.errors]


def test_structural_errors_have_pointer_and_line():
    found = problems(
        "pets.yaml",
        """
        openapi: 3.0.3
        info:
          title: Pets
          version: '1'
        paths:
          /pets/{petId}:
            get:
              operationId: getPet
          /pets:
            post:
              responses:
                '201':
                  content: {}
        components:
          schemas:
            Pet:
              type: objekt
        """,
    )
    assert found == [
        "pets.yaml:7 /paths/~1pets~1{petId}/get: 'responses' is a required property",
        "pets.yaml:12 /paths/~1pets/post/responses/201: 'description' is a required property",
        'pets.yaml:17 /components/schemas/Pet/type: must be one of "array", "boolean", "integer", "number", '
        '"object", "string"; found "objekt"',
    ]


def test_semantic_errors_have_pointer_and_line():
    found = problems(
        "pets.yaml",
        """
        openapi: 3.0.3
        info: {title: Pets, version: '1'}
        paths:
          /pets/{petId}:
            get:
              operationId: getPet
              responses:
                '200': {description: ok}
          /pets:
            post:
              operationId: getPet
              responses:
                '201':
                  description: ok
                  content:
                    application/json:
                      schema:
                        type: object
                        default: 5
        """,
    )
    assert found == [
        "pets.yaml:5 /paths/~1pets~1{petId}/get: Path parameter 'petId' for 'get' operation in '/pets/{petId}' "
        "was not resolved",
        "pets.yaml:10 /paths/~1pets/post: Operation ID 'getPet' for 'post' in '/pets' is not unique",
        "pets.yaml:19 /paths/~1pets/post/responses/201/content/application~1json/schema/default: must be of type "
        "object, not integer",
    ]


def test_json_errors_have_lines_too():
    document = {
        "openapi": "3.0.3",
        "info": {"title": "x", "version": "1"},
        "paths": {"/a": {"get": {"responses": {"200": {}}}}},
    }
    assert problems("a.json", json.dumps(document, indent=2)) == [
        "a.json:11 /paths/~1a/get/responses/200: 'description' is a required property"
    ]


def test_errors_in_a_referenced_file_point_into_that_file():
    found = problems(
        "openapi.yaml",
        """
        openapi: 3.0.3
        info: {title: Pets, version: '1'}
        paths:
          /pets:
            $ref: './paths/pets.yaml'
        """,
        **{"paths/pets.yaml": "get:\n  summary: list\n  responses:\n    '200': {}\n"},
    )
    assert found == ["paths/pets.yaml:4 /paths/~1pets/get/responses/200: 'description' is a required property"]


def test_swagger_and_asyncapi_are_validated():
    assert problems(
        "swagger.yaml",
        """
        swagger: '2.0'
        info: {title: S, version: '1'}
        paths:
          /x:
            get:
              responses:
                200: {description: ok}
              parameters:
                - in: query
                  type: string
        """,
    ) == ["swagger.yaml:9 /paths/~1x/get/parameters/0: 'name' is a required property"]
    assert problems(
        "events.yaml",
        """
        asyncapi: 2.6.0
        info: {title: A, version: '1'}
        channels:
          user/signedup:
            publish: 5
        """,
    ) == ["events.yaml:5 /channels/user~1signedup/publish: must be of type object, not integer"]
    assert problems(
        "events.yaml",
        """
        asyncapi: 3.0.0
        info: {title: A, version: '1'}
        operations:
          onSignup:
            action: listen
            channel: {$ref: '#/channels/signup'}
        channels:
          signup: {address: user/signedup}
        """,
    ) == ['events.yaml:5 /operations/onSignup/action: must be one of "send", "receive"; found "listen"']


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("raml: 1.0\ntitle: x\n", "x.yaml:1: not an OpenAPI, Swagger or AsyncAPI document"),
        ("openapi: 3.2.0\ninfo: {title: x, version: '1'}\n", "x.yaml:1 /openapi: openapi 3.2.0 is not supported"),
        (
            "openapi: 3.0\ninfo: {title: x, version: '1'}\n",
            'x.yaml:1 /openapi: openapi must be a string such as "3.0.3"',
        ),
        ("asyncapi: 2.7.0\n", "x.yaml:1 /asyncapi: asyncapi 2.7.0 is not supported"),
        ("- a list\n", "x.yaml:1: a definition is a mapping"),
    ],
)
def test_unknown_formats_are_clear_errors(text, expected):
    (found,) = problems("x.yaml", text)
    assert found.startswith(expected)


def test_formats_detected():
    cases = {
        "swagger: '2.0'\ninfo: {title: x, version: '1'}\npaths: {}\n": ("openapi", "2.0", "swagger2"),
        "openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\n": ("openapi", "3.0.3", "openapi30"),
        "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\n": ("openapi", "3.1.0", "openapi31"),
        "asyncapi: 2.6.0\ninfo: {title: x, version: '1'}\nchannels: {}\n": ("asyncapi", "2.6.0", "asyncapi2"),
        "asyncapi: 3.0.0\ninfo: {title: x, version: '1'}\n": ("asyncapi", "3.0.0", "asyncapi3"),
    }
    for text, (fmt, version, family) in cases.items():
        found = service.prepare("x.yaml", {"x.yaml": text}).format
        assert (found.format, found.version, found.family) == (fmt, version, family)


def test_every_error_is_reported_up_to_the_cap():
    paths = {f"/p{i}": {"get": {"responses": {"200": {}}}} for i in range(150)}
    document = {"openapi": "3.0.3", "info": {"title": "x", "version": "1"}, "paths": paths}
    with pytest.raises(SpecInvalid) as excinfo:
        service.prepare("x.json", {"x.json": json.dumps(document)})
    assert len(excinfo.value.errors) == 100 and excinfo.value.omitted == 50
    assert excinfo.value.to_problem().to_dict()["omitted_errors"] == 50
