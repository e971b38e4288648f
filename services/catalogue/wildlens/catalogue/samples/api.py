"""A project's samples: listed, one read, a profile's images per depth bin given."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.samples import service
from wildlens.catalogue.samples.schemas import DepthBins, SamplePublic
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["samples"], responses=ERROR_RESPONSES)


@router.get("/samples", response_model=Page[SamplePublic])
async def list_samples(session: SessionDep, access: ViewerDep, page: PageDep) -> Page[SamplePublic]:
    """The project's samples by sample id, each with its acquisitions, the processes that cut
    its objects, its objects counted and its depth range; positions generalised where a
    sensitive taxon was seen, for callers without precise_locations (viewers)."""
    return await service.list_samples(session, access, page)


@router.get("/samples/{sample_id}", response_model=SamplePublic)
async def get_sample(sample_id: uuid.UUID, session: SessionDep, access: ViewerDep) -> SamplePublic:
    """One sample, as the list gives it (viewers)."""
    return await service.get_sample(session, access, sample_id)


@router.put("/samples/{sample_id}/depth-bins", response_model=SamplePublic)
async def put_depth_bins(
    sample_id: uuid.UUID, body: DepthBins, session: SessionDep, access: ManagerDep
) -> SamplePublic:
    """A profile's images per depth bin (a UVP's own counts, which the TSV does not carry),
    replacing any given before: what its concentrations per cubic metre divide by
    (managers)."""
    return await service.put_depth_bins(session, access, sample_id, body)
