"""Blocking work (parsing, unpacking, hashing) off the event loop, in a thread that can be
told to stop.

A coroutine awaiting :func:`run_stoppable` may be cancelled (uvicorn cancels the requests still
running when its shutdown grace runs out); the thread cannot be, so it is handed a
:class:`StopFlag` to check between chunks and rows. On cancellation the flag is set and the
coroutine waits for the thread to notice before it lets the cancellation through, so that what
the thread was writing (a scratch folder) is not removed under it and the process does not
wait at exit for a thread still working.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import threading
from collections.abc import Callable
from typing import Concatenate, ParamSpec, TypeVar

__all__ = ["StopFlag", "Stopped", "let_others_run", "run_stoppable"]

P = ParamSpec("P")
T = TypeVar("T")


class Stopped(Exception):
    """The work was told to stop (its request was cancelled)."""


class StopFlag:
    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def check(self) -> None:
        """Raise :class:`Stopped` once the work has been told to stop."""
        if self._event.is_set():
            raise Stopped("stopped: the request was cancelled")


async def run_stoppable(
    work: Callable[Concatenate[StopFlag, P], T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``work(stop, *args, **kwargs)`` in the loop's default executor, with the caller's
    context (log fields, trace ids); cancelling the caller stops it at its next check."""
    stop = StopFlag()
    context = contextvars.copy_context()
    call = functools.partial(context.run, work, stop, *args, **kwargs)
    future = asyncio.get_running_loop().run_in_executor(None, call)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        stop.set()
        # The thread's own error (Stopped, most likely) is of no interest now.
        with contextlib.suppress(Exception):
            await future
        raise


# Rows a loop on the event loop goes through between two chances for the rest to run.
_ROWS_BETWEEN_YIELDS = 256


async def let_others_run(row: int) -> None:
    """Called with each row's number by a loop that works through many rows on the event loop
    (building ORM objects of an import, say): every few hundred rows, lets other requests,
    health checks and a shutdown run. A coroutine that awaits only cached results never
    suspends, and 100,000 rows of it would hold the loop for seconds. A cancelled request is
    stopped here too."""
    if row % _ROWS_BETWEEN_YIELDS == 0:
        await asyncio.sleep(0)
