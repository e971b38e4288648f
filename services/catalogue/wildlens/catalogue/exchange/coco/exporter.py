"""A project as one COCO Camera Traps file (``coco.json``).

Every medium tied to a deployment is an image; every media-level observation an annotation.
Event-level observations (Camtrap DP's, about a whole sequence without naming a medium) have
no image to hang on and are left out: the Camtrap DP export carries them.

What COCO tools need is there: string image and annotation ids (the COCO Camera Traps
convention; category ids are numbers, 0 for empty), annotation ids that read as numbers from
1 (what COCO's evaluation needs) with the observation's own id in ``observation_id``,
``area`` and ``iscrowd`` on every annotation, ``width``/``height`` wherever they are known
(see ``sizes``) and a relative ``file_name`` (see ``files``). Boxes are written in pixels,
so only where the size is known. An annotation without a box labels the whole image, as in
COCO Camera Traps, and has area 0: to evaluate boxes with pycocotools, evaluate the images
whose annotations have boxes.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

from wildlens.catalogue.exchange import repository
from wildlens.catalogue.exchange.boxes import to_pixels
from wildlens.catalogue.exchange.coco.files import image_files
from wildlens.catalogue.exchange.coco.schema import DATETIME_FORMAT, EMPTY, category_name
from wildlens.catalogue.exchange.coco.sizes import image_size
from wildlens.catalogue.exchange.context import ExportContext
from wildlens.catalogue.models import Media, Observation
from wildlens.catalogue.models.clock import parse_offset
from wildlens.common.db import utcnow

__all__ = ["write_coco"]


def _image_id(media: Media) -> str:
    return media.external_id or str(media.id)


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


def _frame_order(media: Media, image: dict[str, Any]) -> tuple[Any, ...]:
    """Where an image comes in its sequence: by capture time, then (cameras burst several
    photos within one second, and many files give whole seconds only) by the camera's file
    name, whose counter goes up with each photo."""
    taken = media.captured_at.timestamp() if media.captured_at is not None else 0.0
    return (media.captured_at is None, taken, media.filename, image["id"])


async def write_coco(ctx: ExportContext) -> None:
    snapshot = await repository.load_snapshot(ctx.session, ctx.project)
    categories: dict[str, int] = {EMPTY: 0}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    sequences: dict[str, list[tuple[tuple[Any, ...], dict[str, Any]]]] = defaultdict(list)
    event_names = await repository.event_names(ctx.session, ctx.project.id)
    shown = [m for m in snapshot.media if ctx.coordinates.shows(m.id)]
    files = image_files((_image_id(m), m) for m in shown)
    total = max(1, len(shown))
    for n, media in enumerate(shown, start=1):
        assert media.deployment_id is not None
        deployment = snapshot.deployment(media.deployment_id)
        location = snapshot.location_of(media.deployment_id)
        observations = snapshot.by_media.get(media.id, [])
        place = ctx.coordinates.place(location)
        width, height = await image_size(ctx.store, media)
        image_id = _image_id(media)
        file = files[image_id]
        image: dict[str, Any] = {
            "id": image_id,
            "file_name": file.file_name,
            "location": location.name,
            "latitude": place.latitude,
            "longitude": place.longitude,
            "utc_offset": deployment.utc_offset,
        }
        if file.url:
            image["url"] = file.url
        if width and height:
            image["width"], image["height"] = width, height
        if media.captured_at is not None:
            local = media.captured_at.astimezone(parse_offset(deployment.utc_offset))
            image["datetime"] = local.strftime(DATETIME_FORMAT)
        sequences[_sequence(media, observations, event_names)].append(
            (_frame_order(media, image), image)
        )
        images.append(image)
        for o in observations:
            name = category_name(o.observation_type, o.scientific_name)
            category = categories.setdefault(name, len(categories))
            annotation: dict[str, Any] = {
                # A string, as COCO Camera Traps has it, of a number from 1: pycocotools'
                # evaluation keeps matched annotation ids in a float array (0 meaning none).
                "id": str(len(annotations) + 1),
                "observation_id": o.external_id or str(o.id),
                "image_id": image_id,
                "category_id": category,
                "sequence_level_annotation": False,
                "classification_method": o.classification_method,
                "iscrowd": 0,
                "area": 0,
            }
            box = o.bbox
            if box is not None and width and height:
                pixels = to_pixels(box, width, height)
                annotation["bbox"] = pixels
                annotation["area"] = round(pixels[2] * pixels[3], 2)
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
        members.sort(key=lambda member: member[0])
        for frame, (_, image) in enumerate(members):
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
