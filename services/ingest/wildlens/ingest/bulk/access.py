"""Who may start, feed, complete and watch a bulk upload."""

from __future__ import annotations

import uuid

from wildlens.common.auth import Principal
from wildlens.common.errors import Forbidden, Invalid, NotFound
from wildlens.ingest.bulk.models import BulkUpload

# Uploading adds media to a project: the same role single uploads need.
UPLOAD_ROLE = "annotator"


def upload_scope(
    principal: Principal, project_id: uuid.UUID | None, device_id: uuid.UUID | None
) -> tuple[uuid.UUID, uuid.UUID | None]:
    """The project and camera a new upload is for, as far as the token allows."""
    if principal.is_device:
        assert principal.project_id is not None
        token_project = uuid.UUID(principal.project_id)
        if project_id is not None and project_id != token_project:
            raise Forbidden("this device token is for another project")
        allowed = [uuid.UUID(d) for d in principal.device_ids]
        if device_id is None:
            # An upload station serving one camera need not name it.
            return token_project, allowed[0] if len(allowed) == 1 else None
        if device_id not in allowed:
            raise Forbidden(f"this device token does not cover device {device_id}")
        return token_project, device_id
    if principal.kind == "service":
        raise Forbidden("bulk uploads are made by people and gateways")
    if project_id is None:
        raise Invalid(
            "project_id is required with a user token",
            fields=[{"location": ["body", "project_id"], "message": "required", "type": "missing"}],
        )
    principal.require(str(project_id), UPLOAD_ROLE)
    return project_id, device_id


def require_access(principal: Principal, upload: BulkUpload | None, *, write: bool) -> BulkUpload:
    """The upload if the caller may see it (and change it, with ``write``); 404 otherwise."""
    if upload is None:
        raise NotFound("upload not found")
    if principal.is_device:
        # A gateway sees the uploads of its project, as it could have made any of them.
        if principal.project_id != str(upload.project_id):
            raise NotFound("upload not found")
        return upload
    principal.require(str(upload.project_id), UPLOAD_ROLE if write else "viewer", what="upload")
    return upload
