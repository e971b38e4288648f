"""Subject sets as the API reads and writes them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from wildlens.common.text import NameRule

__all__ = ["RetirementRulesIn", "SubjectSetCreate", "SubjectSetPublic"]

# The most classifications any rule may ask for.
MAX_RULE = 1000

ConsensusMethod = Literal["plurality", "dawid_skene"]
METHOD_DESCRIPTION = (
    "plurality: Snapshot Serengeti's (species by votes); dawid_skene: volunteers weighted by "
    "the skill Dawid-Skene estimates over the project's classifications, with the gold "
    "standard (media an expert validated) held at the expert's answer"
)

# Zooniverse's ids are decimal numbers, sent and kept as text.
ZooniverseId = Annotated[str, Field(pattern=r"^[0-9]{1,18}$")]


class RetirementRulesIn(BaseModel):
    """When a built-in subject retires; ``null`` turns a rule off (Snapshot Serengeti's
    numbers by default)."""

    model_config = ConfigDict(extra="forbid")

    # Retire as blank when the first this-many classifications all say "nothing here".
    first_blank: Annotated[int, Field(ge=1, le=MAX_RULE)] | None = 5
    # Retire as blank when this many classifications say "nothing here" in all.
    total_blank: Annotated[int, Field(ge=1, le=MAX_RULE)] | None = 10
    # Retire when this many classifications name the same species.
    agreement: Annotated[int, Field(ge=1, le=MAX_RULE)] | None = 10
    # Retire after this many classifications, whatever they say.
    max_classifications: Annotated[int, Field(ge=1, le=MAX_RULE)] | None = 25


class SubjectSetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID
    name: Annotated[str, NameRule(200, min_length=1)]
    destination: Literal["builtin", "zooniverse"] = "builtin"
    # The Zooniverse project and workflow a "zooniverse" set is classified in (their ids as
    # Zooniverse shows them in the project builder's address bar).
    zooniverse_project_id: ZooniverseId | None = None
    zooniverse_workflow_id: ZooniverseId | None = None
    # For a built-in set: when its subjects retire (default Snapshot Serengeti's rules).
    retirement_rules: RetirementRulesIn | None = None
    # For a built-in set: how a retired subject's consensus is reached.
    consensus_method: ConsensusMethod = Field(default="plurality", description=METHOD_DESCRIPTION)

    @model_validator(mode="after")
    def _zooniverse_named(self) -> SubjectSetCreate:
        named = self.zooniverse_project_id is not None and self.zooniverse_workflow_id is not None
        if self.destination == "zooniverse" and not named:
            raise ValueError(
                "a subject set for Zooniverse names its zooniverse_project_id and "
                "zooniverse_workflow_id"
            )
        if self.destination == "zooniverse" and self.consensus_method != "plurality":
            raise ValueError("only a built-in subject set chooses its consensus method")
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
    retirement_rules: RetirementRulesIn | None = None
    consensus_method: str = "plurality"
    created_by: str
    created_at: datetime
