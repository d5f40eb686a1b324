"""Prometheus metrics of one app instance, in its own registry so several apps (tests) coexist."""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64)


@dataclasses.dataclass(frozen=True)
class ServeMetrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    batch_sizes: Histogram
    errors: Counter


def create_metrics() -> ServeMetrics:
    registry = CollectorRegistry()
    return ServeMetrics(
        registry=registry,
        requests=Counter(
            "hashtag_requests",
            "HTTP requests answered, by route and status code",
            ["route", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "hashtag_request_latency_seconds",
            "Time to answer a request, by route",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
        batch_sizes=Histogram(
            "hashtag_batch_size",
            "Requests answered by one model call",
            buckets=BATCH_BUCKETS,
            registry=registry,
        ),
        errors=Counter(
            "hashtag_errors",
            "Requests refused or failed, by reason",
            ["reason"],
            registry=registry,
        ),
    )
