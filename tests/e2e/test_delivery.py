"""What the bus promises, seen from the platform: duplicates and disorder change nothing,
poison goes to dead letters without stopping the consumer, a restart loses nothing."""

from __future__ import annotations

import uuid
from functools import partial
from pathlib import Path
from typing import Any

from tests.support.api import Site, create_site, ok, post_media
from tests.support.factories import Uploads
from tests.support.platform import (
    RunningPlatform,
    admin_token,
    embedded_settings,
    eventually,
    get_media,
    processed_count,
    running,
)
from wildlens.common.events import decode, new_envelope
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Detection,
    MediaAnalyzed,
    ModelRef,
)


def _analysis(media_id: str, project_id: str, version: str, boxes: int) -> MediaAnalyzed:
    result = MediaAnalyzed(
        media_id=media_id,
        project_id=project_id,
        detector=ModelRef(name="md", version=version, sha256="0" * 64),
        detection_threshold=0.2,
    )
    for i in range(boxes):
        result.detections.append(
            Detection(
                category="animal",
                confidence=0.9 - i / 10,
                bbox=BoundingBox(x=0.1 * i, y=0.1, width=0.2, height=0.3),
            )
        )
    return result


async def test_duplicate_and_out_of_order_analyses_create_no_duplicate_observations(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads, heron_images: list[Path]
) -> None:
    body = await upload(heron_images[0])
    media_id = body["media_id"]
    await eventually(lambda: get_media(wl.client, admin, media_id))

    bus = wl.platform.bus
    v2 = new_envelope(_analysis(media_id, site.project_id, "2.0", 1), producer="test")
    v1 = new_envelope(_analysis(media_id, site.project_id, "1.0", 2), producer="test")
    v1_again = new_envelope(_analysis(media_id, site.project_id, "1.0", 2), producer="test")
    # The newer model's result first, then the older one, then the older one again under
    # a new event id, then the very same event redelivered.
    await bus.publish([v2])
    await bus.publish([v1, v1_again, v1])

    async def settled() -> dict[str, Any] | None:
        media = await get_media(wl.client, admin, media_id)
        return media if media and len(media["analyses"]) == 2 else None

    media = await eventually(settled)
    # Give the remaining duplicates time to be handled, then look again.
    await eventually(
        lambda: _at_least(processed_count(wl, "catalogue", "catalogue:media.analyzed"), 3)
    )
    media = await get_media(wl.client, admin, media_id)
    assert media is not None
    assert sorted(a["model_version"] for a in media["analyses"]) == ["1.0", "2.0"]
    by_version = sorted(o["model_version"] for o in media["observations"])
    assert by_version == ["1.0", "1.0", "2.0"]
    assert media["status"] == "analyzed"


async def test_poison_message_is_dead_lettered_and_the_consumer_goes_on(
    settings_for: Any, heron_images: list[Path]
) -> None:
    base = settings_for()
    settings = base.model_copy(
        update={"broker": base.broker.model_copy(update={"max_deliveries": 3})}
    )
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)
        bus = wl.platform.bus
        # An analysis of media the catalogue never recorded can never be stored.
        poison = new_envelope(
            _analysis(str(uuid.uuid4()), site.project_id, "1.0", 1), producer="test"
        )
        await bus.publish([poison])

        async def dead() -> list[Any]:
            return [
                d
                for d in await bus.dead_letters("catalogue", "media.analyzed")
                if decode(d.envelope_bytes).event_id == poison.event_id
            ]

        (letter,) = await eventually(dead, timeout=60)
        assert letter.deliveries == 3
        assert "not recorded yet" in letter.reason

        body = await ok(await post_media(wl.client, site.device_token, heron_images[3]), 202)
        await eventually(lambda: get_media(wl.client, admin, body["media_id"]))
        good = new_envelope(_analysis(body["media_id"], site.project_id, "1.0", 1), producer="test")
        await bus.publish([good])

        async def analyzed() -> dict[str, Any] | None:
            media = await get_media(wl.client, admin, body["media_id"])
            return media if media and media["status"] == "analyzed" else None

        media = await eventually(analyzed)
        assert len(media["observations"]) == 1


async def test_embedded_platform_restarted_with_messages_in_flight_loses_none(
    tmp_path: Path, tiny_detector: Path, heron_images: list[Path]
) -> None:
    settings = embedded_settings(tmp_path / "data", detector=tiny_detector)
    async with running(settings) as wl:
        admin = admin_token(settings)
        site = await create_site(wl.client, admin)

    # Only ingest runs: what it announces waits in the catalogue's queue, on disk.
    accepted = []
    async with running(settings, ["ingest"]) as wl:
        for image in heron_images[:5]:
            accepted.append(
                (await ok(await post_media(wl.client, site.device_token, image), 202))["media_id"]
            )
        assert await wl.platform.bus.dead_letters("catalogue", "media.ingested") == []

    async with running(settings) as wl:

        async def analyzed(media_id: str) -> dict[str, Any] | None:
            media = await get_media(wl.client, admin, media_id)
            return media if media and media["status"] == "analyzed" else None

        for media_id in accepted:
            media = await eventually(partial(analyzed, media_id), timeout=60)
            assert media["deployment_id"] == site.deployment_id


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count >= n)
