"""The gateway's Prometheus metrics, served on `/metrics` of the gateway port.

Each gateway process has its own registry (with several workers, each process answers for itself: scrape
them per process, or run one worker per container). Label children are cached per label values, so the hot
path pays one dict lookup and an increment.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST.encode()
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "devhub_gateway_requests",
            "Calls answered, by product and status.",
            ["product", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "devhub_gateway_request_seconds",
            "Time from the request head to the end of the response, by product.",
            ["product"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.rejections = Counter(
            "devhub_gateway_rejections", "Calls refused by the gateway, by reason.", ["reason"], registry=registry
        )
        self.upstream_errors = Counter(
            "devhub_gateway_upstream_errors",
            "Failed upstream calls, by product and kind (connect, connect_timeout, read_timeout, reset, protocol, "
            "circuit_open).",
            ["product", "kind"],
            registry=registry,
        )
        self.redis_failures = Gauge(
            "devhub_gateway_redis_failures", "Rate-limit store (Redis) failures since start.", registry=registry
        )
        self.snapshot_version = Gauge(
            "devhub_gateway_snapshot_version", "Access version of the rules in use.", registry=registry
        )
        self.snapshot_reloads = Gauge(
            "devhub_gateway_snapshot_reloads", "Access snapshots loaded since start.", registry=registry
        )
        self.metering_dropped = Gauge(
            "devhub_gateway_metering_dropped", "Call records dropped (buffer full or write failed).", registry=registry
        )
        self._requests: dict[tuple[str, int], object] = {}
        self._latency: dict[str, object] = {}
        self._rejections: dict[str, object] = {}

    def observe(self, product: str, status: int, seconds: float) -> None:
        key = (product, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = self.requests.labels(product, str(status))
        counter.inc()
        histogram = self._latency.get(product)
        if histogram is None:
            histogram = self._latency[product] = self.latency.labels(product)
        histogram.observe(seconds)

    def rejected(self, reason: str) -> None:
        counter = self._rejections.get(reason)
        if counter is None:
            counter = self._rejections[reason] = self.rejections.labels(reason)
        counter.inc()

    def upstream_error(self, product: str, kind: str) -> None:
        self.upstream_errors.labels(product, kind).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
