"""Serving an app with uvicorn so that SIGTERM ends the process within its grace period.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections and waits for the requests in
flight; by default it would wait for ever, so that one long import kept a pod that Kubernetes
had told to stop. Here the requests get ``shutdown_timeout_s`` less ten seconds, after which
uvicorn cancels them (an import's worker thread is told to stop and its transaction rolls
back); the platform then stops. Should anything still hold the process at
``shutdown_timeout_s`` (a stop that hangs, a thread that does not return), it exits anyway:
the state that matters is in the database and the bus, both of which survive an exit.

With several worker processes the parent supervises them: SIGTERM to it is passed on to each
worker, and should any worker (or the parent itself) still be there at ``shutdown_timeout_s``,
the parent kills what is left and exits, so the whole pod is gone within its grace period.

On Linux each worker listens on a socket of its own (``SO_REUSEPORT``), and the kernel spreads
new connections over them. With one shared socket, the worker that wakes first takes every
connection waiting: clients that connect together and keep their connections (a gateway's
pool, a benchmark's) then mostly land on one worker, which did three quarters of the work
while the other idled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
from types import FrameType
from typing import Any

import structlog
import uvicorn
from uvicorn.supervisors import Multiprocess

from wildlens.common.settings import Settings

__all__ = ["graceful_timeout", "serve_app", "serve_workers"]

log = structlog.get_logger("wildlens.serving")

# What stopping the platform (relays, consumers, connections) is left after the requests.
_STOP_ALLOWANCE_S = 10.0
# How long a worker may take to answer the supervisor's health check before it is replaced: a
# worker still importing its service on a busy node takes tens of seconds.
_WORKER_HEALTHCHECK_S = 60


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


class _Supervisor(Multiprocess):
    """uvicorn's worker supervisor, with a deadline from the first signal to stop.

    uvicorn queues the signal and hands each worker a SIGTERM on its next round, then waits for
    every worker without limit: one worker stuck in a request, an import or a stop kept the
    whole pod. Here the signal handler itself arms the deadline and passes SIGTERM on to every
    worker, so that a round stuck on a worker that does not answer its health check delays
    neither.
    """

    def __init__(self, config: uvicorn.Config, sockets: list[Any], deadline_s: float) -> None:
        super().__init__(config, sockets=sockets)
        self._deadline_s = deadline_s
        self._watchdog: threading.Timer | None = None
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_stop_signal)

    def _on_stop_signal(self, sig: int, frame: FrameType | None) -> None:
        if self._watchdog is None:
            self._watchdog = threading.Timer(self._deadline_s, self._kill_all)
            self._watchdog.daemon = True
            self._watchdog.start()
            for process in list(self.processes):
                if process.pid is not None and process.exitcode is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(process.pid, signal.SIGTERM)
        self.signal_queue.append(sig)

    def _kill_all(self) -> None:
        for process in list(self.processes):
            if process.pid is not None and process.exitcode is None:
                # SIGKILL: a worker still here at the deadline does not answer SIGTERM.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
                log.error("shutdown.worker_killed", pid=process.pid)
        _exit_now(self._deadline_s)


class _PortShare(socket.socket):
    """The port's socket in the supervisor, bound with ``SO_REUSEPORT`` and never listening (so
    the kernel gives it no connections); handed to a worker, it arrives as a new socket of the
    worker's own, bound to the same address, on which the worker listens."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _worker_socket, (self.family, self.getsockname())


def _reuse_port_socket(family: int, address: Any, cls: type[socket.socket]) -> socket.socket:
    sock = cls(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock


def _worker_socket(family: int, address: Any) -> socket.socket:
    return _reuse_port_socket(family, address, socket.socket)


def _listening_sockets(config: uvicorn.Config) -> list[Any]:
    if sys.platform != "linux":
        # Elsewhere SO_REUSEPORT does not spread connections: one shared socket, as uvicorn has.
        return [config.bind_socket()]
    # SO_REUSEPORT would let a second server on the same port share it silently: bound first
    # as uvicorn binds (which exits, saying why, when the port is taken), then given up.
    probe = config.bind_socket()
    family, address = probe.family, probe.getsockname()
    probe.close()
    return [_reuse_port_socket(family, address, _PortShare)]


def serve_workers(factory: str, settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve the app that ``factory`` (``module:function``) builds in each of ``workers``
    processes until SIGTERM or Ctrl-C; the parent and every worker are gone by the deadline."""
    config = uvicorn.Config(
        factory,
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=graceful_timeout(settings),
        # uvicorn replaces a worker that does not answer its health check in time, starting
        # ones included: on a busy node, importing the service took longer than uvicorn's 5 s
        # and workers were replaced for ever before serving anything.
        timeout_worker_healthcheck=_WORKER_HEALTHCHECK_S,
    )
    _Supervisor(config, _listening_sockets(config), settings.shutdown_timeout_s).run()
