"""Model uploads: open one (PUT URLs for the bundle's two files), complete it (its job is
queued), and read how it went.

The same people may upload as may register a bundle with ``POST /v1/models``: a project's
managers for that project's model, platform admins for a global one. An upload is seen only by
those who may manage models in its scope.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE
from wildlens.common.db import utcnow
from wildlens.common.errors import Conflict, FieldError, NotFound, PayloadTooLarge
from wildlens.common.storage import ObjectStore
from wildlens.training.models import ModelUpload
from wildlens.training.registry import repository as registry
from wildlens.training.registry import service as models
from wildlens.training.settings import TrainingSettings
from wildlens.training.uploads import repository
from wildlens.training.uploads.schemas import ModelUploadCreate, ModelUploadFile, ModelUploadPublic

__all__ = ["complete", "get_upload", "open_upload", "public", "staging_key", "staging_prefix"]

BUNDLE_FILES = (MODEL_FILE, MANIFEST_FILE)


def staging_prefix(upload_id: uuid.UUID) -> str:
    return f"staging/models/{upload_id}/"


def staging_key(upload_id: uuid.UUID, name: str) -> str:
    return f"{staging_prefix(upload_id)}{name}"


def _too_large(index: int, name: str, size: int, limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{name} is {size} bytes, larger than this platform accepts ({limit} bytes)",
        fields=[
            FieldError(
                location=["body", "files", index, "size"],
                message=f"larger than {limit} bytes",
                type="value_error",
            )
        ],
    )


def public(upload: ModelUpload, urls: dict[str, str] | None = None) -> ModelUploadPublic:
    sizes = {MODEL_FILE: upload.model_bytes, MANIFEST_FILE: upload.manifest_bytes}
    files = [
        ModelUploadFile(name=name, size=sizes[name], upload_url=(urls or {}).get(name))
        for name in BUNDLE_FILES
    ]
    return ModelUploadPublic.model_validate({**upload.model_dump(), "files": files})


async def open_upload(
    session: AsyncSession,
    store: ObjectStore,
    limits: TrainingSettings,
    principal: Principal,
    body: ModelUploadCreate,
) -> ModelUploadPublic:
    """A new upload and a PUT URL for each of its files.

    Raises:
        Forbidden / NotFound: the caller may not register models in that scope.
        PayloadTooLarge: a file is larger than the platform accepts.
        Conflict: the name and version are registered already.
    """
    models.require_manager(principal, body.project_id, "registering")
    for index, file in enumerate(body.files):
        limit = limits.max_model_bytes if file.name == MODEL_FILE else limits.max_manifest_bytes
        if file.size > limit:
            raise _too_large(index, file.name, file.size, limit)
    if await registry.by_name_version(session, body.name, body.version) is not None:
        raise Conflict(
            f"model {body.name} {body.version} is registered already; give the bundle another "
            "version"
        )
    ttl = timedelta(seconds=limits.upload_ttl_s)
    upload = ModelUpload(
        name=body.name,
        version=body.version,
        kind=body.kind,
        project_id=body.project_id,
        created_by=principal.subject,
        model_bytes=body.size_of(MODEL_FILE),
        manifest_bytes=body.size_of(MANIFEST_FILE),
        expires_at=utcnow() + ttl,
    )
    session.add(upload)
    await session.flush()
    # No content type bound: what the file is is decided from its bytes by the job.
    urls = {
        name: await store.url_for_put(staging_key(upload.id, name), expires=ttl)
        for name in BUNDLE_FILES
    }
    return public(upload, urls)


async def get_upload(
    session: AsyncSession, principal: Principal, upload_id: uuid.UUID, *, lock: bool = False
) -> ModelUpload:
    """An upload the caller may manage.

    Raises:
        NotFound: no such upload, or one of a project the caller is not in.
        Forbidden: the caller may not manage models in its scope.
    """
    upload = await repository.get(session, upload_id, lock=lock)
    projects = models.visible_projects(principal)
    if upload is None or (
        upload.project_id is not None and projects is not None and upload.project_id not in projects
    ):
        raise NotFound(f"model upload {upload_id} not found")
    models.require_manager(principal, upload.project_id, "uploading")
    return upload


async def complete(
    session: AsyncSession, store: ObjectStore, principal: Principal, upload_id: uuid.UUID
) -> ModelUpload:
    """Queue the upload's job once both files are there; an upload completed already is
    answered as it stands.

    Raises:
        NotFound / Forbidden: as :func:`get_upload`.
        Conflict: a file was not PUT yet, or the upload expired first.
    """
    upload = await get_upload(session, principal, upload_id, lock=True)
    if upload.status != "awaiting_files":
        return upload
    if upload.expires_at <= utcnow():
        raise Conflict(
            f"model upload {upload_id} expired at {upload.expires_at.isoformat()}; open a new one"
        )
    missing = [
        name for name in BUNDLE_FILES if not await store.exists(staging_key(upload.id, name))
    ]
    if missing:
        raise Conflict(
            f"{' and '.join(missing)} not uploaded yet: PUT each file to its URL, then complete "
            "the upload"
        )
    upload.status = "queued"
    session.add(upload)
    await session.flush()
    return upload
