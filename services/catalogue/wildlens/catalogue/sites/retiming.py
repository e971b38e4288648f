"""Placing a camera's media again after one of its deployments was added or corrected.

A correction (offset, drift, time span, location) re-reads every medium whose time came from
the camera's clock, moves media into or out of the deployment as their times now say, leaves
times the request gave alone, announces each changed medium with a new ``media.recorded``
through the outbox, and regroups the events of every deployment whose media changed. Media
no deployment covers stay recorded, flagged with their ``resolution_issue``, until one does:
the camera's own media, and media posted before the camera was registered whose EXIF serial
number is the camera's.

The media are read a page at a time (by id) and let go after each page, so a deployment of
hundreds of thousands of images is corrected in bounded memory, in the request's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.media.recording import recorded_message
from wildlens.catalogue.media.resolution import Resolution, device_deployments, replace
from wildlens.catalogue.models import Deployment, Location, Media
from wildlens.catalogue.sequences.sequencing import regroup
from wildlens.catalogue.sequences.smoothing import clear_smoothing
from wildlens.catalogue.sites.repository import camera_media_page, find_device, find_location
from wildlens.common.service import ServiceBus

__all__ = ["Replacement", "replace_media"]

# Media read, changed and announced per query.
PAGE = 500


@dataclass
class Replacement:
    """What placing a camera's media again changed, as the API reports it."""

    media_retimed: int = 0
    media_moved_in: int = 0
    media_moved_out: int = 0
    media_announced: int = 0
    deployments_regrouped: set[uuid.UUID] = field(default_factory=set)


async def replace_media(
    bus: ServiceBus,
    session: AsyncSession,
    deployment: Deployment,
    *,
    announce_all: bool = False,
) -> Replacement:
    """Places again the media of ``deployment`` and its camera's media no deployment covers.

    Args:
        bus: the catalogue's, whose outbox the announcements go through.
        session: the request's session; nothing is committed here.
        deployment: the deployment just added or corrected (flushed).
        announce_all: announce every medium of the deployment even where only its location
            changed.
    """
    project_id = deployment.project_id
    device = await find_device(session, deployment.device_id)
    serial = device.serial if device else ""
    candidates = await device_deployments(session, project_id, deployment.device_id)
    by_id = {d.id: d for d in candidates}
    locations: dict[uuid.UUID, Location | None] = {}
    result = Replacement()
    touched: set[uuid.UUID] = {deployment.id}
    after: uuid.UUID | None = None
    while True:
        page = await camera_media_page(session, deployment, serial, after=after, limit=PAGE)
        if not page:
            break
        messages = []
        left_every_event: list[uuid.UUID] = []
        for media in page:
            before = (media.deployment_id, media.captured_at)
            changed = _apply(media, replace(media, deployment.device_id, candidates))
            if changed:
                if media.deployment_id != before[0]:
                    touched.update(d for d in (before[0], media.deployment_id) if d is not None)
                    if media.deployment_id is None:
                        media.event_id = None
                        left_every_event.append(media.id)
                if media.captured_at != before[1] and None not in (before[1], media.captured_at):
                    result.media_retimed += 1
                if before[0] != deployment.id and media.deployment_id == deployment.id:
                    result.media_moved_in += 1
                if before[0] == deployment.id and media.deployment_id != deployment.id:
                    result.media_moved_out += 1
            if changed or (announce_all and media.deployment_id == deployment.id):
                placed = by_id.get(media.deployment_id) if media.deployment_id else None
                location = await _location(session, locations, placed)
                messages.append(recorded_message(media, placed, location))
        await session.flush()
        await clear_smoothing(session, left_every_event)
        if messages:
            await bus.stage(session, messages)
            result.media_announced += len(messages)
        after = page[-1].id
        for media in page:
            session.expunge(media)
        if len(page) < PAGE:
            break
    for deployment_id in sorted(touched, key=str):
        await regroup(session, project_id, deployment_id)
    result.deployments_regrouped = touched
    return result


def _apply(media: Media, placed: Resolution | None) -> bool:
    """Writes a new placement onto the medium; whether anything changed."""
    if placed is None:
        return False
    new = (
        placed.deployment.id if placed.deployment else None,
        placed.device_id,
        placed.captured_at,
        placed.captured_at_source,
        placed.issue,
    )
    old = (
        media.deployment_id,
        media.device_id,
        media.captured_at,
        media.captured_at_source,
        media.resolution_issue,
    )
    if new == old:
        return False
    (
        media.deployment_id,
        media.device_id,
        media.captured_at,
        media.captured_at_source,
        media.resolution_issue,
    ) = new
    return True


async def _location(
    session: AsyncSession, cache: dict[uuid.UUID, Location | None], deployment: Deployment | None
) -> Location | None:
    if deployment is None:
        return None
    if deployment.location_id not in cache:
        cache[deployment.location_id] = await find_location(session, deployment.location_id)
    return cache[deployment.location_id]
