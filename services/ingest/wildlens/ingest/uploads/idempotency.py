"""``Idempotency-Key``: a retried upload gets the first answer, whatever happened between.

Content dedup already gives the same bytes the same media id; the key adds a check that a
retry really is the same request (a gateway that reuses keys by mistake is told, instead of
being answered with some other image's id), and lets the replay skip all inspection.

The key is recorded in the upload's own transaction, with its medium and announcements: an
upload that fails leaves its key free for the retry. Expired keys are purged in a short
transaction of their own after an upload's commit: housekeeping never fails, nor holds up, an
upload.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.auth import Principal
from wildlens.common.db import Database, utcnow
from wildlens.common.errors import FieldError, Invalid
from wildlens.ingest.key_expiry import KeyExpiry
from wildlens.ingest.models import IdempotencyKey
from wildlens.ingest.uploads import repository

__all__ = [
    "HEADER",
    "KeyClaim",
    "caller_of",
    "purge_expired_keys",
    "recall",
    "remember",
    "replayed_before",
]

log = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"


def caller_of(principal: Principal) -> str:
    """Whose keys these are: a key is only meaningful to the caller that chose it."""
    return f"{principal.kind}:{principal.subject}"[:200]


def _conflict(key: str, why: str) -> Invalid:
    return Invalid(
        f"{HEADER} {key!r} was already used {why}; use a new key for a new upload",
        fields=[
            FieldError(location=["header", HEADER], message=f"already used {why}", type="conflict")
        ],
    )


def _replay_or_refuse(
    record: IdempotencyKey, key: str, project_id: uuid.UUID, sha256: str
) -> uuid.UUID:
    if record.project_id != project_id:
        raise _conflict(key, "for an upload to another project")
    if record.sha256 != sha256:
        raise _conflict(key, f"for different content (sha256 {record.sha256})")
    return record.media_id


@dataclass(frozen=True)
class KeyClaim:
    """The ``Idempotency-Key`` an upload came with, whose it is, for how long it is
    remembered, and this replica's schedule for purging the expired keys."""

    caller: str
    key: str
    ttl_s: int
    expiry: KeyExpiry


async def recall(
    session: AsyncSession, claim: KeyClaim, *, project_id: uuid.UUID, sha256: str
) -> uuid.UUID | None:
    """The media id this key answered before; ``None`` when the key is new or has expired.

    Raises:
        Invalid: the key was used for other content or another project.
    """
    record = await repository.find_key(session, claim.caller, claim.key)
    if record is None or record.expires_at <= utcnow():
        return None
    return _replay_or_refuse(record, claim.key, project_id, sha256)


async def replayed_before(
    database: Database, claim: KeyClaim, *, project_id: uuid.UUID, sha256: str
) -> uuid.UUID | None:
    """``recall`` in a short transaction of its own, over when this returns.

    Raises:
        Invalid: the key was used for other content or another project.
    """
    async with database.transaction() as session:
        return await recall(session, claim, project_id=project_id, sha256=sha256)


async def remember(
    session: AsyncSession,
    claim: KeyClaim,
    *,
    project_id: uuid.UUID,
    sha256: str,
    media_id: uuid.UUID,
) -> uuid.UUID:
    """Record the answer for the key in ``session``'s transaction; when a concurrent request
    recorded one first, its media id (or the conflict) is what counts.

    Raises:
        Invalid: the concurrent request used the key for other content or another project.
    """
    now = utcnow()
    # An expired key is free to be used again.
    await repository.drop_expired_key(session, claim.caller, claim.key, now)
    recorded = await repository.record_key(
        session,
        IdempotencyKey(
            principal=claim.caller,
            key=claim.key,
            project_id=project_id,
            sha256=sha256,
            media_id=media_id,
            created_at=now,
            expires_at=now + timedelta(seconds=claim.ttl_s),
        ),
    )
    if recorded:
        return media_id
    record = await repository.find_key(session, claim.caller, claim.key)
    if record is None:
        raise RuntimeError(f"{HEADER} {claim.key!r} was neither recorded nor found")
    return _replay_or_refuse(record, claim.key, project_id, sha256)


async def purge_expired_keys(database: Database, expiry: KeyExpiry) -> None:
    """Delete the expired keys, when ``expiry`` says it is time, in a transaction of their own;
    a failure is only logged (the next purge deletes them)."""
    if not expiry.purge_due():
        return
    try:
        async with database.transaction() as session:
            await repository.drop_expired_keys(session, utcnow())
    except Exception as exc:
        log.warning("upload.expired_keys_not_purged", error=f"{type(exc).__name__}: {exc}")
