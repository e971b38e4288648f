"""A project's label maps (a model's label → a taxon) and its list of expected taxa.

Inference reads both with a service token, caches them, and re-reads them when
``taxonomy.changed`` names the project.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, Path
from sqlalchemy import delete
from sqlmodel import col, select

from wildlens.catalogue.access import require_project
from wildlens.catalogue.deps import ContextDep, SessionDep
from wildlens.catalogue.models import LabelMapEntry, ProjectTaxon, Taxon
from wildlens.catalogue.taxa.events import stage_taxonomy_changed
from wildlens.catalogue.taxa.repository import existing_ids
from wildlens.catalogue.taxa.schemas import (
    LabelMapEntryPublic,
    LabelMapPublic,
    LabelMapUpdate,
    ProjectTaxaPublic,
    ProjectTaxaUpdate,
    TaxonSummary,
)
from wildlens.common.db import utcnow
from wildlens.common.errors import Invalid
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["taxonomy"], responses=ERROR_RESPONSES)

ModelName = Annotated[str, Path(min_length=1, max_length=200)]


async def _label_map(session: SessionDep, project_id: uuid.UUID, model_name: str) -> LabelMapPublic:
    rows = (
        await session.exec(
            select(LabelMapEntry, Taxon)
            .join(Taxon, col(LabelMapEntry.taxon_id) == col(Taxon.id))
            .where(LabelMapEntry.project_id == project_id, LabelMapEntry.model_name == model_name)
            .order_by(col(LabelMapEntry.label))
        )
    ).all()
    return LabelMapPublic(
        project_id=project_id,
        model_name=model_name,
        entries=[
            LabelMapEntryPublic(
                label=e.label, taxon_id=t.id, scientific_name=t.scientific_name, rank=t.rank
            )
            for e, t in rows
        ],
        updated_at=max((e.updated_at for e, _ in rows), default=None),
    )


def _unknown_taxa(
    ids: list[uuid.UUID], found: dict[uuid.UUID, Taxon], where: list[Any]
) -> list[dict[str, Any]]:
    return [
        {
            "location": [*where, i],
            "message": f"taxon {taxon_id} does not exist",
            "type": "unknown_taxon",
        }
        for i, taxon_id in enumerate(ids)
        if taxon_id not in found
    ]


@router.get("/label-maps/{model_name}", response_model=LabelMapPublic)
async def get_label_map(
    project_id: uuid.UUID, model_name: ModelName, session: SessionDep, principal: PrincipalDep
) -> LabelMapPublic:
    """The project's map from a model's labels to taxa (empty when it has none)."""
    await require_project(session, principal, project_id)
    return await _label_map(session, project_id, model_name)


@router.put("/label-maps/{model_name}", response_model=LabelMapPublic)
async def replace_label_map(
    project_id: uuid.UUID,
    model_name: ModelName,
    body: LabelMapUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> LabelMapPublic:
    """Replace the project's map from a model's labels to taxa."""
    await require_project(session, principal, project_id, "manager")
    taxon_ids = [e.taxon_id for e in body.entries]
    found = await existing_ids(session, taxon_ids)
    problems = _unknown_taxa(taxon_ids, found, ["body", "entries"])
    repeated = {label for label, n in Counter(e.label for e in body.entries).items() if n > 1}
    problems += [
        {
            "location": ["body", "entries", i, "label"],
            "message": f"label {e.label!r} is mapped more than once",
            "type": "duplicate",
        }
        for i, e in enumerate(body.entries)
        if e.label in repeated
    ]
    if problems:
        raise Invalid(f"{len(problems)} problem(s) in the label map", fields=problems)
    await session.exec(
        delete(LabelMapEntry).where(
            col(LabelMapEntry.project_id) == project_id,
            col(LabelMapEntry.model_name) == model_name,
        )
    )
    now = utcnow()
    for e in body.entries:
        session.add(
            LabelMapEntry(
                project_id=project_id,
                model_name=model_name,
                label=e.label,
                taxon_id=e.taxon_id,
                updated_by=principal.subject,
                updated_at=now,
            )
        )
    await session.flush()
    await stage_taxonomy_changed(
        ctx, session, "label_map.updated", project_id=project_id, model_name=model_name
    )
    return await _label_map(session, project_id, model_name)


async def _project_taxa(session: SessionDep, project_id: uuid.UUID) -> ProjectTaxaPublic:
    rows = (
        await session.exec(
            select(Taxon)
            .join(ProjectTaxon, col(ProjectTaxon.taxon_id) == col(Taxon.id))
            .where(ProjectTaxon.project_id == project_id)
            .order_by(col(Taxon.scientific_name), col(Taxon.id))
        )
    ).all()
    return ProjectTaxaPublic(
        project_id=project_id, taxa=[TaxonSummary.model_validate(t) for t in rows]
    )


@router.get("/taxa", response_model=ProjectTaxaPublic)
async def get_project_taxa(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> ProjectTaxaPublic:
    """The taxa the project expects to see (its allowed list for predictions)."""
    await require_project(session, principal, project_id)
    return await _project_taxa(session, project_id)


@router.put("/taxa", response_model=ProjectTaxaPublic)
async def replace_project_taxa(
    project_id: uuid.UUID,
    body: ProjectTaxaUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> ProjectTaxaPublic:
    """Replace the list of taxa the project expects to see."""
    await require_project(session, principal, project_id, "manager")
    found = await existing_ids(session, body.taxon_ids)
    problems = _unknown_taxa(body.taxon_ids, found, ["body", "taxon_ids"])
    if problems:
        raise Invalid(f"{len(problems)} taxon id(s) do not exist", fields=problems)
    await session.exec(delete(ProjectTaxon).where(col(ProjectTaxon.project_id) == project_id))
    for taxon_id in dict.fromkeys(body.taxon_ids):
        session.add(
            ProjectTaxon(project_id=project_id, taxon_id=taxon_id, added_by=principal.subject)
        )
    await session.flush()
    await stage_taxonomy_changed(ctx, session, "project_taxa.updated", project_id=project_id)
    return await _project_taxa(session, project_id)
