"""What a fault left behind, read straight from PostgreSQL, RabbitMQ and the bucket (not
through the services, whose answers are what is being checked): every medium recorded once,
analysed once, its observations stored once, its original in the bucket, and nothing stuck in
an outbox or dead-lettered."""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass, field

import asyncpg
from minio import Minio

from tests.support.rabbit import queue_depths

__all__ = ["Ledger", "Progress", "read_ledger", "read_progress"]

_DATABASE = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "database": "test"}


@dataclass
class Ledger:
    expected: int
    # Catalogue: media rows of the project, and those whose analysis is stored.
    recorded: int = 0
    analysed: int = 0
    # Media with more than one run of the same model, or with none.
    analysed_twice: int = 0
    not_analysed: int = 0
    observations: int = 0
    # Observations that are a copy of another (same medium, run, category and box).
    duplicate_observations: int = 0
    # Ingest: accepted uploads of the project, and those whose original is not in the bucket.
    ingested: int = 0
    missing_originals: int = 0
    # Objects under media/ that no accepted upload holds: a half-written upload.
    stray_originals: int = 0
    # The posted media ids the catalogue does not have.
    unknown_ids: int = 0
    outbox: dict[str, int] = field(default_factory=dict)
    dead_letters: dict[str, int] = field(default_factory=dict)
    # Messages still in the (live) queues.
    queued: dict[str, int] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """Everything posted has gone all the way through, and nothing is waiting."""
        return (
            self.recorded == self.expected
            and self.analysed == self.expected
            and self.ingested == self.expected
            and not any(self.outbox.values())
            and not any(self.queued.values())
        )

    def problems(self) -> list[str]:
        """What is wrong, in words; empty when nothing was lost or doubled."""
        found = []
        for name, value in (
            ("media not recorded", self.expected - self.recorded),
            ("media not analysed", self.expected - self.analysed),
            ("uploads not recorded by ingest", self.expected - self.ingested),
            ("media analysed more than once", self.analysed_twice),
            ("media without an analysis", self.not_analysed),
            ("duplicate observations", self.duplicate_observations),
            ("originals missing from the bucket", self.missing_originals),
            ("half-written originals", self.stray_originals),
            ("posted ids the catalogue does not know", self.unknown_ids),
        ):
            if value:
                found.append(f"{value} {name}")
        found += [f"{n} left in the outbox of {s}" for s, n in self.outbox.items() if n]
        found += [f"{n} dead-lettered in {q}" for q, n in self.dead_letters.items() if n]
        found += [f"{n} still queued in {q}" for q, n in self.queued.items() if n]
        return found

    def summary(self) -> str:
        return (
            f"{self.recorded}/{self.expected} recorded, {self.analysed} analysed, "
            f"{self.observations} observations, {self.ingested} ingested; "
            + ("nothing lost or doubled" if not self.problems() else "; ".join(self.problems()))
        )


async def read_ledger(
    *,
    schema_prefix: str,
    queue_prefix: str,
    project_id: str,
    media_ids: Collection[str],
    bucket: Minio,
    bucket_name: str,
    database: dict[str, object] | None = None,
) -> Ledger:
    """The state of one project after a run, ``media_ids`` being what the gateways were
    answered.

    Args:
        database: asyncpg connection arguments (the real server, never a proxy).
    """
    ledger = Ledger(expected=len(media_ids))
    catalogue, ingest = f'"{schema_prefix}catalogue"', f'"{schema_prefix}ingest"'
    conn = await asyncpg.connect(**(database or _DATABASE))
    try:
        ledger.recorded = await conn.fetchval(
            f"SELECT count(*) FROM {catalogue}.media WHERE project_id = $1", project_id
        )
        ledger.analysed = await conn.fetchval(
            f"SELECT count(*) FROM {catalogue}.media WHERE project_id = $1 AND status = 'analyzed'",
            project_id,
        )
        runs = await conn.fetch(
            f"SELECT m.id, count(r.id) AS runs FROM {catalogue}.media m "
            f"LEFT JOIN {catalogue}.model_runs r ON r.media_id = m.id "
            "WHERE m.project_id = $1 GROUP BY m.id",
            project_id,
        )
        ledger.analysed_twice = sum(1 for r in runs if r["runs"] > 1)
        ledger.not_analysed = sum(1 for r in runs if r["runs"] == 0)
        ledger.observations = await conn.fetchval(
            f"SELECT count(*) FROM {catalogue}.observations WHERE project_id = $1", project_id
        )
        ledger.duplicate_observations = await conn.fetchval(
            "SELECT coalesce(sum(n - 1), 0) FROM ("
            f"  SELECT count(*) AS n FROM {catalogue}.observations WHERE project_id = $1"
            "   GROUP BY media_id, model_run_id, category, classification_method,"
            "            bbox_x, bbox_y, bbox_width, bbox_height"
            "   HAVING count(*) > 1) AS copies",
            project_id,
        )
        known = {
            str(r["id"])
            for r in await conn.fetch(
                f"SELECT id FROM {catalogue}.media WHERE project_id = $1", project_id
            )
        }
        ledger.unknown_ids = len(set(media_ids) - known)
        originals = await conn.fetch(
            f"SELECT object_key FROM {ingest}.ingested_media WHERE project_id = $1", project_id
        )
        ledger.ingested = len(originals)
        for service in ("ingest", "catalogue"):
            ledger.outbox[service] = await conn.fetchval(
                f'SELECT count(*) FROM "{schema_prefix}{service}".outbox'
            )
        all_held = {
            r["object_key"]
            for r in await conn.fetch(f"SELECT DISTINCT object_key FROM {ingest}.ingested_media")
        }
    finally:
        await conn.close()

    def objects() -> set[str]:
        listing = bucket.list_objects(bucket_name, prefix="media/", recursive=True)
        return {item.object_name for item in listing if item.object_name}

    stored = await asyncio.to_thread(objects)
    ledger.missing_originals = sum(1 for r in originals if r["object_key"] not in stored)
    ledger.stray_originals = len(stored - all_held)

    depths = await queue_depths(queue_prefix)
    if not any(name.endswith(".dead") for name in depths):
        raise AssertionError(f"no dead-letter queue found for {queue_prefix!r}: {depths}")
    ledger.dead_letters = {q: n for q, n in depths.items() if q.endswith(".dead")}
    ledger.queued = {q: n for q, n in depths.items() if not q.endswith(".dead")}
    return ledger


@dataclass(frozen=True)
class Progress:
    """How far a project's media have come, and what waits in the outboxes."""

    recorded: int
    analysed: int
    outbox: int


async def read_progress(
    schema_prefix: str, project_id: str, database: dict[str, object] | None = None
) -> Progress:
    catalogue = f'"{schema_prefix}catalogue"'
    conn = await asyncpg.connect(**(database or _DATABASE))
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS recorded, count(*) FILTER (WHERE status = 'analyzed') AS analysed "
            f"FROM {catalogue}.media WHERE project_id = $1",
            project_id,
        )
        outbox = 0
        for service in ("ingest", "catalogue"):
            outbox += await conn.fetchval(f'SELECT count(*) FROM "{schema_prefix}{service}".outbox')
    finally:
        await conn.close()
    assert row is not None
    return Progress(int(row["recorded"]), int(row["analysed"]), outbox)
