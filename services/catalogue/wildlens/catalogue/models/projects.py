from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, UniqueConstraint, false
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow


class Project(CatalogueTable, table=True):
    __tablename__ = "projects"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    description: str = ""
    # Media of one deployment closer together than this form one event (sequence); 60 s is
    # what the field's tools use.
    event_gap_s: int = 60
    # Detections of one taxon at one location closer together than this count once in
    # analyses (independent detections); half an hour is the usual convention.
    independence_interval_s: int = 1800
    # The data licence (an SPDX id or a licence URL), what Camtrap DP's "data" licence says.
    data_license: str = Field(default="", max_length=300)
    # Camtrap DP package metadata (project, contributors, licences, taxonomic list, ...) as the
    # imported package gave it, so that exports give it back.
    camtrapdp_metadata: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    # camera_trap: images and videos a detector looks through; objects: each image is one
    # object's whole crop (plankton vignettes), classified as it is, with no deployment.
    media_kind: str = Field(
        default="camera_trap", max_length=20, sa_column_kwargs={"server_default": "camera_trap"}
    )
    # Anyone signed in may join as a volunteer (POST /v1/citsci/projects/{id}/join); managers
    # open it. Closed by default: volunteers are then only those a manager adds.
    open_to_volunteers: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    created_by: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class Membership(CatalogueTable, table=True):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("project_id", "subject"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    # Indexed: the token exchange looks up every membership of one subject.
    subject: str = Field(max_length=200, index=True)
    role: str = Field(max_length=20)
    permissions: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
