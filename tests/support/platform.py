"""Running the platform inside a test: the real app, its lifespan, and an HTTP client."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import uvicorn

from tests.conftest import AMQP_PASSWORD, AMQP_URL, AMQP_USER, PG_URL, S3Server
from wildlens.common.auth import TokenIssuer, load_keyring
from wildlens.common.auth.keys import generate_pem_pair
from wildlens.common.http import create_app
from wildlens.common.service import discover_services, platform_settings
from wildlens.common.settings import Settings, SettingsGroup

# The tests' webhook receivers listen on loopback, which the catalogue refuses by default.
TEST_ALERTS = {"allow_private_targets": True}


def embedded_settings(data_dir: Path, *, detector: Path | None = None) -> Settings:
    # The common settings and every installed service's group.
    return platform_settings().model_validate(
        {
            "mode": "embedded",
            "data_dir": data_dir,
            "log_json": True,
            "inference": {"detector": detector},
            "alerts": TEST_ALERTS,
        }
    )


def real_settings(
    data_dir: Path,
    *,
    schema_prefix: str,
    amqp_prefix: str,
    s3: S3Server,
    bucket: str,
    detector: Path | None = None,
) -> Settings:
    private_pem, _public_pem = generate_pem_pair()
    return platform_settings().model_validate(
        {
            "mode": "distributed",
            "data_dir": data_dir,
            "database_url": PG_URL,
            "broker_url": AMQP_URL,
            "storage_url": s3.url(bucket),
            "database": {"schema_prefix": schema_prefix},
            "broker": {
                "username": AMQP_USER,
                "password": AMQP_PASSWORD,
                "exchange": f"{amqp_prefix}wildlens.events",
                "queue_prefix": amqp_prefix,
            },
            "storage": {"access_key": s3.access_key, "secret_key": s3.secret_key},
            "auth": {"private_key": private_pem.decode()},
            "inference": {"detector": detector},
            "alerts": TEST_ALERTS,
        }
    )


G = TypeVar("G", bound=SettingsGroup)

# ``settings_for(detector=None, **overrides)``: the settings of the backend under test.
SettingsFactory = Callable[..., Settings]


def with_group(settings: Settings, group: type[G], **changes: Any) -> Settings:
    """``settings`` with some fields of one service's settings group changed."""
    return settings.model_copy(update={group.group: group.of(settings).model_copy(update=changes)})


def admin_token(settings: Settings, subject: str = "admin") -> str:
    issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
    return issuer.user_token(subject, {"*": "admin"})


def user_token(settings: Settings, subject: str, roles: dict[str, str]) -> str:
    issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
    return issuer.user_token(subject, roles)


@contextmanager
def serving_in_thread(settings: Settings, port: int) -> Iterator[None]:
    """The whole platform listening on ``port`` (for the CLI, which speaks HTTP), until the
    block ends."""
    app = create_app(settings, discover_services())
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "the platform stopped while starting"
        assert time.monotonic() < deadline, "the platform did not start within a minute"
        time.sleep(0.05)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@dataclass
class RunningPlatform:
    settings: Settings
    client: httpx.AsyncClient
    app: Any

    @property
    def platform(self) -> Any:
        return self.app.state.platform


@asynccontextmanager
async def running(
    settings: Settings, services: list[str] | None = None
) -> AsyncIterator[RunningPlatform]:
    app = create_app(settings, discover_services(services))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://wildlens.test"
        ) as client:
            yield RunningPlatform(settings, client, app)


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 30.0, interval: float = 0.05
) -> Any:
    """Poll ``probe`` until it returns something truthy; its last value on success."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s; last value: {last!r}")


async def download(wl: RunningPlatform, url: str) -> httpx.Response:
    """GET a URL the platform handed out, without a token, as a browser would: the platform's
    own signed routes in-process, anything else (a presigned S3 URL) over the network."""
    if url.startswith(wl.settings.public_url):
        parts = urlsplit(url)
        return await wl.client.get(f"{parts.path}?{parts.query}")
    async with httpx.AsyncClient() as outside:
        return await outside.get(url)


async def get_media(
    client: httpx.AsyncClient, token: str, media_id: object
) -> dict[str, Any] | None:
    """``GET /v1/media/{id}``: the media, or None while the catalogue has not recorded it."""
    response = await client.get(
        f"/v1/media/{media_id}", headers={"Authorization": f"Bearer {token}"}
    )
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    return dict(response.json())


async def processed_count(wl: RunningPlatform, service: str, consumer: str) -> int:
    """How many events ``consumer`` (``"<service>:<event type>"``) has handled and committed."""
    from sqlalchemy import func, select

    ctx = wl.platform.contexts[service]
    table = ctx.processed_table
    async with ctx.db.transaction() as session:
        result = await (await session.connection()).execute(
            select(func.count()).select_from(table).where(table.c.consumer == consumer)
        )
        return int(result.scalar_one())
