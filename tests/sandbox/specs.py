"""Small definitions in each OpenAPI version, written to exercise every part of the sandbox."""

from __future__ import annotations

ORDER = {
    "type": "object",
    "required": ["id", "item", "quantity"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "readOnly": True},
        "item": {"type": "string", "minLength": 2},
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10},
        "note": {"type": "string", "nullable": True},
        "placed": {"type": "string", "format": "date-time"},
        "status": {"type": "string", "enum": ["open", "closed"]},
        "reference": {"type": "string", "pattern": "^ORD-[0-9]{6}$"},
    },
}


def _json(schema: dict, **extra) -> dict:
    return {"application/json": {"schema": schema, **extra}}


ORDERS_30 = {
    "openapi": "3.0.3",
    "info": {"title": "Orders", "version": "1.0.0"},
    "components": {
        "securitySchemes": {"key": {"type": "apiKey", "in": "header", "name": "X-Api-Key"}},
        "schemas": {"Order": ORDER, "Error": {"type": "object", "properties": {"message": {"type": "string"}}}},
    },
    "paths": {
        "/orders": {
            "get": {
                "operationId": "listOrders",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50}},
                    {
                        "name": "status",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "enum": ["open", "closed"]},
                    },
                    {
                        "name": "X-Trace",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string", "pattern": "^[a-f0-9]{8}$"},
                    },
                    {"name": "session", "in": "cookie", "schema": {"type": "string", "minLength": 4}},
                ],
                "responses": {
                    "200": {
                        "description": "the orders",
                        "content": _json({"type": "array", "items": {"$ref": "#/components/schemas/Order"}}),
                    }
                },
            },
            "post": {
                "operationId": "placeOrder",
                "security": [{"key": []}],
                "requestBody": {"required": True, "content": _json({"$ref": "#/components/schemas/Order"})},
                "responses": {
                    "201": {
                        "description": "placed",
                        "content": _json(
                            {"$ref": "#/components/schemas/Order"},
                            examples={
                                "small": {
                                    "value": {
                                        "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                                        "item": "tea",
                                        "quantity": 1,
                                    }
                                },
                                "large": {
                                    "value": {
                                        "id": "6fa459ea-ee8a-3ca4-894e-db77e160355e",
                                        "item": "coffee",
                                        "quantity": 9,
                                    }
                                },
                            },
                        ),
                    },
                    "400": {"description": "invalid", "content": _json({"$ref": "#/components/schemas/Error"})},
                },
            },
        },
        "/orders/{orderId}": {
            "parameters": [
                {"name": "orderId", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
            ],
            "get": {
                "operationId": "getOrder",
                "responses": {
                    "200": {"description": "the order", "content": _json({"$ref": "#/components/schemas/Order"})},
                    "404": {
                        "description": "no such order",
                        "content": _json(
                            {"$ref": "#/components/schemas/Error"},
                            examples={"missing": {"value": {"message": "no such order"}}},
                        ),
                    },
                },
            },
            "put": {
                "operationId": "replaceOrder",
                "security": [{"key": []}],
                "requestBody": {"required": True, "content": _json({"$ref": "#/components/schemas/Order"})},
                "responses": {
                    "200": {"description": "replaced", "content": _json({"$ref": "#/components/schemas/Order"})}
                },
            },
            "patch": {
                "operationId": "changeOrder",
                "security": [{"key": []}],
                "requestBody": {"content": {"application/merge-patch+json": {"schema": {"type": "object"}}}},
                "responses": {
                    "200": {"description": "changed", "content": _json({"$ref": "#/components/schemas/Order"})}
                },
            },
            "delete": {
                "operationId": "cancelOrder",
                "security": [{"key": []}],
                "responses": {"204": {"description": "cancelled"}},
            },
        },
    },
}

ORDERS_20 = {
    "swagger": "2.0",
    "info": {"title": "Orders", "version": "1.0.0"},
    "consumes": ["application/x-www-form-urlencoded"],
    "produces": ["application/json"],
    "securityDefinitions": {"basic": {"type": "basic"}},
    "definitions": {
        "Order": {
            "type": "object",
            "required": ["item", "quantity"],
            "properties": {
                "item": {"type": "string"},
                "quantity": {"type": "integer", "minimum": 1},
                "note": {"type": "string", "x-nullable": True},
            },
        }
    },
    "paths": {
        "/orders": {
            "get": {
                "parameters": [
                    {
                        "name": "tags",
                        "in": "query",
                        "type": "array",
                        "items": {"type": "string"},
                        "collectionFormat": "csv",
                        "maxItems": 2,
                    },
                    {"name": "limit", "in": "query", "type": "integer", "maximum": 50},
                ],
                "responses": {
                    "200": {
                        "description": "orders",
                        "schema": {"type": "array", "items": {"$ref": "#/definitions/Order"}},
                    }
                },
            },
            "post": {
                "security": [{"basic": []}],
                "parameters": [
                    {"name": "item", "in": "formData", "type": "string", "required": True},
                    {"name": "quantity", "in": "formData", "type": "integer", "required": True, "minimum": 1},
                ],
                "responses": {"201": {"description": "placed", "schema": {"$ref": "#/definitions/Order"}}},
            },
        }
    },
}

ORDERS_31 = {
    "openapi": "3.1.0",
    "info": {"title": "Orders", "version": "1.0.0"},
    "components": {
        "schemas": {
            "Order": {
                "type": "object",
                "required": ["item", "quantity", "note"],
                "properties": {
                    "item": {"type": "string", "examples": ["kettle"]},
                    "quantity": {"type": "number", "exclusiveMinimum": 0, "maximum": 5},
                    "note": {"type": ["string", "null"]},
                    "kind": {"const": "order"},
                },
            }
        }
    },
    "paths": {
        "/orders": {
            "get": {
                "parameters": [{"name": "min", "in": "query", "schema": {"type": "number", "exclusiveMinimum": 0}}],
                "responses": {
                    "200": {
                        "description": "orders",
                        "content": _json({"type": "array", "items": {"$ref": "#/components/schemas/Order"}}),
                    }
                },
            },
            "post": {
                "requestBody": {"required": True, "content": _json({"$ref": "#/components/schemas/Order"})},
                "responses": {
                    "201": {"description": "placed", "content": _json({"$ref": "#/components/schemas/Order"})}
                },
            },
        },
        "/uploads": {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["name"],
                                "properties": {
                                    "name": {"type": "string", "minLength": 2},
                                    "copies": {"type": "integer", "maximum": 3},
                                    "file": {"type": "string", "format": "binary"},
                                },
                            }
                        }
                    },
                },
                "responses": {"204": {"description": "stored"}},
            }
        },
        "/orders/{orderId}": {
            "get": {
                "parameters": [{"name": "orderId", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "order", "content": _json({"$ref": "#/components/schemas/Order"})}
                },
            }
        },
    },
}

MESSAGE = {
    "type": "object",
    "properties": {
        "sid": {"type": "string", "pattern": "^SM[0-9a-f]{32}$"},
        "to": {"type": "string"},
        "body": {"type": "string"},
        "status_callback": {"type": "string", "format": "uri", "nullable": True},
    },
}
_FORM = {
    "application/x-www-form-urlencoded": {
        "schema": {
            "type": "object",
            "properties": {"To": {"type": "string"}, "Body": {"type": "string"}, "StatusCallback": {"type": "string"}},
        }
    }
}
_ACCOUNT = {
    "name": "AccountSid",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^AC[0-9a-f]{32}$"},
}

# Twilio's shape: `.json` suffixes, form bodies in PascalCase, list envelopes, POST to an item to update it.
MESSAGES = {
    "openapi": "3.0.1",
    "info": {"title": "Messages", "version": "1.0.0"},
    "paths": {
        "/Accounts/{AccountSid}/Messages.json": {
            "parameters": [_ACCOUNT],
            "get": {
                "responses": {
                    "200": {
                        "description": "a page of messages",
                        "content": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "messages": {"type": "array", "items": MESSAGE},
                                    "page": {"type": "integer"},
                                },
                            }
                        ),
                    }
                }
            },
            "post": {
                "requestBody": {"content": _FORM},
                "responses": {"201": {"description": "sent", "content": _json(MESSAGE)}},
            },
        },
        "/Accounts/{AccountSid}/Messages/{Sid}.json": {
            "parameters": [_ACCOUNT, {"name": "Sid", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": {"responses": {"200": {"description": "a message", "content": _json(MESSAGE)}}},
            "post": {
                "requestBody": {"content": _FORM},
                "responses": {"200": {"description": "updated", "content": _json(MESSAGE)}},
            },
            "delete": {"responses": {"204": {"description": "deleted"}}},
        },
    },
}
