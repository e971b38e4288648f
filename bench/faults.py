"""Faults on the distributed stack at scale: 10,000 media through broker, consumer, database
and S3 failures, and what was lost (it must be nothing).

The services run as separate processes (``wildlens serve`` for the catalogue, ingest and
inference with the tiny detector) on the local PostgreSQL and RabbitMQ, each reached through a
TCP proxy this script controls, and on an S3 server (moto) of its own; schemas, queues and the
bucket are the run's own and removed afterwards (``tests/support/fault_stack.py``). Gateways
post distinct 64x64 JPEGs, eight at a time, each until it is accepted (honouring
``Retry-After``, with an idempotency key per image).

* baseline: ``--baseline`` media (default a fifth of ``--media``) with no fault, in a project
  of their own: media per second from the first post until the last is analysed.
* faults: ``--media`` media in another project, and while they flow, as the accepted count
  passes 10, 25, 40, 55 and 70 %: RabbitMQ cut (every connection reset, new ones refused) for
  ``--outage`` seconds; inference killed with SIGKILL and, once a backlog waits, started and
  killed again in the middle of its batch, then started; the same for the catalogue;
  PostgreSQL cut for ``--outage`` seconds; the S3 server stopped for ``--s3-stop`` seconds.
  Media per second the same way, and the ledger read from the backends: every medium
  recorded once and analysed once, observations stored once, every original in the bucket and
  none without its upload, nothing left in an outbox, a queue or a dead-letter queue.

    python bench/faults.py [--media 10000] [--baseline 2000] [--outage 20] [--s3-stop 60]

It exits non-zero when anything was lost or doubled. The last line reads
``media through faults: <media/s> media/s, ratio R`` (R = with faults / without).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.fault_stack import Stack, open_stack  # noqa: E402
from tests.support.gateways import Posted  # noqa: E402
from tests.support.ledger import Ledger, Progress  # noqa: E402
from tests.support.rabbit import queue_depths  # noqa: E402
from tests.support.tiny_models import build_tiny_detector  # noqa: E402

SERVICES = ["catalogue", "ingest", "inference"]
Done = Callable[[Progress], int]
# The consumers killed, the queue each reads, and how its progress shows.
KILLED: list[tuple[str, str, Done]] = [
    ("inference", "inference.media.recorded", lambda p: p.analysed),
    ("catalogue", "catalogue.media.ingested", lambda p: p.recorded),
]
ENV = {
    # Eight gateways on one token; the rate limit is not what is measured.
    "WILDLENS_INGEST__RATE_LIMIT_PER_MINUTE": "1000000",
    "WILDLENS_INGEST__RATE_LIMIT_BURST": "10000",
}


@dataclass
class Run:
    project_id: str
    posted: Posted
    seconds: float = 0.0
    ledger: Ledger | None = None
    survived: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return len(self.posted.media_ids) / self.seconds if self.seconds else 0.0


async def _wait(condition: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def _depth(stack: Stack, queue: str) -> int:
    name = stack.queue_prefix + queue
    return (await queue_depths(name)).get(name, 0)


async def _flow(
    stack: Stack, count: int, seed: int, args: argparse.Namespace, *, faults: bool
) -> Run:
    project_id, token = await stack.site()
    run = Run(project_id, Posted())
    started = time.monotonic()
    flow = stack.post(token, count, seed, run.posted, concurrency=args.concurrency)

    async def accepted(fraction: float) -> None:
        await _wait(
            lambda: _now(flow.done() or len(run.posted.media_ids) >= fraction * count), 3600
        )
        if flow.done():
            flow.result()  # the gateways gave up: say why instead of waiting on

    def note(line: str) -> None:
        at = len(run.posted.media_ids)
        run.survived.append(f"{line} (at {at:,} accepted, {time.monotonic() - started:.0f} s)")
        print(f"  {run.survived[-1]}", flush=True)

    if faults:
        await accepted(0.10)
        stack.broker.cut()
        await asyncio.sleep(args.outage)
        stack.broker.restore()
        note(f"RabbitMQ cut for {args.outage:.0f} s")

        for fraction, (service, queue, done) in zip((0.25, 0.40), KILLED, strict=True):
            await accepted(fraction)
            # Killed to let a backlog build, then killed again once it works through it: in
            # the middle of a batch.
            await asyncio.to_thread(stack.cluster.kill, service)
            await _wait(functools.partial(_deeper, stack, queue, 20), 300)
            start = done(await stack.progress(project_id))
            await asyncio.to_thread(stack.cluster.restart, service)

            async def working(start: int = start, done: Done = done) -> bool:
                return done(await stack.progress(project_id)) > start

            await _wait(working, 300)
            await asyncio.to_thread(stack.cluster.kill, service)
            left = await _depth(stack, queue)
            await asyncio.to_thread(stack.cluster.restart, service)
            note(f"{service} killed (SIGKILL) twice, the second time with {left} messages queued")

        await accepted(0.55)
        stack.database.cut()
        unready = await stack.readiness(SERVICES)
        await asyncio.sleep(args.outage)
        stack.database.restore()
        note(f"PostgreSQL cut for {args.outage:.0f} s (readiness meanwhile: {unready})")

        await accepted(0.70)
        await asyncio.to_thread(stack.s3.stop)
        unready = await stack.readiness(SERVICES)
        await asyncio.sleep(args.s3_stop)
        await asyncio.to_thread(stack.s3.start)
        note(f"S3 stopped for {args.s3_stop:.0f} s (readiness meanwhile: {unready})")

    await flow
    run.ledger = await stack.settled(project_id, run.posted, timeout=args.settle)
    run.seconds = time.monotonic() - started
    return run


async def _now(value: bool) -> bool:
    return value


async def _deeper(stack: Stack, queue: str, at_least: int) -> bool:
    return await _depth(stack, queue) >= at_least


async def _bench(stack: Stack, args: argparse.Namespace) -> int:
    print(f"baseline: {args.baseline:,} media, no fault", flush=True)
    baseline = await _flow(stack, args.baseline, 100, args, faults=False)
    print(f"  {baseline.rate:.1f} media/s; {baseline.ledger.summary() if baseline.ledger else ''}")
    print(f"faults: {args.media:,} media", flush=True)
    faults = await _flow(stack, args.media, 200, args, faults=True)
    ledger = faults.ledger
    assert ledger is not None
    assert baseline.ledger is not None
    statuses = ", ".join(f"{n:,} x {s}" for s, n in sorted(faults.posted.statuses.items()))
    errors = ", ".join(f"{n} x {e}" for e, n in faults.posted.errors.items()) or "none"
    print(f"answers to the gateways: {statuses}; connection errors: {errors}")
    print(
        f"503 answers without Retry-After: {faults.posted.unavailable_without_retry_after}; "
        f"other answers would have stopped the run"
    )
    print("survived: " + "; ".join(faults.survived))
    print(f"ledger: {ledger.summary()}")
    lost = ledger.problems() + baseline.ledger.problems()
    print("lost or doubled: " + ("; ".join(lost) if lost else "nothing"))
    print(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end; "
        f"{faults.seconds:.0f} s with faults, {baseline.seconds:.0f} s for the baseline"
    )
    print(
        f"media through faults: {faults.rate:.1f} media/s, ratio {faults.rate / baseline.rate:.2f}"
    )
    return 1 if lost else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--media", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=None, help="default: a fifth of --media")
    parser.add_argument("--outage", type=float, default=20, help="seconds of each cut")
    parser.add_argument("--s3-stop", type=float, default=60)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--settle", type=float, default=1800, help="seconds to wait at the end")
    args = parser.parse_args()
    args.baseline = args.baseline or max(1, args.media // 5)
    # The tests' build of the tiny detector, reused when it is already there.
    detector = build_tiny_detector(ROOT / ".pytest_cache" / "d" / "tiny-detector")
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_stack(Path(tmp), SERVICES, detector=detector, env=ENV) as stack,
    ):
        code = asyncio.run(_bench(stack, args))
    sys.exit(code)


if __name__ == "__main__":
    main()
