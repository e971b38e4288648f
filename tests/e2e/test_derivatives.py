"""Derivatives through the platform: made once per content hash, off the request path, with
no EXIF in them, while the original stays byte for byte what was uploaded."""

from __future__ import annotations

import hashlib
import io
from functools import partial
from pathlib import Path

import pytest
from PIL import Image

from tests.ingest.test_derivatives import EXIF_IFD, GPS_IFD, MAKER_NOTE, gps_jpeg
from tests.support.api import Site, ok, post_media
from tests.support.factories import Sites, Uploads
from tests.support.platform import RunningPlatform, eventually
from wildlens.common.events.v1.ingest_pb2 import DerivativesRequested
from wildlens.common.settings import Settings
from wildlens.ingest.consumers import derivatives_requested
from wildlens.ingest.derivatives.jobs import display_key, thumbnail_key
from wildlens.ingest.settings import IngestSettings

# Media go up through ingest to the catalogue; nothing here needs the other services.
pytestmark = pytest.mark.services("catalogue", "ingest")


def _exif(data: bytes) -> Image.Exif:
    with Image.open(io.BytesIO(data)) as image:
        return image.getexif()


async def test_derivatives_are_clean_and_the_original_is_untouched(
    wl: RunningPlatform,
    settings: Settings,
    admin: str,
    site: Site,
    upload: Uploads,
    heron_images: list[Path],
) -> None:
    reconyx = heron_images[0].read_bytes()
    with_gps = gps_jpeg(size=(600, 300))
    store = wl.platform.store
    for name, data in (("reconyx.jpg", reconyx), ("gps.jpg", with_gps)):
        body = await ok(await upload.post(data=data, filename=name), 202)
        sha = body["sha256"]
        assert sha == hashlib.sha256(data).hexdigest()
        await eventually(partial(store.exists, thumbnail_key(sha)))
        original = await store.get_bytes(f"media/{sha[:2]}/{sha}.jpg")
        assert original == data  # byte-exact, maker note and GPS included
        limits = IngestSettings.of(settings)
        for key, longest in (
            (display_key(sha), limits.display_px),
            (thumbnail_key(sha), limits.thumbnail_px),
        ):
            derived = await store.get_bytes(key)
            exif = _exif(derived)
            assert len(exif) == 0
            assert not exif.get_ifd(GPS_IFD)
            assert MAKER_NOTE not in exif.get_ifd(EXIF_IFD)
            with Image.open(io.BytesIO(derived)) as image:
                assert max(image.size) == min(longest, max(Image.open(io.BytesIO(data)).size))
    assert _exif(with_gps).get_ifd(GPS_IFD)  # what was uploaded did carry a position


async def test_the_same_bytes_in_another_project_reuse_the_derivatives(
    wl: RunningPlatform, admin: str, heron_images: list[Path], new_site: Sites
) -> None:
    data = heron_images[1].read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    first = await new_site(name="first")
    second = await new_site(name="second")
    store = wl.platform.store
    await ok(await post_media(wl.client, first.device_token, data=data), 202)
    await eventually(lambda: store.exists(thumbnail_key(sha)))
    made = {key: await store.get_bytes(key) for key in (display_key(sha), thumbnail_key(sha))}

    body = await ok(await post_media(wl.client, second.device_token, data=data), 202)
    assert body["duplicate"] is False  # a new medium of the second project
    ingest = wl.platform.contexts["ingest"]
    request = DerivativesRequested(
        sha256=sha, object_key=f"media/{sha[:2]}/{sha}.jpg", content_type="image/jpeg"
    )
    limits = IngestSettings.of(ingest.settings)
    assert await derivatives_requested.handle(ingest.store, limits, request) is False
    assert {key: await store.get_bytes(key) for key in made} == made
