"""A project's privacy settings: sensitive taxa, coordinate precision, media with people."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess, require_access
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.models import ProjectPrivacy, SensitiveTaxon, Taxon
from wildlens.catalogue.privacy.schemas import PrivacyPublic, PrivacyUpdate, SensitiveTaxonPublic
from wildlens.catalogue.privacy.view import PRECISE_LOCATIONS
from wildlens.catalogue.taxa.repository import existing_ids
from wildlens.common.db import utcnow
from wildlens.common.errors import Invalid
from wildlens.common.http import ERROR_RESPONSES, PrincipalDep

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["privacy"], responses=ERROR_RESPONSES)


async def _public(session: AsyncSession, access: ProjectAccess) -> PrivacyPublic:
    project_id = access.project.id
    settings = await session.get(ProjectPrivacy, project_id)
    stored = settings or ProjectPrivacy(project_id=project_id)
    taxa = (
        await session.exec(
            select(Taxon)
            .join(SensitiveTaxon, col(SensitiveTaxon.taxon_id) == col(Taxon.id))
            .where(SensitiveTaxon.project_id == project_id)
            .order_by(col(Taxon.scientific_name))
        )
    ).all()
    return PrivacyPublic(
        project_id=project_id,
        coordinate_precision=stored.coordinate_precision,
        hide_people=stored.hide_people,
        sensitive_taxa=[
            SensitiveTaxonPublic(id=t.id, scientific_name=t.scientific_name, rank=t.rank)
            for t in taxa
        ],
        precise_locations=access.principal.has_permission(str(project_id), PRECISE_LOCATIONS),
        updated_by=stored.updated_by,
        updated_at=settings.updated_at if settings else None,
    )


@router.get("/privacy", response_model=PrivacyPublic, operation_id="get_privacy")
async def get_privacy(
    project_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> PrivacyPublic:
    """The project's sensitive taxa, coordinate precision and whether media with people are
    hidden from volunteers and public exports."""
    access = await require_access(session, principal, project_id)
    return await _public(session, access)


@router.patch("/privacy", response_model=PrivacyPublic, operation_id="update_privacy")
async def update_privacy(
    project_id: uuid.UUID, body: PrivacyUpdate, session: SessionDep, principal: PrincipalDep
) -> PrivacyPublic:
    """Change the project's privacy settings (managers); coordinates of places where a
    sensitive taxon was seen are generalised to the precision for anyone without the
    precise_locations permission."""
    access = await require_access(session, principal, project_id, "manager")
    if body.sensitive_taxa is not None:
        wanted = list(dict.fromkeys(body.sensitive_taxa))
        found = await existing_ids(session, wanted)
        unknown = [t for t in wanted if t not in found]
        if unknown:
            fields: list[dict[str, Any]] = [
                {
                    "location": ["body", "sensitive_taxa", body.sensitive_taxa.index(t)],
                    "message": f"{t} is not a taxon",
                    "type": "value_error",
                }
                for t in unknown
            ]
            raise Invalid(
                f"not taxa: {', '.join(str(t) for t in unknown)} (import the tree first)",
                fields=fields,
            )
        await session.exec(
            delete(SensitiveTaxon).where(col(SensitiveTaxon.project_id) == project_id)
        )
        for taxon_id in wanted:
            session.add(
                SensitiveTaxon(project_id=project_id, taxon_id=taxon_id, added_by=principal.subject)
            )
    settings = await session.get(ProjectPrivacy, project_id) or ProjectPrivacy(
        project_id=project_id
    )
    if body.coordinate_precision is not None:
        settings.coordinate_precision = body.coordinate_precision
    if body.hide_people is not None:
        settings.hide_people = body.hide_people
    settings.updated_by = principal.subject
    settings.updated_at = utcnow()
    session.add(settings)
    await session.flush()
    return await _public(session, access)
