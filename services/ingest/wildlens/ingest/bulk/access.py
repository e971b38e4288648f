"""Who may start, feed, complete and watch a bulk upload.

An upload session is its opener's (the person or the gateway whose token started it) and the
project's managers'; to anyone else it does not exist (404), so that neither its files nor the
fact that it exists leak to other members, other gateways or other projects.
"""

from __future__ import annotations

from wildlens.common.auth import Principal
from wildlens.common.errors import NotFound
from wildlens.ingest.models import BulkUpload
from wildlens.ingest.scope import UPLOAD_ROLE, upload_scope

__all__ = ["OVERSEER_ROLE", "UPLOAD_ROLE", "opener_kind", "require_access", "upload_scope"]

# Managers look after their project's uploads: they may finish or resume anyone's.
OVERSEER_ROLE = "manager"


def opener_kind(principal: Principal) -> str:
    """How an upload records what kind of caller opened it (subjects of people and gateways
    come from different issuers, so the subject alone does not say who it is)."""
    return "device" if principal.is_device else "user"


def _is_opener(principal: Principal, upload: BulkUpload) -> bool:
    if principal.subject != upload.created_by or opener_kind(principal) != upload.created_by_kind:
        return False
    project = str(upload.project_id)
    if principal.is_device:
        # The gateway's current token must still be for the project and the camera.
        return principal.project_id == project and (
            upload.device_id is None or str(upload.device_id) in principal.device_ids
        )
    # A person who has left the project no longer sees what they started there.
    return principal.role_in(project) is not None


def require_access(principal: Principal, upload: BulkUpload | None, *, write: bool) -> BulkUpload:
    """The upload if the caller may see it (and change it, with ``write``); 404 otherwise."""
    if upload is None:
        raise NotFound("upload not found")
    project = str(upload.project_id)
    if not principal.is_device and principal.has_role(project, OVERSEER_ROLE):
        return upload
    if not _is_opener(principal, upload):
        raise NotFound("upload not found")
    if write and not principal.is_device:
        # Its opener, since demoted below the role that uploads, may only watch it.
        principal.require(project, UPLOAD_ROLE, what="upload")
    return upload
