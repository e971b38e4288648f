"""Field gateways posting camera-trap images, as a fault test and the fault bench drive them:
each image distinct (its own scene, so its own hash), small, and posted until it is accepted,
the way a gateway on a bad link keeps trying.

A gateway honours ``Retry-After`` on 503 and 429, retries after a pause when the connection
itself fails, and sends an ``Idempotency-Key`` per image, so that a retry whose first answer
was lost gets the same media id instead of a second medium.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import numpy as np

from tests.support.tiny_models import generate_scene, random_box

__all__ = ["Posted", "gateway_images", "post_all"]


def gateway_images(count: int, *, seed: int = 0, size: int = 64) -> list[bytes]:
    """``count`` distinct JPEGs of ``size`` pixels square, each with one object in it."""
    images: list[bytes] = []
    for n in range(count):
        rng = np.random.default_rng(seed * 1_000_003 + n)
        scene = generate_scene(size, size, random_box(rng), seed=seed * 1_000_003 + n)
        out = io.BytesIO()
        scene.save(out, "JPEG", quality=85)
        images.append(out.getvalue())
    return images


@dataclass
class Posted:
    """What the gateways got: the media id of every image, and every answer on the way."""

    # By the image's idempotency key.
    media_ids: dict[str, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    # Connection errors and timeouts, by exception name.
    errors: Counter[str] = field(default_factory=Counter)
    # 503 answers without a Retry-After header (there must be none).
    unavailable_without_retry_after: int = 0
    # Seconds from the first post to the last image accepted.
    seconds: float = 0.0

    @property
    def retried(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 202) + sum(
            self.errors.values()
        )


async def post_all(
    ingest_url: str,
    token: str,
    images: list[bytes],
    *,
    concurrency: int = 8,
    posted: Posted | None = None,
    key_prefix: str = "image",
    give_up_after: float = 600.0,
) -> Posted:
    """Post every image until it is accepted (202), ``concurrency`` at a time, with the
    idempotency key ``<key_prefix>-<index>`` (a prefix per call when several post into one
    ``posted``).

    Raises:
        AssertionError: an image was refused for good (a 4xx other than 429), or still not
            accepted ``give_up_after`` seconds after its first try.
    """
    posted = posted or Posted()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(images)):
        queue.put_nowait(n)
    started = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def post_one(client: httpx.AsyncClient, n: int) -> None:
        key = f"{key_prefix}-{n}"
        deadline = time.monotonic() + give_up_after
        while time.monotonic() < deadline:
            try:
                response = await client.post(
                    "/v1/media",
                    files={"file": (f"IMG_{n:05d}.JPG", images[n], "image/jpeg")},
                    headers={**headers, "Idempotency-Key": key},
                )
            except httpx.TransportError as exc:
                posted.errors[type(exc).__name__] += 1
                await asyncio.sleep(1.0)
                continue
            posted.statuses[response.status_code] += 1
            if response.status_code == 202:
                posted.media_ids[key] = str(response.json()["media_id"])
                return
            if response.status_code in (429, 503):
                retry_after = response.headers.get("Retry-After")
                if response.status_code == 503 and retry_after is None:
                    posted.unavailable_without_retry_after += 1
                await asyncio.sleep(min(float(retry_after or 1), 5.0))
                continue
            raise AssertionError(f"image {n} refused: {response.status_code} {response.text}")
        raise AssertionError(f"image {n} not accepted within {give_up_after} s")

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            await post_one(client, queue.get_nowait())

    async with httpx.AsyncClient(base_url=ingest_url, timeout=60, limits=limits) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    posted.seconds = time.monotonic() - started
    return posted
