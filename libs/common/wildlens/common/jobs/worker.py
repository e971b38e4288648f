"""The worker each process runs over a job table whose row is the queue.

A worker takes a job by a conditional update (status ``queued``, or ``running`` with a lapsed
lease) so that exactly one process gets it, renews the lease while it works, and hands its
jobs back (``queued``) when its process stops cleanly; one that dies stops renewing, and when
the lease has lapsed the next worker to look runs the job again from the start. A job taken
``max_attempts`` times is given up. Workers look when woken, when they start, and every
``poll_s`` seconds, and run up to ``concurrency`` jobs at once.

A kind of job is a subclass of :class:`LeasedWorker`: its table, timings and limits, how a job
tried too often is given up, and the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import ClassVar

import structlog
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.db import Database, utcnow
from wildlens.common.jobs import queries

__all__ = ["LeaseLost", "LeasedWorker"]

log = structlog.get_logger(__name__)


class LeaseLost(RuntimeError):
    """Another process has taken the job over; this one stops working on it."""


class LeasedWorker(ABC):
    """Takes queued jobs of one kind from the database and runs them, in one process."""

    #: Names the worker's tasks and log events (``<name>.lease_lost``).
    name: str
    #: The key a job's id is logged under.
    id_field: str
    #: How long a job stays with a process that stopped renewing before another takes it over.
    lease: timedelta = timedelta(seconds=30)
    renew_every_s: float = 10.0
    poll_s: float = 5.0
    #: A job that took its process down this often is not tried again.
    max_attempts: int = 3
    #: Jobs run side by side up to this many per process; more wait in the queue.
    concurrency: int = 1
    #: Candidates looked at per claim.
    claim_batch: int = 8
    #: The job table: ``id``, ``status``, ``attempts``, ``lease_owner``, ``lease_expires_at``,
    #: ``created_at`` (:mod:`wildlens.common.jobs.queries`).
    table: type[SQLModel]
    #: Set on a job when it is taken, and when it is handed back (its progress, say).
    restart_values: ClassVar[Mapping[str, object]] = {}
    #: Whether a job is held only while ``running`` (a job ended by its holder is not).
    held_only_while_running: bool = True

    def __init__(self, database: Database, owner: str) -> None:
        self.db = database
        self.owner = owner
        self._wake = asyncio.Event()
        self._loop: asyncio.Task[None] | None = None
        self._running: dict[uuid.UUID, asyncio.Task[None]] = {}

    # What a kind of job says, beyond the class attributes.

    @abstractmethod
    async def give_up(
        self, session: AsyncSession, job_id: uuid.UUID, now: datetime, attempts: int
    ) -> bool:
        """Fail a job tried too often, unless another process took it; whether it did."""

    @abstractmethod
    async def work(self, job_id: uuid.UUID) -> None:
        """Do the job; raise :class:`LeaseLost` where it finds the job taken over."""

    async def take(self, session: AsyncSession, job_id: uuid.UUID, now: datetime) -> bool:
        """Whether this process got the job."""
        return await queries.take(
            session, self.table, job_id, now, self.owner, now + self.lease, **self.restart_values
        )

    async def given_up(self, job_id: uuid.UUID) -> None:
        """After a given-up job's failure is committed."""
        return None

    async def between_rounds(self) -> None:
        """Before each look at the queue (a sweep, say)."""
        return None

    async def failed(self, job_id: uuid.UUID, error: Exception) -> None:
        """The work raised ``error``: by default it is logged, and the lease left to lapse."""
        log.exception(f"{self.name}.failed", **{self.id_field: str(job_id)})

    # The mechanism.

    async def update_held(self, session: AsyncSession, job_id: uuid.UUID, **values: object) -> bool:
        """Set ``values`` on the job if this process still holds it; whether it did."""
        return await queries.update_held(
            session,
            self.table,
            job_id,
            self.owner,
            values,
            running=self.held_only_while_running,
        )

    def start(self) -> None:
        self._loop = asyncio.create_task(self._poll(), name=f"{self.name}-worker")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        """Stop taking jobs, interrupt the running ones and hand them back to the queue."""
        tasks = [t for t in (self._loop, *self._running.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        async with self.db.transaction() as session:
            await queries.hand_back(session, self.table, self.owner, **self.restart_values)

    async def hold(self, job_id: uuid.UUID, **values: object) -> None:
        """Change the job while this process holds it, renewing its lease; :class:`LeaseLost`
        where it does not hold it any more."""
        async with self.db.transaction() as session:
            held = await self.update_held(
                session, job_id, lease_expires_at=utcnow() + self.lease, **values
            )
        if not held:
            raise LeaseLost(f"{self.name} {job_id} was taken over")

    async def renew(self, job_id: uuid.UUID) -> None:
        """Renew the lease once (every ``renew_every_s`` while the job runs); an error ends
        the work on the job, as another process may have it now."""
        await self.hold(job_id)

    async def _poll(self) -> None:
        while True:
            try:
                await self.between_rounds()
                while len(self._running) < self.concurrency:
                    job_id = await self._claim()
                    if job_id is None:
                        break
                    task = asyncio.create_task(self._run(job_id), name=f"{self.name}-{job_id}")
                    self._running[job_id] = task
                    task.add_done_callback(functools.partial(self._finished, job_id))
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database or the store may be away for a moment; the next round retries.
                log.exception(f"{self.name}.claim_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()

    def _finished(self, job_id: uuid.UUID, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)
        self._wake.set()

    async def _claim(self) -> uuid.UUID | None:
        """Take the oldest job that is waiting or whose process has gone; None if none is."""
        now = utcnow()
        given_up: list[uuid.UUID] = []
        taken: uuid.UUID | None = None
        async with self.db.transaction() as session:
            candidates = await queries.claimable(session, self.table, now, limit=self.claim_batch)
            for job_id, attempts in candidates:
                if job_id in self._running:
                    continue  # this process's own, its lease waiting on a busy database
                if attempts >= self.max_attempts:
                    if await self.give_up(session, job_id, now, attempts):
                        given_up.append(job_id)
                    continue
                if await self.take(session, job_id, now):
                    taken = job_id
                    break
        for job_id in given_up:
            await self.given_up(job_id)
        return taken

    async def _renew(self, job_id: uuid.UUID) -> None:
        while True:
            await asyncio.sleep(self.renew_every_s)
            await self.renew(job_id)

    async def _run(self, job_id: uuid.UUID) -> None:
        renewing = asyncio.create_task(self._renew(job_id), name=f"{self.name}-lease-{job_id}")
        work = asyncio.create_task(self.work(job_id), name=f"{self.name}-work-{job_id}")
        try:
            done, _ = await asyncio.wait({renewing, work}, return_when=asyncio.FIRST_COMPLETED)
            if work not in done:
                # The lease could not be renewed: another process has the job now.
                work.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await work
                log.warning(f"{self.name}.lease_lost", **{self.id_field: str(job_id)})
                return
            await work
        except LeaseLost:
            log.warning(f"{self.name}.lease_lost", **{self.id_field: str(job_id)})
        except asyncio.CancelledError:
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
            raise
        except Exception as error:
            await self.failed(job_id, error)
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await renewing
