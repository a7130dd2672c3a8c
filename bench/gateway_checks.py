"""What the gateway's rules cost per call: route + authenticate + rate limit + operation match + meter record,
in process, against a baseline of one dict lookup.

    python bench/gateway_checks.py [--calls 200000] [--keys 10000]

The snapshot is built in memory (no database) with `--keys` API keys, one subscription each, and a product
whose API has 200 templated operations. Each step is timed alone and then all together, for an API key
(one SHA-256 + compare_digest per call) and for an OAuth2 token (verified once, then an LRU hit). The
memory limiter is timed through its synchronous body (`hit_now`, what `hit` runs without awaiting) and the
Redis limiter, when `--redis URL` is given, with 64 calls in flight (its hits are batched into script
calls; the CPU line includes asyncio's task per call). Budget: ~20-30 µs per call.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from joserfc import jwt  # noqa: E402
from joserfc.jwk import ECKey, KeySet  # noqa: E402

from devhub.gateway.auth import Authenticator, Consumer, limit_key  # noqa: E402
from devhub.gateway.limits import MemoryLimiter, RedisLimiter  # noqa: E402
from devhub.gateway.metering import CallRecord, Meter  # noqa: E402
from devhub.gateway.snapshot import ClientEntry, Grant, KeyEntry, PlanEntry, Route, Snapshot, _build_matchers  # noqa: E402
from devhub.settings import Settings  # noqa: E402


def build(keys: int):
    settings = Settings(secret_key="bench", data_dir=Path("/tmp/devhub-bench"))
    plan = PlanEntry(1, 1, "free", "api_key", False, 1_000_000, None, None, 100_000_000, None, frozenset())
    oauth_plan = PlanEntry(2, 1, "partner", "oauth2", False, 1_000_000, None, None, None, None, frozenset({"read"}))
    route = Route(
        1, "pets", "/pets", {"sandbox": "http://u", "production": None}, None, ("api:default/pets",), scope="/pets"
    )
    key_entries, grants, presented = {}, {}, []
    for app_id in range(1, keys + 1):
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(24)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        key_entries[key_id] = KeyEntry(key_id, digest, app_id, f"app_{app_id}", "sandbox", None, False, None, False)
        grants[(app_id, 1)] = Grant(app_id, f"sub_{app_id}", app_id, f"app_{app_id}", 1, "approved", plan)
        presented.append(f"dh_test_{key_id}_{secret}")
    oauth_app = keys + 1
    grants[(oauth_app, 1)] = Grant(oauth_app, "sub_o", oauth_app, "app_o", 1, "approved", oauth_plan)
    clients = {"dhc_test_1": ClientEntry("dhc_test_1", oauth_app, "app_o", "sandbox", False)}
    rows = [
        (route.scope, "api:default/pets", "1.0", "get", f"/res{i}/{{id}}/items/{{item}}", f"op{i}") for i in range(200)
    ]
    rows.append((route.scope, "api:default/pets", "1.0", "get", "/pets/{id}", "getPet"))
    pair = ECKey.generate_key("P-256", parameters={"kid": "k1", "alg": "ES256"})
    now = int(time.time())
    claims = {
        "iss": settings.base_url.rstrip("/"),
        "aud": settings.oauth_audience,
        "exp": now + 900,
        "nbf": now,
        "client_id": "dhc_test_1",
        "app": "app_o",
        "env": "sandbox",
        "scope": "read",
    }
    token = jwt.encode({"alg": "ES256", "kid": "k1"}, claims, pair)
    jwks = KeySet.import_key_set({"keys": [pair.as_dict(private=False)]})
    snapshot = Snapshot(1, {"/pets": route}, key_entries, clients, grants, _build_matchers(rows), jwks)
    return settings, snapshot, presented, token


def timed(label: str, n: int, fn, baseline: float | None = None) -> float:
    start = time.perf_counter()
    fn(n)
    per_call = (time.perf_counter() - start) / n * 1e6
    extra = f"  (+{per_call - baseline:.2f} over baseline)" if baseline is not None else ""
    print(f"{label:<52} {per_call:7.2f} µs{extra}")
    return per_call


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--redis", default=None, help="also time the Redis limiter against this URL")
    args = parser.parse_args()
    settings, snapshot, presented, token = build(args.keys)
    auth, limiter = Authenticator(settings), MemoryLimiter()
    meter = Meter(engine=None, max_buffer=10**9)
    headers = [{"x-api-key": key, "accept": "*/*", "user-agent": "bench"} for key in presented]
    bearer = {"authorization": f"Bearer {token}", "accept": "*/*"}
    count = len(headers)
    table = {key: i for i, key in enumerate(presented)}
    now = time.time()

    def baseline(n):
        for i in range(n):
            table.get(presented[i % count])

    def route(n):
        for _ in range(n):
            snapshot.route_for("/pets/pets/42")

    def key_auth(n):
        for i in range(n):
            auth.authenticate(snapshot, snapshot.routes["/pets"], "GET", headers[i % count], {}, now)

    def jwt_auth(n):
        for _ in range(n):
            auth.authenticate(snapshot, snapshot.routes["/pets"], "GET", bearer, {}, now)

    consumer = auth.authenticate(snapshot, snapshot.routes["/pets"], "GET", headers[0], {}, now)
    assert isinstance(consumer, Consumer), consumer

    def limit(n):
        for i in range(n):
            limiter.hit_now(f"s{i % count}", consumer.grant.plan, now)

    def operation(n):
        for _ in range(n):
            snapshot.operation_for("/pets", "GET", "/res199/7/items/9")

    def record(n):
        for _ in range(n):
            meter.record(CallRecord(now, 1, "a", 1, "k", 1, "api", "1.0", "op", "GET", "/p", 200, 1.0, 0, 10))
        meter.buffer.clear()

    def everything(n, bearer_token=False):
        routes = snapshot.route_for
        for i in range(n):
            found, rest = routes("/pets/pets/42")
            c = auth.authenticate(snapshot, found, "GET", bearer if bearer_token else headers[i % count], {}, now)
            limiter.hit_now(limit_key(c, "127.0.0.1"), c.grant.plan, now)
            api, version, op = snapshot.operation_for(found.scope, "GET", rest)
            g = c.grant
            meter.record(CallRecord(now, c.app_id, c.app_uid, g.subscription_id, c.credential, found.product_id,
                                    api, version, op, "GET", rest, 200, 1.0, 0, 10, c.environment, "r"))  # fmt: skip
        meter.buffer.clear()

    n = args.calls
    print(f"{n} calls, {args.keys} keys, 201 operations, Python {sys.version.split()[0]}")
    base = timed("baseline: one dict lookup", n, baseline)
    timed("route_for (longest prefix)", n, route, base)
    timed("authenticate: API key (sha256 + compare_digest)", n, key_auth, base)
    timed("authenticate: OAuth2 JWT (cached after the first)", n, jwt_auth, base)
    timed("MemoryLimiter.hit_now (second + day windows)", n, limit, base)
    timed("operation_for (201 templates, last one)", n, operation, base)
    timed("Meter.record", n, record, base)
    timed("all: route + key auth + limit + operation + record", n, everything, base)
    timed("all, with an OAuth2 token", n, lambda k: everything(k, True), base)
    start = time.perf_counter()
    jwt.decode(token, snapshot.jwks, algorithms=["ES256"])
    print(f"{'one uncached ES256 verification':<52} {(time.perf_counter() - start) * 1e6:7.0f} µs")
    if args.redis:

        async def redis_hits(k: int) -> float:
            redis_limiter = RedisLimiter(args.redis, prefix=f"bench:{secrets.token_hex(4)}:")
            await redis_limiter.hit("warm", consumer.grant.plan, now)
            wall, cpu = time.perf_counter(), time.process_time()
            for start in range(0, k, 64):  # 64 calls in flight, as a busy gateway process would have
                await asyncio.gather(
                    *(redis_limiter.hit(f"s{i}", consumer.grant.plan, now) for i in range(start, start + 64))
                )
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{'RedisLimiter.hit, 64 in flight: wall per call':<52} {wall / k * 1e6:7.2f} µs")
            print(f"{'RedisLimiter.hit, 64 in flight: gateway CPU per call':<52} {cpu / k * 1e6:7.2f} µs")
            print(f"{'  (hits per script call)':<52} {k / redis_limiter.batches:7.1f}")
            async for name in redis_limiter._redis.scan_iter(match=f"{redis_limiter.prefix}*", count=1000):
                await redis_limiter._redis.delete(name)  # leave the server as it was
            await redis_limiter.close()

        asyncio.run(redis_hits(20_480))


if __name__ == "__main__":
    main()
