"""Which file of a medium a caller gets: the original, or its GPS-free display copy.

An original keeps every byte the camera wrote, its GPS position included. Only callers with the
``precise_locations`` permission (and the platform's own services) get originals; everyone else
gets the display copy ingest makes of every image and frame (upright, resized, every EXIF, XMP
and comment left out). That holds for every medium, not only those of sensitive places: a label
added later can make any place sensitive, and a file handed out cannot be taken back.

A video carries its place in its own container metadata and has no display copy, so it goes to
holders of the permission alone; the frames cut from it have display copies like photos.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from wildlens.catalogue.models import Media
from wildlens.common.storage import ObjectStore, display_key

__all__ = ["DISPLAY_CONTENT_TYPE", "FileChoice", "MediaFile", "Withheld", "media_files"]

# ``original``: the stored bytes; ``display``: the GPS-free display copy (a JPEG).
FileChoice = Literal["original", "display"]
# Why a medium has no file for this caller: ``not_held`` (the platform does not hold its file:
# an imported record naming a file elsewhere), ``display_copy_pending`` (the display copy is
# not made yet; ask again in a few seconds), ``precise_locations_needed`` (a video, whose
# original carries its place and which has no display copy).
Withheld = Literal["not_held", "display_copy_pending", "precise_locations_needed"]

DISPLAY_CONTENT_TYPE = "image/jpeg"
# Kinds that ingest makes display copies of.
_PICTURES = frozenset({"image", "frame"})
# Existence checks at once per list (HEAD requests against S3).
_CHECKS_AT_ONCE = 16


@dataclass(frozen=True)
class MediaFile:
    """The object a caller may have for one medium, or why there is none."""

    key: str | None
    file: FileChoice | None
    content_type: str
    withheld: Withheld | None


def _original(media: Media) -> MediaFile:
    return MediaFile(media.object_key, "original", media.content_type, None)


def _withheld(media: Media, why: Withheld) -> MediaFile:
    return MediaFile(None, None, media.content_type, why)


async def media_files(
    store: ObjectStore, media: Sequence[Media], *, originals: bool
) -> dict[uuid.UUID, MediaFile]:
    """For each medium, the file a caller gets: its original where ``originals`` (the caller
    holds ``precise_locations``), else its display copy once it exists."""
    found: dict[uuid.UUID, MediaFile] = {}
    wanted: list[Media] = []
    for m in media:
        if not m.object_key:
            found[m.id] = _withheld(m, "not_held")
        elif originals:
            found[m.id] = _original(m)
        elif m.kind not in _PICTURES:
            found[m.id] = _withheld(m, "precise_locations_needed")
        else:
            wanted.append(m)
    limit = asyncio.Semaphore(_CHECKS_AT_ONCE)

    async def display(m: Media) -> MediaFile:
        key = display_key(m.sha256)
        async with limit:
            made = await store.exists(key)
        if made:
            return MediaFile(key, "display", DISPLAY_CONTENT_TYPE, None)
        return _withheld(m, "display_copy_pending")

    for m, file in zip(wanted, await asyncio.gather(*map(display, wanted)), strict=True):
        found[m.id] = file
    return found
