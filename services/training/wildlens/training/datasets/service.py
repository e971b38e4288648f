"""The rules of datasets: who may build and read them, building one, and its views."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.db import Database, utcnow
from wildlens.common.errors import NotFound
from wildlens.common.storage import ObjectStore
from wildlens.training.datasets import repository
from wildlens.training.datasets.build import (
    BuildRequest,
    Sample,
    build_dataset,
    manifest_key,
    remove_dataset_objects,
)
from wildlens.training.datasets.catalogue import CatalogueReader
from wildlens.training.datasets.schemas import DatasetCreate, DatasetPublic, ManifestPublic
from wildlens.training.datasets.split import SPLITS
from wildlens.training.models import Dataset

__all__ = [
    "SPLITS",
    "build_and_record",
    "coco",
    "create",
    "find",
    "get_dataset",
    "load_samples",
    "manifest",
    "public",
]


def _require_manager(principal: Principal, project_id: uuid.UUID, what: str) -> None:
    principal.require_user()
    principal.require(str(project_id), "manager", what=what)


async def create(
    database: Database,
    store: ObjectStore,
    reader: CatalogueReader,
    principal: Principal,
    body: DatasetCreate,
) -> DatasetPublic:
    """Build a dataset from the project's confirmed labels and record it (its managers)."""
    _require_manager(principal, body.project_id, f"project {body.project_id}")
    request = BuildRequest(
        project_id=str(body.project_id),
        spec=body.label_spec,
        seed=body.seed,
        shares=body.shares,
        group_by=body.group_by,
    )
    return await build_and_record(database, store, reader, request, created_by=principal.subject)


async def build_and_record(
    database: Database,
    store: ObjectStore,
    reader: CatalogueReader,
    request: BuildRequest,
    *,
    created_by: str,
    dataset_id: uuid.UUID | None = None,
) -> DatasetPublic:
    """Build a dataset and record it, ready; what a training job calls before it trains.

    Raises:
        Invalid: nothing to learn from, or a class below its minimum (named); nothing is
            stored then.
    """
    dataset_id = dataset_id or uuid.uuid4()
    built = await build_dataset(reader, store, request, dataset_id=dataset_id)
    row = Dataset(
        id=dataset_id,
        project_id=uuid.UUID(request.project_id),
        created_by=created_by,
        spec=request.spec.model_dump(mode="json", exclude_defaults=True),
        seed=request.seed,
        shares=request.shares.model_dump(),
        group_by=request.group_by,
        state="ready",
        classes=built.classes,
        counts=built.counts(),
        dropped=dict(built.dropped),
        sample_count=len(built.samples),
        location_count=len({s.location_id for s in built.samples if s.location_id}),
        manifest_key=manifest_key(dataset_id),
        finished_at=utcnow(),
    )
    try:
        async with database.transaction() as session:
            await repository.add(session, row)
            answer = public(row)
    except BaseException:
        await remove_dataset_objects(store, dataset_id)
        raise
    return answer


async def get_dataset(
    session: AsyncSession, principal: Principal, dataset_id: uuid.UUID
) -> Dataset:
    dataset = await repository.get(session, dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} not found")
    _require_manager(principal, dataset.project_id, f"dataset {dataset_id}")
    return dataset


async def find(session: AsyncSession, dataset_id: uuid.UUID) -> Dataset | None:
    """A dataset by id, whoever asks (a training job, which checked its rights when it
    was created)."""
    return await repository.get(session, dataset_id)


async def load_samples(store: ObjectStore, dataset: Dataset) -> tuple[list[str], list[Sample]]:
    """The dataset's classes and its samples, as its manifest stores them."""
    found = await _manifest_json(store, dataset)
    return list(found["classes"]), [Sample.from_json(item) for item in found["samples"]]


def public(dataset: Dataset) -> DatasetPublic:
    return DatasetPublic(
        id=dataset.id,
        project_id=dataset.project_id,
        state=dataset.state,
        created_by=dataset.created_by,
        created_at=dataset.created_at,
        finished_at=dataset.finished_at,
        label_spec=dataset.spec,
        seed=dataset.seed,
        shares=dataset.shares,
        group_by=dataset.group_by,
        classes=dataset.classes,
        counts=dataset.counts,
        split_sizes={s: sum(dataset.counts.get(s, {}).values()) for s in SPLITS},
        sample_count=dataset.sample_count,
        location_count=dataset.location_count,
        dropped=dataset.dropped,
    )


# Long enough to download a large dataset's crops one after another.
CROP_URL_LIFETIME = timedelta(hours=6)


async def _manifest_json(store: ObjectStore, dataset: Dataset) -> dict[str, Any]:
    if dataset.state != "ready" or not dataset.manifest_key:
        raise NotFound(f"dataset {dataset.id} has no manifest yet")
    found: dict[str, Any] = json.loads(await store.get_bytes(dataset.manifest_key))
    return found


async def manifest(store: ObjectStore, dataset: Dataset) -> ManifestPublic:
    return ManifestPublic.model_validate(await _manifest_json(store, dataset))


async def coco(
    store: ObjectStore, reader: CatalogueReader, dataset: Dataset, authorization: str
) -> dict[str, Any]:
    """The dataset's crops as COCO Camera Traps: one image per crop (``file_name`` as the
    crop's name under ``crops/<dataset>/``, ``url`` a short-lived link to download it, for
    people who train elsewhere), one annotation each, and the locations with the coordinates
    the catalogue shows this caller (generalised for sensitive places unless they hold
    precise_locations). Crops carry no EXIF: their pixels are all they give away."""
    found = await _manifest_json(store, dataset)
    places = await reader.locations(str(dataset.project_id), authorization)
    categories = {name: i + 1 for i, name in enumerate(found["classes"])}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for sample in found["samples"]:
        image_id = str(sample["observation_id"])
        place = places.get(str(sample.get("location_id") or ""))
        image: dict[str, Any] = {
            "id": image_id,
            "file_name": f"{image_id}.jpg",
            "width": sample["crop_size"],
            "height": sample["crop_size"],
            "location": str(sample.get("location_id") or ""),
            "seq_id": str(sample.get("event_id") or ""),
            "datetime": sample.get("captured_at"),
            "split": sample["split"],
            "media_id": sample["media_id"],
            "url": await store.url_for_get(str(sample["crop_key"]), CROP_URL_LIFETIME),
        }
        if place is not None:
            image["location_name"] = place.get("name")
            image["latitude"] = place.get("latitude")
            image["longitude"] = place.get("longitude")
        images.append(image)
        annotations.append(
            {
                "id": image_id,
                "image_id": image_id,
                "category_id": categories[sample["class"]],
                "sequence_level_annotation": False,
            }
        )
    return {
        "info": {
            "description": f"Wildlens dataset {dataset.id}: square crops with context",
            "version": str(dataset.id),
            "date_created": datetime.now(UTC).isoformat(),
            "contributor": "Wildlens",
        },
        "images": images,
        "annotations": annotations,
        "categories": [{"id": i, "name": n} for n, i in categories.items()],
    }
