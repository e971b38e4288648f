"""A project's privacy settings: reading them as the caller sees them, and changing them."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.models import ProjectPrivacy, SensitiveTaxon
from wildlens.catalogue.privacy import repository
from wildlens.catalogue.privacy.schemas import PrivacyPublic, PrivacyUpdate, SensitiveTaxonPublic
from wildlens.catalogue.privacy.view import PRECISE_LOCATIONS
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid

__all__ = ["privacy_settings", "update_privacy"]


async def privacy_settings(session: AsyncSession, access: ProjectAccess) -> PrivacyPublic:
    """The project's settings (the defaults where none were saved), and whether the caller
    sees sensitive places exactly."""
    project_id = access.project.id
    saved = await repository.settings(session, project_id)
    stored = saved or ProjectPrivacy(project_id=project_id)
    taxa = await repository.sensitive_taxa(session, project_id)
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
        updated_at=saved.updated_at if saved else None,
    )


async def update_privacy(
    session: AsyncSession, access: ProjectAccess, body: PrivacyUpdate
) -> PrivacyPublic:
    """Apply the fields given; the sensitive taxa, when given, replace the list and must all
    be taxa of the tree."""
    project_id = access.project.id
    actor = access.principal.subject
    if body.sensitive_taxa is not None:
        wanted = list(dict.fromkeys(body.sensitive_taxa))
        found = await repository.existing_taxa(session, wanted)
        unknown = [t for t in wanted if t not in found]
        if unknown:
            fields = [
                FieldError(
                    location=["body", "sensitive_taxa", body.sensitive_taxa.index(t)],
                    message=f"{t} is not a taxon",
                    type="value_error",
                )
                for t in unknown
            ]
            raise Invalid(
                f"not taxa: {', '.join(str(t) for t in unknown)} (import the tree first)",
                fields=fields,
            )
        await repository.replace_sensitive_taxa(
            session,
            project_id,
            (SensitiveTaxon(project_id=project_id, taxon_id=t, added_by=actor) for t in wanted),
        )
    settings = await repository.settings(session, project_id) or ProjectPrivacy(
        project_id=project_id
    )
    if body.coordinate_precision is not None:
        settings.coordinate_precision = body.coordinate_precision
    if body.hide_people is not None:
        settings.hide_people = body.hide_people
    settings.updated_by = actor
    settings.updated_at = utcnow()
    session.add(settings)
    await session.flush()
    return await privacy_settings(session, access)
