"""Request metrics in Prometheus text (prometheus-client). Under gunicorn every worker process writes its samples
to PROMETHEUS_MULTIPROC_DIR (set by service/gunicorn_conf.py) and /metrics sums them over the workers."""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("defectlab_requests_total", "HTTP requests answered", ["route", "status"])
ERRORS = Counter("defectlab_request_errors_total", "HTTP requests answered with a 4xx or 5xx status", ["route", "status"])
LATENCY = Histogram("defectlab_request_seconds", "time from request to answer", ["route"],
                    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5))


def observe(route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)
    if status >= 400:
        ERRORS.labels(route, str(status)).inc()


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
