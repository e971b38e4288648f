"""Who may start, feed, complete and watch a bulk upload."""

from __future__ import annotations

from wildlens.common.auth import Principal
from wildlens.common.errors import NotFound
from wildlens.ingest.models import BulkUpload
from wildlens.ingest.scope import UPLOAD_ROLE, upload_scope

__all__ = ["UPLOAD_ROLE", "require_access", "upload_scope"]


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
