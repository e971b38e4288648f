"""A micro-batcher: single items from many callers, run together in batches.

The bus consumer and ``POST /v1/predict`` each submit one image at a time; the batcher groups
what is waiting into one model run of at most ``max_batch`` items, started as soon as the batch
is full or its first item has waited ``max_wait``. A model run is blocking, so it happens in an
executor while the next batch fills.

Items carry the model they were prepared for. A batch holds items of one model only: after a
hot swap, work prepared for the old model still runs on it, and the new model's items start a
batch of their own. Items may also carry a group (the input shape of a rectangularly
letterboxed image): a batch holds one group only, and takes the items of its group from among
the waiting items of its model, so that images of two deployments' cameras, arriving
interleaved, still run in full batches of their own shape.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import structlog

from wildlens.inference.metrics import BATCH_LATENCY, BATCH_SIZE

__all__ = ["MicroBatcher"]

log = structlog.get_logger(__name__)

M = TypeVar("M")
In = TypeVar("In")
Out = TypeVar("Out")


@dataclass
class _Pending(Generic[M, In, Out]):
    model: M
    item: In
    group: Hashable
    future: asyncio.Future[Out] = field(repr=False)


class MicroBatcher(Generic[M, In, Out]):
    """Args:
    run: ``run(model, items)`` → one result per item, in order; blocking.
    max_batch: the most items in one run.
    max_wait: seconds the first item of a batch waits for more to join it.
    executor: where runs happen; one thread of its own when omitted, so runs never queue
        behind decoding work.
    """

    def __init__(
        self,
        run: Callable[[M, Sequence[In]], Sequence[Out]],
        *,
        max_batch: int,
        max_wait: float,
        executor: Executor | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self._run = run
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(1, thread_name_prefix="model-run")
        self._waiting: deque[_Pending[M, In, Out]] = deque()
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def submit(self, model: M, item: In, group: Hashable = None) -> Out:
        """The result for ``item`` once the batch it joined has run on ``model``; it shares
        runs only with items of the same model and ``group``."""
        if self._closed:
            raise RuntimeError("the batcher is closed")
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="micro-batcher")
        future: asyncio.Future[Out] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Pending(model, item, group, future))
        self._arrived.set()
        return await future

    async def close(self) -> None:
        """Run what is waiting, then stop; later submissions are refused."""
        self._closed = True
        self._arrived.set()
        if self._task is not None:
            await self._task
        if self._own_executor:
            self._executor.shutdown(wait=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._waiting:
                if self._closed:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            first = self._waiting[0]
            deadline = loop.time() + self._max_wait
            while self._lane_count(first) < self._max_batch and not self._closed:
                remaining = deadline - loop.time()
                if remaining <= 0 or self._next_is_other_model(first.model):
                    break
                self._arrived.clear()
                try:
                    async with asyncio.timeout(remaining):
                        await self._arrived.wait()
                except TimeoutError:
                    break
            batch = self._take(first)
            await self._run_batch(first.model, batch)

    def _lane(self, first: _Pending[M, In, Out]) -> list[_Pending[M, In, Out]]:
        """The waiting items that may share ``first``'s run: of its model, up to the first
        item of another model (earlier work is never overtaken by a later model's), and of
        its group."""
        lane: list[_Pending[M, In, Out]] = []
        for pending in self._waiting:
            if pending.model is not first.model:
                break
            if pending.group == first.group:
                lane.append(pending)
        return lane

    def _lane_count(self, first: _Pending[M, In, Out]) -> int:
        return len(self._lane(first))

    def _same_model_count(self, model: M) -> int:
        count = 0
        for pending in self._waiting:
            if pending.model is not model:
                break
            count += 1
        return count

    def _next_is_other_model(self, model: M) -> bool:
        # Work for another model is queued behind this batch: waiting longer only delays it.
        return self._same_model_count(model) < len(self._waiting)

    def _take(self, first: _Pending[M, In, Out]) -> list[_Pending[M, In, Out]]:
        batch = self._lane(first)[: self._max_batch]
        taken = {id(pending) for pending in batch}
        self._waiting = deque(p for p in self._waiting if id(p) not in taken)
        return batch

    async def _run_batch(self, model: M, batch: list[_Pending[M, In, Out]]) -> None:
        # A caller that gave up (its request was cancelled) needs no result.
        live = [p for p in batch if not p.future.done()]
        if not live:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            results = await loop.run_in_executor(
                self._executor, self._run, model, [p.item for p in live]
            )
        except Exception as exc:
            log.warning("inference.batch_failed", size=len(live), error=str(exc))
            for pending in live:
                if not pending.future.done():
                    pending.future.set_exception(exc)
            return
        BATCH_SIZE.observe(len(live))
        BATCH_LATENCY.observe(loop.time() - started)
        if len(results) != len(live):
            error = RuntimeError(f"a batch of {len(live)} gave {len(results)} results")
            for pending in live:
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        for pending, result in zip(live, results, strict=True):
            if not pending.future.done():
                pending.future.set_result(result)
