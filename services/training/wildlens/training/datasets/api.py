"""``/v1/datasets``: datasets built from the labels people confirmed, their manifest and their
COCO Camera Traps export."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from wildlens.common.http import ERROR_RESPONSES, PrincipalDep, clients_dependency
from wildlens.common.http.errors import ErrorBody
from wildlens.common.service.clients import ServiceClients
from wildlens.training.datasets import service
from wildlens.training.datasets.catalogue import CatalogueReader
from wildlens.training.datasets.schemas import DatasetCreate, DatasetPublic, ManifestPublic
from wildlens.training.deps import SERVICE, DatabaseDep, SessionDep, StoreDep

router = APIRouter(prefix="/v1/datasets", tags=["datasets"], responses=ERROR_RESPONSES)


def _reader(
    clients: Annotated[ServiceClients, Depends(clients_dependency(SERVICE))],
) -> CatalogueReader:
    return CatalogueReader(lambda: clients.client("catalogue"))


ReaderDep = Annotated[CatalogueReader, Depends(_reader)]


@router.post(
    "",
    response_model=DatasetPublic,
    status_code=201,
    operation_id="create_dataset",
    responses={
        422: {
            "model": ErrorBody,
            "description": "A malformed label spec, an empty dataset, or a class below its "
            "minimum (named)",
        },
    },
)
async def create_dataset(
    database: DatabaseDep,
    store: StoreDep,
    reader: ReaderDep,
    principal: PrincipalDep,
    body: DatasetCreate,
) -> DatasetPublic:
    """Build a dataset from a project's confirmed observations: classes by the label spec,
    square crops stored, split by location (the project's managers)."""
    return await service.create(database, store, reader, principal, body)


@router.get("/{dataset_id}", response_model=DatasetPublic, operation_id="get_dataset")
async def get_dataset(
    session: SessionDep, principal: PrincipalDep, dataset_id: uuid.UUID
) -> DatasetPublic:
    """A dataset: its classes and their counts per split (the project's managers)."""
    return service.public(await service.get_dataset(session, principal, dataset_id))


@router.get(
    "/{dataset_id}/manifest", response_model=ManifestPublic, operation_id="get_dataset_manifest"
)
async def get_dataset_manifest(
    session: SessionDep, store: StoreDep, principal: PrincipalDep, dataset_id: uuid.UUID
) -> ManifestPublic:
    """Every sample of a dataset: media, observation, class, location, event, split and crop
    (the project's managers)."""
    dataset = await service.get_dataset(session, principal, dataset_id)
    return await service.manifest(store, dataset)


@router.get("/{dataset_id}/coco", operation_id="get_dataset_coco")
async def get_dataset_coco(
    request: Request,
    session: SessionDep,
    store: StoreDep,
    reader: ReaderDep,
    principal: PrincipalDep,
    dataset_id: uuid.UUID,
) -> dict[str, Any]:
    """A dataset's crops as COCO Camera Traps JSON, with coordinates as the caller may see
    them (the project's managers)."""
    dataset = await service.get_dataset(session, principal, dataset_id)
    return await service.coco(store, reader, dataset, request.headers.get("Authorization", ""))
