"""Requests checked against the definition in OpenAPI 2.0, 3.0 and 3.1: statuses in Prism's order of
precedence (404, 405, 401, 415, 400, 422) and problem bodies naming every failing field."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.conftest import signed
from tests.sandbox.specs import ORDERS_20, ORDERS_30, ORDERS_31

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # no database behaviour here

BASE = "/sandbox/default/orders/1.0.0"
VALID_GET = {"params": {"status": "open"}, "headers": {"x-trace": "0a1b2c3d"}}


def names(response) -> set[str]:
    return {f"{error['in']} {error['name']}".strip() for error in response.json()["errors"]}


@pytest.fixture
def orders(published, settings):
    ref = published("orders", ORDERS_30)
    return signed(settings, "key-1", ref)


def test_a_valid_call_is_answered_from_the_definition(client, orders):
    response = client.get(f"{BASE}/orders", **VALID_GET)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json(), list)
    head = client.head(f"{BASE}/orders", **VALID_GET)
    assert head.status_code == 200 and head.content == b""


def test_unknown_apis_and_paths_are_404_and_unknown_methods_405_with_allow(client, orders):
    missing = client.get(f"{BASE}/invoices")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    wrong_method = client.delete(f"{BASE}/orders", headers=orders)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "GET, POST"
    assert client.get("/sandbox/default/orders/9.9.9/orders", **VALID_GET).status_code == 404
    assert client.get("/sandbox/default/nothing/1.0.0/orders", **VALID_GET).status_code == 404


def test_every_failing_parameter_is_named_in_one_422(client, orders):
    response = client.get(
        f"{BASE}/orders", params={"limit": "500"}, headers={"x-trace": "nope"}, cookies={"session": "ab"}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422 and body["title"] == "Invalid request"
    assert names(response) == {"query limit", "query status", "header X-Trace", "cookie session"}
    assert {tuple(v["location"]) for v in body["validation"]} >= {("query", "status"), ("header", "X-Trace")}


def test_path_parameters_are_validated(client, orders):
    response = client.get(f"{BASE}/orders/not-a-uuid")
    assert response.status_code == 422
    assert names(response) == {"path orderId"}


def test_security_comes_before_content_type_and_body(client, orders):
    response = client.post(f"{BASE}/orders", content=b"<order/>", headers={"content-type": "application/xml"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("ApiKey")
    assert response.json()["status"] == 401


def test_a_forged_credential_without_the_gateway_signature_is_anonymous(client, orders, settings):
    forged = {**orders, "x-devhub-sandbox-signature": "0" * 64}
    assert client.post(f"{BASE}/orders", json={"item": "tea", "quantity": 1}, headers=forged).status_code == 401
    other_version = signed(settings, "key-1", "api:default/orders", "2.0.0")
    assert client.post(f"{BASE}/orders", json={"item": "tea", "quantity": 1}, headers=other_version).status_code == 401


def test_content_type_comes_before_the_body_and_a_body_that_does_not_parse_is_400(client, orders):
    response = client.post(
        f"{BASE}/orders", content=b"item=tea", headers={**orders, "content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert names(response) == {"header content-type"}
    response = client.post(
        f"{BASE}/orders", content=b"{not json", headers={**orders, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert names(response) == {"body"}


def test_invalid_bodies_name_each_field_and_use_the_operations_400(client, orders):
    """placeOrder defines a 400 and no 422: Prism answers 400 then. Its readOnly id is not asked for."""
    response = client.post(f"{BASE}/orders", json={"item": "t", "quantity": 11}, headers=orders)
    assert response.status_code == 400
    assert names(response) == {"body item", "body quantity"}
    missing = client.post(f"{BASE}/orders", json={"quantity": 1}, headers=orders)
    assert names(missing) == {"body item"} and missing.json()["errors"][0]["code"] == "required"
    assert client.post(f"{BASE}/orders", headers=orders).json()["errors"][0]["detail"] == "a request body is required"
    assert client.post(f"{BASE}/orders", json={"item": "tea", "quantity": 2}, headers=orders).status_code == 201


def test_swagger_2_form_bodies_query_arrays_and_basic_auth(client, published, settings):
    ref = published("orders", ORDERS_20)
    assert client.get(f"{BASE}/orders", params={"tags": "a,b", "limit": "5"}).status_code == 200
    too_many = client.get(f"{BASE}/orders", params={"tags": "a,b,c"})
    assert too_many.status_code == 422 and names(too_many) == {"query tags"}
    unsigned = client.post(f"{BASE}/orders", data={"item": "tea", "quantity": "1"})
    assert unsigned.status_code == 401 and unsigned.headers["www-authenticate"].startswith("Basic")
    headers = signed(settings, "key-1", ref)
    assert client.post(f"{BASE}/orders", data={"item": "tea", "quantity": "1"}, headers=headers).status_code == 201
    invalid = client.post(f"{BASE}/orders", data={"quantity": "0"}, headers=headers)
    assert invalid.status_code == 422
    assert names(invalid) == {"body item", "body quantity"}  # item missing, quantity below its minimum
    assert client.post(f"{BASE}/orders", json={"item": "tea"}, headers=headers).status_code == 415


def test_openapi_3_1_schemas(client, published):
    published("orders", ORDERS_31)
    answer = client.get(f"{BASE}/orders", params={"min": "0.5"})
    assert answer.status_code == 200
    order = answer.json()[0]
    assert order["item"] == "kettle" and order["kind"] == "order" and 0 < order["quantity"] <= 5
    assert client.get(f"{BASE}/orders", params={"min": "0"}).status_code == 422  # exclusiveMinimum: 0
    ok = client.post(f"{BASE}/orders", content=json.dumps({"item": "x", "quantity": 1, "note": None}))
    assert ok.status_code == 415  # no content type: the body cannot be read as the operation's JSON
    created = client.post(f"{BASE}/orders", json={"item": "x", "quantity": 1, "note": None})
    assert created.status_code == 201
    assert client.post(f"{BASE}/orders", json={"item": "x", "quantity": 0, "note": None}).status_code == 422
    assert client.get(f"{BASE}/orders/abc").status_code == 422
    upload = {"file": ("a.txt", b"hello", "text/plain")}
    assert client.post(f"{BASE}/uploads", data={"name": "report", "copies": "2"}, files=upload).status_code == 204
    invalid = client.post(f"{BASE}/uploads", data={"copies": "9"}, files=upload)
    assert invalid.status_code == 422 and names(invalid) == {"body name", "body copies"}


def test_private_apis_are_not_answered_to_unsigned_calls(client, published, settings):
    ref = published("orders", ORDERS_30, visibility="private")
    assert client.get(f"{BASE}/orders", **VALID_GET).status_code == 404
    headers = {**VALID_GET["headers"], **signed(settings, "key-1", ref)}
    assert client.get(f"{BASE}/orders", params=VALID_GET["params"], headers=headers).status_code == 200
