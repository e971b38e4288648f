"""Request id, access log and latency metrics, as plain ASGI so that uploads stream through."""

from __future__ import annotations

import re
import secrets
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wildlens.common.telemetry import HTTP_LATENCY, request_id_var, traceparent_var

__all__ = ["RequestTelemetry"]

log = structlog.get_logger("wildlens.http")

_SAFE_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def _traceparent(scope: Scope) -> str:
    """The caller's W3C trace context when it sent a valid one; else a new trace."""
    for name, value in scope.get("headers", []):
        if name == b"traceparent":
            text: str = value.decode("latin-1").strip().lower()
            if _TRACEPARENT.match(text) and text[3:35] != "0" * 32:
                return text
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def _incoming_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")[:64]
            if text and set(text) <= _SAFE_ID:
                return text
    return uuid.uuid4().hex


class RequestTelemetry:
    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_id(scope)
        token = request_id_var.set(request_id)
        trace_token = traceparent_var.set(_traceparent(scope))
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            HTTP_LATENCY.labels(self.service, template, scope["method"], str(status)).observe(
                elapsed
            )
            if template not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "http.request",
                    method=scope["method"],
                    route=template,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            request_id_var.reset(token)
            traceparent_var.reset(trace_token)
