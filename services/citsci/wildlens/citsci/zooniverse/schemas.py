"""Sending to Zooniverse as the API reads and writes it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["MAX_MEDIA_PER_SEND", "SendFailure", "SendReportPublic", "ZooniverseSend"]

# Media per call: each is an upload to Zooniverse, done before the answer.
MAX_MEDIA_PER_SEND = 100


class ZooniverseSend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    media_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_MEDIA_PER_SEND)

    @field_validator("media_ids")
    @classmethod
    def _once_each(cls, value: list[uuid.UUID]) -> list[uuid.UUID]:
        if len(set(value)) != len(value):
            raise ValueError("each medium once")
        return value


class SendFailure(BaseModel):
    media_id: uuid.UUID
    reason: str


class SendReportPublic(BaseModel):
    # Sent by this call; sent before (left as they were); not sent, each with why (the
    # next call tries them again).
    sent: int
    already: int
    failed: list[SendFailure]
