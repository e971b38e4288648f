from __future__ import annotations

import uuid

from pydantic import BaseModel


class MediaAccepted(BaseModel):
    media_id: uuid.UUID
    sha256: str
    duplicate: bool
