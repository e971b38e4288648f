"""Media sent to Zooniverse: which subject each became, and how far its sending got."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from wildlens.citsci.models.base import CitsciTable
from wildlens.common.db import UtcDateTime, utcnow

__all__ = ["SentState", "ZooniverseSubject"]

# created: Panoptes made the subject, its image may not have arrived (a later run deletes it
# and sends the medium again); uploaded: the image arrived; linked: it is in the subject set,
# shown to volunteers; retired: Wildlens retired it there too; withdrawn: it shows people the
# project hides (labelled after it was sent), retired there and never sent again.
SentState = Literal["created", "uploaded", "linked", "retired", "withdrawn"]


class ZooniverseSubject(CitsciTable, table=True):
    """One medium of a subject set, as a Zooniverse subject."""

    __tablename__ = "zooniverse_subjects"
    __table_args__ = (
        UniqueConstraint("subject_set_id", "media_id"),
        UniqueConstraint("zooniverse_subject_id"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    subject_set_id: uuid.UUID = Field(foreign_key="subject_sets.id", index=True)
    project_id: uuid.UUID
    media_id: uuid.UUID
    zooniverse_subject_id: str = Field(max_length=20)
    state: str = Field(default="created", max_length=10)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
