"""Request id, access log and latency metrics, and the answer to a request the server stops
in the middle of, as plain ASGI so that uploads stream through."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wildlens.common.telemetry import HTTP_LATENCY, request_id_var, traceparent_var

__all__ = ["AnswerWhenCancelled", "RequestTelemetry"]

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


class AnswerWhenCancelled:
    """A request cancelled before it was answered is answered 503 with ``Retry-After``.

    Uvicorn cancels the requests still running when the shutdown grace runs out (SIGTERM), and
    would answer them 500; the caller is better told that the server is stopping and to try
    again (another replica, or this one restarted, will answer)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except asyncio.CancelledError:
            if not started:
                body = json.dumps(
                    {"error": "Unavailable", "detail": "the server is stopping; try again"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 503,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", b"5"),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
            raise
