"""Bulk uploads: record manifests, hand out PUT URLs, verify and ingest what arrived.

A client declares the files it has (name, size, SHA-256), gets a PUT URL for each one the
project does not already have, uploads to ``staging/<upload id>/<n>``, and asks for the upload
to be completed: only then is each staging object verified against its manifest entry and,
if it matches and passes the checks single uploads get, turned into media.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.db import Database, utcnow
from wildlens.common.errors import Conflict, FieldError, Invalid, WildlensError
from wildlens.common.http.pagination import PageParams
from wildlens.common.service import ServiceBus
from wildlens.common.service.clients import ServiceClients
from wildlens.common.storage import ObjectNotFound, ObjectStore
from wildlens.ingest.bulk import repository
from wildlens.ingest.bulk.access import opener_kind, require_access, upload_scope
from wildlens.ingest.bulk.names import base_name, sanitise_relative_name
from wildlens.ingest.bulk.schemas import (
    ManifestEntry,
    UploadCompleted,
    UploadCounts,
    UploadCreate,
    UploadFileOut,
    UploadPage,
    UploadProgress,
)
from wildlens.ingest.bulk.verify import fetch_staged, staging_key, staging_prefix
from wildlens.ingest.models import BulkUpload, BulkUploadFile, FileState
from wildlens.ingest.references import checked_placement
from wildlens.ingest.settings import IngestSettings
from wildlens.ingest.uploads.service import UploadRequest, accept_upload, prepare_original
from wildlens.ingest.uploads.unit import upload_unit

log = structlog.get_logger(__name__)

# Staging objects verified at once by one completion: each holds a temporary file and a
# thread while it is hashed and inspected.
VERIFY_CONCURRENCY = 4


def _field_error(location: list[str | int], message: str) -> FieldError:
    return FieldError(location=["body", *location], message=message, type="value_error")


def _checked_page(limits: IngestSettings, entries: Sequence[ManifestEntry]) -> list[ManifestEntry]:
    """The page's entries with duplicates collapsed; refuses what no upload could satisfy."""
    if len(entries) > limits.manifest_page_size:
        raise Invalid(
            f"a manifest page holds at most {limits.manifest_page_size} files, not "
            f"{len(entries)}; send the rest with POST /v1/uploads/{{id}}/files",
            fields=[_field_error(["files"], "too many files in one page")],
        )
    largest = max(limits.max_image_bytes, limits.max_video_bytes)
    first: dict[str, tuple[int, ManifestEntry]] = {}
    for i, entry in enumerate(entries):
        if entry.size > largest:
            raise Invalid(
                f"files[{i}] ({entry.name!r}) is {entry.size} bytes, more than the limit of "
                f"{largest} bytes",
                fields=[_field_error(["files", i, "size"], f"larger than {largest} bytes")],
            )
        seen = first.get(entry.sha256)
        if seen is None:
            first[entry.sha256] = (i, entry)
        elif seen[1].size != entry.size:
            raise Invalid(
                f"files[{i}] has the SHA-256 of files[{seen[0]}] but another size",
                fields=[_field_error(["files", i, "size"], "size differs for the same SHA-256")],
            )
    return [entry for _, entry in first.values()]


async def _record_page(
    session: AsyncSession, upload: BulkUpload, entries: Sequence[ManifestEntry]
) -> list[BulkUploadFile]:
    shas = [e.sha256 for e in entries]
    existing = await repository.files_by_sha(session, upload.id, shas)
    known = await repository.known_media(session, upload.project_id, shas)
    rows: list[BulkUploadFile] = []
    for i, entry in enumerate(entries):
        row = existing.get(entry.sha256)
        if row is not None:
            if row.size_bytes != entry.size:
                raise Invalid(
                    f"{entry.name!r} was declared earlier in this upload with "
                    f"{row.size_bytes} bytes, now with {entry.size}",
                    fields=[_field_error(["files", i, "size"], "differs from the earlier page")],
                )
            if row.state == FileState.PENDING and entry.sha256 in known:
                # Arrived meanwhile by another route (a gateway, another upload).
                row.state, row.media_id, row.updated_at = (
                    FileState.ALREADY_HAVE,
                    known[entry.sha256],
                    utcnow(),
                )
                session.add(row)
            rows.append(row)
            continue
        name = sanitise_relative_name(entry.name) or entry.sha256[:16]
        media_id = known.get(entry.sha256)
        row = BulkUploadFile(
            upload_id=upload.id,
            n=upload.file_count,
            name=name,
            size_bytes=entry.size,
            sha256=entry.sha256,
            state=FileState.ALREADY_HAVE if media_id else FileState.PENDING,
            media_id=media_id,
        )
        upload.file_count += 1
        session.add(row)
        rows.append(row)
    session.add(upload)
    await session.flush()
    return rows


def _out(row: BulkUploadFile, url: str | None = None) -> UploadFileOut:
    return UploadFileOut(
        n=row.n,
        name=row.name,
        size=row.size_bytes,
        sha256=row.sha256,
        state=FileState(row.state),
        already_have=row.state == FileState.ALREADY_HAVE,
        media_id=row.media_id,
        error=row.error,
        upload_url=url,
    )


async def _page(
    store: ObjectStore,
    limits: IngestSettings,
    upload: BulkUpload,
    rows: Sequence[BulkUploadFile],
    next_cursor: str | None = None,
) -> UploadPage:
    """The files of ``upload`` in ``rows``, with a PUT URL for each one still pending."""
    ttl = timedelta(seconds=limits.upload_url_ttl_s)
    expires_at = utcnow() + ttl
    files = []
    for row in rows:
        url = None
        if row.state == FileState.PENDING:
            # No content type bound: the bytes' type is decided from the bytes at completion.
            url = await store.url_for_put(staging_key(upload.id, row.n), expires=ttl)
        files.append(_out(row, url))
    return UploadPage(
        id=upload.id,
        project_id=upload.project_id,
        files=files,
        urls_expire_at=expires_at,
        next_cursor=next_cursor,
    )


async def create_upload(
    database: Database,
    store: ObjectStore,
    clients: ServiceClients,
    limits: IngestSettings,
    principal: Principal,
    body: UploadCreate,
) -> UploadPage:
    project_id, device_id = upload_scope(principal, body.project_id, body.device_id)
    entries = _checked_page(limits, body.files)
    placement = await checked_placement(
        clients, principal, project_id, device_id, body.deployment_id
    )
    async with database.transaction() as session:
        upload = BulkUpload(
            project_id=placement.project_id,
            deployment_id=placement.deployment_id,
            device_id=placement.device_id,
            created_by=principal.subject,
            created_by_kind=opener_kind(principal),
        )
        session.add(upload)
        await session.flush()
        rows = await _record_page(session, upload, entries)
    log.info("bulk.created", upload_id=str(upload.id), files=len(rows))
    return await _page(store, limits, upload, rows)


async def add_files(
    database: Database,
    store: ObjectStore,
    limits: IngestSettings,
    principal: Principal,
    upload_id: uuid.UUID,
    entries: Sequence[ManifestEntry],
) -> UploadPage:
    checked = _checked_page(limits, entries)
    try:
        async with database.transaction() as session:
            upload = require_access(
                principal, await repository.get_upload(session, upload_id, lock=True), write=True
            )
            rows = await _record_page(session, upload, checked)
    except IntegrityError:
        # Two pages with a file in common raced on a database without row locks.
        raise Conflict(
            "another page of this manifest was being recorded at the same time; send this "
            "page again"
        ) from None
    return await _page(store, limits, upload, rows)


async def fresh_urls(
    database: Database,
    store: ObjectStore,
    limits: IngestSettings,
    principal: Principal,
    upload_id: uuid.UUID,
    page: PageParams,
) -> UploadPage:
    """New PUT URLs for the files still pending, one page at a time."""
    async with database.transaction() as session:
        upload = require_access(
            principal, await repository.get_upload(session, upload_id), write=True
        )
        rows, next_cursor = await repository.files_page(
            session, upload_id, page, states=[FileState.PENDING]
        )
    return await _page(store, limits, upload, rows, next_cursor)


async def _staged(store: ObjectStore, upload_id: uuid.UUID) -> dict[int, int]:
    """Size of each staging object of the upload, by file number."""
    prefix = staging_prefix(upload_id)
    staged: dict[int, int] = {}
    for info in await store.list(prefix):
        name = info.key[len(prefix) :]
        if name.isdigit():
            staged[int(name)] = info.size
        else:
            # Not a key this service hands out; it can only be debris.
            await store.delete(info.key)
    return staged


@dataclass(frozen=True)
class _Outcome:
    state: FileState
    media_id: uuid.UUID | None = None
    error: str | None = None


async def _verify_and_settle(
    database: Database,
    store: ObjectStore,
    bus: ServiceBus,
    limits: IngestSettings,
    upload: BulkUpload,
    row: BulkUploadFile,
    staged_size: int,
) -> tuple[_Outcome, bool] | None:
    """Verify the staged file and settle it: its outcome, and whether this call settled it
    (``None`` when a concurrent completion took the file)."""
    if staged_size != row.size_bytes:
        # Refused on size alone, before reading a byte of it.
        rejected = _Outcome(
            FileState.REJECTED,
            error=f"{staged_size} bytes were uploaded but the manifest says {row.size_bytes}",
        )
        return rejected, await _settle_alone(database, upload, row, rejected)
    try:
        received = await fetch_staged(store, staging_key(upload.id, row.n))
    except ObjectNotFound:
        return None  # a concurrent completion took it
    with received:
        if received.size != row.size_bytes or received.sha256 != row.sha256:
            rejected = _Outcome(
                FileState.REJECTED,
                error=(
                    f"the uploaded bytes have SHA-256 {received.sha256} but the manifest says "
                    f"{row.sha256}"
                ),
            )
            return rejected, await _settle_alone(database, upload, row, rejected)
        try:
            # Checked (and stored, if large) before the file's unit of work (its medium, its
            # announcements and its new state) begins.
            original = await prepare_original(store, limits, received)
            async with upload_unit(database, store, bus, original.stored) as unit:
                accepted = await accept_upload(
                    unit,
                    received,
                    UploadRequest(
                        project_id=upload.project_id,
                        device_id=upload.device_id,
                        deployment_id=upload.deployment_id,
                        captured_at=None,
                        latitude=None,
                        longitude=None,
                        filename=base_name(row.name),
                        uploaded_by=upload.created_by,
                    ),
                    original,
                )
                ingested = _Outcome(FileState.INGESTED, media_id=accepted.media_id)
                return ingested, await _settle(unit.session, upload, row, ingested)
        except WildlensError as exc:
            if not 400 <= exc.status_code < 500:
                # The platform failed, not the file: it stays pending for the next completion.
                raise
            rejected = _Outcome(FileState.REJECTED, error=exc.detail[:1000])
    return rejected, await _settle_alone(database, upload, row, rejected)


async def _settle(
    session: AsyncSession, upload: BulkUpload, row: BulkUploadFile, outcome: _Outcome
) -> bool:
    return await repository.settle(
        session, upload.id, row.n, outcome.state, media_id=outcome.media_id, error=outcome.error
    )


async def _settle_alone(
    database: Database, upload: BulkUpload, row: BulkUploadFile, outcome: _Outcome
) -> bool:
    """Record a rejection, which has nothing else to commit with."""
    async with database.transaction() as session:
        return await _settle(session, upload, row, outcome)


async def _settle_one(
    database: Database,
    store: ObjectStore,
    bus: ServiceBus,
    limits: IngestSettings,
    upload: BulkUpload,
    row: BulkUploadFile,
    staged_size: int,
    limit: asyncio.Semaphore,
) -> BulkUploadFile | None:
    async with limit:
        settled = await _verify_and_settle(database, store, bus, limits, upload, row, staged_size)
        if settled is None:
            return None
        outcome, by_us = settled
        # Only after the state is recorded: a crash before this leaves the object for the
        # next completion, which converges on the same media by content.
        await store.delete(staging_key(upload.id, row.n))
        if not by_us:
            return None
        if outcome.state == FileState.REJECTED:
            log.info("bulk.rejected", upload_id=str(upload.id), n=row.n, error=outcome.error)
        row.state, row.media_id, row.error = outcome.state, outcome.media_id, outcome.error
        return row


async def complete_upload(
    database: Database,
    store: ObjectStore,
    bus: ServiceBus,
    limits: IngestSettings,
    principal: Principal,
    upload_id: uuid.UUID,
) -> UploadCompleted:
    """Verify and ingest every file that has been PUT; files not PUT yet stay pending.

    Each file is ingested in a unit of work of its own (``uploads.unit``), staging its
    announcements on ``bus``."""
    async with database.transaction() as session:
        upload = require_access(
            principal, await repository.get_upload(session, upload_id), write=True
        )
        pending = await repository.list_files(session, upload_id, states=[FileState.PENDING])
    staged = await _staged(store, upload_id)
    pending_numbers = {row.n for row in pending}
    for n in staged.keys() - pending_numbers:
        # PUT again with an old URL after the file was settled; never becomes media.
        await store.delete(staging_key(upload_id, n))
    limit = asyncio.Semaphore(VERIFY_CONCURRENCY)
    arrived = [row for row in pending if row.n in staged]
    results = await asyncio.gather(
        *(
            _settle_one(database, store, bus, limits, upload, row, staged[row.n], limit)
            for row in arrived
        ),
        return_exceptions=True,
    )
    # Every file that could be settled has been before a failure is reported.
    for result in results:
        if isinstance(result, BaseException):
            raise result
    processed = [_out(row) for row in results if isinstance(row, BulkUploadFile)]
    # Listed before the transaction: no connection waits on object storage.
    staged_now = await _staged(store, upload_id)
    async with database.transaction() as session:
        counts = await _counts(session, upload_id, staged_now)
    log.info(
        "bulk.completed",
        upload_id=str(upload_id),
        processed=len(processed),
        pending=counts.pending + counts.received,
    )
    return UploadCompleted(id=upload_id, counts=counts, processed=processed)


async def _counts(
    session: AsyncSession, upload_id: uuid.UUID, staged: dict[int, int]
) -> UploadCounts:
    """The upload's files by state; ``staged``: the staging objects there are (``_staged``),
    listed by the caller before its transaction began."""
    states = await repository.count_states(session, upload_id)
    received = 0
    if staged:
        pending_staged = await repository.list_files(session, upload_id, states=[FileState.PENDING])
        received = sum(1 for row in pending_staged if row.n in staged)
    pending = states.get(FileState.PENDING, 0)
    return UploadCounts(
        expected=sum(states.values()),
        already_have=states.get(FileState.ALREADY_HAVE, 0),
        received=received,
        ingested=states.get(FileState.INGESTED, 0),
        rejected=states.get(FileState.REJECTED, 0),
        pending=pending - received,
    )


async def upload_progress(
    database: Database,
    store: ObjectStore,
    principal: Principal,
    upload_id: uuid.UUID,
    page: PageParams,
    *,
    states: Sequence[FileState] | None,
) -> UploadProgress:
    # The caller's access first (a stranger's guess touches no storage), then the staged
    # files listed with no transaction open, so no connection waits on object storage.
    async with database.transaction() as session:
        require_access(principal, await repository.get_upload(session, upload_id), write=False)
    staged = await _staged(store, upload_id)
    async with database.transaction() as session:
        upload = require_access(
            principal, await repository.get_upload(session, upload_id), write=False
        )
        rows, next_cursor = await repository.files_page(session, upload_id, page, states=states)
        counts = await _counts(session, upload_id, staged)
    return UploadProgress(
        id=upload.id,
        project_id=upload.project_id,
        deployment_id=upload.deployment_id,
        device_id=upload.device_id,
        created_by=upload.created_by,
        created_at=upload.created_at,
        counts=counts,
        files=[_out(row) for row in rows],
        next_cursor=next_cursor,
    )


__all__ = [
    "add_files",
    "complete_upload",
    "create_upload",
    "fresh_urls",
    "upload_progress",
]
