"""The distributed stack as the fault tests and benches run it: the services as separate
processes (``cluster``), PostgreSQL and RabbitMQ behind a TCP proxy each (``tcp_proxy``), an S3
server of its own that can be stopped (``s3_server``), and the means to post media and read
back what became of them (``gateways``, ``ledger``).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.api import create_site
from tests.support.cluster import Backends, ServiceCluster, drop_prefixed
from tests.support.gateways import Posted, gateway_images, post_all
from tests.support.ledger import Ledger, Progress, read_ledger, read_progress
from tests.support.s3_server import StoppableS3
from tests.support.tcp_proxy import TcpProxy

__all__ = ["Stack", "open_stack"]

PG_HOST, PG_PORT, AMQP_HOST, AMQP_PORT = "127.0.0.1", 5432, "127.0.0.1", 5672
AMQP_USER, AMQP_PASSWORD = "guest", "guest"


@dataclass
class Stack:
    cluster: ServiceCluster
    database: TcpProxy
    broker: TcpProxy
    s3: StoppableS3
    bucket: str
    schema_prefix: str
    queue_prefix: str

    async def site(self) -> tuple[str, str]:
        """A new project with a camera: its id and the camera's token."""
        async with httpx.AsyncClient(base_url=self.cluster.url("catalogue"), timeout=30) as c:
            site = await create_site(c, self.cluster.admin)
        return site.project_id, site.device_token

    def post(
        self, token: str, count: int, seed: int, posted: Posted, *, concurrency: int = 8
    ) -> asyncio.Task[Posted]:
        """Gateways posting ``count`` new images in the background, until each is accepted."""
        images = gateway_images(count, seed=seed)
        return asyncio.create_task(
            post_all(
                self.cluster.url("ingest"),
                token,
                images,
                posted=posted,
                concurrency=concurrency,
                key_prefix=f"images-{seed}",
            )
        )

    async def progress(self, project_id: str) -> Progress:
        return await read_progress(self.schema_prefix, project_id)

    async def ledger(self, project_id: str, posted: Posted) -> Ledger:
        return await read_ledger(
            schema_prefix=self.schema_prefix,
            queue_prefix=self.queue_prefix,
            project_id=project_id,
            media_ids=set(posted.media_ids.values()),
            bucket=self.s3.client(),
            bucket_name=self.bucket,
        )

    async def settled(self, project_id: str, posted: Posted, *, timeout: float = 180) -> Ledger:
        """The ledger once everything posted has gone all the way through (or the last one
        read when the time is up: its problems say what is missing)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            ledger = await self.ledger(project_id, posted)
            if ledger.complete or loop.time() > deadline:
                return ledger
            await asyncio.sleep(1)

    async def readiness(self, services: list[str]) -> dict[str, int | None]:
        return {s: await asyncio.to_thread(self.cluster.ready, s) for s in services}


@contextmanager
def open_stack(
    folder: Path,
    services: list[str],
    *,
    detector: Path | None,
    env: Mapping[str, str],
    proxied: bool = True,
) -> Iterator[Stack]:
    """Start the services on the backends (through proxies unless ``proxied`` is false) in
    schemas, queues and a bucket of their own; stop them and remove all of it afterwards."""
    unique = "t" + uuid.uuid4().hex[:10]
    schema_prefix, queue_prefix = f"{unique}_", f"{unique}."
    database = TcpProxy(PG_HOST, PG_PORT).start()
    broker = TcpProxy(AMQP_HOST, AMQP_PORT).start()
    s3 = StoppableS3().start()
    bucket = f"{unique}-faults"
    pg = database.address if proxied else f"{PG_HOST}:{PG_PORT}"
    amqp = broker.address if proxied else f"{AMQP_HOST}:{AMQP_PORT}"
    cluster = ServiceCluster(
        folder,
        Backends(
            database_url=f"postgresql+asyncpg://postgres@{pg}/test",
            broker_url=f"amqp://{amqp}/",
            broker_user=AMQP_USER,
            broker_password=AMQP_PASSWORD,
            storage_url=s3.url(bucket),
            storage_access_key=s3.access_key,
            storage_secret_key=s3.secret_key,
            schema_prefix=schema_prefix,
            queue_prefix=queue_prefix,
        ),
        services,
        detector=detector,
        env=env,
    )
    try:
        cluster.start()
        yield Stack(cluster, database, broker, s3, bucket, schema_prefix, queue_prefix)
    finally:
        cluster.stop()
        database.close()
        broker.close()
        s3.stop()
        asyncio.run(drop_prefixed(schema_prefix, queue_prefix))
