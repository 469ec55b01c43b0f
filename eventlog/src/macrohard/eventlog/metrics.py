"""Prometheus metrics every service exposes (one registry per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

EVENTS_HANDLED = Counter(
    "mh_events_handled_total",
    "Events handled by a consumer, by outcome (ok, retry, dead_lettered).",
    ["consumer", "type", "outcome"],
)
HANDLER_SECONDS = Histogram(
    "mh_handler_seconds",
    "Time spent in one handler call.",
    ["consumer"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "mh_consumer_lag",
    "Messages pending for a durable consumer after the last one read.",
    ["consumer"],
)
DEAD_LETTERED = Counter(
    "mh_dead_lettered_total", "Messages moved to the dead-letter stream.", ["consumer"]
)
PROJECTION_LAG = Gauge(
    "mh_projection_lag",
    "Events a projection has yet to apply (stream head - checkpoint).",
    ["projection"],
)
PROJECTION_APPLIED = Counter(
    "mh_projection_events_total", "Events applied by a projection.", ["projection"]
)


def serve_metrics(port: int) -> None:
    """Serve /metrics on `port` (0 disables) from a daemon thread."""
    if port:
        start_http_server(port, addr="127.0.0.1")
