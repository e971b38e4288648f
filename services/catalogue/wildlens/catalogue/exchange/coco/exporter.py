"""A project as one COCO Camera Traps file (``coco.json``).

Every medium tied to a deployment is an image; every media-level observation an annotation.
Event-level observations (Camtrap DP's, about a whole sequence without naming a medium) have
no image to hang on and are left out: the Camtrap DP export carries them. Boxes are written in
pixels, so they need the image's size: where the catalogue does not know it and holds the
file, the size is read from the file's header.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections import defaultdict
from typing import Any

from PIL import Image, UnidentifiedImageError

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.boxes import to_pixels
from wildlens.catalogue.exchange.coco.schema import DATETIME_FORMAT, EMPTY, category_name
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.models import Media, Observation
from wildlens.catalogue.models.clock import parse_offset
from wildlens.common.db import utcnow
from wildlens.common.storage import ObjectStore

__all__ = ["write_coco"]


def _header_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (UnidentifiedImageError, OSError):
        return None


async def _size(store: ObjectStore, media: Media) -> tuple[int | None, int | None]:
    if media.width and media.height:
        return media.width, media.height
    if not media.object_key or media.kind != "image":
        return None, None
    size = await asyncio.to_thread(_header_size, await store.get_bytes(media.object_key))
    return size if size else (None, None)


def _sequence(
    media: Media, observations: list[Observation], event_names: dict[uuid.UUID, str]
) -> str:
    """The sequence a medium belongs to: the catalogue's event (under the id an imported file
    gave it, if one did), else the one an imported file named, else the medium alone."""
    event_id = getattr(media, "event_id", None)
    if event_id is not None:
        return event_names.get(event_id, str(event_id))
    imported = media.raw_metadata.get("coco", {}) if isinstance(media.raw_metadata, dict) else {}
    if isinstance(imported, dict) and imported.get("seq_id") not in (None, ""):
        return str(imported["seq_id"])
    for o in observations:
        if o.event_external_id:
            return o.event_external_id
    return media.external_id or str(media.id)


async def write_coco(ctx: ExportContext) -> None:
    snapshot = await repository.load_snapshot(ctx.session, ctx.project)
    categories: dict[str, int] = {EMPTY: 0}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    sequences: dict[str, list[dict[str, Any]]] = defaultdict(list)
    event_names = await repository.event_names(ctx.session, ctx.project.id)
    total = max(1, len(snapshot.media))
    for n, media in enumerate(snapshot.media, start=1):
        assert media.deployment_id is not None
        deployment = snapshot.deployment(media.deployment_id)
        location = snapshot.location_of(media.deployment_id)
        observations = snapshot.by_media.get(media.id, [])
        if not ctx.coordinates.shows(media.id):
            continue
        place = ctx.coordinates.place(location)
        width, height = (
            await _size(ctx.store, media)
            if any(o.bbox is not None for o in observations)
            else (media.width, media.height)
        )
        image_id = media.external_id or str(media.id)
        image: dict[str, Any] = {
            "id": image_id,
            "file_name": media.file_path or media.filename or f"{media.id}",
            "location": location.name,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "utc_offset": deployment.utc_offset,
        }
        if width and height:
            image["width"], image["height"] = width, height
        if media.captured_at is not None:
            local = media.captured_at.astimezone(parse_offset(deployment.utc_offset))
            image["datetime"] = local.strftime(DATETIME_FORMAT)
        sequences[_sequence(media, observations, event_names)].append(image)
        images.append(image)
        for o in observations:
            name = category_name(o.observation_type, o.scientific_name)
            category = categories.setdefault(name, len(categories))
            annotation: dict[str, Any] = {
                "id": o.external_id or str(o.id),
                "image_id": image_id,
                "category_id": category,
                "sequence_level_annotation": False,
                "classification_method": o.classification_method,
            }
            box = o.bbox
            if box is not None and width and height:
                annotation["bbox"] = to_pixels(box, width, height)
            if o.count is not None:
                annotation["count"] = o.count
            if o.confidence is not None:
                annotation["conf"] = o.confidence
            if o.classified_by:
                annotation["classified_by"] = o.classified_by
            annotations.append(annotation)
        if n % 500 == 0:
            await ctx.progress(0.9 * n / total)
    for seq_id, members in sequences.items():
        members.sort(key=lambda i: (i.get("datetime", ""), i["id"]))
        for frame, image in enumerate(members):
            image.update(seq_id=seq_id, seq_num_frames=len(members), frame_num=frame)
    document = {
        "info": {
            "version": "1.0",
            "description": ctx.project.name,
            "date_created": utcnow().isoformat(),
            "contributor": ctx.project.created_by,
        },
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": name} for name, i in categories.items()],
    }
    (ctx.folder / "coco.json").write_text(
        json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8"
    )
