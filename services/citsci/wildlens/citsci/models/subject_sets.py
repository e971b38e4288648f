"""Subject sets: groups of a project's media shown to volunteers together."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from wildlens.citsci.models.base import CitsciTable
from wildlens.common.db import UtcDateTime, utcnow


class SubjectSet(CitsciTable, table=True):
    __tablename__ = "subject_sets"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(index=True)
    name: str = Field(max_length=200)
    # Where volunteers classify it: the built-in volunteer API, or a Zooniverse project.
    destination: str = Field(default="builtin", max_length=20)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    # For destination "zooniverse": the Zooniverse project and workflow volunteers classify
    # it in, and the subject set made there for it (once the first subjects are sent).
    zooniverse_project_id: str | None = Field(default=None, max_length=20)
    zooniverse_workflow_id: str | None = Field(default=None, max_length=20)
    zooniverse_subject_set_id: str | None = Field(default=None, max_length=20)
    # The built-in volunteers' retirement rules (RetirementRules' fields); None: Snapshot
    # Serengeti's.
    retirement_rules: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # How a retired built-in subject's consensus is reached: "plurality" (Snapshot
    # Serengeti's) or "dawid_skene" (volunteers weighted by the skill Dawid-Skene estimates
    # over the project's classifications, the gold standard held at the expert's answer).
    consensus_method: str = Field(
        default="plurality", max_length=20, sa_column_kwargs={"server_default": "plurality"}
    )
