"""The per-process caches: bounded LRUs, keyed by the version's identity, and pages served from them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from devhub.docs import cache
from devhub.docs.cache import LRUCache
from tests.docs.test_reference_support import CORPUS, HTML, load_definition, publish


def test_lru_is_bounded_by_cost_and_count():
    lru = LRUCache(max_cost=10, max_items=3)
    lru.put("a", "A", 4)
    lru.put("b", "B", 4)
    assert lru.get("a") == "A"  # a is now the most recent
    lru.put("c", "C", 4)  # over the cost budget: b (least recent) goes
    assert lru.get("b") is None and lru.get("a") == "A" and lru.get("c") == "C"
    assert lru.cost == 8
    lru.put("d", "D", 1)
    lru.put("e", "E", 1)  # over the count: the least recent goes
    assert len(lru) == 3
    lru.put("huge", "H", 11)
    assert lru.get("huge") is None, "bigger than the whole budget: not kept"
    lru.put("c", "C2", 2)
    assert lru.get("c") == "C2" and lru.cost <= 10


def test_get_or_build_builds_once():
    lru = LRUCache(max_cost=100, max_items=10)
    calls = []

    def build():
        calls.append(1)
        return "value"

    assert lru.get_or_build("k", build, len) == "value"
    assert lru.get_or_build("k", build, len) == "value"
    assert len(calls) == 1 and lru.hits == 1


def test_version_key_changes_with_content():
    one = SimpleNamespace(id=1, api_ref="api:default/a", version="1", content_hash="x")
    other = SimpleNamespace(id=1, api_ref="api:default/a", version="1", content_hash="y")
    assert cache.version_key(one) != cache.version_key(other), "an id reused after a delete is not confused"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


def test_pages_are_served_from_the_cache_without_loading_the_document(db, client, monkeypatch):
    publish(db, "api:default/lookups", "1.0.0", load_definition(CORPUS / "twilio" / "twilio_lookups_v2.json"))
    base = "/apis/default/lookups/v/1.0.0"
    first = client.get(f"{base}/operations/fetch-phone-number", headers=HTML)
    assert first.status_code == 200
    assert len(cache.documents) == 1 and len(cache.fragments) >= 3  # sidebar, content, samples

    import devhub.docs.views as views

    def fail(*args, **kwargs):
        raise AssertionError("a cached page builds nothing")

    monkeypatch.setattr(views, "build_reference", fail)
    monkeypatch.setattr(views, "_render_fragment", fail)
    again = client.get(f"{base}/operations/fetch-phone-number", headers=HTML)
    assert again.status_code == 200
    assert again.text.split('<main id="main"')[1] == first.text.split('<main id="main"')[1]
