"""Serving an app with uvicorn so that SIGTERM ends the process within its grace period.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and waits for the requests in
flight; by default it would wait for ever, so that one long import kept a pod that Kubernetes
had told to stop. Here the requests get ``shutdown_timeout_s`` less ten seconds, after which
uvicorn cancels them (an import's worker thread is told to stop and its transaction rolls
back); the platform then stops. Should anything still hold the process at
``shutdown_timeout_s`` (a stop that hangs, a thread that does not return), it exits anyway:
the state that matters is in the database and the bus, both of which survive an exit.
"""

from __future__ import annotations

import os
import sys
import threading
from types import FrameType
from typing import Any

import structlog
import uvicorn

from wildlens.common.settings import Settings

__all__ = ["graceful_timeout", "serve_app"]

log = structlog.get_logger("wildlens.serving")

# What stopping the platform (relays, consumers, connections) is left after the requests.
_STOP_ALLOWANCE_S = 10.0


def graceful_timeout(settings: Settings) -> int:
    """Seconds uvicorn waits for requests in flight before cancelling them."""
    return max(1, int(settings.shutdown_timeout_s - _STOP_ALLOWANCE_S))


def _exit_now(deadline_s: float) -> None:
    log.error("shutdown.forced", after_s=deadline_s)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, deadline_s: float) -> None:
        super().__init__(config)
        self._deadline_s = deadline_s
        self._watchdog: threading.Timer | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self._deadline_s, _exit_now, (self._deadline_s,))
            self._watchdog.daemon = True
            self._watchdog.start()
        super().handle_exit(sig, frame)


def serve_app(app: Any, settings: Settings, *, host: str, port: int) -> None:
    """Serve ``app`` in this process until SIGTERM or Ctrl-C, then stop within the deadline."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=graceful_timeout(settings),
    )
    _Server(config, settings.shutdown_timeout_s).run()
