"""Which project and camera an upload is for, as far as the caller's token allows; single and
bulk uploads answer this the same way."""

from __future__ import annotations

import uuid

from wildlens.common.auth import Principal
from wildlens.common.errors import FieldError, Forbidden, Invalid

__all__ = ["UPLOAD_ROLE", "upload_scope"]

# Uploading adds media to a project.
UPLOAD_ROLE = "annotator"


def upload_scope(
    principal: Principal, project_id: uuid.UUID | None, device_id: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The project and camera an upload is for."""
    if principal.is_device:
        assert principal.project_id is not None
        token_project = uuid.UUID(principal.project_id)
        if project_id is not None and project_id != token_project:
            raise Forbidden("this device token is for another project")
        allowed = [uuid.UUID(d) for d in principal.device_ids]
        if device_id is None:
            # A gateway with several cameras names the camera; with one it need not.
            return token_project, allowed[0] if len(allowed) == 1 else None
        if device_id not in allowed:
            raise Forbidden(f"this device token does not cover device {device_id}")
        return token_project, device_id
    if principal.kind == "service":
        raise Forbidden("uploads are made by people and gateways")
    if project_id is None:
        raise Invalid(
            "project_id is required with a user token",
            fields=[
                FieldError(location=["body", "project_id"], message="required", type="missing")
            ],
        )
    principal.require(str(project_id), UPLOAD_ROLE)
    return project_id, device_id
