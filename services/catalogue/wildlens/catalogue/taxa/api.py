"""The global taxon tree: import, search, one taxon with its ancestors."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from wildlens.catalogue.deps import BusDep, SessionDep, SettingsDep
from wildlens.catalogue.taxa import service
from wildlens.catalogue.taxa.schemas import TaxaImported, TaxonDetail, TaxonPublic, TaxonSummary
from wildlens.common.errors import Forbidden, PayloadTooLarge
from wildlens.common.http import ERROR_RESPONSES, ErrorBody, Page, PageDep, PrincipalDep

router = APIRouter(prefix="/v1/taxa", tags=["taxa"], responses=ERROR_RESPONSES)

# The file is checked whole in memory before anything is written: it may be as large as
# WILDLENS_LIMITS__CSV_FILE_BYTES (32 MiB by default, a few hundred thousand taxa).
_CHUNK = 1 << 20


@router.post(
    "/import",
    response_model=TaxaImported,
    responses={413: {"model": ErrorBody, "description": "The file is too large"}},
)
async def import_taxa(
    file: Annotated[UploadFile, File(description="Darwin Core Taxon CSV (or tab-separated)")],
    session: SessionDep,
    principal: PrincipalDep,
    bus: BusDep,
    settings: SettingsDep,
) -> TaxaImported:
    """Import or update taxa from a Darwin Core Taxon file; one bad row refuses the file."""
    principal.require_user()
    if not principal.is_platform_admin:
        raise Forbidden("the taxon tree is shared by every project; only platform admins edit it")
    limit = settings.limits.csv_file_bytes
    data = bytearray()
    while chunk := await file.read(_CHUNK):
        data += chunk
        if len(data) > limit:
            raise PayloadTooLarge(
                f"the taxon file is larger than {limit} bytes, the limit "
                "WILDLENS_LIMITS__CSV_FILE_BYTES sets for a CSV file read whole"
            )
    report = await service.import_taxon_file(bus, session, bytes(data), settings.limits)
    return TaxaImported(**vars(report))


@router.get("", response_model=Page[TaxonPublic])
async def search_taxa(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    q: Annotated[
        str | None,
        Query(max_length=200, description="Part of a scientific or vernacular name"),
    ] = None,
    rank: Annotated[str | None, Query(description="Only taxa of this rank")] = None,
) -> Page[TaxonPublic]:
    """Taxa whose scientific or vernacular name contains ``q``, by scientific name."""
    principal.require_user()
    rows, next_cursor = await service.search_taxa(session, q, rank, page)
    return Page(items=[TaxonPublic.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.get("/{taxon_id}", response_model=TaxonDetail)
async def get_taxon(
    taxon_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> TaxonDetail:
    """One taxon, with its ancestors from its parent up to the root."""
    principal.require_user()
    taxon, above = await service.taxon_with_ancestors(session, taxon_id)
    return TaxonDetail(
        **TaxonPublic.model_validate(taxon).model_dump(),
        ancestors=[TaxonSummary.model_validate(t) for t in above],
    )
