"""Showing one medium: who may see it, and what of it they see (its place generalised where it
shows a sensitive species, its observations with the current label marked, its file as the
original or the GPS-free display copy)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import require_access
from wildlens.catalogue.media import repository
from wildlens.catalogue.models import Media, ModelRun, Observation
from wildlens.catalogue.objects.repository import features_of, objects_of
from wildlens.catalogue.objects.schemas import ObjectSummary
from wildlens.catalogue.observations.current import current_observations
from wildlens.catalogue.privacy import PrivacyView, media_files, request_view
from wildlens.common.auth import Principal
from wildlens.common.errors import Conflict, Forbidden, NotFound
from wildlens.common.storage import ObjectStore

__all__ = [
    "DISPLAY_RETRY_AFTER_S",
    "FILE_URL_LIFETIME",
    "MediaContents",
    "VisibleMedia",
    "file_url",
    "media_contents",
    "visible_media",
]

# A redirect is followed at once; the URL need not outlive that by much.
FILE_URL_LIFETIME = timedelta(minutes=5)
# Display copies are made within seconds of an upload.
DISPLAY_RETRY_AFTER_S = 5


@dataclass(frozen=True)
class VisibleMedia:
    """A medium the caller may see, and how its project shows things to them."""

    media: Media
    privacy: PrivacyView


@dataclass(frozen=True)
class MediaContents:
    # The medium's own fields as the caller sees them.
    shown: dict[str, Any]
    observations: list[tuple[Observation, ModelRun | None]]
    # The observations that make its label now.
    current: list[Observation]
    runs: list[ModelRun]
    # An object's features and what makes it one (None for other media).
    features: dict[str, float] | None = None
    object: ObjectSummary | None = None


async def visible_media(
    session: AsyncSession, principal: Principal, media_id: uuid.UUID
) -> VisibleMedia:
    """The medium, if the caller holds a role in its project and may see it; 404 otherwise,
    so that other projects' media and hidden ones are indistinguishable from missing ones."""
    principal.require_user()
    media = await repository.get_media(session, media_id)
    if media is None:
        raise NotFound(f"media {media_id} not found")
    try:
        access = await require_access(session, principal, media.project_id)
    except NotFound:
        raise NotFound(f"media {media_id} not found") from None
    privacy = await request_view(session, access)
    if await privacy.shows_people(session, media_id):
        # Hidden from this caller (the project hides media with people from volunteers).
        raise NotFound(f"media {media_id} not found")
    return VisibleMedia(media, privacy)


async def media_contents(session: AsyncSession, visible: VisibleMedia) -> MediaContents:
    """What the medium shows the caller: its fields, observations and analyses."""
    media, privacy = visible.media, visible.privacy
    observations = await repository.observations_with_runs(session, media.id)
    runs = await repository.model_runs(session, media.id)
    sensitive = media.id in await privacy.sensitive_media_of(session, [media])
    shown = media.model_dump(exclude={"object_key", "size_bytes", "uploaded_by"})
    if sensitive and media.latitude is not None and media.longitude is not None:
        place = privacy.place(media.latitude, media.longitude, sensitive=True)
        shown.update(latitude=place.latitude, longitude=place.longitude)
    shown["raw_metadata"] = privacy.raw_metadata(media.raw_metadata, sensitive=sensitive)
    current = current_observations(o for o, _ in observations)
    media_id = visible.media.id
    features = (await features_of(session, [media_id])).get(media_id)
    summary = (await objects_of(session, [media_id])).get(media_id)
    return MediaContents(shown, observations, current, runs, features, summary)


async def file_url(store: ObjectStore, visible: VisibleMedia) -> str:
    """A short-lived URL of the file the caller may have: the original with precise_locations,
    else the display copy; 409 with ``Retry-After`` while the display copy is being made,
    403 for a video's original without the permission, 404 where the platform holds no file."""
    media = visible.media
    file = (await media_files(store, [media], originals=visible.privacy.precise))[media.id]
    if file.key is not None:
        return await store.url_for_get(file.key, FILE_URL_LIFETIME)
    if file.withheld == "display_copy_pending":
        raise Conflict(
            f"the display copy of media {media.id} is not made yet; retry in a few seconds",
            headers={"Retry-After": str(DISPLAY_RETRY_AFTER_S)},
        )
    if file.withheld == "precise_locations_needed":
        raise Forbidden(
            f"media {media.id} is a video, whose original carries its place; it needs the "
            "precise_locations permission (its frames have display copies)"
        )
    raise NotFound(f"media {media.id} has no file the platform holds")
