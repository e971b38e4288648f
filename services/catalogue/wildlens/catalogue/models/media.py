"""Media: photos, videos and the frames and clips cut from them, as the catalogue records them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class Media(CatalogueTable, table=True):
    __tablename__ = "media"
    __table_args__ = (
        # Lists read a project in capture order, paged by (captured_at, id): one index serves
        # the filter, the order and the keyset condition together.
        Index("ix_media_project_captured_at_id", "project_id", "captured_at", "id"),
        # Grouping into sequences reads a deployment's media in capture order.
        Index("ix_media_deployment_captured_at", "deployment_id", "captured_at"),
        # A deployment correction walks a camera's media that no deployment covers.
        Index("ix_media_device_id", "device_id"),
    )

    # The id ingest assigned; the catalogue records it as is.
    id: uuid.UUID = Field(primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    deployment_id: uuid.UUID | None = Field(default=None, foreign_key="deployments.id", index=True)
    device_id: uuid.UUID | None = Field(default=None)
    sha256: str = Field(max_length=64, index=True)
    object_key: str = Field(max_length=300)
    content_type: str = Field(max_length=100)
    kind: str = Field(default="image", max_length=10)
    # Videos pass 2 GiB.
    size_bytes: int = Field(default=0, sa_type=BigInteger)
    width: int | None = None
    height: int | None = None
    filename: str = Field(default="", max_length=300)
    captured_at: datetime | None = Field(default=None, sa_type=UtcDateTime, index=True)
    # Where captured_at came from: request, exif (with the deployment's clock), exif-offset
    # (the camera's own offset tag), or none.
    captured_at_source: str = Field(default="none", max_length=20)
    # Why the media is not tied to a deployment, when it is not.
    resolution_issue: str = Field(default="", max_length=200)
    # The request named the deployment: corrections of it re-time the media but never move it.
    deployment_pinned: bool = False
    # The event (sequence) the media belongs to; None without a deployment or a capture time.
    event_id: uuid.UUID | None = Field(
        default=None, foreign_key="events.id", index=True, ondelete="SET NULL"
    )
    latitude: float | None = None
    longitude: float | None = None
    raw_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    parent_media_id: uuid.UUID | None = None
    offset_ms: int | None = None
    uploaded_by: str = Field(default="", max_length=200)
    status: str = Field(default="recorded", max_length=20)
    # Camtrap DP media fields. Imported media whose files live elsewhere have no object key
    # (object_key and sha256 empty) and keep the package's URL or relative path in file_path.
    external_id: str | None = Field(default=None, max_length=200, index=True)
    file_path: str = Field(default="", max_length=1000)
    file_public: bool = True
    capture_method: str = Field(default="", max_length=30)
    favorite: bool | None = None
    comments: str = ""
    # The package's exifData: a JSON object, or its text as given where it is not valid JSON.
    exif_data: dict[str, Any] | str | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    analyzed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
