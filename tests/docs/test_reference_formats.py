"""Formats beyond OpenAPI 3: AsyncAPI 2.x and 3.x (channels, actions, messages, bindings, reply) and
Swagger 2.0 (host and base path, body and form parameters, definitions, securityDefinitions, produces and
consumes); plus OpenAPI callbacks, links and webhooks."""

from __future__ import annotations

import pytest

from devhub.docs import cache
from tests.docs.test_reference_support import CORPUS, HTML, load_definition, publish

ASYNC2 = {
    "asyncapi": "2.6.0",
    "info": {"title": "Streetlights", "version": "1.0.0", "description": "Turn **lights** on."},
    "defaultContentType": "application/json",
    "servers": {
        "production": {
            "url": "mqtt://broker.example.com:{port}",
            "protocol": "mqtt",
            "protocolVersion": "5",
            "variables": {"port": {"default": "1883", "enum": ["1883", "8883"]}},
            "security": [{"userPassword": []}],
        }
    },
    "channels": {
        "light/{lightId}/measured": {
            "description": "Measured light.",
            "parameters": {"lightId": {"description": "The light.", "schema": {"type": "string", "format": "uuid"}}},
            "bindings": {"mqtt": {"qos": 1}},
            "subscribe": {
                "operationId": "onLightMeasured",
                "summary": "Light measured",
                "bindings": {"kafka": {"groupId": {"type": "string"}}},
                "message": {"$ref": "#/components/messages/LightMeasured"},
            },
        },
        "light/{lightId}/turn": {
            "parameters": {"lightId": {"$ref": "#/components/parameters/lightId"}},
            "publish": {
                "operationId": "turnLight",
                "message": {
                    "oneOf": [{"$ref": "#/components/messages/TurnOn"}, {"$ref": "#/components/messages/TurnOff"}]
                },
            },
        },
    },
    "components": {
        "parameters": {"lightId": {"description": "The light.", "schema": {"type": "string"}}},
        "securitySchemes": {"userPassword": {"type": "userPassword", "description": "Broker credentials."}},
        "messages": {
            "LightMeasured": {
                "name": "lightMeasured",
                "title": "Light measured",
                "contentType": "application/json",
                "headers": {"type": "object", "properties": {"traceId": {"type": "string"}}},
                "payload": {"$ref": "#/components/schemas/Measurement"},
                "correlationId": {"location": "$message.header#/traceId", "description": "Trace."},
                "bindings": {"mqtt": {"bindingVersion": "0.2.0"}},
                "examples": [{"name": "bright", "summary": "A bright day", "payload": {"lumens": 900}}],
                "traits": [{"tags": [{"name": "sensor"}]}],
            },
            "TurnOn": {"name": "turnOn", "payload": {"type": "object", "properties": {"on": {"const": True}}}},
            "TurnOff": {"name": "turnOff", "payload": {"type": "object", "properties": {"off": {"const": True}}}},
        },
        "schemas": {"Measurement": {"type": "object", "properties": {"lumens": {"type": "integer", "minimum": 0}}}},
    },
}

SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "Old store", "version": "1.0", "contact": {"email": "help@example.com"}},
    "host": "store.example.com",
    "basePath": "/v1",
    "schemes": ["https"],
    "consumes": ["application/json"],
    "produces": ["application/json", "application/xml"],
    "securityDefinitions": {
        "api_key": {"type": "apiKey", "in": "header", "name": "api_key"},
        "petstore_auth": {
            "type": "oauth2",
            "flow": "implicit",
            "authorizationUrl": "https://auth.example.com/oauth",
            "scopes": {"write:pets": "modify pets"},
        },
    },
    "paths": {
        "/pets": {
            "post": {
                "operationId": "addPet",
                "summary": "Add a pet",
                "security": [{"petstore_auth": ["write:pets"]}],
                "parameters": [
                    {"in": "body", "name": "body", "required": True, "schema": {"$ref": "#/definitions/Pet"}}
                ],
                "responses": {
                    "200": {
                        "description": "ok",
                        "schema": {"$ref": "#/definitions/Pet"},
                        "headers": {
                            "X-Rate-Limit": {"type": "integer", "format": "int32", "description": "calls per hour"}
                        },
                        "examples": {"application/json": {"id": 1, "name": "Rex"}},
                    },
                    "405": {"description": "Invalid input"},
                },
            }
        },
        "/pets/{petId}/photo": {
            "post": {
                "operationId": "uploadPhoto",
                "consumes": ["multipart/form-data"],
                "security": [{"api_key": []}],
                "parameters": [
                    {"name": "petId", "in": "path", "required": True, "type": "integer", "format": "int64"},
                    {"name": "caption", "in": "formData", "type": "string", "description": "What it shows"},
                    {"name": "file", "in": "formData", "required": True, "type": "file"},
                    {
                        "name": "tags",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "csv",
                    },
                ],
                "responses": {"200": {"description": "ok"}},
            }
        },
    },
    "definitions": {
        "Pet": {
            "type": "object",
            "required": ["name"],
            "discriminator": "petType",
            "properties": {
                "id": {"type": "integer", "format": "int64", "readOnly": True},
                "name": {"type": "string", "example": "Rex"},
                "petType": {"type": "string"},
                "owner": {"type": "string", "x-nullable": True},
            },
        }
    },
}


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def page(client, url: str) -> str:
    response = client.get(url, headers=HTML)
    assert response.status_code == 200, f"{url}: {response.text[:800]}"
    return response.text


def test_asyncapi_2(db, client):
    publish(db, "api:default/lights", "1.0.0", ASYNC2)
    base = "/apis/default/lights/v/1.0.0"
    overview = page(client, base)
    assert "mqtt://broker.example.com:{port}" in overview and "mqtt</td>" not in overview
    assert "mqtt 5" in overview, "protocol and version"
    assert "Turn <strong>lights</strong> on." in overview
    assert "light/<wbr>{lightId}/<wbr>measured" in overview, "channels"
    measured = page(client, f"{base}/operations/on-light-measured")
    assert '<span class="method method-subscribe">SUBSCRIBE</span>' in measured
    assert "the application sends these messages" in measured
    assert "<code>lightId</code>" in measured and "string &lt;uuid&gt;" in measured
    assert "Channel bindings" in measured and "&#34;qos&#34;: 1" in measured
    assert "Operation bindings" in measured and "kafka" in measured
    assert "Light measured" in measured and f'href="{base}/schemas/messages/LightMeasured"' in measured
    assert "$message.header#/traceId" in measured, "correlation id"
    assert "traceId" in measured and "lumens" in measured, "headers and payload trees"
    assert "A bright day" in measured and "&#34;lumens&#34;: 900" in measured, "the message example"
    assert '<span class="tag">sensor</span>' in measured, "traits applied"
    assert "Message example" in measured, "the right column shows the example, not code samples"
    turn = page(client, f"{base}/operations/turn-light")
    assert "turnOn" in turn and "turnOff" in turn, "oneOf messages"
    assert '<span class="method method-publish">PUBLISH</span>' in turn
    message = page(client, f"{base}/schemas/messages/LightMeasured")
    assert "Payload" in message and f'href="{base}/operations/on-light-measured"' in message, "used by"
    schemas = page(client, f"{base}/schemas")
    assert "Schemas and messages" in schemas and '<span class="badge badge-kind">message</span>' in schemas
    markdown = client.get(f"{base}/operations/on-light-measured.md").text
    assert markdown.startswith("# Light measured\n\n`SUBSCRIBE light/{lightId}/measured`")
    assert "### [Light measured](</apis/default/lights/v/1.0.0/schemas/messages/LightMeasured>)" in markdown


def test_asyncapi_3_reply_and_security(db, client):
    doc = load_definition(CORPUS / "asyncapi" / "adeo-kafka-request-reply-asyncapi.yml")
    publish(db, "api:default/adeo", "1.0.0", doc)
    base = "/apis/default/adeo/v/1.0.0"
    overview = page(client, base)
    assert "kafka" in overview
    from devhub.docs.views import reference_of
    from devhub.specs.models import SpecVersion

    with db.session() as session:
        ref = reference_of(session.query(SpecVersion).one())
        (entry,) = ref.ops
    html = page(client, entry.url)
    assert (
        '<span class="method method-send">SEND</span>' in html
        or '<span class="method method-receive">RECEIVE</span>' in html
    )
    assert 'id="reply"' in html and "$message.header#/REPLY_TOPIC" in html
    assert "sasl-ssl" in overview, "server security"
    operation_security = load_definition(CORPUS / "asyncapi" / "operation-security-asyncapi.yml")
    publish(db, "api:default/notifications", "1.0.0", operation_security)
    html = page(client, "/apis/default/notifications/v/1.0.0/operations/send-auth-revoke")
    assert "subscribe:auth_revocations" in html, "scopes of the operation's security"
    assert "AUTHORIZATION_REVOCATION" in html


def test_swagger_2(db, client):
    publish(db, "api:default/old", "1.0", SWAGGER)
    base = "/apis/default/old/v/1.0"
    overview = page(client, base)
    assert "https://store.example.com/v1" in overview
    assert "Swagger 2.0" in overview
    assert "implicit" in overview and "write:pets" in overview and "https://auth.example.com/oauth" in overview
    assert "<dt>Produces</dt>" in overview
    add = page(client, f"{base}/operations/add-pet")
    assert "application/json, application/xml" in add, "produces: one media entry for both types"
    assert "X-Rate-Limit" in add and "integer &lt;int32&gt;" in add
    assert "Example <code>application/json</code>" in add
    assert '<span class="flag">nullable</span>' in add, "x-nullable"
    assert "<dt>Discriminator</dt><dd><code>petType</code>" in add
    assert "write:pets" in add, "operation security with scopes"
    assert "curl -X POST &#39;https://store.example.com/v1/pets&#39;" in add
    assert "Authorization: Bearer YOUR_TOKEN" in add
    upload = page(client, f"{base}/operations/upload-photo")
    assert "multipart/form-data" in upload and "caption" in upload and "string &lt;binary&gt;" in upload
    assert "array of string" in upload and "csv" in upload
    assert "-F &#39;file=&lt;binary&gt;&#39;" in upload
    assert "api_key: YOUR_API_KEY" in upload
    schema = page(client, f"{base}/schemas/Pet")
    assert '<span class="flag">read-only</span>' in schema


def test_callbacks_links_and_webhooks(db, client):
    publish(db, "api:default/callbacks", "1.0.0", load_definition(CORPUS / "oai" / "callback-example.yaml"))
    html = page(client, "/apis/default/callbacks/v/1.0.0/operations/post-streams")
    assert 'id="callback-on-data"' in html and "{$request.query.callbackUrl}/<wbr>data" in html
    assert 'id="callback-on-data-post-request-body"' in html, "the callback's own sections"
    publish(db, "api:default/links", "1.0.0", load_definition(CORPUS / "oai" / "link-example.yaml"))
    html = page(client, "/apis/default/links/v/1.0.0/operations/get-user-by-name")
    assert "<code>userRepositories</code>" in html
    assert 'href="/apis/default/links/v/1.0.0/operations/get-repositories-by-owner"' in html
    webhooks = {
        "openapi": "3.1.0",
        "info": {"title": "Hooks", "version": "1"},
        "webhooks": {
            "newPet": {
                "post": {
                    "summary": "A pet was added",
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {"type": "object", "properties": {"id": {"type": "integer"}}}
                            }
                        }
                    },
                    "responses": {"200": {"description": "received"}},
                }
            }
        },
    }
    publish(db, "api:default/hooks", "1", webhooks)
    overview = page(client, "/apis/default/hooks/v/1")
    assert "Webhooks" in overview and 'href="/apis/default/hooks/v/1/operations/webhook-new-pet-post"' in overview
    hook = page(client, "/apis/default/hooks/v/1/operations/webhook-new-pet-post")
    assert '<span class="badge badge-info">webhook</span>' in hook and "A pet was added" in hook
