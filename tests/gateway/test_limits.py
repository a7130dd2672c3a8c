"""Rate limits and quotas: exact under concurrency in memory and in Redis, shared across limiters through
Redis, windows that refuse without counting, headers, and the Redis failure policy."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest

from devhub.gateway.limits import MemoryLimiter, RedisLimiter, headers, make_limiter
from devhub.gateway.snapshot import PlanEntry
from devhub.settings import Settings

T0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC, on a minute boundary


def plan(**limits) -> PlanEntry:
    values = dict.fromkeys(
        ("rate_per_second", "rate_per_minute", "rate_per_hour", "quota_per_day", "quota_per_month"), None
    )
    values.update(limits)
    return PlanEntry(1, 1, "p", "api_key", False, scopes=frozenset(), **values)


@pytest.fixture
def prefix(redis_url):
    """A key prefix of this test's own; its keys are deleted afterwards (never anyone else's)."""
    import redis

    value = f"devhub-test:{uuid.uuid4().hex}:"
    yield value
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{value}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


async def _concurrent(limiters, key, entry, n, now=T0 + 0.5):
    results = await asyncio.gather(*(limiters[i % len(limiters)].hit(key, entry, now) for i in range(n)))
    return sum(result.allowed for result in results), results


def test_memory_limiter_is_exact_under_concurrency():
    async def scenario():
        limiter = MemoryLimiter()
        allowed, results = await _concurrent([limiter], "s1", plan(rate_per_second=50), 200)
        assert allowed == 50
        refused = [r for r in results if not r.allowed]
        assert refused[0].reason == "rate_per_second" and refused[0].retry_after == 1 and refused[0].remaining == 0
        assert (await limiter.hit("s2", plan(rate_per_second=50), T0 + 0.5)).allowed  # another key: its own count
        assert (await limiter.hit("s1", plan(rate_per_second=50), T0 + 1.0)).allowed  # the next second

    asyncio.run(scenario())


def test_redis_limiters_are_exact_under_concurrency_and_share_the_count(redis_url, prefix):
    async def scenario():
        first, second = RedisLimiter(redis_url, prefix=prefix), RedisLimiter(redis_url, prefix=prefix)
        try:
            allowed, _ = await _concurrent([first], "s1", plan(rate_per_second=50), 200)
            assert allowed == 50
            allowed, _ = await _concurrent([first, second], "s2", plan(rate_per_minute=50), 200)
            assert allowed == 50
            assert not (await second.hit("s2", plan(rate_per_minute=50), T0 + 59.9)).allowed
            assert (await second.hit("s2", plan(rate_per_minute=50), T0 + 60.0)).allowed
            assert first.errors == second.errors == 0
        finally:
            await first.close()
            await second.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_every_window_must_allow_and_refused_calls_are_not_counted(kind, request):
    async def scenario():
        if kind == "memory":
            limiter = MemoryLimiter()
        else:
            limiter = RedisLimiter(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("prefix"))
        entry = plan(rate_per_second=2, quota_per_day=3)
        try:
            first = await limiter.hit("k", entry, T0)
            assert first.allowed and (first.limit, first.remaining) == (2, 1) and first.reset == 1
            assert (await limiter.hit("k", entry, T0 + 0.1)).allowed
            third = await limiter.hit("k", entry, T0 + 0.2)
            assert not third.allowed and third.reason == "rate_per_second" and third.retry_after == 1
            fourth = await limiter.hit("k", entry, T0 + 1.0)  # the third call was not counted in the day
            assert fourth.allowed and (fourth.limit, fourth.remaining) == (3, 0)
            fifth = await limiter.hit("k", entry, T0 + 2.0)
            assert not fifth.allowed and fifth.reason == "quota_per_day"
            assert fifth.retry_after == 16 * 3600 - 2  # until midnight UTC
            assert ("Retry-After", str(fifth.retry_after)) in headers(fifth)
            month = plan(quota_per_month=1)
            assert (await limiter.hit("m", month, T0)).allowed
            refused = await limiter.hit("m", month, T0 + 86400)
            assert not refused.allowed and refused.retry_after == 17 * 86400 - 8 * 3600 - 86400
            assert (await limiter.hit("m", month, T0 + 17 * 86400)).allowed  # 2027-02-01 08:00
            unlimited = await limiter.hit("u", plan(), T0)
            assert unlimited.allowed and headers(unlimited) == []
        finally:
            await limiter.close()

    asyncio.run(scenario())


def test_headers():
    async def scenario():
        result = await MemoryLimiter().hit("k", plan(rate_per_minute=10, quota_per_day=1000), T0 + 15)
        assert headers(result) == [("RateLimit-Limit", "10"), ("RateLimit-Remaining", "9"), ("RateLimit-Reset", "45")]

    asyncio.run(scenario())


@pytest.mark.parametrize("failure", ["open", "closed"])
def test_unreachable_redis_follows_the_failure_policy_counts_and_logs_once(failure, caplog):
    async def scenario():
        limiter = RedisLimiter("redis://127.0.0.1:1/0", failure=failure)  # nothing listens on port 1
        try:
            results = [await limiter.hit("k", plan(rate_per_second=5), T0 + i) for i in range(3)]
        finally:
            await limiter.close()
        return limiter, results

    with caplog.at_level(logging.ERROR, logger="devhub.gateway.limits"):
        limiter, results = asyncio.run(scenario())
    assert limiter.errors == 3
    assert all(r.allowed == (failure == "open") and r.reason == "limiter_unavailable" for r in results)
    assert len([r for r in caplog.records if "Redis unavailable" in r.getMessage()]) == 1
    if failure == "closed":
        assert ("Retry-After", "1") in headers(results[0])


def test_make_limiter_follows_the_settings(tmp_path):
    assert isinstance(make_limiter(Settings(data_dir=tmp_path, secret_key="s")), MemoryLimiter)
    chosen = make_limiter(Settings(data_dir=tmp_path, secret_key="s", redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(chosen, RedisLimiter) and chosen.failure == "open"
    asyncio.run(chosen.close())


def test_redis_limiter_pauses_after_a_failure_then_uses_redis_again(redis_url, prefix):
    async def scenario():
        limiter = RedisLimiter(redis_url, prefix=prefix, failure="closed")
        try:
            limiter._down_until = time.monotonic() + 60  # as after a failure: the policy answers, Redis is left alone
            refused = await limiter.hit("k", plan(rate_per_second=5), T0)
            assert not refused.allowed and refused.reason == "limiter_unavailable" and limiter.batches == 0
            limiter._down_until = time.monotonic() - 1  # the pause is over
            assert (await limiter.hit("k", plan(rate_per_second=5), T0)).allowed and limiter.batches == 1
        finally:
            await limiter.close()

    asyncio.run(scenario())
