"""Rate limits and quotas per subscription (or per caller address on keyless plans), exact under
concurrency, in memory for one gateway process or in Redis for several.

Why fixed windows aligned to the clock (second, minute, hour, UTC day, UTC calendar month): a quota "per
day" or "per month" is what plans promise and what invoices count, and a fixed window is exact: a call is
counted in exactly one window of each size, the count is one integer per window, and `RateLimit-Reset` is
the time to the window's end, the same for every process. The cost is the known burst at a boundary (up
to twice the rate across two adjacent windows), acceptable for rates and meaningless for quotas; sliding
windows or token buckets would make quotas approximate or need more state per key.

A call is counted only when every window the plan sets still has room, so a refused call uses no quota.
The memory limiter is exact because `hit` never awaits: in one event loop it runs to completion. The Redis
limiter does the check-and-count of all windows in one Lua script (EVALSHA, loaded once), atomic on the
server, so several gateway processes share the same counts. When Redis fails, `gateway_redis_failure`
decides: let the call through (open) or refuse it (closed, `reason="limiter_unavailable"`: answer 503);
either way the failure is counted (`errors`) and logged at most once a minute.
"""

from __future__ import annotations

import calendar
import logging
import time
from dataclasses import dataclass

from devhub.gateway.snapshot import WINDOWS, PlanEntry
from devhub.settings import Settings

log = logging.getLogger(__name__)

UNAVAILABLE = "limiter_unavailable"
LOG_EVERY_SECONDS = 60.0
WINDOW_SECONDS = dict(WINDOWS)


@dataclass
class LimitResult:
    allowed: bool
    limit: int | None  # of the tightest window; None when the plan sets none
    remaining: int | None
    reset: int  # seconds until that window ends
    retry_after: int | None  # when refused: seconds until the refusing window ends
    reason: str | None  # the refusing window (e.g. "quota_per_day"), or UNAVAILABLE


UNLIMITED = LimitResult(True, None, None, 0, None, None)


def headers(result: LimitResult) -> list[tuple[str, str]]:
    """`RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, and `Retry-After` when refused."""
    out = []
    if result.limit is not None:
        out = [
            ("RateLimit-Limit", str(result.limit)),
            ("RateLimit-Remaining", str(result.remaining)),
            ("RateLimit-Reset", str(result.reset)),
        ]
    if not result.allowed and result.retry_after is not None:
        out.append(("Retry-After", str(result.retry_after)))
    return out


def _month(now: float) -> tuple[int, int]:
    """(bucket number, seconds left) of the UTC calendar month containing `now`."""
    t = time.gmtime(now)
    days = calendar.monthrange(t.tm_year, t.tm_mon)[1]
    end = calendar.timegm((t.tm_year, t.tm_mon, days, 0, 0, 0)) + 86400
    return t.tm_year * 12 + t.tm_mon - 1, max(1, int(end - now + 0.999))


def _windows(plan: PlanEntry, now: float) -> list[tuple[str, int, int, int]]:
    """(name, bucket, limit, seconds left) per window the plan sets."""
    out = []
    for name, seconds, limit in plan.windows:
        if seconds:
            bucket = int(now // seconds)
            left = max(1, int((bucket + 1) * seconds - now + 0.999))
        else:
            bucket, left = _month(now)
        out.append((name, bucket, limit, left))
    return out


def _result(windows: list[tuple[str, int, int, int]], counts: list[int], allowed: bool) -> LimitResult:
    """Headers describe the window with the fewest calls left (the soonest to end among equals)."""
    tightest, retry, reason = None, 0, None
    for (name, _, limit, left), count in zip(windows, counts, strict=True):
        remaining = max(0, limit - count)
        if tightest is None or (remaining, left) < (tightest[1], tightest[2]):
            tightest = (limit, remaining, left)
        if not allowed and count + 1 > limit and left > retry:
            retry, reason = left, name
    limit, remaining, left = tightest
    if allowed:
        return LimitResult(True, limit, remaining, left, None, None)
    return LimitResult(False, limit, 0, left, retry, reason)


class MemoryLimiter:
    """Counts in this process's memory: exact for one gateway process (hit never awaits)."""

    errors = 0  # the same counter as RedisLimiter's, always 0 here

    def __init__(self, max_keys: int = 200_000) -> None:
        self._counts: dict[tuple[str, str], list[int]] = {}  # (key, window) → [bucket, count]
        self.max_keys = max_keys

    async def hit(self, key: str, plan: PlanEntry, now: float) -> LimitResult:
        return self.hit_now(key, plan, now)

    def hit_now(self, key: str, plan: PlanEntry, now: float) -> LimitResult:
        """The synchronous body of `hit` (no await inside: atomic within an event loop)."""
        if not plan.windows:
            return UNLIMITED
        windows = _windows(plan, now)
        counts_table = self._counts
        slots, counts, allowed = [], [], True
        for name, bucket, limit, _ in windows:
            slot = counts_table.get((key, name))
            if slot is None:
                if len(counts_table) >= self.max_keys:
                    self._sweep(now)
                slot = counts_table[(key, name)] = [bucket, 0]
            elif slot[0] != bucket:
                slot[0], slot[1] = bucket, 0
            slots.append(slot)
            counts.append(slot[1])
            if slot[1] >= limit:
                allowed = False
        if allowed:
            for slot in slots:
                slot[1] += 1
            counts = [slot[1] for slot in slots]
        return _result(windows, counts, allowed)

    def _sweep(self, now: float) -> None:
        """Forget counters of windows that have ended (keeps memory bounded with many keyless callers)."""
        month = _month(now)[0]
        current = {name: int(now // seconds) if seconds else month for name, seconds in WINDOW_SECONDS.items()}
        stale = [slot_key for slot_key, (bucket, _) in self._counts.items() if bucket != current[slot_key[1]]]
        for slot_key in stale:
            del self._counts[slot_key]

    async def close(self) -> None:
        return None


# KEYS: one counter per window. ARGV: the limits, then the expiry (seconds) of each counter.
# Returns {allowed (1|0), count of each window after the call}.
LUA = """
local n = #KEYS
local counts = redis.call('MGET', unpack(KEYS))
local allowed = 1
for i = 1, n do
  local c = tonumber(counts[i]) or 0
  counts[i] = c
  if c + 1 > tonumber(ARGV[i]) then allowed = 0 end
end
if allowed == 1 then
  for i = 1, n do
    counts[i] = redis.call('INCR', KEYS[i])
    if counts[i] == 1 then redis.call('EXPIRE', KEYS[i], ARGV[n + i]) end
  end
end
table.insert(counts, 1, allowed)
return counts
"""


class RedisLimiter:
    """Counts in Redis, shared by every gateway process pointing at it; one atomic script per call."""

    def __init__(
        self, url: str, failure: str = "open", prefix: str = "devhub:rl:", timeout: float = 0.5, connections: int = 64
    ) -> None:
        import redis.asyncio as redis

        if failure not in ("open", "closed"):
            raise ValueError("failure must be 'open' or 'closed'")
        self.failure = failure
        self.prefix = prefix
        self.errors = 0  # Redis failures (a metric)
        self._last_log = 0.0
        # A blocking pool: a burst of concurrent calls waits (up to `timeout`) for one of `connections`
        # connections instead of failing with "too many connections" (which would apply the failure policy).
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=connections,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        self._redis = redis.Redis(connection_pool=pool)
        self._script = self._redis.register_script(LUA)  # EVALSHA; loaded on the first NOSCRIPT only

    async def hit(self, key: str, plan: PlanEntry, now: float) -> LimitResult:
        if not plan.windows:
            return UNLIMITED
        windows = _windows(plan, now)
        # {key} is a hash tag: all windows of one key live in one Redis Cluster slot, as the script needs.
        keys = [f"{self.prefix}{{{key}}}:{name}:{bucket}" for name, bucket, _, _ in windows]
        args = [limit for _, _, limit, _ in windows] + [left + 1 for _, _, _, left in windows]
        try:
            reply = await self._script(keys=keys, args=args)
        except Exception as exc:  # connection refused, timeout, READONLY, OOM...: the failure policy decides
            return self._failed(exc, now)
        return _result(windows, [int(c) for c in reply[1:]], reply[0] == 1)

    def _failed(self, exc: Exception, now: float) -> LimitResult:
        self.errors += 1
        if now - self._last_log >= LOG_EVERY_SECONDS:
            self._last_log = now
            log.error(
                "rate limiter: Redis unavailable (%s: %s); failing %s (%d failures so far)",
                type(exc).__name__,
                exc,
                self.failure,
                self.errors,
            )
        if self.failure == "open":
            return LimitResult(True, None, None, 0, None, UNAVAILABLE)
        return LimitResult(False, None, None, 1, 1, UNAVAILABLE)

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


def make_limiter(settings: Settings) -> MemoryLimiter | RedisLimiter:
    if settings.redis_url:
        return RedisLimiter(settings.redis_url, failure=settings.gateway_redis_failure)
    return MemoryLimiter()
