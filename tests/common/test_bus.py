"""The bus contract, run against the SQLite memory bus and a real RabbitMQ."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

import pytest

from tests.conftest import AMQP_PASSWORD, AMQP_URL, AMQP_USER, free_port
from wildlens.common.bus import Bus, MemoryBus, RabbitBus, Subscription, create_bus
from wildlens.common.errors import Unavailable
from wildlens.common.events import Envelope, decode, new_envelope
from wildlens.common.events.v1 import media_pb2
from wildlens.common.settings import BrokerSettings

TIMEOUT = 10.0
INGESTED, ANALYZED = "media.ingested", "media.analyzed"


class BusFactory(Protocol):
    def __call__(
        self, instance: str = "a", *, max_deliveries: int = 3, prefetch: int = 8
    ) -> Bus: ...


class Backend:
    """Where the buses of one test live: a URL and the settings that isolate them."""

    def __init__(self, url: str, prefix: str, data_dir: Path) -> None:
        self.url = url
        self.prefix = prefix
        self.data_dir = data_dir
        self.buses: list[Bus] = []

    def settings(self, *, max_deliveries: int = 3, prefetch: int = 8) -> BrokerSettings:
        return BrokerSettings(
            username=AMQP_USER,
            password=AMQP_PASSWORD,
            exchange=f"{self.prefix}wildlens.events",
            queue_prefix=self.prefix,
            max_deliveries=max_deliveries,
            prefetch=prefetch,
        )

    def bus(self, instance: str = "a", *, max_deliveries: int = 3, prefetch: int = 8) -> Bus:
        settings = self.settings(max_deliveries=max_deliveries, prefetch=prefetch)
        bus = create_bus(self.url, settings, data_dir=self.data_dir, instance=instance)
        self.buses.append(bus)
        return bus


@pytest.fixture(params=["memory", "rabbitmq"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "memory":
        backend = Backend(f"memory://{tmp_path / 'bus.sqlite'}", "", tmp_path)
    else:
        prefix: str = request.getfixturevalue("amqp_prefix")
        backend = Backend(AMQP_URL, prefix, tmp_path)
    yield backend
    for bus in backend.buses:
        await bus.close(grace=0.1)
    if backend.buses:
        await backend.buses[0].delete_topology()


@pytest.fixture
def make_bus(backend: Backend) -> BusFactory:
    return backend.bus


class Recorder:
    """A handler that remembers every call and lets a test wait for them."""

    def __init__(self, fail: Callable[[list[Envelope]], bool] = lambda _: False) -> None:
        self.calls: list[list[Envelope]] = []
        self.handled: list[str] = []  # event ids of calls that returned
        self._fail = fail
        self._changed = asyncio.Event()

    async def __call__(self, envelopes: list[Envelope]) -> None:
        self.calls.append(envelopes)
        self._changed.set()
        if self._fail(envelopes):
            raise ValueError("cannot handle " + ",".join(e.event_id for e in envelopes))
        self.handled.extend(e.event_id for e in envelopes)
        self._changed.set()

    async def wait_handled(self, count: int) -> list[str]:
        await until(lambda: len(self.handled) >= count, self._changed)
        return self.handled


async def until(condition: Callable[[], bool], changed: asyncio.Event | None = None) -> None:
    """Wait until ``condition()`` holds, re-checking on ``changed`` or every 50 ms."""
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            if changed is None:
                await asyncio.sleep(0.05)
                continue
            changed.clear()
            try:
                async with asyncio.timeout(0.05):
                    await changed.wait()
            except TimeoutError:
                pass


async def until_async(condition: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not await condition():
            await asyncio.sleep(0.05)


def ingested(media_id: str = "m") -> Envelope:
    return new_envelope(media_pb2.MediaIngested(media_id=media_id), producer="test")


def analyzed(media_id: str = "m") -> Envelope:
    return new_envelope(media_pb2.MediaAnalyzed(media_id=media_id), producer="test")


async def test_routes_by_type_to_every_group(make_bus: BusFactory) -> None:
    catalogue, citsci, other = Recorder(), Recorder(), Recorder()
    bus = make_bus()
    bus.subscribe(Subscription("catalogue", INGESTED, catalogue))
    bus.subscribe(Subscription("citsci", INGESTED, citsci))
    bus.subscribe(Subscription("other", ANALYZED, other))
    await bus.start()

    first, second = ingested("1"), analyzed("2")
    await bus.publish([first])
    await bus.publish([second])

    assert await catalogue.wait_handled(1) == [first.event_id]
    assert await citsci.wait_handled(1) == [first.event_id]
    assert await other.wait_handled(1) == [second.event_id]
    assert catalogue.calls[0][0] == first


async def test_subscribe_after_start(make_bus: BusFactory) -> None:
    recorder = Recorder()
    bus = make_bus()
    await bus.start()
    bus.subscribe(Subscription("late", INGESTED, recorder))
    publisher = make_bus("publisher")
    await publisher.start()
    envelope = ingested()
    # Declared in the background; once declared() returns, the queue hears what is published.
    await bus.declared()
    await publisher.publish([envelope])
    assert await recorder.wait_handled(1) == [envelope.event_id]


async def test_competing_consumers_share_the_work(make_bus: BusFactory) -> None:
    seen: dict[str, list[str]] = {"a": [], "b": []}
    changed = asyncio.Event()

    def handler(instance: str) -> Callable[[list[Envelope]], Awaitable[None]]:
        async def handle(envelopes: list[Envelope]) -> None:
            await asyncio.sleep(0.02)
            seen[instance].extend(e.event_id for e in envelopes)
            changed.set()

        return handle

    buses = [make_bus(name, prefetch=1) for name in seen]
    for name, bus in zip(seen, buses, strict=True):
        bus.subscribe(Subscription("catalogue", INGESTED, handler(name)))
        await bus.start()

    envelopes = [ingested(str(i)) for i in range(20)]
    await buses[0].publish(envelopes)
    await until(lambda: len(seen["a"]) + len(seen["b"]) >= 20, changed)
    # A duplicate that should never come has no later event to wait for (either consumer
    # could take a marker while the other still held one): a short, bounded window it is.
    await asyncio.sleep(0.2)

    assert sorted(seen["a"] + seen["b"]) == sorted(e.event_id for e in envelopes)
    assert seen["a"]
    assert seen["b"]


async def test_a_backend_outage_spends_no_delivery_attempt(make_bus: BusFactory) -> None:
    """A handler failing because a backend does not answer is called again, the message held
    meanwhile, instead of giving it back: even with one delivery allowed, a message that met
    an outage is handled in the end, not dead-lettered."""
    calls: list[list[Envelope]] = []
    handled: list[str] = []

    async def handler(envelopes: list[Envelope]) -> None:
        calls.append(envelopes)
        if len(calls) <= 2:
            raise Unavailable("the database does not answer")
        handled.extend(e.event_id for e in envelopes)

    bus = make_bus(max_deliveries=1)
    bus.subscribe(Subscription("catalogue", INGESTED, handler))
    await bus.start()
    envelope = ingested()

    await bus.publish([envelope])

    await until(lambda: bool(handled))
    assert handled == [envelope.event_id]
    assert len(calls) == 3
    assert await bus.dead_letters("catalogue", INGESTED) == []


async def test_failed_handler_gets_the_message_again(make_bus: BusFactory) -> None:
    recorder = Recorder(fail=lambda _: len(recorder.calls) == 1)
    bus = make_bus()
    bus.subscribe(Subscription("catalogue", INGESTED, recorder))
    await bus.start()
    envelope = ingested()

    await bus.publish([envelope])

    assert await recorder.wait_handled(1) == [envelope.event_id]
    assert len(recorder.calls) == 2
    assert await bus.dead_letters("catalogue", INGESTED) == []


async def test_poison_message_is_dead_lettered_and_the_rest_flows(make_bus: BusFactory) -> None:
    poison, good = ingested("poison"), ingested("good")
    recorder = Recorder(fail=lambda envs: envs[0].event_id == poison.event_id)
    bus = make_bus(max_deliveries=3)
    bus.subscribe(Subscription("catalogue", INGESTED, recorder))
    await bus.start()

    await bus.publish([poison, good])

    assert await recorder.wait_handled(1) == [good.event_id]
    await until_async(lambda: _has_dead_letters(bus, "catalogue"))
    [letter] = await bus.dead_letters("catalogue", INGESTED)
    assert decode(letter.envelope_bytes).event_id == poison.event_id
    assert "cannot handle" in letter.reason
    assert poison.event_id in letter.reason
    assert letter.deliveries == 3
    assert sum(1 for call in recorder.calls if call[0].event_id == poison.event_id) == 3
    # Reading dead letters leaves them in place.
    assert len(await bus.dead_letters("catalogue", INGESTED)) == 1

    after = ingested("after")
    await bus.publish([after])
    assert await recorder.wait_handled(2) == [good.event_id, after.event_id]


async def _has_dead_letters(bus: Bus, group: str) -> bool:
    return bool(await bus.dead_letters(group, INGESTED))


async def test_invalid_envelope_is_dead_lettered_without_retries(make_bus: BusFactory) -> None:
    recorder = Recorder()
    bus = make_bus(max_deliveries=3)
    bus.subscribe(Subscription("catalogue", INGESTED, recorder))
    await bus.start()
    invalid = Envelope(
        event_id="",
        type=INGESTED,
        schema_version=1,
        occurred_at=ingested().occurred_at,
        producer="test",
        payload=b"",
    )
    valid = ingested()

    await bus.publish([invalid, valid])

    assert await recorder.wait_handled(1) == [valid.event_id]
    await until_async(lambda: _has_dead_letters(bus, "catalogue"))
    [letter] = await bus.dead_letters("catalogue", INGESTED)
    assert "InvalidEnvelope" in letter.reason
    assert letter.deliveries == 1
    assert len(recorder.calls) == 1


async def test_batches_and_a_poison_message_inside_one(make_bus: BusFactory) -> None:
    poison = ingested("poison")
    recorder = Recorder(fail=lambda envs: any(e.event_id == poison.event_id for e in envs))
    bus = make_bus(max_deliveries=2, prefetch=16)
    bus.subscribe(Subscription("catalogue", INGESTED, recorder, batch_size=10, batch_wait=0.3))
    await bus.start()
    good = [ingested(str(i)) for i in range(7)]

    await bus.publish([*good[:3], poison, *good[3:]])

    assert sorted(await recorder.wait_handled(7)) == sorted(e.event_id for e in good)
    assert max(len(call) for call in recorder.calls) > 1
    await until_async(lambda: _has_dead_letters(bus, "catalogue"))
    [letter] = await bus.dead_letters("catalogue", INGESTED)
    assert decode(letter.envelope_bytes).event_id == poison.event_id
    assert letter.deliveries == 2
    assert len(recorder.handled) == 7  # no good message handled twice


async def test_prefetch_bounds_unacked_messages(make_bus: BusFactory) -> None:
    running = peak = done = 0
    changed = asyncio.Event()

    async def handle(envelopes: list[Envelope]) -> None:
        nonlocal running, peak, done
        running += len(envelopes)
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= len(envelopes)
        done += len(envelopes)
        changed.set()

    bus = make_bus(prefetch=2)
    bus.subscribe(Subscription("catalogue", INGESTED, handle))
    await bus.start()

    await bus.publish([ingested(str(i)) for i in range(8)])

    await until(lambda: done >= 8, changed)
    assert peak == 2


async def test_a_batch_larger_than_the_prefetch_setting_arrives_whole(
    make_bus: BusFactory,
) -> None:
    recorder = Recorder()
    bus = make_bus(prefetch=2)
    bus.subscribe(Subscription("catalogue", INGESTED, recorder, batch_size=12, batch_wait=0.5))
    await bus.start()
    events = [ingested(str(i)) for i in range(12)]

    await bus.publish(events)

    assert sorted(await recorder.wait_handled(12)) == sorted(e.event_id for e in events)
    # The subscription's batch size, not the smaller prefetch setting, bounds a batch.
    assert max(len(call) for call in recorder.calls) > 2


async def test_broadcast_reaches_every_instance(make_bus: BusFactory) -> None:
    recorders = [Recorder(), Recorder()]
    for instance, recorder in zip(("a", "b"), recorders, strict=True):
        bus = make_bus(instance)
        bus.subscribe(Subscription("inference", INGESTED, recorder, broadcast=True))
        await bus.start()
    publisher = make_bus("publisher")
    await publisher.start()
    envelope = ingested()

    await publisher.publish([envelope])

    for recorder in recorders:
        assert await recorder.wait_handled(1) == [envelope.event_id]


async def test_closing_during_a_handler_loses_nothing(make_bus: BusFactory) -> None:
    started, never = asyncio.Event(), asyncio.Event()

    async def stuck(envelopes: list[Envelope]) -> None:
        started.set()
        await never.wait()

    first = make_bus("first")
    first.subscribe(Subscription("catalogue", INGESTED, stuck))
    await first.start()
    envelope = ingested()
    await first.publish([envelope])
    async with asyncio.timeout(TIMEOUT):
        await started.wait()

    await first.close(grace=0.1)

    recorder = Recorder()
    second = make_bus("second")
    second.subscribe(Subscription("catalogue", INGESTED, recorder))
    await second.start()
    assert await recorder.wait_handled(1) == [envelope.event_id]


async def test_messages_wait_for_a_consumer_that_is_not_running(make_bus: BusFactory) -> None:
    declaring = make_bus("declaring")
    declaring.subscribe(Subscription("catalogue", INGESTED, Recorder()))
    await declaring.start()
    await declaring.close()
    publisher = make_bus("publisher")
    await publisher.start()
    envelopes = [ingested("1"), ingested("2")]

    await publisher.publish(envelopes)

    recorder = Recorder()
    restarted = make_bus("restarted")
    restarted.subscribe(Subscription("catalogue", INGESTED, recorder))
    await restarted.start()
    assert sorted(await recorder.wait_handled(2)) == sorted(e.event_id for e in envelopes)


_CRASHING_CONSUMER = """
import asyncio, os, sys
from pathlib import Path
from wildlens.common.bus import Subscription, create_bus
from wildlens.common.settings import BrokerSettings

url, exchange, prefix, user, password, max_deliveries = sys.argv[1:7]

async def crash(envelopes):
    print(envelopes[0].event_id, flush=True)
    os._exit(3)

async def main():
    settings = BrokerSettings(
        username=user,
        password=password,
        exchange=exchange,
        queue_prefix=prefix,
        max_deliveries=int(max_deliveries),
    )
    bus = create_bus(url, settings, data_dir=Path("."), instance="doomed")
    bus.subscribe(Subscription("catalogue", "media.ingested", crash))
    await bus.start()
    await asyncio.sleep(30)

asyncio.run(main())
"""


async def test_a_crashed_consumer_process_loses_nothing(
    backend: Backend, make_bus: BusFactory
) -> None:
    declaring = make_bus("declaring")
    declaring.subscribe(Subscription("catalogue", INGESTED, Recorder()))
    await declaring.start()
    await declaring.close()
    publisher = make_bus("publisher")
    await publisher.start()
    envelope = ingested()
    await publisher.publish([envelope])

    settings = backend.settings()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CRASHING_CONSUMER,
        backend.url,
        settings.exchange,
        settings.queue_prefix,
        AMQP_USER,
        AMQP_PASSWORD,
        str(settings.max_deliveries),
        stdout=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT * 2):
        out, _ = await process.communicate()
    assert process.returncode == 3
    assert out.decode().splitlines()[-1] == envelope.event_id

    recorder = Recorder()
    survivor = make_bus("survivor")
    survivor.subscribe(Subscription("catalogue", INGESTED, recorder))
    await survivor.start()
    assert await recorder.wait_handled(1) == [envelope.event_id]


async def test_ping_answers_while_events_flow_and_delivers_nothing(make_bus: BusFactory) -> None:
    recorder = Recorder()
    bus = make_bus()
    bus.subscribe(Subscription("catalogue", INGESTED, recorder))
    await bus.start()

    await bus.ping()
    envelope = ingested("after-ping")
    await bus.publish([envelope])

    # The subscriber hears the event published after the ping, and the ping as no event.
    assert await recorder.wait_handled(1) == [envelope.event_id]


async def test_rabbitmq_that_does_not_answer_is_unavailable(tmp_path: Path) -> None:
    settings = BrokerSettings(username=AMQP_USER, password=AMQP_PASSWORD)
    bus = RabbitBus(f"amqp://127.0.0.1:{free_port()}/", settings, instance="a", timeout=2)

    with pytest.raises(Unavailable):
        await bus.ping()
    with pytest.raises(Unavailable):
        await bus.start()


def test_create_bus_chooses_by_url(tmp_path: Path) -> None:
    settings = BrokerSettings()
    memory = create_bus("memory://", settings, data_dir=tmp_path, instance="a")
    assert isinstance(memory, MemoryBus)
    explicit = create_bus(f"memory://{tmp_path}/x.sqlite", settings, data_dir=Path(), instance="a")
    assert isinstance(explicit, MemoryBus)
    rabbit = create_bus("amqp://h:5672/", settings, data_dir=tmp_path, instance="a")
    assert isinstance(rabbit, RabbitBus)
    with pytest.raises(ValueError, match="scheme"):
        create_bus("kafka://h", settings, data_dir=tmp_path, instance="a")


@pytest.mark.parametrize(
    ("url", "file"), [("memory://", "bus.sqlite"), ("memory://{tmp}/own.sqlite", "own.sqlite")]
)
async def test_memory_bus_file(tmp_path: Path, url: str, file: str) -> None:
    bus = create_bus(
        url.format(tmp=tmp_path), BrokerSettings(), data_dir=tmp_path / "data", instance="a"
    )
    await bus.start()
    await bus.publish([ingested()])
    await bus.close()
    assert (tmp_path / ("data" if file == "bus.sqlite" else "") / file).exists()
