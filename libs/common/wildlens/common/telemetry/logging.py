"""structlog set up once per process: JSON lines (or a console renderer for people), with the
request id and anything else bound in context variables."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

import structlog

__all__ = ["configure_logging", "current_request_id", "request_id_var", "traceparent_var"]

request_id_var: ContextVar[str | None] = ContextVar("wildlens_request_id", default=None)
# W3C trace context of the request or event being handled, carried on into published events.
traceparent_var: ContextVar[str | None] = ContextVar("wildlens_traceparent", default=None)


def current_request_id() -> str | None:
    return request_id_var.get()


def _add_request_id(
    _logger: object, _name: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    request_id = request_id_var.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    traceparent = traceparent_var.get()
    if traceparent is not None:
        event.setdefault("trace_id", traceparent.split("-")[1])
    return event


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
        structlog.processors.format_exc_info,
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries log through the standard library; keep them quiet unless something is wrong.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
