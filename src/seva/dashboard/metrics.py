"""Prometheus metrics, served at ``/metrics``: requests and answers by channel and service."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("seva_channel_requests_total", "Inbound requests by channel", ["channel"])
STARTED = Counter(
    "seva_services_started_total",
    "Services started by channel, department and service",
    ["channel", "department", "service"],
)
FINISHED = Counter(
    "seva_answers_total",
    "Finished conversations by channel, department, service and outcome",
    ["channel", "department", "service", "outcome"],
)
LATENCY = Histogram(
    "seva_channel_latency_seconds",
    "Time to answer one inbound request, by channel",
    ["channel"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
