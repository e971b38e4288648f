"""Subject sets as the API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wildlens.common.text import NameRule

__all__ = ["SubjectSetCreate", "SubjectSetPublic"]

# Zooniverse's ids are decimal numbers, sent and kept as text.
ZooniverseId = Annotated[str, Field(pattern=r"^[0-9]{1,18}$")]


class SubjectSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID
    name: Annotated[str, NameRule(200, min_length=1)]
    destination: Literal["builtin", "zooniverse"] = "builtin"
    # The Zooniverse project and workflow a "zooniverse" set is classified in (their ids as
    # Zooniverse shows them in the project builder's address bar).
    zooniverse_project_id: ZooniverseId | None = None
    zooniverse_workflow_id: ZooniverseId | None = None

    @model_validator(mode="after")
    def _zooniverse_named(self) -> SubjectSetCreate:
        named = self.zooniverse_project_id is not None and self.zooniverse_workflow_id is not None
        if self.destination == "zooniverse" and not named:
            raise ValueError(
                "a subject set for Zooniverse names its zooniverse_project_id and "
                "zooniverse_workflow_id"
            )
        if self.destination == "builtin" and (
            self.zooniverse_project_id is not None or self.zooniverse_workflow_id is not None
        ):
            raise ValueError("a built-in subject set names no Zooniverse project or workflow")
        return self


class SubjectSetPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    name: str
    destination: str
    zooniverse_project_id: str | None = None
    zooniverse_workflow_id: str | None = None
    zooniverse_subject_set_id: str | None = None
    created_by: str
    created_at: datetime
