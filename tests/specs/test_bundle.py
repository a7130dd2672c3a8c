"""Reading and bundling definitions: multi-file trees, refused and circular $refs, limits, source lines."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from devhub.specs import service
from devhub.specs.bundle import bundle
from devhub.specs.errors import SpecInvalid
from devhub.specs.limits import Limits
from devhub.specs.parse import parse_source
from tests.specs.conftest import CORPUS


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip()


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in folder.rglob("*.yaml")}


def errors_of(excinfo) -> list[dict]:
    return [error.to_dict() for error in excinfo.value.errors]


MAIN = dedent(
    """
    openapi: 3.0.3
    info: {title: Orders, version: 1.0.0}
    paths:
      /orders:
        get:
          operationId: listOrders
          responses:
            '200':
              description: the orders
              content:
                application/json:
                  schema:
                    type: array
                    items:
                      $ref: './schemas/order.yaml'
    components:
      schemas:
        Order:
          $ref: './schemas/order.yaml'
    """
)
ORDER = dedent(
    """
    type: object
    properties:
      id: {type: string}
      customer:
        $ref: './customer.yaml#/Customer'
    """
)
CUSTOMER = dedent(
    """
    Customer:
      type: object
      properties:
        name: {type: string}
        orders:
          type: array
          items:
            $ref: './order.yaml'
    """
)


def test_relative_refs_across_files_are_inlined_once_under_components():
    result = bundle(
        "openapi.yaml", {"openapi.yaml": MAIN, "schemas/order.yaml": ORDER, "schemas/customer.yaml": CUSTOMER}
    )
    document = result.document
    order = document["components"]["schemas"]["Order"]
    assert order["properties"]["id"] == {"type": "string"}
    # the path's use points at the component instead of repeating it
    items = document["paths"]["/orders"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    assert items == {"$ref": "#/components/schemas/Order"}
    # the cycle order -> customer -> order ends as an internal reference
    customer = order["properties"]["customer"]
    assert customer["properties"]["orders"]["items"] == {"$ref": "#/components/schemas/Order"}
    assert sorted(result.sources) == ["openapi.yaml", "schemas/customer.yaml", "schemas/order.yaml"]
    # the bundled document validates
    assert service.prepare("openapi.yaml", result.files).operations[0].operation_id == "listOrders"


def test_circular_refs_terminate():
    files = {
        "a.yaml": dedent(
            """
            openapi: 3.1.0
            info: {title: Loop, version: '1'}
            paths: {}
            components:
              schemas:
                Node: {$ref: './node.yaml'}
                Self: {$ref: '#/components/schemas/Self'}
            """
        ),
        "node.yaml": "type: object\nproperties:\n  next: {$ref: './node.yaml'}\n  other: {$ref: '#/properties/next'}\n",
    }
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("a.yaml", files)
    (error,) = errors_of(excinfo)
    assert error["pointer"] == "/components/schemas/Self/$ref" and error["line"] == 7
    assert "circular" in error["message"]

    del_self = files["a.yaml"].replace("    Self: {$ref: '#/components/schemas/Self'}\n", "")
    result = bundle("a.yaml", {**files, "a.yaml": del_self})
    node = result.document["components"]["schemas"]["Node"]
    assert node["properties"]["next"] == {"$ref": "#/components/schemas/Node"}
    assert node["properties"]["other"] == {"$ref": "#/components/schemas/Node/properties/next"}


def test_a_chain_of_files_pointing_at_each_other_terminates():
    files = {f"f{i}.yaml": f"next: {{$ref: './f{(i + 1) % 50}.yaml'}}\n" for i in range(50)}
    files["main.yaml"] = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\nx-loop: {$ref: './f0.yaml'}\n"
    result = bundle("main.yaml", files)
    assert json.dumps(result.document).count('"$ref"') == 1


@pytest.mark.parametrize(
    ("ref", "fragment"),
    [
        ("https://example.com/schemas/pet.yaml", "points to a URL"),
        ("http://169.254.169.254/latest/meta-data", "points to a URL"),
        ("file:///etc/passwd", "points to a URL"),
        ("/etc/passwd", "absolute path"),
        ("../outside.yaml", "leaves the uploaded files"),
        ("schemas/../../outside.yaml", "leaves the uploaded files"),
        ("missing.yaml", "not among the uploaded files"),
        ("./pet.yaml#/nope", "resolves to nothing"),
        ("#/components/schemas/Nope", "resolves to nothing"),
    ],
)
def test_refused_refs_name_the_ref_and_where_it_is(ref, fragment):
    main = dedent(
        f"""
        openapi: 3.0.3
        info: {{title: Pets, version: '1'}}
        paths: {{}}
        components:
          schemas:
            Pet:
              type: object
            Bad:
              $ref: '{ref}'
        """
    )
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("openapi.yaml", {"openapi.yaml": main, "pet.yaml": "type: object\n"}, url_refs="refuse")
    (error,) = errors_of(excinfo)
    assert fragment in error["message"] and ref in error["message"]
    assert error["file"] == "openapi.yaml"
    assert error["line"] == 9
    assert error["pointer"] == "/components/schemas/Bad/$ref"


def test_url_refs_are_kept_as_links_by_default_and_never_fetched(monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("a $ref made a network connection")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    main = dedent(
        """
        openapi: 3.0.3
        info: {title: Pets, version: '1'}
        paths:
          /pets:
            get:
              responses:
                '200':
                  description: ok
                  content:
                    application/json:
                      schema: {$ref: 'https://example.com/schemas.yaml#/Pet'}
        """
    )
    prepared = service.prepare("openapi.yaml", {"openapi.yaml": main})
    (warning,) = prepared.warnings
    assert warning.line == 11 and "kept as a link" in warning.message
    schema = prepared.document["paths"]["/pets"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "https://example.com/schemas.yaml#/Pet"}


def test_refs_inside_examples_are_data():
    main = dedent(
        """
        openapi: 3.0.3
        info: {title: Pets, version: '1'}
        paths: {}
        components:
          schemas:
            Pet:
              type: object
              example: {$ref: '../../etc/passwd'}
        """
    )
    assert bundle("openapi.yaml", {"openapi.yaml": main}).warnings == []


def test_alias_bomb_is_refused():
    bomb = "openapi: 3.0.0\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n"
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("bomb.yaml", {"bomb.yaml": bomb})
    (error,) = errors_of(excinfo)
    assert "alias bomb" in error["message"] and error["file"] == "bomb.yaml" and error["line"]


def test_deep_nesting_is_refused_in_yaml_and_json():
    deep_yaml = "openapi: 3.0.0\nx: " + "[" * 200 + "]" * 200 + "\n"
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("deep.yaml", {"deep.yaml": deep_yaml})
    assert "deeper than 64 levels" in errors_of(excinfo)[0]["message"]
    deep_json = '{"openapi": "3.0.0", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("deep.json", {"deep.json": deep_json})
    assert "deeper than 64 levels" in errors_of(excinfo)[0]["message"]


def test_size_and_file_count_limits():
    limits = Limits(max_bytes=10_000, max_files=3)
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("a.yaml", {"a.yaml": "x: " + "y" * 20_000}, limits)
    assert excinfo.value.status == 413 and "at most 10,000" in excinfo.value.errors[0].message
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("a.yaml", {f"{i}.yaml": "x: 1" for i in range(4)} | {"a.yaml": "x: 1"}, limits)
    assert excinfo.value.status == 413 and "at most 3" in excinfo.value.errors[0].message


def test_yaml_is_read_as_yaml_1_2_with_string_keys():
    source = parse_source(
        "x.yaml",
        dedent(
            """
            responses:
              200: {description: ok}
            enum: [yes, no, on, off, 'true', true, 1_000, 0o17, 2024-01-01, 1e3, .inf, ~]
            merged:
              <<: {a: 1}
              b: 2
            """
        ),
        Limits(),
    )
    assert list(source.data["responses"]) == ["200"]
    assert source.data["enum"] == [
        "yes",
        "no",
        "on",
        "off",
        "true",
        True,
        "1_000",
        15,
        "2024-01-01",
        1000.0,
        ".inf",
        None,
    ]
    assert source.data["merged"] == {"b": 2, "a": 1}


def test_syntax_errors_carry_file_and_line():
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("bad.yaml", {"bad.yaml": "openapi: 3.0.0\ninfo:\n  title: [unclosed\n"})
    assert errors_of(excinfo)[0]["file"] == "bad.yaml" and errors_of(excinfo)[0]["line"]
    with pytest.raises(SpecInvalid) as excinfo:
        bundle("bad.json", {"bad.json": '{\n  "openapi": "3.0.0",\n  "info": }\n'})
    assert errors_of(excinfo)[0] == {
        "pointer": "",
        "line": 3,
        "message": errors_of(excinfo)[0]["message"],
        "file": "bad.json",
    }
    assert "not valid JSON" in errors_of(excinfo)[0]["message"]


def test_social_media_tree_bundles_every_service():
    folder = CORPUS / "asyncapi" / "social-media"
    files = tree(folder)
    for main in sorted(path for path in files if path.endswith("asyncapi.yaml")):
        prepared = service.prepare(main, files)
        assert prepared.format.family == "asyncapi3"
        assert "$ref" not in json.dumps(prepared.document).replace('"$ref": "#', "")  # only internal refs left
        assert len(prepared.original_files or {}) >= 2
