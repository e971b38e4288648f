"""Idempotency keys: what a caller's retried upload is answered with, until it expires."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field

from wildlens.common.db import UtcDateTime, utcnow
from wildlens.ingest.models.base import IngestTable


class IdempotencyKey(IngestTable, table=True):
    """What one caller's ``Idempotency-Key`` answered, until it expires.

    Keys are per caller (two gateways may both count 1, 2, 3...), and the answer is replayed
    only for the same bytes in the same project: anything else under the same key is a
    client bug worth telling about rather than silently answering.
    """

    __tablename__ = "idempotency_keys"

    principal: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=255)
    project_id: uuid.UUID
    sha256: str = Field(max_length=64)
    media_id: uuid.UUID
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime, index=True)
