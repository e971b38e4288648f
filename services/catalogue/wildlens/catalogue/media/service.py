"""Showing one medium: who may see it, and what of it they see (its place generalised where it
shows a sensitive species, its observations with the current label marked)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import require_access
from wildlens.catalogue.media import repository
from wildlens.catalogue.models import Media, ModelRun, Observation
from wildlens.catalogue.observations.current import current_observations
from wildlens.catalogue.privacy import PrivacyView, request_view
from wildlens.common.auth import Principal
from wildlens.common.errors import NotFound

__all__ = ["MediaContents", "VisibleMedia", "media_contents", "visible_media"]


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
    return MediaContents(shown, observations, current, runs)
