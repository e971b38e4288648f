"""Building a dataset: confirmed observations → classes → crops in storage → split → manifest.

Everything that can refuse the request (a malformed spec, nothing to learn from, a class below
its minimum) is decided from the catalogue's answers before a single image is downloaded.
Crops are cut and re-encoded in a worker thread (PIL work would stall the event loop), the
downloads of a few media at a time in between. A build that fails removes what it stored.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from PIL import Image, UnidentifiedImageError

from wildlens.common.errors import Invalid
from wildlens.common.imaging import crop_box, crop_jpeg, upright
from wildlens.common.storage import ObjectStore, download
from wildlens.training.datasets.catalogue import CatalogueReader, MediaFile
from wildlens.training.datasets.label_spec import LabelSpec, apply_label_spec
from wildlens.training.datasets.records import Record
from wildlens.training.datasets.split import (
    SPLITS,
    GroupBy,
    Shares,
    SplitItem,
    group_key,
    split_groups,
)

T = TypeVar("T")

__all__ = [
    "BuildRequest",
    "Built",
    "Sample",
    "build_dataset",
    "crop_key",
    "frame_key",
    "manifest_key",
]

# Media downloaded and cropped at once.
CONCURRENCY = 4
MANIFEST = "manifest.json"


def crop_key(dataset_id: uuid.UUID | str, observation_id: str) -> str:
    return f"crops/{dataset_id}/{observation_id}.jpg"


def frame_key(dataset_id: uuid.UUID | str, media_id: str) -> str:
    return f"crops/{dataset_id}/frames/{media_id}.jpg"


def manifest_key(dataset_id: uuid.UUID | str) -> str:
    return f"crops/{dataset_id}/{MANIFEST}"


@dataclass(frozen=True, slots=True)
class BuildRequest:
    project_id: str
    spec: LabelSpec
    seed: int = 0
    shares: Shares = field(default_factory=Shares)
    group_by: GroupBy = "location"
    # Whole frames (a detector's dataset) rather than a crop per box: one sample per box
    # still, its crop_key the frame's, which every box of the frame shares.
    frames: bool = False


@dataclass(frozen=True, slots=True)
class Sample:
    """One example of the manifest."""

    observation_id: str
    media_id: str
    class_name: str
    scientific_name: str
    taxon_id: str
    location_id: str
    event_id: str
    captured_at: str | None
    bbox: list[float]
    split: str
    crop_key: str
    crop_size: int
    # A single object's features (named numbers) as the catalogue holds them; None: none.
    features: dict[str, float] | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {} if self.features is None else {"features": self.features}
        return shown | {
            "observation_id": self.observation_id,
            "media_id": self.media_id,
            "class": self.class_name,
            "scientific_name": self.scientific_name,
            "taxon_id": self.taxon_id or None,
            "location_id": self.location_id or None,
            "event_id": self.event_id or None,
            "captured_at": self.captured_at,
            "bbox": self.bbox,
            "split": self.split,
            "crop_key": self.crop_key,
            "crop_size": self.crop_size,
        }

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> Sample:
        return cls(
            observation_id=str(item["observation_id"]),
            media_id=str(item["media_id"]),
            class_name=str(item["class"]),
            scientific_name=str(item.get("scientific_name") or ""),
            taxon_id=str(item.get("taxon_id") or ""),
            location_id=str(item.get("location_id") or ""),
            event_id=str(item.get("event_id") or ""),
            captured_at=item.get("captured_at"),
            bbox=[float(v) for v in item.get("bbox") or []],
            split=str(item["split"]),
            crop_key=str(item["crop_key"]),
            crop_size=int(item["crop_size"]),
            features=(
                {str(k): float(v) for k, v in item["features"].items()}
                if item.get("features")
                else None
            ),
        )


@dataclass(frozen=True, slots=True)
class Built:
    """A built dataset: its classes, samples, counts per split and class, and what was left out."""

    dataset_id: uuid.UUID
    classes: list[str]
    samples: list[Sample]
    dropped: Counter[str]

    def counts(self) -> dict[str, dict[str, int]]:
        found: dict[str, Counter[str]] = defaultdict(Counter)
        for s in self.samples:
            found[s.split][s.class_name] += 1
        return {split: {c: found[split][c] for c in self.classes} for split in SPLITS}

    def manifest(self) -> dict[str, Any]:
        return {
            "dataset_id": str(self.dataset_id),
            "classes": self.classes,
            "samples": [s.as_json() for s in self.samples],
        }


def _cut(
    data: bytes, boxes: Sequence[tuple[float, float, float, float]]
) -> list[tuple[bytes, int]]:
    """Every box's crop of one image (JPEG bytes and side), decoded once. Blocking: runs in a
    worker thread."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image = upright(opened)
        if image.mode != "RGB":
            image = image.convert("RGB")
        return [
            (crop_jpeg(image, box), crop_box(box, image.width, image.height).side) for box in boxes
        ]


async def _each_medium(
    store: ObjectStore,
    chosen: list[tuple[Record, str]],
    files: dict[str, MediaFile],
    dropped: Counter[str],
    decode: Callable[[bytes, list[Record]], T],
    keep: Callable[[str, list[Record], T], Awaitable[None]],
) -> None:
    """Each chosen medium downloaded once (a few at a time), ``decode``d in a worker thread
    and its result ``keep``-t; the records of media without a file or that cannot be decoded
    are counted in ``dropped``."""
    by_media: dict[str, list[Record]] = defaultdict(list)
    for record, _ in chosen:
        by_media[record.media_id].append(record)
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one(media_id: str, records: list[Record]) -> None:
        found = files.get(media_id)
        if found is None or not found.url:
            dropped["no_file"] += len(records)
            return
        async with limit:
            data = await download(store, found.url)
            try:
                decoded = await asyncio.to_thread(decode, data, records)
            except (UnidentifiedImageError, OSError, ValueError):
                dropped["undecodable"] += len(records)
                return
            await keep(media_id, records, decoded)

    await asyncio.gather(*(one(m, rs) for m, rs in sorted(by_media.items())))


async def _crops(
    store: ObjectStore,
    dataset_id: uuid.UUID,
    chosen: list[tuple[Record, str]],
    files: dict[str, MediaFile],
    dropped: Counter[str],
) -> dict[str, int]:
    """Crops stored for every sample whose medium could be read; observation id → crop side."""
    sizes: dict[str, int] = {}

    def cut(data: bytes, records: list[Record]) -> list[tuple[bytes, int]]:
        return _cut(data, [r.bbox for r in records if r.bbox is not None])

    async def keep(_: str, records: list[Record], crops: list[tuple[bytes, int]]) -> None:
        for record, (crop, side) in zip(records, crops, strict=True):
            await store.put_bytes(crop_key(dataset_id, record.observation_id), crop, "image/jpeg")
            sizes[record.observation_id] = side

    await _each_medium(store, chosen, files, dropped, cut, keep)
    return sizes


def _frame(data: bytes, _: list[Record]) -> tuple[bytes, int]:
    """The frame upright, as JPEG, and its longer side. Blocking: runs in a worker thread."""
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        image = upright(opened)
        if image.mode != "RGB":
            image = image.convert("RGB")
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        return out.getvalue(), max(image.width, image.height)


async def _frames(
    store: ObjectStore,
    dataset_id: uuid.UUID,
    chosen: list[tuple[Record, str]],
    files: dict[str, MediaFile],
    dropped: Counter[str],
) -> dict[str, int]:
    """Each medium's frame stored once for all its boxes; observation id → frame side."""
    sizes: dict[str, int] = {}

    async def keep(media_id: str, records: list[Record], framed: tuple[bytes, int]) -> None:
        frame, side = framed
        await store.put_bytes(frame_key(dataset_id, media_id), frame, "image/jpeg")
        for record in records:
            sizes[record.observation_id] = side

    await _each_medium(store, chosen, files, dropped, _frame, keep)
    return sizes


async def build_dataset(
    reader: CatalogueReader,
    store: ObjectStore,
    request: BuildRequest,
    *,
    dataset_id: uuid.UUID | None = None,
) -> Built:
    """Build a dataset: its crops and manifest stored under ``crops/<dataset_id>/``.

    Raises:
        Invalid: nothing to learn from, or a class below its minimum (named), before any
            download; or too few crops could be made for a class once the media were read.
    """
    dataset_id = dataset_id or uuid.uuid4()
    spec = request.spec
    records = await reader.records(
        request.project_id, only_validated=list(spec.confirmed_by) == ["expert"]
    )
    labelled = apply_label_spec(spec, records, seed=request.seed)
    dropped = Counter(labelled.dropped)
    try:
        files = await reader.media(request.project_id, {r.media_id for r, _ in labelled.samples})
        store_images = _frames if request.frames else _crops
        sizes = await store_images(store, dataset_id, labelled.samples, files, dropped)
        kept = [(r, c) for r, c in labelled.samples if r.observation_id in sizes]
        if not kept:
            _nothing_readable(dropped)
        # Fewer images may have been readable than the catalogue listed: the minimums again.
        apply_label_spec(spec, [r for r, _ in kept], seed=request.seed)
        groups = {
            r.observation_id: group_key(r.location_id, r.event_id, r.media_id, by=request.group_by)
            for r, _ in kept
        }
        assigned = split_groups(
            [SplitItem(groups[r.observation_id], c) for r, c in kept],
            request.shares,
            seed=request.seed,
        )
        samples = [
            Sample(
                observation_id=r.observation_id,
                media_id=r.media_id,
                class_name=c,
                scientific_name=r.scientific_name,
                taxon_id=r.taxon_id,
                location_id=r.location_id,
                event_id=r.event_id,
                captured_at=r.captured_at.isoformat() if r.captured_at else None,
                bbox=list(r.bbox or ()),
                split=assigned[groups[r.observation_id]],
                crop_key=(
                    frame_key(dataset_id, r.media_id)
                    if request.frames
                    else crop_key(dataset_id, r.observation_id)
                ),
                crop_size=sizes[r.observation_id],
                features=files[r.media_id].features,
            )
            for r, c in kept
        ]
        built = Built(dataset_id, labelled.classes, samples, dropped)
        await store.put_bytes(
            manifest_key(dataset_id),
            json.dumps(built.manifest(), separators=(",", ":")).encode(),
            "application/json",
        )
        return built
    except BaseException:
        await remove_dataset_objects(store, dataset_id)
        raise


def _nothing_readable(dropped: Counter[str]) -> None:
    raise Invalid(
        "the dataset would be empty: none of the matching observations' images could be read "
        f"({dropped['no_file']} without a file, {dropped['undecodable']} undecodable)"
    )


async def remove_dataset_objects(store: ObjectStore, dataset_id: uuid.UUID) -> None:
    """Every object of the dataset (its crops and manifest)."""
    for info in await store.list(f"crops/{dataset_id}/"):
        await store.delete(info.key)
