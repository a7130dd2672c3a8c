"""Code samples: exact output for petstore operations, credentials placeholders per security scheme,
Swagger servers, bodies by media type, and shell quoting."""

from __future__ import annotations

import html
import re
import shlex

import pytest

from devhub.docs import cache
from devhub.docs.operation_view import operation_view
from devhub.docs.render import build_reference
from tests.docs.test_reference_support import CORPUS, HTML, load_definition, publish


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def samples(doc: dict, anchor: str) -> dict[str, str]:
    fmt = "openapi"
    version = str(doc.get("openapi") or doc.get("swagger"))
    ref = build_reference(doc, format=fmt, format_version=version, title="t", base="/b")
    return {sample.key: sample.code for sample in operation_view(ref, ref.by_anchor[anchor]).samples}


PETSTORE = load_definition(CORPUS / "oai" / "petstore.yaml")

LIST_PETS = {
    "curl": "curl 'http://petstore.swagger.io/v1/pets'",
    "python": 'import httpx\n\nresponse = httpx.get("http://petstore.swagger.io/v1/pets")\nprint(response.status_code, response.text)',
    "javascript": 'const response = await fetch("http://petstore.swagger.io/v1/pets");\n'
    "console.log(response.status, await response.text());",
    "go": """package main

import (
\t"fmt"
\t"io"
\t"net/http"
)

func main() {
\treq, err := http.NewRequest("GET", "http://petstore.swagger.io/v1/pets", nil)
\tif err != nil {
\t\tpanic(err)
\t}
\tresp, err := http.DefaultClient.Do(req)
\tif err != nil {
\t\tpanic(err)
\t}
\tdefer resp.Body.Close()
\tout, err := io.ReadAll(resp.Body)
\tif err != nil {
\t\tpanic(err)
\t}
\tfmt.Println(resp.StatusCode, string(out))
}""",
}

CREATE_PETS = {
    "curl": """curl -X POST 'http://petstore.swagger.io/v1/pets' \\
  -H 'Content-Type: application/json' \\
  -d '{
  "id": 0,
  "name": "string"
}'""",
    "python": """import httpx

response = httpx.post(
    "http://petstore.swagger.io/v1/pets",
    json={
        "id": 0,
        "name": "string",
    },
)
print(response.status_code, response.text)""",
    "javascript": """const response = await fetch("http://petstore.swagger.io/v1/pets", {
  method: "POST",
  headers: {
    "Content-Type": "application/json",
  },
  body: JSON.stringify({
    "id": 0,
    "name": "string"
  }),
});
console.log(response.status, await response.text());""",
    "go": """package main

import (
\t"fmt"
\t"io"
\t"net/http"
\t"strings"
)

func main() {
\tbody := strings.NewReader(`{
  "id": 0,
  "name": "string"
}`)
\treq, err := http.NewRequest("POST", "http://petstore.swagger.io/v1/pets", body)
\tif err != nil {
\t\tpanic(err)
\t}
\treq.Header.Set("Content-Type", "application/json")
\tresp, err := http.DefaultClient.Do(req)
\tif err != nil {
\t\tpanic(err)
\t}
\tdefer resp.Body.Close()
\tout, err := io.ReadAll(resp.Body)
\tif err != nil {
\t\tpanic(err)
\t}
\tfmt.Println(resp.StatusCode, string(out))
}""",
}


def test_list_pets_samples_exactly():
    assert samples(PETSTORE, "list-pets") == LIST_PETS


def test_create_pets_samples_exactly():
    assert samples(PETSTORE, "create-pets") == CREATE_PETS


def test_path_parameters_get_placeholders():
    assert samples(PETSTORE, "show-pet-by-id")["curl"] == "curl 'http://petstore.swagger.io/v1/pets/PET_ID'"


def test_samples_are_on_the_operation_page(db, client):
    publish(db, "api:default/pets", "1.0.0", PETSTORE)
    page = client.get("/apis/default/pets/v/1.0.0/operations/create-pets", headers=HTML).text
    for code in CREATE_PETS.values():
        assert html.escape(code, quote=False) in page.replace("&#34;", '"').replace("&#39;", "'")
    markdown = client.get("/apis/default/pets/v/1.0.0/operations/create-pets.md").text
    assert "```python\n" + CREATE_PETS["python"] + "\n```" in markdown


def _spec(security_schemes: dict, global_security: list, **operation) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Auth", "version": "1"},
        "servers": [
            {
                "url": "https://{region}.example.com/v{major}",
                "variables": {"region": {"default": "eu"}, "major": {"default": "2", "enum": ["1", "2"]}},
            }
        ],
        "components": {"securitySchemes": security_schemes},
        "security": global_security,
        "paths": {
            "/items/{itemId}": {
                "parameters": [
                    {"name": "itemId", "in": "path", "required": True, "schema": {"type": "integer", "example": 42}}
                ],
                "get": {"operationId": "getItem", "responses": {"200": {"description": "ok"}}, **operation},
            }
        },
    }


@pytest.mark.parametrize(
    ("scheme", "curl"),
    [
        (
            {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "curl 'https://eu.example.com/v2/items/42' \\\n  -H 'X-API-Key: YOUR_API_KEY'",
        ),
        (
            {"type": "apiKey", "in": "query", "name": "key"},
            "curl 'https://eu.example.com/v2/items/42?key=YOUR_API_KEY'",
        ),
        (
            {"type": "apiKey", "in": "cookie", "name": "session"},
            "curl 'https://eu.example.com/v2/items/42' \\\n  -H 'Cookie: session=YOUR_API_KEY'",
        ),
        (
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "curl 'https://eu.example.com/v2/items/42' \\\n  -H 'Authorization: Bearer YOUR_TOKEN'",
        ),
        ({"type": "http", "scheme": "basic"}, "curl 'https://eu.example.com/v2/items/42' \\\n  -u 'USER:PASSWORD'"),
        (
            {
                "type": "oauth2",
                "flows": {"clientCredentials": {"tokenUrl": "https://auth.example.com/token", "scopes": {}}},
            },
            "curl 'https://eu.example.com/v2/items/42' \\\n  -H 'Authorization: Bearer YOUR_TOKEN'",
        ),
        (
            {"type": "openIdConnect", "openIdConnectUrl": "https://auth.example.com/.well-known/openid-configuration"},
            "curl 'https://eu.example.com/v2/items/42' \\\n  -H 'Authorization: Bearer YOUR_TOKEN'",
        ),
    ],
)
def test_auth_placeholder_matches_the_security_scheme(scheme, curl):
    assert samples(_spec({"auth": scheme}, [{"auth": []}]), "get-item")["curl"] == curl


def test_auth_in_every_language():
    basic = samples(_spec({"auth": {"type": "http", "scheme": "basic"}}, [{"auth": []}]), "get-item")
    assert 'auth=("USER", "PASSWORD"),' in basic["python"]
    assert '"Authorization": "Basic " + btoa("USER:PASSWORD"),' in basic["javascript"]
    assert 'req.SetBasicAuth("USER", "PASSWORD")' in basic["go"]
    key = samples(_spec({"auth": {"type": "apiKey", "in": "header", "name": "X-API-Key"}}, [{"auth": []}]), "get-item")
    assert 'headers={\n        "X-API-Key": "YOUR_API_KEY",\n    },' in key["python"]
    assert '"X-API-Key": "YOUR_API_KEY",' in key["javascript"]
    assert 'req.Header.Set("X-API-Key", "YOUR_API_KEY")' in key["go"]


def test_operation_security_overrides_and_empty_security_means_none():
    doc = _spec({"auth": {"type": "http", "scheme": "bearer"}}, [{"auth": []}], security=[])
    assert samples(doc, "get-item")["curl"] == "curl 'https://eu.example.com/v2/items/42'"


def test_swagger_host_base_path_body_and_query():
    doc = {
        "swagger": "2.0",
        "info": {"title": "Old", "version": "1"},
        "host": "api.example.org",
        "basePath": "/v1",
        "schemes": ["https", "http"],
        "consumes": ["application/json"],
        "securityDefinitions": {"key": {"type": "apiKey", "in": "query", "name": "api_key"}},
        "security": [{"key": []}],
        "paths": {
            "/orders": {
                "post": {
                    "operationId": "placeOrder",
                    "parameters": [
                        {"name": "dryRun", "in": "query", "required": True, "type": "boolean"},
                        {"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Order"}},
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
        "definitions": {
            "Order": {
                "type": "object",
                "required": ["quantity"],
                "properties": {"quantity": {"type": "integer", "minimum": 1}, "note": {"type": "string"}},
            }
        },
    }
    curl = samples(doc, "place-order")["curl"]
    assert curl == (
        "curl -X POST 'https://api.example.org/v1/orders?dryRun=true&api_key=YOUR_API_KEY' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        "  -d '{\n  \"quantity\": 1\n}'"
    )
    python = samples(doc, "place-order")["python"]
    assert 'params={\n        "dryRun": "true",\n        "api_key": "YOUR_API_KEY",\n    },' in python


def test_form_bodies_in_each_language():
    doc = load_definition(CORPUS / "twilio" / "twilio_api_v2010.json")
    code = samples(doc, "create-call")
    assert code["curl"].startswith(
        "curl -X POST 'https://api.twilio.com/2010-04-01/Accounts/ACCOUNT_SID/Calls.json' \\\n"
        "  -u 'USER:PASSWORD' \\\n"
        "  -H 'Content-Type: application/x-www-form-urlencoded' \\\n"
        "  --data-urlencode 'ApplicationSid=APaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' \\\n"
    )
    assert "    data={\n" in code["python"] and "Content-Type" not in code["python"]
    assert "  body: new URLSearchParams({\n" in code["javascript"]
    assert "\tform := url.Values{}\n" in code["go"] and '\t"net/url"\n' in code["go"]


def test_shell_quoting_survives_quotes_and_dollars():
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Quotes", "version": "1"},
        "servers": [{"url": "https://api.example.com"}],
        "paths": {
            "/notes": {
                "post": {
                    "operationId": "addNote",
                    "requestBody": {
                        "content": {"application/json": {"example": {"text": 'it\'s $HOME `whoami` "quoted"'}}}
                    },
                    "responses": {"201": {"description": "created"}},
                }
            }
        },
    }
    code = samples(doc, "add-note")
    words = shlex.split(code["curl"].replace("\\\n", " "))
    assert words == [
        "curl",
        "-X",
        "POST",
        "https://api.example.com/notes",
        "-H",
        "Content-Type: application/json",
        "-d",
        '{\n  "text": "it\'s $HOME `whoami` \\"quoted\\""\n}',
    ]
    assert re.search(r"strings\.NewReader\(\"\{\\n", code["go"]), "backticks force an interpreted Go string"
    assert '"text": "it\'s $HOME `whoami` \\"quoted\\"",' in code["python"]


def test_relative_server_gets_a_placeholder_host():
    doc = _spec({}, [])
    doc["servers"] = [{"url": "/api"}]
    assert samples(doc, "get-item")["curl"] == "curl 'https://api.example.com/api/items/42'"
