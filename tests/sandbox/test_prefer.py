"""Prism's `Prefer` header: code=, example=, dynamic=true; and answers that do not change between calls."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.sandbox.conftest import signed
from tests.sandbox.specs import ORDERS_30

pytestmark = pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # no database behaviour here

BASE = "/sandbox/default/orders/1.0.0"
ORDER_ID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


@pytest.fixture
def orders(published, settings):
    return signed(settings, "key-1", published("orders", ORDERS_30))


def test_static_answers_are_generated_from_the_schema_and_repeat(client, orders):
    first = client.get(f"{BASE}/orders/{ORDER_ID}")
    assert first.status_code == 200
    order = first.json()
    uuid.UUID(order["id"])
    assert 1 <= order["quantity"] <= 10 and order["status"] == "open"
    assert re.fullmatch(r"ORD-[0-9]{6}", order["reference"])
    assert client.get(f"{BASE}/orders/{ORDER_ID}").json() == order


def test_prefer_code_answers_that_response_with_its_example(client, orders):
    response = client.get(f"{BASE}/orders/{ORDER_ID}", headers={"prefer": "code=404"})
    assert response.status_code == 404
    assert response.json() == {"message": "no such order"}
    unknown = client.get(f"{BASE}/orders/{ORDER_ID}", headers={"prefer": "code=418"})
    assert unknown.status_code == 400 and unknown.json()["title"] == "No such response"
    assert client.get(f"{BASE}/orders/{ORDER_ID}", headers={"accept": "application/xml"}).status_code == 406


def test_prefer_example_picks_a_named_example(client, orders):
    headers = {**orders, "prefer": "example=large"}
    response = client.post(
        f"{BASE}/orders", json={"item": "tea", "quantity": 1}, headers={**headers, "prefer": "code=201, example=large"}
    )
    assert response.status_code == 201 and response.json()["item"] == "coffee"
    missing = client.post(
        f"{BASE}/orders", json={"item": "tea", "quantity": 1}, headers={**orders, "prefer": "code=201, example=nope"}
    )
    assert missing.status_code == 404 and "small, large" in missing.json()["detail"]


def test_prefer_dynamic_draws_per_request_and_repeats_for_the_same_request(client, orders):
    def get(path):
        return client.get(f"{BASE}/orders/{path}", headers={"prefer": "dynamic=true"}).json()

    other = "6fa459ea-ee8a-4ca4-894e-db77e160355e"
    assert get(ORDER_ID) == get(ORDER_ID)
    assert get(ORDER_ID) != get(other)
    for order in (get(ORDER_ID), get(other)):
        assert 1 <= order["quantity"] <= 10 and order["status"] in ("open", "closed")
        assert re.fullmatch(r"ORD-[0-9]{6}", order["reference"])
