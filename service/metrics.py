"""Request metrics in Prometheus text (prometheus-client). Under gunicorn every worker process writes its samples
to PROMETHEUS_MULTIPROC_DIR (set by service/gunicorn_conf.py) and /metrics sums them over the workers.

A task under a calibration also has its drift watch here (shared.suite.calibration.Watch), labelled by task and
calibration: each worker watches the pictures it answered, and /metrics shows the latest worker's summary."""
from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REQUESTS = Counter("defectlab_requests_total", "HTTP requests answered", ["route", "status"])
ERRORS = Counter("defectlab_request_errors_total", "HTTP requests answered with a 4xx or 5xx status", ["route", "status"])
LATENCY = Histogram("defectlab_request_seconds", "time from request to answer", ["route"],
                    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5))

# the drift summary's numbers, each a gauge
DRIFT = {key: Gauge(f"defectlab_drift_{key}", text, ["task", "calibration"], multiprocess_mode="livemostrecent")
         for key, text in (
             ("recent", "recent pictures watched (the last ones, at most the window)"),
             ("alarm_share", "share of the recent pictures above the calibrated threshold"),
             ("alarm_pvalue", "binomial test p-value of that share against the calibrated false-alarm rate"),
             ("ks_statistic", "Kolmogorov-Smirnov distance of recent scores to the calibration pictures' scores"),
             ("ks_pvalue", "its p-value"),
             ("psi", "population stability index of recent scores over the calibration scores' deciles"),
             ("alpha", "the calibrated false-alarm rate"),
             ("threshold", "the calibrated threshold in force"),
             ("warning", "1 when the calibration no longer holds (either p-value below 0.01), else 0"))}


def drift(task: str, found: dict) -> None:
    """A drift summary into its gauges."""
    labels = (task, found["calibration"])
    values = {**found, "warning": 1.0 if found.get("holds") is False else 0.0}
    for key, gauge in DRIFT.items():
        if values.get(key) is not None:
            gauge.labels(*labels).set(float(values[key]))


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
