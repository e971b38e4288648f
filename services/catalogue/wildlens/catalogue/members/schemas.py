from __future__ import annotations

import uuid
from datetime import datetime

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
