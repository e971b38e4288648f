"""Which file of a medium a caller gets: originals, with their GPS, only with the
``precise_locations`` permission; display copies (no EXIF, GPS or XMP) for everyone else, in
media lists and by the file route, and nothing of a video; on both backends."""

from __future__ import annotations

import hashlib
from functools import partial
from typing import Any

import pytest

from tests.support.api import Site, bearer, ok
from tests.support.factories import Uploads
from tests.support.located_images import located_image, location_metadata
from tests.support.platform import (
    RunningPlatform,
    SettingsFactory,
    download,
    eventually,
    user_token,
    with_group,
)
from tests.support.videos import video_bytes
from wildlens.common.auth import TokenIssuer, load_keyring
from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested
from wildlens.common.settings import Settings
from wildlens.common.storage import display_key, thumbnail_key
from wildlens.ingest.consumers import derivatives_requested
from wildlens.ingest.settings import IngestSettings

# Media go up through ingest to the catalogue; nothing here needs the other services.
pytestmark = pytest.mark.services("catalogue", "ingest")

NEST = (50.699, 4.013)


@pytest.fixture
def settings(settings_for: SettingsFactory) -> Settings:
    """One frame per video second, no clips: a short video gives one frame."""
    return with_group(
        settings_for(), IngestSettings, video_frame_interval_s=1, video_clip_seconds=0
    )


def _tokens(settings: Settings, pid: str) -> tuple[str, str]:
    """A viewer without precise_locations, and one with it."""
    issuer = TokenIssuer(load_keyring(settings), settings.auth.issuer)
    viewer = user_token(settings, "viewer-1", {pid: "viewer"})
    expert = issuer.user_token(
        "expert-1", {pid: "viewer"}, permissions={pid: ["precise_locations"]}
    )
    return viewer, expert


async def _listed(wl: RunningPlatform, token: str, pid: str) -> dict[str, dict[str, Any]]:
    page = await ok(
        await wl.client.get(f"/v1/projects/{pid}/media?limit=100", headers=bearer(token)), 200
    )
    return {item["id"]: item for item in page["items"]}


async def _bytes(wl: RunningPlatform, url: str) -> bytes:
    response = await download(wl, url)
    assert response.status_code == 200, response.text
    return response.content


async def _file(wl: RunningPlatform, token: str, media_id: str) -> Any:
    return await wl.client.get(f"/v1/media/{media_id}/file", headers=bearer(token))


async def test_only_precise_locations_gets_originals(
    wl: RunningPlatform, settings: Settings, site: Site, upload: Uploads
) -> None:
    pid, store = site.project_id, wl.platform.store
    viewer, expert = _tokens(settings, pid)
    original = located_image(*NEST)
    assert location_metadata(original) == ["exif-gps", "xmp-gps"]
    body = await upload(data=original, filename="nest.jpg")
    media_id, sha = body["media_id"], body["sha256"]
    await eventually(partial(store.exists, thumbnail_key(sha)))
    display = await store.get_bytes(display_key(sha))

    async def item(token: str) -> dict[str, Any] | None:
        return (await _listed(wl, token, pid)).get(media_id)

    shown = await eventually(partial(item, viewer))
    assert (shown["url_file"], shown["url_withheld"]) == ("display", None)
    handed = await _bytes(wl, shown["url"])
    assert handed == display
    assert location_metadata(handed) == []
    assert hashlib.sha256(handed).hexdigest() != sha

    exact = await item(expert)
    assert exact is not None
    assert (exact["url_file"], exact["url_withheld"]) == ("original", None)
    assert await _bytes(wl, exact["url"]) == original

    # The file route redirects to the same choice of file.
    for token, want in ((viewer, display), (expert, original)):
        response = await _file(wl, token, media_id)
        assert response.status_code == 307, response.text
        assert await _bytes(wl, response.headers["location"]) == want

    # Until the display copy is made there is nothing for the viewer: no URL, and a 409
    # that says when to ask again; never the original in its place.
    await store.delete(display_key(sha))
    await store.delete(thumbnail_key(sha))
    pending = await item(viewer)
    assert pending is not None
    assert (pending["url"], pending["url_file"]) == (None, None)
    assert pending["url_withheld"] == "display_copy_pending"
    response = await _file(wl, viewer, media_id)
    assert response.status_code == 409, response.text
    assert int(response.headers["retry-after"]) > 0
    assert (await _file(wl, expert, media_id)).status_code == 307

    ingest = wl.platform.contexts["ingest"]
    request = DerivativesRequested(
        sha256=sha, object_key=f"media/{sha[:2]}/{sha}.jpg", content_type="image/jpeg"
    )
    assert await derivatives_requested.handle(
        ingest.store, IngestSettings.of(ingest.settings), request
    )
    again = await item(viewer)
    assert again is not None
    assert again["url_file"] == "display"
    assert location_metadata(await _bytes(wl, again["url"])) == []


async def test_a_videos_original_goes_only_to_precise_locations(
    wl: RunningPlatform, settings: Settings, site: Site, upload: Uploads
) -> None:
    pid, store = site.project_id, wl.platform.store
    viewer, expert = _tokens(settings, pid)
    # QuickTime writes the camera's fix into the container (ISO 6709 in ©xyz).
    data = video_bytes("mov", seconds=1, fps=5, metadata={"location": "+50.6990+004.0130/"})
    assert b"+50.6990+004.0130" in data
    body = await upload(data=data, filename="transect.mov")
    video_id = body["media_id"]

    async def frames() -> list[dict[str, Any]]:
        listed = await _listed(wl, expert, pid)
        return [m for m in listed.values() if m["parent_media_id"] == video_id]

    (frame,) = await eventually(frames)
    frame_sha = hashlib.sha256(await _bytes(wl, frame["url"])).hexdigest()
    await eventually(partial(store.exists, thumbnail_key(frame_sha)))

    seen = await _listed(wl, viewer, pid)
    video = seen[video_id]
    assert video["kind"] == "video"
    assert (video["url"], video["url_file"]) == (None, None)
    assert video["url_withheld"] == "precise_locations_needed"
    assert (await _file(wl, viewer, video_id)).status_code == 403
    # Its frame is a picture like any other: the viewer gets its display copy.
    assert seen[frame["id"]]["url_file"] == "display"

    exact = (await _listed(wl, expert, pid))[video_id]
    assert exact["url_file"] == "original"
    assert await _bytes(wl, exact["url"]) == data
    response = await _file(wl, expert, video_id)
    assert response.status_code == 307
    assert await _bytes(wl, response.headers["location"]) == data
