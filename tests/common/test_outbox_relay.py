"""The outbox relay publishes commits that come close together as one batch, in order, and
each commit's events alone when they come apart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import create_async_engine

from wildlens.common.bus import Bus, Subscription, create_bus
from wildlens.common.db import Database
from wildlens.common.db.outbox import OutboxRelay, outbox_table, stage
from wildlens.common.events import Envelope, new_envelope
from wildlens.common.events.v1 import media_pb2
from wildlens.common.settings import BrokerSettings

TIMEOUT = 10.0


class Counted:
    """The real bus, with a count of the publish calls that reach it."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.calls: list[int] = []

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        self.calls.append(len(envelopes))
        await self.bus.publish(envelopes)


@pytest.fixture
async def parts(tmp_path: Path) -> AsyncIterator[tuple[Database, MetaData, Bus]]:
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'outbox.sqlite'}")
    metadata = MetaData()
    outbox_table(metadata)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    bus = create_bus(
        f"memory://{tmp_path / 'bus.sqlite'}", BrokerSettings(), data_dir=tmp_path, instance="a"
    )
    try:
        yield Database(engine, schema=None), metadata, bus
    finally:
        await bus.close()
        await engine.dispose()


async def _commits(db: Database, metadata: MetaData, count: int, pause: float) -> list[str]:
    """``count`` transactions, each staging one event, ``pause`` seconds apart: their ids."""
    ids = []
    for n in range(count):
        envelope = new_envelope(media_pb2.MediaIngested(media_id=f"m{n}"), producer="test")
        async with db.transaction() as session:
            await stage(session, metadata.tables["outbox"], [envelope])
        ids.append(envelope.event_id)
        await asyncio.sleep(pause)
    return ids


@pytest.mark.parametrize(
    ("count", "pause", "most_calls"),
    [
        # A burst: without the linger, 20 commits went out in 9 to 20 calls here.
        (20, 0.0, 4),
        # Far apart: each goes out alone, one linger after its commit.
        (4, 0.8, 4),
    ],
)
async def test_commits_close_together_go_out_as_one_batch_in_order(
    parts: tuple[Database, MetaData, Bus], count: int, pause: float, most_calls: int
) -> None:
    db, metadata, bus = parts
    received: list[str] = []
    everything = asyncio.Event()

    async def handler(envelopes: Sequence[Envelope]) -> None:
        received.extend(e.event_id for e in envelopes)
        if len(received) == count:
            everything.set()

    bus.subscribe(Subscription("reader", "media.ingested", handler))
    await bus.start()
    counted = Counted(bus)
    relay = OutboxRelay(db, metadata.tables["outbox"], counted, interval=30, linger=0.3)
    await relay.start()
    try:
        sent = await _commits(db, metadata, count, pause)
        await asyncio.wait_for(everything.wait(), TIMEOUT)
    finally:
        await relay.close()
    assert received == sent
    assert sum(counted.calls) == count
    assert len(counted.calls) <= most_calls, counted.calls
    if pause:
        assert counted.calls == [1] * count
