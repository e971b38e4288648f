"""``Idempotency-Key``: a retried upload gets the first answer, whatever happened between.

Content dedup already gives the same bytes the same media id; the key adds a check that a
retry really is the same request (a gateway that reuses keys by mistake is told, instead of
being answered with some other image's id), and lets the replay skip all inspection.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from sqlalchemy import Table, delete
from sqlalchemy.exc import IntegrityError

from wildlens.common.auth import Principal
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid
from wildlens.common.service.context import ServiceContext
from wildlens.ingest.models import IdempotencyKey

__all__ = ["HEADER", "caller_of", "recall", "remember"]

HEADER = "Idempotency-Key"
# Expired keys are deleted at most this often per replica, off any lookup's critical path.
_PURGE_EVERY_S = 60.0
_PURGED_AT = "idempotency_purged_at"
_TABLE: Table = IdempotencyKey.__table__  # type: ignore[attr-defined]


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


async def recall(
    ctx: ServiceContext, caller: str, key: str, *, project_id: uuid.UUID, sha256: str
) -> uuid.UUID | None:
    """The media id this key answered before; ``None`` when the key is new or has expired.

    Raises:
        Invalid: the key was used for other content or another project.
    """
    assert ctx.db is not None
    async with ctx.db.transaction() as session:
        record = await session.get(IdempotencyKey, (caller, key))
    if record is None or record.expires_at <= utcnow():
        return None
    return _replay_or_refuse(record, key, project_id, sha256)


async def remember(
    ctx: ServiceContext,
    caller: str,
    key: str,
    *,
    project_id: uuid.UUID,
    sha256: str,
    media_id: uuid.UUID,
) -> uuid.UUID:
    """Record the answer for ``key``; when a concurrent request recorded one first, its
    media id (or the conflict) is what counts."""
    assert ctx.db is not None
    now = utcnow()
    await _purge_now_and_then(ctx)
    try:
        async with ctx.db.transaction() as session:
            # An expired key is free to be used again.
            connection = await session.connection()
            await connection.execute(
                delete(_TABLE).where(
                    _TABLE.c.principal == caller, _TABLE.c.key == key, _TABLE.c.expires_at <= now
                )
            )
            session.add(
                IdempotencyKey(
                    principal=caller,
                    key=key,
                    project_id=project_id,
                    sha256=sha256,
                    media_id=media_id,
                    created_at=now,
                    expires_at=now + timedelta(seconds=ctx.settings.ingest.idempotency_ttl_s),
                )
            )
    except IntegrityError:
        async with ctx.db.transaction() as session:
            record = await session.get(IdempotencyKey, (caller, key))
        if record is None:
            raise
        return _replay_or_refuse(record, key, project_id, sha256)
    return media_id


async def _purge_now_and_then(ctx: ServiceContext) -> None:
    last = float(ctx.state.get(_PURGED_AT, 0.0))
    if time.monotonic() - last < _PURGE_EVERY_S:
        return
    ctx.state[_PURGED_AT] = time.monotonic()
    assert ctx.db is not None
    async with ctx.db.transaction() as session:
        connection = await session.connection()
        await connection.execute(delete(_TABLE).where(_TABLE.c.expires_at <= utcnow()))
