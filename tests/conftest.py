"""Fixtures for the real backends: PostgreSQL, RabbitMQ and an S3 server (moto).

Each test gets its own PostgreSQL schemas, its own exchange and queue names and its own
bucket, and removes them afterwards (in the background, while the next tests run). Where
PostgreSQL or RabbitMQ cannot be reached the real-backend tests are skipped, unless
``WILDLENS_REQUIRE_BACKENDS=1`` (CI), which turns an unreachable backend into a failure.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_URL = os.environ.get(
    "WILDLENS_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
AMQP_URL = os.environ.get("WILDLENS_TEST_BROKER_URL", "amqp://127.0.0.1:5672/")
AMQP_USER, AMQP_PASSWORD = "guest", "guest"
REQUIRE_BACKENDS = os.environ.get("WILDLENS_REQUIRE_BACKENDS") == "1"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _need(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_BACKENDS:
        pytest.fail(message + " and WILDLENS_REQUIRE_BACKENDS=1", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unique() -> str:
    """A short name no other test run uses."""
    return "t" + uuid.uuid4().hex[:10]


class Cleanup:
    """Removes what finished tests left on the shared servers, one removal at a time in a
    thread of its own: no test waits for it (its names are its own), and a removal that fails
    fails the run at its end."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cleanup")
        self._done: list[Future[None]] = []

    def soon(self, removal: Callable[[], Coroutine[None, None, None]]) -> None:
        self._done.append(self._executor.submit(lambda: asyncio.run(removal())))

    def finish(self) -> None:
        self._executor.shutdown(wait=True)
        for future in self._done:
            future.result()


@pytest.fixture(scope="session")
def cleanup() -> Iterator[Cleanup]:
    removals = Cleanup()
    yield removals
    removals.finish()


@pytest.fixture
def pg_schema_prefix(unique: str, cleanup: Cleanup) -> Iterator[str]:
    """A schema prefix on the real PostgreSQL; every schema with it is dropped afterwards."""
    _need("PostgreSQL", PG_HOST, PG_PORT)
    prefix = f"{unique}_"
    yield prefix

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database="test")
        try:
            rows = await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
                prefix.replace("_", r"\_") + "%",
            )
            for row in rows:
                await conn.execute(f'DROP SCHEMA "{row["nspname"]}" CASCADE')
        finally:
            await conn.close()

    cleanup.soon(drop)


@pytest.fixture
def amqp_prefix(unique: str, cleanup: Cleanup) -> Iterator[str]:
    """An exchange/queue name prefix on the real RabbitMQ; all its queues and exchanges are
    deleted afterwards."""
    _need("RabbitMQ", "127.0.0.1", 5672)
    prefix = f"{unique}."
    yield prefix

    async def drop() -> None:
        from tests.support.rabbit import delete_prefixed

        await delete_prefixed(AMQP_URL, AMQP_USER, AMQP_PASSWORD, prefix)

    cleanup.soon(drop)


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port
    access_key: str
    secret_key: str
    region: str

    def url(self, bucket: str) -> str:
        return f"s3://{self.endpoint}/{bucket}?secure=false&region={self.region}"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3 server (moto) on a free loopback port for the whole run."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"127.0.0.1:{port}", "wildlens-test", "wildlens-test-secret", "us-east-1")
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(unique: str) -> str:
    return f"{unique}-bucket"


BACKEND_FIXTURES = {"pg_schema_prefix", "amqp_prefix", "s3_server", "s3_bucket"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "tiny_detector: the platform under test serves the tiny detector (tests/e2e)"
    )
    config.addinivalue_line(
        "markers", "services(*names): the platform under test runs only these services (tests/e2e)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use a real backend are marked, so ``-m "not backends"`` leaves them out."""
    for item in items:
        if BACKEND_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.backends)


@pytest.fixture(scope="session")
def tiny_detector(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny detector trained for seconds on generated scenes and exported to ONNX; kept in
    pytest's cache between runs (rebuilt in a temp folder with the cache plugin off)."""
    from tests.support.tiny_models import build_tiny_detector

    cache = getattr(request.config, "cache", None)
    folder = cache.mkdir("tiny-detector") if cache is not None else tmp_path_factory.mktemp("tiny")
    return build_tiny_detector(Path(folder))
