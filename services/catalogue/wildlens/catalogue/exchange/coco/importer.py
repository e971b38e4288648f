"""A COCO Camera Traps file into a project, all or nothing.

Images become media that reference their files (``file_name``, or ``url`` where the image
gives one) without the bytes, grouped into one deployment per ``location``; annotations
become human observations (COCO Camera Traps files are labelled by people) unless they say
otherwise. Images and annotations are upserted by their COCO ids (``external_id``; an
annotation's ``observation_id`` where a Wildlens export wrote one), so importing a file
again updates it. A location the project does not know yet needs coordinates
(``latitude``/``longitude`` on its images); without them the file is refused with the
locations to create first.
"""

from __future__ import annotations

import mimetypes
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.exchange.boxes import to_relative
from wildlens.catalogue.exchange.camtrapdp.fields import offset_text
from wildlens.catalogue.exchange.camtrapdp.importer import ImportSummary
from wildlens.catalogue.exchange.coco.schema import observation_kind, parse_coco_datetime
from wildlens.catalogue.exchange.columns import column_length
from wildlens.catalogue.exchange.matching import MatchRule
from wildlens.catalogue.exchange.places import SitePlaces
from wildlens.catalogue.exchange.problems import Problems
from wildlens.catalogue.exchange.repository import by_external_id, media_named_in
from wildlens.catalogue.models import Deployment, Location, Media, Observation, Project
from wildlens.catalogue.models.clock import parse_offset
from wildlens.catalogue.sequences.importing import group_imported
from wildlens.catalogue.taxa.names import NameLinker
from wildlens.catalogue.taxa.resolution import NameResolver
from wildlens.common.errors import Invalid
from wildlens.common.importing import cell_problem, json_text_problems, parse_json
from wildlens.common.offload import StopFlag, run_stoppable
from wildlens.common.settings import LimitSettings

__all__ = ["import_coco"]

# Boxes may overhang the image by rounding; more than this is a wrong box.
_SLACK = 0.01
# The text an image and an annotation bring, and the columns' lengths it has to fit.
_NAME_CHARS = column_length(Observation, "scientific_name")
_CLASSIFIED_BY = column_length(Observation, "classified_by")
_IMAGE_TEXT = {
    "file_name": column_length(Media, "file_path"),
    "url": column_length(Media, "file_path"),
    "location": column_length(Location, "name"),
    "seq_id": column_length(Observation, "event_external_id"),
}


@dataclass
class _Image:
    record: dict[str, Any]
    key: str
    captured_at: datetime | None
    offset: str
    width: int | None
    height: int | None
    location: str
    latitude: float | None
    longitude: float | None
    annotations: list[dict[str, Any]] = field(default_factory=list)


def _key(value: Any) -> str | None:
    """A COCO id as the text the catalogue keeps; None when it is not an id."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return str(value)


def _observation_key(record: dict[str, Any]) -> str | None:
    """The id an annotation's observation is kept under: the ``observation_id`` a Wildlens
    export writes (its annotation ids only number the annotations), else the annotation id."""
    return _key(record.get("observation_id")) or _key(record.get("id"))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _parse(
    data: bytes, problems: Problems, limits: LimitSettings, stop: StopFlag
) -> dict[str, Any]:
    document = parse_json(data, "the COCO file", limits)
    if not isinstance(document, dict):
        raise Invalid("the COCO file is not a JSON object")
    # Records are kept with the media (raw metadata): no string in them may be unfit to store.
    for where, message in json_text_problems(document, "the COCO file", limits, stop):
        section = str(where[0]) if where else "file"
        row = where[1] if len(where) > 1 and isinstance(where[1], int) else None
        rest = where[2:] if row is not None else where[1:]
        problems.add(section, message, row=row, field=".".join(str(p) for p in rest) or None)
    for section in ("images", "annotations", "categories"):
        if not isinstance(document.get(section), list):
            problems.add(section, f"'{section}' must be a list")
    problems.raise_if_any()
    return document


def _categories(document: dict[str, Any], problems: Problems) -> dict[str, str]:
    names: dict[str, str] = {}
    for n, record in enumerate(document["categories"]):
        if not isinstance(record, dict):
            problems.add("categories", "not an object", row=n)
            continue
        ident, name = _key(record.get("id")), record.get("name")
        if ident is None:
            problems.add("categories", "no id", row=n, field="id")
        elif ident in names:
            problems.add("categories", f"category id {ident} appears twice", row=n, field="id")
        if not isinstance(name, str) or not name.strip():
            problems.add("categories", "no name", row=n, field="name")
        elif (problem := cell_problem(name, _NAME_CHARS)) is not None:
            problems.add("categories", f"name {problem}", row=n, field="name")
        elif ident is not None:
            names[ident] = name
    return names


def _image(n: int, record: Any, default_offset: str, problems: Problems) -> _Image | None:
    if not isinstance(record, dict):
        problems.add("images", "not an object", row=n)
        return None
    ok = True
    key = _key(record.get("id"))
    if key is None:
        problems.add("images", "no id", row=n, field="id")
        ok = False
    if not isinstance(record.get("file_name"), str) or not record["file_name"]:
        problems.add("images", "no file_name", row=n, field="file_name")
        ok = False
    for name, limit in _IMAGE_TEXT.items():
        value = record.get(name)
        if value not in (None, "") and (problem := cell_problem(str(value), limit)) is not None:
            problems.add("images", f"{name} {problem}", row=n, field=name)
            ok = False
    size: list[int | None] = []
    for name in ("width", "height"):
        value = record.get(name)
        if value is None:
            size.append(None)
        elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            problems.add("images", f"{name} must be a positive whole number", row=n, field=name)
            ok = False
            size.append(None)
        else:
            size.append(value)
    offset = record.get("utc_offset", default_offset)
    try:
        parse_offset(str(offset))
    except ValueError as error:
        problems.add("images", str(error), row=n, field="utc_offset")
        ok = False
    captured_at = None
    if record.get("datetime") not in (None, ""):
        try:
            captured_at = parse_coco_datetime(str(record["datetime"]))
        except ValueError:
            problems.add(
                "images",
                f"datetime {record['datetime']!r} is not a date and time",
                row=n,
                field="datetime",
            )
            ok = False
    coordinates = [_number(record.get("latitude")), _number(record.get("longitude"))]
    for name, value, limit in zip(("latitude", "longitude"), coordinates, (90, 180), strict=True):
        if record.get(name) is not None and (value is None or abs(value) > limit):
            problems.add("images", f"{name} must be a number within ±{limit}", row=n, field=name)
            ok = False
    location = record.get("location")
    if location is None or location == "":
        problems.add("images", "no location", row=n, field="location")
        ok = False
    if not ok or key is None:
        return None
    if captured_at is not None and captured_at.tzinfo is not None:
        offset = offset_text(captured_at)
    elif captured_at is not None:
        captured_at = captured_at.replace(tzinfo=parse_offset(str(offset)))
    return _Image(
        record,
        key,
        captured_at.astimezone(UTC) if captured_at else None,
        str(offset),
        size[0],
        size[1],
        str(location),
        coordinates[0],
        coordinates[1],
    )


def _check_annotation(
    n: int,
    record: Any,
    images: dict[str, _Image],
    categories: dict[str, str],
    seen: set[str],
    problems: Problems,
) -> None:
    if not isinstance(record, dict):
        problems.add("annotations", "not an object", row=n)
        return
    before = problems.count
    key = _observation_key(record)
    if _key(record.get("id")) is None:
        problems.add("annotations", "no id", row=n, field="id")
    elif key is not None and key in seen:
        where = "observation_id" if _key(record.get("observation_id")) else "id"
        problems.add("annotations", f"annotation {where} {key} appears twice", row=n, field=where)
    elif key is not None:
        seen.add(key)
    image = images.get(_key(record.get("image_id")) or "")
    if image is None:
        problems.add("annotations", f"no image {record.get('image_id')!r}", row=n, field="image_id")
    if _key(record.get("category_id")) not in categories:
        problems.add(
            "annotations",
            f"no category {record.get('category_id')!r}",
            row=n,
            field="category_id",
        )
    box = record.get("bbox")
    if box is not None:
        numbers = [_number(v) for v in box] if isinstance(box, list) else []
        if len(numbers) != 4 or None in numbers:
            problems.add("annotations", "bbox must be [x, y, width, height]", row=n, field="bbox")
        elif image is not None and (image.width is None or image.height is None):
            problems.add(
                "annotations",
                f"image {image.key} has no width and height to place the box in",
                row=n,
                field="bbox",
            )
        elif image is not None and image.width and image.height:
            x, y, w, h = (v or 0.0 for v in numbers)
            if (
                min(x, y) < 0
                or w <= 0
                or h <= 0
                or x + w > image.width * (1 + _SLACK)
                or y + h > image.height * (1 + _SLACK)
            ):
                problems.add(
                    "annotations",
                    f"bbox {box} is not inside the {image.width}x{image.height} image",
                    row=n,
                    field="bbox",
                )
    who = record.get("classified_by")
    if who not in (None, "") and (problem := cell_problem(str(who), _CLASSIFIED_BY)) is not None:
        problems.add("annotations", f"classified_by {problem}", row=n, field="classified_by")
    count = record.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        problems.add("annotations", "count must be a whole number ≥ 1", row=n, field="count")
    conf = record.get("conf")
    if conf is not None and not (_number(conf) is not None and 0 <= float(conf) <= 1):
        problems.add("annotations", "conf must be between 0 and 1", row=n, field="conf")
    if image is not None and problems.count == before:
        image.annotations.append(record)


def _check(
    stop: StopFlag, data: bytes, utc_offset: str, limits: LimitSettings
) -> tuple[dict[str, str], dict[str, _Image], Problems]:
    """The file read and checked, off the event loop: its categories, its images (with their
    annotations) and the problems found."""
    problems = Problems("COCO Camera Traps")
    document = _parse(data, problems, limits, stop)
    categories = _categories(document, problems)
    images: dict[str, _Image] = {}
    for n, record in enumerate(document["images"]):
        image = _image(n, record, utc_offset, problems)
        if image is None:
            continue
        if image.key in images:
            problems.add("images", f"image id {image.key} appears twice", row=n, field="id")
        images[image.key] = image
    stop.check()
    seen: set[str] = set()
    for n, record in enumerate(document["annotations"]):
        _check_annotation(n, record, images, categories, seen, problems)
    return categories, images, problems


async def import_coco(
    session: AsyncSession,
    project: Project,
    data: bytes,
    utc_offset: str,
    limits: LimitSettings,
    *,
    resolver: NameResolver | None = None,
) -> ImportSummary:
    """Import the COCO Camera Traps ``data`` into ``project`` (in ``session``); names nothing
    else knows are asked of ``resolver``, the platform's online checklist."""
    categories, images, problems = await run_stoppable(_check, data, utc_offset, limits)

    pid = project.id
    # A category's name is linked to a taxon: the project's first, then the platform's, then
    # the online checklist's.
    names = NameLinker(session, pid, resolver)
    places = SitePlaces(session, pid, "coco")
    by_location: dict[str, list[_Image]] = defaultdict(list)
    for image in images.values():
        by_location[image.location].append(image)
    locations = {}
    for name, members in by_location.items():
        lat = next((i.latitude for i in members if i.latitude is not None), None)
        lon = next((i.longitude for i in members if i.longitude is not None), None)
        location = await places.location(name, name, lat, lon)
        if location is None:
            problems.add(
                "images",
                f"location {name!r} is not in the project and its images give no latitude and "
                "longitude: create it first (with this name) or add them",
                field="location",
            )
        locations[name] = location
    problems.raise_if_any()

    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    existing_media = await by_external_id(session, Media, pid, images)
    existing_observations = await by_external_id(
        session,
        Observation,
        pid,
        (_observation_key(a) or "" for i in images.values() for a in i.annotations),
    )
    recorded: list[tuple[_Image, Media]] = []
    for name, members in by_location.items():
        location = locations[name]
        assert location is not None
        # One deployment per location, spanning its images' times, on the camera clock most
        # of them were taken with (each image's own time is kept exactly either way).
        offset = Counter(i.offset for i in members).most_common(1)[0][0]
        times = [i.captured_at for i in members if i.captured_at is not None]
        deployment = (
            await places.deployment(location, min(times), max(times), offset) if times else None
        )
        already = await _media_taken_then(session, deployment, members)
        for image in members:
            media = existing_media.get(image.key)
            if media is None and deployment is not None:
                # A photo the project has (uploaded, say): same deployment, time and name.
                moment = (image.captured_at, _file_name(image))
                media = places.matches.first_free(already.get(moment, []), image.key)
                if media is not None:
                    places.matches.add("media", media, image.key, MatchRule.DEPLOYMENT_TIME_NAME)
            if media is None:
                media = Media(
                    id=uuid.uuid4(), project_id=pid, sha256="", object_key="", content_type=""
                )
                media.external_id = image.key
                created["media"] += 1
            else:
                updated["media"] += 1
            file_name = str(image.record["file_name"])
            url = image.record.get("url")
            # A file that lives elsewhere is recorded by its URL, as Camtrap DP media are;
            # its name in the data set's folder stays with the COCO fields below.
            media.file_path = (url if isinstance(url, str) and "://" in url else file_name)[:1000]
            media.filename = _file_name(image)
            media.content_type = mimetypes.guess_type(file_name)[0] or "image/jpeg"
            media.kind = "video" if media.content_type.startswith("video/") else "image"
            media.width, media.height = image.width, image.height
            media.captured_at = image.captured_at
            media.captured_at_source = "coco"
            if deployment is not None and image.captured_at is not None:
                media.deployment_id, media.device_id = deployment.id, deployment.device_id
                media.resolution_issue = ""
            else:
                media.deployment_id = None
                media.resolution_issue = "the COCO file gives no datetime"
            sequence = {
                k: image.record[k]
                for k in ("seq_id", "seq_num_frames", "frame_num")
                if k in image.record
            }
            media.raw_metadata = {
                **media.raw_metadata,
                "coco": {**sequence, "file_name": file_name[:1000]},
            }
            session.add(media)
            recorded.append((image, media))
    # The media are written before the observations that refer to them, in one flush each.
    await session.flush()
    for image, media in recorded:
        for record in image.annotations:
            key = _observation_key(record)
            assert key is not None
            observation = existing_observations.get(key)
            if observation is None:
                observation = Observation(project_id=pid, observation_type="", category="")
                observation.external_id = key
                created["observations"] += 1
            else:
                updated["observations"] += 1
            _fill(observation, record, media, categories, image)
            observation.taxon_id = await names.taxon_id(observation.scientific_name)
            session.add(observation)
    await session.flush()
    # Images of one seq_id form one event per deployment; the others chain by the gap.
    named: dict[uuid.UUID, dict[uuid.UUID, str]] = defaultdict(dict)
    for image, media in recorded:
        if media.deployment_id is None:
            continue
        seq = image.record.get("seq_id")
        media_events = named[media.deployment_id]
        if seq not in (None, ""):
            media_events[media.id] = str(seq)[:200]
    for deployment_id, media_events in named.items():
        await group_imported(session, pid, deployment_id, media_events)
    for table, n in places.created.items():
        created[table] += n
    return ImportSummary(
        created=dict(created),
        updated=dict(updated),
        media_files_stored=0,
        matches=places.matches.found,
    )


def _file_name(image: _Image) -> str:
    return PurePosixPath(str(image.record["file_name"]).replace("\\", "/")).name[:300]


async def _media_taken_then(
    session: AsyncSession, deployment: Deployment | None, images: list[_Image]
) -> dict[tuple[datetime | None, str], list[Media]]:
    """The deployment's media named as one of ``images``, by capture time and file name."""
    if deployment is None:
        return {}
    found: dict[tuple[datetime | None, str], list[Media]] = defaultdict(list)
    named = await media_named_in(session, [deployment.id], (_file_name(i) for i in images))
    for medium in named:
        found[(medium.captured_at, medium.filename)].append(medium)
    return found


def _fill(
    observation: Observation,
    record: dict[str, Any],
    media: Media,
    categories: dict[str, str],
    image: _Image,
) -> None:
    name = categories[str(record["category_id"])]
    kind, scientific = observation_kind(name)
    observation.media_id = media.id
    observation.deployment_id = media.deployment_id
    observation.model_run_id = None
    observation.observation_level = "media"
    observation.observation_type = kind
    observation.scientific_name = scientific[:200]
    observation.category = name[:50]
    seq = image.record.get("seq_id")
    observation.event_external_id = str(seq)[:200] if seq not in (None, "") else None
    observation.event_start = observation.event_end = media.captured_at
    observation.count = record.get("count")
    method = record.get("classification_method")
    observation.classification_method = method if method in ("human", "machine") else "human"
    observation.classified_by = str(record.get("classified_by") or "")[:300]
    # A label in a COCO Camera Traps file is a person's unless it says otherwise.
    observation.identified_on_import()
    conf = record.get("conf")
    observation.confidence = float(conf) if conf is not None else None
    box = record.get("bbox")
    if box is not None and image.width and image.height:
        relative = to_relative([float(v) for v in box], image.width, image.height)
        # A box that overhangs by rounding is clipped to the image.
        x, y = max(0.0, relative[0]), max(0.0, relative[1])
        w, h = min(relative[2], 1.0 - x), min(relative[3], 1.0 - y)
        observation.bbox_x, observation.bbox_y = x, y
        observation.bbox_width, observation.bbox_height = w, h
    else:
        observation.bbox_x = observation.bbox_y = None
        observation.bbox_width = observation.bbox_height = None
