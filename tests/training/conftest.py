"""The checkpoints ``wildlens models add`` converts (built once, kept in pytest's cache between
runs), and a platform listening on a port for the command to talk to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.support.platform import admin_token, embedded_settings, serving_in_thread


def _cache_folder(
    request: pytest.FixtureRequest, factory: pytest.TempPathFactory, name: str
) -> Path:
    cache = getattr(request.config, "cache", None)
    return Path(cache.mkdir(name)) if cache is not None else factory.mktemp(name)


@pytest.fixture(scope="session")
def yolov5_checkpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from tests.support.checkpoints import build_yolov5_checkpoint

    return build_yolov5_checkpoint(_cache_folder(request, tmp_path_factory, "yolov5-checkpoint"))


@pytest.fixture(scope="session")
def ultralytics_checkpoint(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from tests.support.checkpoints import build_ultralytics_checkpoint

    return build_ultralytics_checkpoint(
        _cache_folder(request, tmp_path_factory, "ultralytics-checkpoint")
    )


@dataclass(frozen=True)
class Served:
    url: str
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The whole platform on the embedded backends, no detector yet, listening on a free port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    data = tmp_path_factory.mktemp("platform") / "data"
    settings = embedded_settings(data).model_copy(update={"public_url": url})
    with serving_in_thread(settings, port):
        yield Served(url, admin_token(settings))


def wait_until_serving(served: Served, name: str, version: str, timeout: float = 90) -> None:
    """Until the platform's inference serves ``name`` ``version`` as its global detector."""

    async def poll() -> None:
        async with httpx.AsyncClient(base_url=served.url) as client:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                models = (await client.get("/readyz")).json()["services"]["inference"]["models"]
                if any((m["name"], m["version"]) == (name, version) for m in models):
                    return
                await asyncio.sleep(0.2)
            raise AssertionError(f"{name} {version} does not serve; serving: {models}")

    asyncio.run(poll())
