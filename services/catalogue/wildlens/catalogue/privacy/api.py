"""A project's privacy settings: sensitive taxa, coordinate precision, media with people."""

from __future__ import annotations

from fastapi import APIRouter

from wildlens.catalogue.access import ManagerDep, ViewerDep
from wildlens.catalogue.deps import SessionDep
from wildlens.catalogue.privacy import service
from wildlens.catalogue.privacy.schemas import PrivacyPublic, PrivacyUpdate
from wildlens.common.http import ERROR_RESPONSES

router = APIRouter(prefix="/v1/projects/{project_id}", tags=["privacy"], responses=ERROR_RESPONSES)


@router.get("/privacy", response_model=PrivacyPublic, operation_id="get_privacy")
async def get_privacy(session: SessionDep, access: ViewerDep) -> PrivacyPublic:
    """The project's sensitive taxa, coordinate precision and whether media with people are
    hidden from volunteers and public exports."""
    return await service.privacy_settings(session, access)


@router.patch("/privacy", response_model=PrivacyPublic, operation_id="update_privacy")
async def update_privacy(
    body: PrivacyUpdate, session: SessionDep, access: ManagerDep
) -> PrivacyPublic:
    """Change the project's privacy settings (managers); coordinates of places where a
    sensitive taxon was seen are generalised to the precision for anyone without the
    precise_locations permission."""
    return await service.update_privacy(session, access, body)
