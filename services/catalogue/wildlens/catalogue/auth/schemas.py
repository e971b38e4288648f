from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class ServiceTokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: str = Field(pattern=r"^[a-z][a-z0-9-]{0,39}$", examples=["ingest"])
    secret: SecretStr


class ServiceTokenIssued(BaseModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime


class Revocation(BaseModel):
    token_id: uuid.UUID
    project_id: uuid.UUID
    revoked_at: datetime
    # Verifiers may forget the revocation after this: the token has expired by then.
    expires_at: datetime


class TokenExchangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # A JWT of one of the configured identity providers.
    subject_token: str = Field(min_length=1, max_length=16_384)


class TokenExchanged(BaseModel):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
