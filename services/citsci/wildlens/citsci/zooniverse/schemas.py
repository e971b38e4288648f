"""Sending to Zooniverse as the API reads and writes it."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MAX_MEDIA_PER_SEND",
    "PullReportPublic",
    "SendFailure",
    "SendReportPublic",
    "ZooniversePull",
    "ZooniverseSend",
]

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


class ZooniversePull(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # export: the workflow's classification export; recent: the classifications Zooniverse's
    # API lists after the newest one stored (no export to wait for).
    source: Literal["export", "recent"] = "export"
    # For the export: ask Zooniverse for a fresh one and wait for it (up to the configured
    # export_timeout_s); without it, the latest export Zooniverse made is read.
    generate: bool = False


class PullReportPublic(BaseModel):
    # The export's classifications of the set's workflow: stored now; stored by an earlier
    # pull (left as they were); of subjects this set did not send (left out).
    classifications: int
    stored: int
    already: int
    other_subjects: int
    # Subjects retired by this pull (their consensus published), and subjects retired
    # before whose consensus the new classifications updated (its next version).
    retired: int
    updated: int
    # Retirements that reached Zooniverse in this call, and those still waiting for it
    # (Zooniverse refused or could not be reached: told again by the next pull).
    retired_on_zooniverse: int
    retirement_waiting: int
    # Classifications left out because they are not well-formed (their line in the export, or
    # their id in the listing, named in ``problems``, the first 20): the rest were pulled.
    malformed: int = 0
    problems: list[str] = []
