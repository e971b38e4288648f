"""Metrics shared by every service. Labels are bounded: a route template, never an id."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["CONSUMER_LAG", "EVENTS_CONSUMED", "EVENTS_FAILED", "HTTP_LATENCY"]

HTTP_LATENCY = Histogram(
    "wildlens_http_request_duration_seconds",
    "HTTP request latency by service, route template, method and status.",
    ["service", "route", "method", "status"],
)
EVENTS_CONSUMED = Counter(
    "wildlens_events_consumed_total",
    "Events handled and committed, by consuming service and event type.",
    ["service", "event_type"],
)
EVENTS_FAILED = Counter(
    "wildlens_events_failed_total",
    "Event handling attempts that raised, by consuming service and event type.",
    ["service", "event_type"],
)
CONSUMER_LAG = Histogram(
    "wildlens_consumer_lag_seconds",
    "Time from an event's occurrence to its handling being committed.",
    ["service", "event_type"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
