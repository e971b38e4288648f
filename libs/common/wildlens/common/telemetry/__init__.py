"""Logs, metrics and health: JSON logs with a request id, Prometheus metrics, probes."""

from wildlens.common.telemetry.logging import (
    configure_logging,
    current_request_id,
    request_id_var,
    traceparent_var,
)
from wildlens.common.telemetry.metrics import (
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    EVENTS_FAILED,
    HTTP_LATENCY,
)

__all__ = [
    "CONSUMER_LAG",
    "EVENTS_CONSUMED",
    "EVENTS_FAILED",
    "HTTP_LATENCY",
    "configure_logging",
    "current_request_id",
    "request_id_var",
    "traceparent_var",
]
