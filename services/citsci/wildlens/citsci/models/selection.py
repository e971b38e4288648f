"""Each project's selection policy: which media go to volunteers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from wildlens.citsci.models.base import CitsciTable
from wildlens.common.db import UtcDateTime, utcnow

__all__ = ["SelectionPolicy"]


class SelectionPolicy(CitsciTable, table=True):
    """A project's policy; a project without a row selects by the defaults."""

    __tablename__ = "selection_policies"

    project_id: uuid.UUID = Field(primary_key=True)
    # The policy's fields (``selection.schemas.SelectionPolicyIn``), as set.
    policy: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    updated_by: str = Field(max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
