"""One gateway call, start to end: route → authenticate → limit → upstream → stream back → meter → metrics.

`Gateway.handle` is the `server.GatewayServer` handler. Everything it consults per call is in memory (the
access snapshot, the limiter's counters or one Redis round trip, the breaker, the connection pool); the
database is read by the snapshot poller and written by the meter's batches, both off the request path.

Errors are RFC 9457 problem documents (`application/problem+json`): 404 no route, 401/403 from
authentication (with `WWW-Authenticate`), 429 over a limit (with `Retry-After`), 502 upstream refused,
reset or malformed, 503 breaker open, limits store down (fail-closed) or no upstream for the environment,
504 connect or read timeout. Every call, refusals included, becomes one call record with its request id
and whatever identity checked out (analytics counts the refusals too).

A product without a sandbox URL sends sandbox calls to the portal's built-in sandbox
(`{DEVHUB_SANDBOX_URL or base_url}/sandbox/{namespace}/{name}/{version}{path}`, the version of the matched
operation, else the route's first API version), signed for that credential and version
(`devhub.sandbox.trust`) so the sandbox serves each developer's own state only to the gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from random import getrandbits
from urllib.parse import parse_qsl, quote, urlencode

from devhub.gateway import auth as auth_module
from devhub.gateway.limits import UNAVAILABLE
from devhub.gateway.metrics import CONTENT_TYPE, GatewayMetrics
from devhub.gateway.server import Request
from devhub.gateway.snapshot import NO_OPERATION
from devhub.gateway.upstream import CircuitBreaker, Origin, UpstreamError, UpstreamPool, parse_origin
from devhub.sandbox.trust import SIGNATURE_HEADER, gateway_signature

log = logging.getLogger("devhub.gateway")

# Hop-by-hop (RFC 9110 §7.6.1) plus what the gateway sets itself on the way up.
_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"expect",  # the gateway answers 100-continue itself and streams the body anyway
    }
)
_SET_UP = frozenset({b"host", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE"})
_TRACEPARENT = re.compile(rb"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_REQUEST_ID = re.compile(rb"^[\x21-\x7e]{1,200}$")
_PROBLEM = b"application/problem+json"
# Small batches often rather than one big batch a second: the flush's Python work holds the GIL, and at
# thousands of calls a second a big batch stalls the event loop long enough to show in p99. Measured at half
# of one worker's maximum (docs/benchmarks.md): p99 19.6 ms flushing every 1 s, 6-7 ms every 0.1 s, 4.7-4.9 ms
# every 0.03 s, with the same throughput. An idle gateway's flush writes nothing (no transaction).
METER_FLUSH_SECONDS = 0.03


def _host_name(host: bytes) -> str:
    """The Host header as products list it: lower case, without port or trailing dot."""
    name = host.decode("latin-1").strip().lower()
    if name.startswith("["):  # an IPv6 literal
        return name.partition("]")[0] + "]"
    return name.partition(":")[0].rstrip(".")


def _connection_named(headers: list[tuple[bytes, bytes]]) -> frozenset[bytes] | None:
    names = None
    for name, value in headers:
        if name == b"connection":
            names = (names or set()) | {part.strip().lower() for part in value.split(b",") if part.strip()}
    return frozenset(names) if names else None


class Gateway:
    """The data plane of one process: its snapshot, authenticator, limiter, meter, pool and breakers."""

    def __init__(self, settings, engine=None) -> None:
        self.settings = settings
        self._engine = engine
        self._database = None
        self.metrics = GatewayMetrics()
        self.pool = UpstreamPool(settings.gateway_connect_timeout, settings.gateway_read_timeout)
        self.breakers: dict[tuple, CircuitBreaker] = {}
        self._tasks: list[asyncio.Task] = []
        self.store = self.auth = self.limiter = self.meter = None
        self._sandbox_origin = parse_origin((settings.sandbox_url or settings.base_url).rstrip("/"))
        self._sandbox_secret = settings.resolved_secret_key

    async def start(self) -> None:
        from devhub.gateway.auth import Authenticator
        from devhub.gateway.limits import headers, make_limiter
        from devhub.gateway.metering import CallRecord, Meter
        from devhub.gateway.snapshot import SnapshotStore

        if self._engine is None:
            from devhub.db import Database

            self._database = Database(self.settings.resolved_database_url)
            self._engine = self._database.engine
        self.store = await asyncio.to_thread(SnapshotStore, self._engine, self.settings.gateway_poll_seconds)
        self.auth = Authenticator(self.settings)
        self.limiter = make_limiter(self.settings)
        self.meter = Meter(self._engine, flush_seconds=METER_FLUSH_SECONDS)
        self._limit_headers, self._call_record = headers, CallRecord
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.store.watch()), loop.create_task(self.meter.run())]

    async def close(self) -> None:
        """After the server stopped: stop polling, flush the metering buffer, close connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.meter is not None:
            await self.meter.close()
        closer = getattr(self.limiter, "close", None)
        if closer is not None:
            result = closer()
            if asyncio.iscoroutine(result):
                await result
        self.pool.close()
        if self._database is not None:
            self._database.dispose()

    def breaker(self, origin: Origin) -> CircuitBreaker:
        breaker = self.breakers.get(origin.key)
        if breaker is None:
            settings = self.settings
            breaker = self.breakers[origin.key] = CircuitBreaker(
                settings.gateway_breaker_failures, settings.gateway_breaker_seconds
            )
        return breaker

    # --- the call -------------------------------------------------------------------------------------------
    async def handle(self, request: Request) -> None:
        started = time.perf_counter()
        target = request.target
        raw_path, _, raw_query = target.partition(b"?")
        if raw_path == b"/metrics":
            self._sync_gauges()
            request.respond(200, [(b"content-type", CONTENT_TYPE)], self.metrics.render())
            return
        if raw_path == b"/healthz":
            request.respond(200, [(b"content-type", b"application/json")], b'{"status":"ok"}')
            return

        request_id = trace = host = connection = None
        for name, value in request.headers:
            if name == b"x-request-id":
                request_id = value
            elif name == b"traceparent":
                trace = value
            elif name == b"host":
                host = value
            elif name == b"connection":
                connection = True
        if request_id is None or not _REQUEST_ID.match(request_id):
            request_id = b"%032x" % getrandbits(128)  # an id, not a secret: no system call for randomness
        extra = [(b"x-request-id", request_id)]

        snapshot = self.store.current
        path = raw_path.decode("latin-1")
        method = request.method.decode("latin-1")
        rid = request_id.decode("latin-1")
        hostname = _host_name(host) if host is not None and snapshot.hosts else None
        match = snapshot.route_for(path, hostname)
        if match is None:
            self._problem(request, 404, "Not Found", f"no API is served at {path}", extra, "-", started, "no_route")
            self._record(snapshot, None, None, method, path, 404, started, request, 0, rid)
            return
        route, rest = match
        product = route.slug
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in request.headers}
        query = dict(parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True)) if raw_query else {}
        now = time.time()
        consumer = self.auth.authenticate(snapshot, route, method, headers, query, now)
        if isinstance(consumer, auth_module.Rejection):
            reply = extra + [(b"www-authenticate", consumer.www_authenticate.encode())] * bool(
                consumer.www_authenticate
            )
            reason = "unauthorized" if consumer.status == 401 else "forbidden"
            self._problem(request, consumer.status, consumer.title, consumer.detail, reply, product, started, reason)
            self._record(snapshot, route, consumer, method, rest, consumer.status, started, request, 0, rid)
            return

        limit_headers: list = []
        if consumer.grant.plan.windows:
            key = auth_module.limit_key(consumer, request.client)
            try:
                result = await self.limiter.hit(key, consumer.grant.plan, now)
            except Exception as exc:  # the limits store is down and the gateway fails closed
                log.warning("rate limits unavailable: %s", exc)
                self._problem(
                    request, 503, "Service Unavailable", "rate limits cannot be checked", extra, product, started,
                    "limits_unavailable",
                )  # fmt: skip
                self._record(snapshot, route, consumer, method, rest, 503, started, request, 0, rid)
                return
            limit_headers = [(n.encode(), v.encode()) for n, v in self._limit_headers(result)]
            if not result.allowed:
                if result.reason == UNAVAILABLE:  # Redis is down and the gateway fails closed
                    self._problem(
                        request, 503, "Service Unavailable", "rate limits cannot be checked right now",
                        [*extra, (b"retry-after", b"1")], product, started, "limits_unavailable",
                    )  # fmt: skip
                    self._record(snapshot, route, consumer, method, rest, 503, started, request, 0, rid)
                    return
                self._problem(
                    request, 429, "Too Many Requests", f"the {consumer.grant.plan.slug} plan's limit is reached",
                    extra + limit_headers, product, started, "rate_limited",
                )  # fmt: skip
                self._record(snapshot, route, consumer, method, rest, 429, started, request, 0, rid)
                return

        matched = None  # the operation, once matched (for the sandbox, deprecation headers, then metering)
        signed = None  # the built-in sandbox's signature header
        base = route.upstreams.get(consumer.environment)
        if base:
            origin = parse_origin(base)
            upstream_target = origin.base_path + route.upstream_path(rest)
        elif consumer.environment == "sandbox":  # no sandbox URL: devhub's built-in sandbox answers
            matched = snapshot.operation_for(route.scope, method, rest)
            if matched[0] is None and route.apis:  # the route's API version answers (and is metered)
                matched = (*route.apis[0], None)
            api = matched[:2] if matched[0] is not None else None
            if api is None:
                detail = f"{product} offers no published API version for the built-in sandbox to answer from"
                self._problem(request, 503, "Service Unavailable", detail, extra, product, started, "no_upstream")
                self._record(snapshot, route, consumer, method, rest, 503, started, request, 0, rid, matched)
                return
            origin, upstream_target, signed = self._sandbox(consumer.credential, api[0], api[1], rest)
        else:
            detail = f"{product} has no {consumer.environment} upstream"
            self._problem(request, 503, "Service Unavailable", detail, extra, product, started, "no_upstream")
            self._record(snapshot, route, consumer, method, rest, 503, started, request, 0, rid)
            return
        breaker = self.breaker(origin)
        if not breaker.allow():
            self.metrics.upstream_error(product, "circuit_open")
            reply = [*extra, (b"retry-after", str(breaker.retry_after()).encode())]
            detail = f"{product}'s upstream is failing; calls resume after a pause"
            self._problem(request, 503, "Service Unavailable", detail, reply, product, started, "circuit_open")
            self._record(snapshot, route, consumer, method, rest, 503, started, request, 0, rid, matched)
            return

        # --- the upstream request head
        kept, kept_query = self.auth.strip(headers, query)
        if raw_query:
            upstream_target += "?" + (
                raw_query.decode("latin-1") if len(kept_query) == len(query) else urlencode(kept_query)
            )
        hop = _connection_named(request.headers) if connection else None
        # What `strip` took out (the credential, forged identity headers), by the names as they came in.
        dropped = {name.encode("latin-1") for name in headers.keys() - kept.keys()}
        lines = [
            b"%s %s HTTP/1.1\r\nhost: %s\r\n" % (request.method, upstream_target.encode("latin-1"), origin.host_header)
        ]
        forwarded_for = request.client.encode()
        chunked = False
        length = None
        for name, value in request.headers:
            if name in _HOP or name in _SET_UP or (hop is not None and name in hop):
                if name == b"x-forwarded-for":
                    forwarded_for = value + b", " + forwarded_for
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"content-length":
                    length = value
                continue
            if name in dropped or name == b"x-request-id" or name == b"traceparent":
                continue
            lines.append(b"%s: %s\r\n" % (name, value))
        if trace is None or not _TRACEPARENT.match(trace):
            trace = b"00-%032x-%016x-01" % (getrandbits(128) or 1, getrandbits(64) or 1)
        lines.append(
            b"x-forwarded-for: %s\r\nx-forwarded-proto: http\r\nx-request-id: %s\r\ntraceparent: %s\r\n"
            % (forwarded_for, request_id, trace)
        )
        if host is not None:
            lines.append(b"x-forwarded-host: %s\r\n" % host)
        for name, value in auth_module.identity_headers(consumer):
            lines.append(b"%s: %s\r\n" % (name.encode(), value.encode()))
        if signed is not None:
            lines.append(signed)
        body = None
        if request.has_body:
            body = request.body.read
            if chunked:
                lines.append(b"transfer-encoding: chunked\r\n")
            else:
                lines.append(b"content-length: %s\r\n" % length)
        lines.append(b"\r\n")

        status = 502
        bytes_out = 0
        try:
            try:
                response = await self.pool.request(
                    origin,
                    b"".join(lines),
                    body,
                    chunked=chunked,
                    head_only=request.method == b"HEAD",
                    retry_connect=request.method in _IDEMPOTENT,
                )
            except UpstreamError as exc:
                breaker.failure()
                self.metrics.upstream_error(product, exc.kind)
                status = exc.status
                title = "Gateway Timeout" if status == 504 else "Bad Gateway"
                self._problem(request, status, title, str(exc), extra, product, started, None, observe=False)
                return
            except BaseException:  # the client left while its body was sent: no verdict on the upstream
                breaker.release()
                raise
            breaker.success()
            status = response.status
            reply = extra + limit_headers
            if snapshot.deprecations:  # Deprecation and Sunset (RFC 9745, 8594) for deprecated operations
                if matched is None:
                    matched = snapshot.operation_for(route.scope, method, rest)
                reply += [(n.encode(), v.encode()) for n, v in snapshot.deprecation_headers(*matched)]
            response_length = None
            hop_up = _connection_named(response.headers)
            for name, value in response.headers:
                lname = name.lower()
                if lname in _HOP or (hop_up is not None and lname in hop_up):
                    if lname == b"content-length":
                        response_length = int(value)
                    continue
                if lname == b"x-request-id":
                    continue
                reply.append((name, value))
            if status in (204, 304):
                response_length = -1
            whole = None if response_length == -1 or request.method == b"HEAD" else response.ready_body()
            if whole is not None:  # it all came with the head: one write
                request.respond(status, reply, whole)
                bytes_out = len(whole)
                response.release()
                return
            request.start(status, reply, response_length)
            try:
                while True:
                    chunk = await response.read()
                    if not chunk:
                        break
                    bytes_out += len(chunk)
                    await request.write(chunk)
            except UpstreamError as exc:  # the head is out: all that is left is to cut the connection
                self.metrics.upstream_error(product, exc.kind)
                request.keep_alive = False
                raise ConnectionResetError(str(exc)) from None
            finally:
                response.release()
            request.end()
        finally:
            self.metrics.observe(product, status, time.perf_counter() - started)
            self._record(snapshot, route, consumer, method, rest, status, started, request, bytes_out, rid, matched)

    # --- helpers ------------------------------------------------------------------------------------------
    def _sandbox(self, credential: str, api_ref: str, version: str, rest: str) -> tuple[Origin, str, bytes]:
        """Origin, target and signature header of a call to the portal's built-in sandbox for one API
        version (`devhub.sandbox.trust`: the sandbox serves a credential's state only to the gateway)."""
        origin = self._sandbox_origin
        namespace, _, name = api_ref.partition(":")[2].rpartition("/")
        target = f"{origin.base_path}/sandbox/{quote(namespace or 'default')}/{quote(name)}/{quote(version, safe='')}"
        signature = gateway_signature(self._sandbox_secret, credential, api_ref, version)
        return origin, target + rest, b"%s: %s\r\n" % (SIGNATURE_HEADER.encode(), signature.encode())

    def _record(
        self, snapshot, route, who, method, path, status, started, request, bytes_out, request_id, matched=None
    ) -> None:
        """One call record, for a proxied call or a refusal: `who` is the Consumer, the Rejection (with
        whatever identity checked out), or None when the call named no product."""
        if route is not None and matched is None:
            matched = snapshot.operation_for(route.scope, method, path)
        api_ref, version, operation = matched or NO_OPERATION
        consumer = who if who is not None and who.__class__ is auth_module.Consumer else None
        grant = consumer.grant if consumer is not None else None
        self.meter.record(
            self._call_record(
                at=time.time(),
                app_id=who.app_id if who is not None else None,
                app_uid=who.app_uid if who is not None else None,
                subscription_id=grant.subscription_id if grant is not None else None,
                credential=who.credential if who is not None else None,
                product_id=route.product_id if route is not None else None,
                api_ref=api_ref,
                version=version,
                operation=operation,
                method=method,
                path=path[:2048],
                status=status,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                bytes_in=request.body.received,
                bytes_out=bytes_out,
                environment=who.environment if who is not None else None,
                request_id=request_id,
            )
        )

    def _problem(self, request, status, title, detail, headers, product, started, reason, observe=True) -> None:
        body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
        request.respond(status, [(b"content-type", _PROBLEM), *headers], body)
        if reason is not None:
            self.metrics.rejected(reason)
        if observe:
            self.metrics.observe(product, status, time.perf_counter() - started)

    def _sync_gauges(self) -> None:
        metrics = self.metrics
        failures = getattr(self.limiter, "errors", None)
        if failures is not None:
            metrics.redis_failures.set(failures)
        if self.store is not None:
            metrics.snapshot_version.set(self.store.current.version)
            metrics.snapshot_reloads.set(self.store.reloads)
        dropped = getattr(self.meter, "dropped", None)
        if dropped is not None:
            metrics.metering_dropped.set(dropped)
