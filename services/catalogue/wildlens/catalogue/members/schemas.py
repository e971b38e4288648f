from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wildlens.common.auth import PERMISSIONS, Role


class MemberPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    permissions: list[str] = Field(default_factory=list, examples=[["precise_locations"]])

    @field_validator("permissions")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - PERMISSIONS)
        if unknown:
            known = ", ".join(sorted(PERMISSIONS))
            raise ValueError(f"unknown permissions {unknown}; known: {known}")
        return sorted(set(value))


class MemberPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    project_id: uuid.UUID
    subject: str
    role: Role
    permissions: list[str]
    created_at: datetime


class JoinedProject(BaseModel):
    """The caller's standing in a project after joining it, and a token that carries it."""

    project_id: uuid.UUID
    subject: str
    role: Role
    # Whether this call made the caller a volunteer (false: they were one, or more, already).
    joined: bool
    # A token with the caller's memberships as they are now, the new role included: other
    # services read roles from the token, so the one the caller came with does not show it.
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
