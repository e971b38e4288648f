"""A video through the platform: stored and answered at once, then cut into frames and clips
that each flow on as media of their own."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta
from functools import partial

import pytest
from PIL import Image

from tests.support.api import Site, ok
from tests.support.bad_files import real_jpeg
from tests.support.factories import Uploads
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    eventually,
    get_media,
    with_group,
)
from tests.support.videos import video_bytes
from wildlens.common.bus import Subscription
from wildlens.common.events import Envelope, new_envelope, unpack
from wildlens.common.events.v1.media_pb2 import MediaIngested
from wildlens.common.settings import Settings
from wildlens.ingest.consumers import video_requested
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.video.jobs import child_media_id, split_requested

START = "2021-04-01T10:00:00+01:00"

# Media go up through ingest to the catalogue; nothing here needs the other services.
pytestmark = pytest.mark.services("catalogue", "ingest")


@pytest.fixture
def settings(settings_for: SettingsFactory) -> Settings:
    """A frame every second and clips of two seconds, so a short video gives several of each."""
    return with_group(
        settings_for(), IngestSettings, video_frame_interval_s=1, video_clip_seconds=2
    )


async def test_a_video_is_cut_into_frames_and_clips_that_flow_as_media(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    data = video_bytes("mp4", seconds=3, fps=10)
    announced: list[MediaIngested] = []

    async def watch(envelopes: list[Envelope]) -> None:
        announced.extend(unpack(e, MediaIngested) for e in envelopes)

    wl.platform.bus.subscribe(
        Subscription(group="observer", event_type="media.ingested", handler=watch)
    )
    await wl.platform.bus.declared()
    body = await ok(
        await upload.post(
            data=data,
            filename="transect.mp4",
            fields={"captured_at": START},
        ),
        202,
    )
    video_id = uuid.UUID(body["media_id"])
    frames = {ms: child_media_id(video_id, "frame", ms) for ms in (0, 1000, 2000)}
    clips = {ms: child_media_id(video_id, "clip", ms) for ms in (0, 2000)}

    video = await eventually(lambda: get_media(wl.client, admin, video_id))
    assert video["kind"] == "video"
    assert (video["width"], video["height"]) == (160, 120)
    start = datetime.fromisoformat(START)
    for kind, children in (("frame", frames), ("video", clips)):
        for offset_ms, child_id in children.items():
            child = await eventually(partial(get_media, wl.client, admin, child_id))
            assert child["kind"] == kind
            assert child["parent_media_id"] == str(video_id)
            assert child["offset_ms"] == offset_ms
            assert child["deployment_id"] == site.deployment_id
            assert datetime.fromisoformat(child["captured_at"]) == start + timedelta(
                milliseconds=offset_ms
            )

    store = wl.platform.store
    sha = body["sha256"]
    keys = sorted(o.key for o in await store.list(f"frames/{sha}/"))
    assert keys == sorted(
        [f"frames/{sha}/{ms}.jpg" for ms in frames]
        + [f"frames/{sha}/clip-{ms}.mp4" for ms in clips]
        + [f"frames/{sha}/manifest.json"]
    )
    # Every frame gets derivatives, like an uploaded image.
    frame_hashes = {m.sha256 for m in announced if m.parent_media_id and m.kind == 3}
    assert len(frame_hashes) == 3
    for frame_sha in frame_hashes:
        await eventually(partial(store.exists, f"derived/{frame_sha}/thumb.jpg"))

    # The same job delivered again (a crash before the ack) announces the same ids and
    # stores nothing new.
    async def seen(count: int) -> bool:
        return len(announced) >= count

    await eventually(lambda: seen(6))  # the video and its five pieces, first time round
    before = {o.key: o.size for o in await store.list("")}
    announced.clear()
    ingest = wl.platform.contexts["ingest"]
    video_event = MediaIngested(
        media_id=str(video_id),
        project_id=site.project_id,
        sha256=sha,
        object_key=f"media/{sha[:2]}/{sha}.mp4",
        content_type="video/mp4",
        device_id=site.device_id,
        captured_at=START,
        filename="transect.mp4",
    )
    again = new_envelope(split_requested(video_event), producer="test")
    await video_requested.consume(ingest, [again])
    # A medium uploaded now is announced after whatever the split staged (ingest's outbox goes
    # out in order): once it is heard, a stray sixth announcement would have been heard too.
    marker = await ok(await upload.post(data=real_jpeg(), filename="marker.jpg"), 202)

    async def heard(medium: dict[str, str]) -> bool:
        return any(m.media_id == medium["media_id"] for m in announced)

    await eventually(partial(heard, marker))
    repeated = [uuid.UUID(m.media_id) for m in announced if m.media_id != marker["media_id"]]
    assert sorted(repeated) == sorted([*frames.values(), *clips.values()])
    stored = {o.key: o.size for o in await store.list("") if marker["sha256"] not in o.key}
    assert stored == before
    # Delivered once more under the same event id: recognised as done, nothing announced
    # before the next medium.
    await video_requested.consume(ingest, [again])
    second = await ok(await upload.post(data=_other_jpeg(), filename="marker-2.jpg"), 202)
    await eventually(partial(heard, second))
    assert [m.media_id for m in announced][-2:] == [marker["media_id"], second["media_id"]]


def _other_jpeg() -> bytes:
    """A small JPEG with other bytes than ``real_jpeg``."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (40, 90, 30)).save(out, "JPEG")
    return out.getvalue()


async def test_a_video_that_does_not_play_is_refused_and_nothing_is_stored(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    whole = video_bytes("mp4", seconds=1)
    response = await upload.post(data=whole[: len(whole) // 2], filename="cut.mp4")
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith("not a playable video")
    assert await wl.platform.store.list("") == []
    assert await wl.platform.contexts["ingest"].relay.relay_once() == 0


async def test_a_deleted_video_takes_everything_cut_from_it(
    wl: RunningPlatform, admin: str, site: Site, upload: Uploads
) -> None:
    store = wl.platform.store
    body = await ok(
        await upload.post(
            data=video_bytes("mp4", seconds=3, fps=10),
            filename="transect.mp4",
            fields={"captured_at": START},
        ),
        202,
    )
    video_id, sha = uuid.UUID(body["media_id"]), body["sha256"]
    frames = [child_media_id(video_id, "frame", ms) for ms in (0, 1000, 2000)]
    recorded = [await eventually(partial(get_media, wl.client, admin, m)) for m in frames]
    frame_hashes = {f["sha256"] for f in recorded}
    for frame_sha in frame_hashes:
        await eventually(partial(store.exists, f"derived/{frame_sha}/thumb.jpg"))
    assert await store.list(f"frames/{sha}/")

    await ok(
        await wl.client.delete(
            f"/v1/projects/{site.project_id}/media/{video_id}",
            headers={"Authorization": f"Bearer {admin}"},
        ),
        200,
    )
    for frame_id in frames:
        assert await get_media(wl.client, admin, frame_id) is None

    async def everything_gone() -> bool:
        left = [o.key for o in await store.list("")]
        return not any(sha in key or any(f in key for f in frame_hashes) for key in left)

    await eventually(everything_gone)
