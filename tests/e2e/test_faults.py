"""Faults on the distributed stack: the services as separate processes on PostgreSQL, RabbitMQ
and S3, while gateways post media that flow through ingest, the catalogue and inference (the
tiny detector) and back into the catalogue.

PostgreSQL and RabbitMQ are shared with other tests, so they are never restarted: the services
reach them through a TCP proxy each (``tests/support/tcp_proxy.py``), and "restarting" one is
resetting every connection through its proxy and refusing new ones for a while. The S3 server
is the module's own and is really stopped.

Afterwards the ledger (``tests/support/ledger.py``) is read from the backends themselves, not
through the services: every medium recorded once and analysed once, its observations stored
once, its original in the bucket and no original without its upload, nothing left in an
outbox, a queue or a dead-letter queue.

One cluster serves the module (starting it is the slow part); each test has its own project
and leaves every service ready again. ``bench/faults.py`` runs the same with 10,000 media and
a one-minute S3 stop.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import _need
from tests.support.fault_stack import Stack, open_stack
from tests.support.gateways import Posted, gateway_images, post_all
from tests.support.ledger import Progress
from tests.support.platform import eventually
from tests.support.rabbit import queue_depths

# A loaded two-core machine takes minutes for the thousand media; the default is 300 s.
pytestmark = [pytest.mark.processes, pytest.mark.backends, pytest.mark.timeout(900)]

SERVICES = ["catalogue", "ingest", "inference"]
ENV = {
    # A gateway posting hundreds of images a minute is rate limited; the limit is not what
    # these tests are about.
    "WILDLENS_INGEST__RATE_LIMIT_PER_MINUTE": "1000000",
    "WILDLENS_INGEST__RATE_LIMIT_BURST": "10000",
    # The outages here last seconds, not the bench's minute; with three deliveries allowed
    # instead of five, an outage that spent delivery attempts would dead-letter within them
    # (a failed fetch from a stopped S3 takes about six seconds), while a message may still
    # be in the hands of a consumer killed twice.
    "WILDLENS_BROKER__MAX_DELIVERIES": "3",
}
# How long the database and the broker are cut, and S3 is stopped: long enough for every
# service to notice (connections reset, reconnects refused, the broker's robust connection
# retrying every five seconds) and for the gateways' retries to meet it several times; S3
# longer than three failed fetches take. The bench stops S3 for the full minute.
OUTAGE_S = 10.0
S3_STOP_S = 20.0

Done = Callable[[Progress], int]
# The consumers killed, the queue each reads, and how its progress shows.
KILLED: list[tuple[str, str, Done]] = [
    ("inference", "inference.media.recorded", lambda p: p.analysed),
    ("catalogue", "catalogue.media.ingested", lambda p: p.recorded),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_detector: Path) -> Iterator[Stack]:
    _need("PostgreSQL", "127.0.0.1", 5432)
    _need("RabbitMQ", "127.0.0.1", 5672)
    with open_stack(
        tmp_path_factory.mktemp("faults"), SERVICES, detector=tiny_detector, env=ENV
    ) as stack:
        yield stack


def _logs(stack: Stack) -> str:
    return "\n".join(f"--- {s}:\n{stack.cluster.tail(s, 1500)}" for s in SERVICES)


async def test_a_broker_restart_while_a_thousand_media_flow_loses_and_doubles_nothing(
    stack: Stack,
) -> None:
    project_id, token = await stack.site()
    posted = Posted()
    flow = stack.post(token, 1000, seed=1, posted=posted)
    await eventually(lambda: _true(len(posted.media_ids) >= 200), timeout=120)
    before = await stack.progress(project_id)
    connections = stack.broker.accepted

    stack.broker.cut()
    # Gateways go on posting meanwhile: ingest needs no broker to accept, its outbox keeps
    # the announcements until the broker is back.
    await asyncio.sleep(OUTAGE_S)
    during = await stack.progress(project_id)
    stack.broker.restore()

    await flow
    ledger = await stack.settled(project_id, posted)
    assert ledger.problems() == [], _logs(stack)
    assert ledger.recorded == ledger.analysed == ledger.observations == 1000
    # The cut fell in the middle of the flow, and bit: media were still on their way when it
    # began, announcements piled up in the outbox, and every service connected anew.
    assert before.analysed < 1000
    assert during.outbox > 0
    assert stack.broker.accepted >= connections + len(SERVICES)
    assert set(posted.statuses) == {202}


async def test_consumers_killed_mid_batch_get_everything_again_and_store_it_once(
    stack: Stack,
) -> None:
    project_id, token = await stack.site()
    images = gateway_images(300, seed=2)
    ingest = stack.cluster.url("ingest")
    posted = await post_all(ingest, token, images[:100], key_prefix="before")
    left_when_killed: dict[str, int] = {}

    for n, (service, queue, done) in enumerate(KILLED):
        # Killed once while a hundred more arrive, so that a backlog waits for it; then killed
        # again while it works through the backlog: in the middle of a batch, with messages
        # delivered and not yet acknowledged.
        await asyncio.to_thread(stack.cluster.kill, service)
        chunk = images[100 * (n + 1) : 100 * (n + 2)]
        await post_all(ingest, token, chunk, posted=posted, key_prefix=service)
        await eventually(functools.partial(_depth, stack, queue, at_least=20), timeout=60)
        start = done(await stack.progress(project_id))
        await asyncio.to_thread(stack.cluster.restart, service)

        async def working(start: int = start, done: Done = done) -> bool:
            return done(await stack.progress(project_id)) > start

        await eventually(working, timeout=60, interval=0.02)
        await asyncio.to_thread(stack.cluster.kill, service)
        left_when_killed[service] = await _depth(stack, queue)
        await asyncio.to_thread(stack.cluster.restart, service)

    ledger = await stack.settled(project_id, posted)
    assert ledger.problems() == [], _logs(stack)
    assert ledger.recorded == ledger.analysed == ledger.observations == 300
    # Every first kill left a backlog waiting (the wait for its depth above). A second kill
    # lands mid-batch only where the consumer had not finished the backlog by then: a fast
    # one can, on an idle machine, so at least one of them must have had work in its hands.
    assert any(n > 0 for n in left_when_killed.values()), left_when_killed


async def test_a_database_restart_makes_services_unready_then_ready_by_themselves(
    stack: Stack,
) -> None:
    project_id, token = await stack.site()
    posted = Posted()
    flow = stack.post(token, 200, seed=3, posted=posted)
    await eventually(lambda: _true(len(posted.media_ids) >= 50), timeout=120)

    stack.database.cut()
    during = await stack.readiness(SERVICES)
    await asyncio.sleep(OUTAGE_S)
    stack.database.restore()

    # Nobody restarts anything: each service finds the database again on its own.
    async def ready() -> dict[str, int | None] | None:
        seen = await stack.readiness(SERVICES)
        return seen if set(seen.values()) == {200} else None

    await eventually(ready, timeout=60, interval=0.5)
    await flow
    ledger = await stack.settled(project_id, posted)
    assert ledger.problems() == [], _logs(stack)
    assert ledger.recorded == ledger.analysed == 200
    # Unready while the database was away (inference keeps no database and stays ready).
    assert during == {"catalogue": 503, "ingest": 503, "inference": 200}
    # Uploads meanwhile were answered 503 with Retry-After, never 500 (a 500 fails post_all).
    assert posted.statuses[503] > 0
    assert posted.unavailable_without_retry_after == 0


async def test_uploads_while_s3_is_stopped_answer_503_and_leave_nothing_half_written(
    stack: Stack,
) -> None:
    project_id, token = await stack.site()
    posted = Posted()
    flow = stack.post(token, 200, seed=4, posted=posted)
    await eventually(lambda: _true(len(posted.media_ids) >= 50), timeout=120)

    await asyncio.to_thread(stack.s3.stop)
    during = await stack.readiness(SERVICES)
    await asyncio.sleep(S3_STOP_S)
    await asyncio.to_thread(stack.s3.start)

    await flow
    ledger = await stack.settled(project_id, posted)
    assert ledger.problems() == [], _logs(stack)
    assert ledger.recorded == ledger.analysed == 200
    assert ledger.missing_originals == ledger.stray_originals == 0
    assert during == {"catalogue": 503, "ingest": 503, "inference": 503}
    assert posted.statuses[503] > 0
    assert posted.unavailable_without_retry_after == 0
    assert await stack.readiness(SERVICES) == dict.fromkeys(SERVICES, 200)


async def _depth(stack: Stack, queue: str, *, at_least: int = 0) -> int:
    """How many messages the queue holds, ready or delivered and not acknowledged; 0 while
    it holds fewer than ``at_least``."""
    name = stack.queue_prefix + queue
    depth = (await queue_depths(name)).get(name, 0)
    return depth if depth >= at_least else 0


async def _true(value: bool) -> bool:
    return value
