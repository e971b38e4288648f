"""A project's label maps (a model's label → a taxon) and its list of expected taxa.

Inference reads both with a service token, caches them, and re-reads them when
``taxonomy.changed`` names the project.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import BusDep, SessionDep
from wildlens.catalogue.taxa import service
from wildlens.catalogue.taxa.schemas import (
    LabelMapPublic,
    LabelMapUpdate,
    NameMapped,
    NameMapping,
    ProjectTaxaPublic,
    ProjectTaxaUpdate,
    UnresolvedNames,
)
from wildlens.common.errors import FieldError, Invalid
from wildlens.common.http import ERROR_RESPONSES, error_response
from wildlens.common.text import NameRule

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["taxonomy"], responses=ERROR_RESPONSES)

ModelName = Annotated[str, NameRule(200, min_length=1), Path()]


@router.get("/label-maps/{model_name}", response_model=LabelMapPublic)
async def get_label_map(
    model_name: ModelName, session: SessionDep, access: ViewerDep
) -> LabelMapPublic:
    """The project's map from a model's labels to taxa (empty when it has none)."""
    return await service.label_map(session, access.project.id, model_name)


@router.put("/label-maps/{model_name}", response_model=LabelMapPublic)
async def replace_label_map(
    model_name: ModelName,
    body: LabelMapUpdate,
    session: SessionDep,
    access: ManagerDep,
    bus: BusDep,
) -> LabelMapPublic:
    """Replace the project's map from a model's labels to taxa."""
    return await service.replace_label_map(
        bus, session, access.project.id, model_name, body.entries, access.principal.subject
    )


@router.get("/taxa", response_model=ProjectTaxaPublic)
async def get_project_taxa(session: SessionDep, access: ViewerDep) -> ProjectTaxaPublic:
    """The taxa the project expects to see (its allowed list for predictions)."""
    return await service.project_taxa(session, access.project.id)


@router.put("/taxa", response_model=ProjectTaxaPublic)
async def replace_project_taxa(
    body: ProjectTaxaUpdate, session: SessionDep, access: ManagerDep, bus: BusDep
) -> ProjectTaxaPublic:
    """Replace the list of taxa the project expects to see."""
    return await service.replace_project_taxa(
        bus, session, access.project.id, body.taxon_ids, access.principal.subject
    )


@router.get("/taxa/unresolved", response_model=UnresolvedNames)
async def get_unresolved_names(session: SessionDep, access: ManagerDep) -> UnresolvedNames:
    """The names imported observations carry that no taxon was found for, with how many
    observations carry each (managers)."""
    return await service.unresolved_names(session, access.project.id)


@router.put(
    "/taxa/unresolved/{name}",
    response_model=NameMapped,
    responses={409: error_response("The name was mapped by another request meanwhile; retry")},
)
async def map_unresolved_name(
    name: Annotated[str, Path(min_length=1, max_length=200)],
    body: NameMapping,
    session: SessionDep,
    access: ManagerDep,
) -> NameMapped:
    """Map an imported name to a taxon: later imports use it, and past observations that
    carry the name are linked to the taxon, without alerts as they are no new sightings
    (managers)."""
    # Printable text with something besides spaces: a NUL or a control character is no name
    # (and a schema pattern cannot say so: the validator stops reading at a NUL).
    if not name.isprintable() or not name.strip():
        raise Invalid(
            "a name is printable text",
            fields=[
                FieldError(
                    location=["path", "name"],
                    message="a name is printable text, not only spaces",
                    type="value_error",
                )
            ],
        )
    return await service.map_name(
        session, access.project.id, name, body.taxon_id, access.principal.subject
    )
