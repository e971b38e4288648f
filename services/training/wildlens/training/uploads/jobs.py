"""Model upload jobs: queued by ``complete``, run by whichever training process takes them.

The upload's row is the queue (:mod:`wildlens.common.jobs`). Every training process runs a
:class:`ModelUploadWorker` that takes an upload, holds it by a lease while it works, reads the
bundle back from the store and checks it as ``POST /v1/models`` does, and registers it through
the registry's own rules in the transaction that marks the upload succeeded. Whatever the
outcome, the staged files are deleted before it is told. A process that stops cleanly hands
its uploads back; one that dies stops renewing, and the next worker to look runs the upload
again. Uploads never completed are swept once their URLs have
been dead as long again as they worked, and what a late PUT left of any upload with them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.bundles import MANIFEST_FILE, MODEL_FILE, ModelManifest
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid, WildlensError
from wildlens.common.jobs import LeasedWorker, LeaseLost
from wildlens.common.service.context import ServiceContext
from wildlens.common.storage import ObjectNotFound
from wildlens.training.models import ModelUpload
from wildlens.training.registry import service as models
from wildlens.training.registry.objects import staged_objects
from wildlens.training.registry.receive import fetched_bundle
from wildlens.training.settings import TrainingSettings
from wildlens.training.uploads import repository
from wildlens.training.uploads.service import BUNDLE_FILES, staging_key, staging_prefix

__all__ = ["ModelUploadWorker"]

log = structlog.get_logger(__name__)

# Lapsed uploads swept in one round; the next round takes the rest.
SWEEP_BATCH = 100


def _field(name: str, message: str) -> list[FieldError]:
    return [FieldError(location=["file", MANIFEST_FILE, name], message=message, type="value_error")]


def _check_announced(upload: ModelUpload, manifest: ModelManifest) -> None:
    """The manifest names the model the upload was opened for."""
    for name, announced, found in (
        ("name", upload.name, manifest.name),
        ("version", upload.version, manifest.version),
        ("kind", upload.kind or manifest.kind, manifest.kind),
    ):
        if announced != found:
            raise Invalid(
                f"{MANIFEST_FILE} says {name} {found!r}; the upload was opened for {announced!r}",
                fields=_field(name, f"not {announced!r} as announced"),
            )


class ModelUploadWorker(LeasedWorker):
    """Takes completed model uploads from the database and checks and registers them, in one
    training process; one at a time, since checking a model loads it."""

    name = "model_upload"
    id_field = "upload_id"
    # Checking a bundle may take a while: a longer lease. Attempts and polling: the defaults.
    lease = timedelta(seconds=60)
    renew_every_s = 15.0
    claim_batch = 4
    table = ModelUpload

    def __init__(self, ctx: ServiceContext) -> None:
        super().__init__(ctx.database, ctx.instance)
        self.store = ctx.store
        self.limits = TrainingSettings.of(ctx.settings)

    async def give_up(
        self, session: AsyncSession, upload_id: uuid.UUID, now: datetime, attempts: int
    ) -> bool:
        if not await self.take(session, upload_id, now):
            return False
        await self._remove_staged(upload_id)
        await self._finish(
            session,
            upload_id,
            status="failed",
            problem={
                "error": "Unavailable",
                "detail": f"checking the bundle was interrupted {attempts} "
                "times; giving up (upload it again)",
            },
        )
        return True

    async def between_rounds(self) -> None:
        await self._sweep()

    async def _finish(self, session: AsyncSession, upload_id: uuid.UUID, **values: object) -> None:
        """End the upload held by this process with ``values`` (its status and outcome)."""
        held = await self.update_held(
            session,
            upload_id,
            finished_at=utcnow(),
            lease_owner="",
            lease_expires_at=None,
            **values,
        )
        if not held:
            raise LeaseLost(f"model upload {upload_id} was taken over")

    async def _check_sizes(self, upload: ModelUpload) -> None:
        """What was PUT has the sizes announced; a file grown past them is not even read."""
        announced = {MODEL_FILE: upload.model_bytes, MANIFEST_FILE: upload.manifest_bytes}
        for name in BUNDLE_FILES:
            try:
                info = await self.store.stat(staging_key(upload.id, name))
            except ObjectNotFound:
                raise Invalid(
                    f"{name} is not there any more; upload the bundle again",
                    fields=[
                        FieldError(location=["file", name], message="missing", type="value_error")
                    ],
                ) from None
            if info.size != announced[name]:
                raise Invalid(
                    f"{name} is {info.size} bytes; the upload announced {announced[name]}",
                    fields=[
                        FieldError(
                            location=["file", name],
                            message=f"not {announced[name]} bytes as announced",
                            type="value_error",
                        )
                    ],
                )

    async def work(self, upload_id: uuid.UUID) -> None:
        async with self.db.transaction() as session:
            upload = await repository.get(session, upload_id)
        if upload is None:
            return
        try:
            await self._check_sizes(upload)
            async with fetched_bundle(
                self.store,
                staging_key(upload.id, MODEL_FILE),
                staging_key(upload.id, MANIFEST_FILE),
                max_model_bytes=upload.model_bytes,
                max_manifest_bytes=upload.manifest_bytes,
            ) as bundle:
                _check_announced(upload, bundle.manifest)
                # The bundle is read and checked here; the staged copy goes before the outcome
                # is told, so that whoever sees it finished finds nothing staged.
                await self._remove_staged(upload.id)
                async with staged_objects(self.store) as objects, self.db.transaction() as session:
                    model = await models.record_bundle(
                        session, objects, upload.created_by, bundle, upload.project_id
                    )
                    await self._finish(session, upload.id, status="succeeded", model_id=model.id)
            log.info("model_upload.registered", upload_id=str(upload.id), model_id=str(model.id))
        except WildlensError as error:
            if error.status_code >= 500:
                # The store or the database did not answer: another round tries again.
                raise
            log.info("model_upload.refused", upload_id=str(upload.id), detail=error.detail)
            await self._remove_staged(upload.id)
            async with self.db.transaction() as session:
                await self._finish(session, upload.id, status="failed", problem=error.body())
        # Again: a holder of the URLs may have PUT a file meanwhile.
        await self._remove_staged(upload.id)

    async def _remove_staged(self, upload_id: uuid.UUID) -> None:
        # Listed rather than named: whatever a holder of the URLs put there goes too.
        for info in await self.store.list(staging_prefix(upload_id)):
            await self.store.delete(info.key)

    async def _sweep(self) -> None:
        """Once an upload's URLs have been dead for as long again as they worked (a PUT begun
        in time may still have been arriving), clear its staging folder for good; one never
        completed fails as expired."""
        now = utcnow()
        before = now - timedelta(seconds=self.limits.upload_ttl_s)
        async with self.db.transaction() as session:
            lapsed = await repository.lapsed(session, before, limit=SWEEP_BATCH)
            for upload in lapsed:
                # Cleared before it is told, as for a job's outcome.
                await self._remove_staged(upload.id)
                upload.swept = True
                if upload.status == "awaiting_files":
                    upload.status = "failed"
                    upload.finished_at = now
                    upload.problem = {
                        "error": "Expired",
                        "detail": f"the upload was not completed before it expired at "
                        f"{upload.expires_at.isoformat()}; open a new one",
                    }
                    log.info("model_upload.expired", upload_id=str(upload.id))
                session.add(upload)
