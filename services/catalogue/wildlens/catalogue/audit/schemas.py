from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class AuditEntryPublic(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    # media.deleted, deployment.deleted
    action: str
    object_type: str
    object_id: uuid.UUID
    actor: str
    at: datetime
    # The removed rows as they were.
    snapshot: dict[str, Any]
