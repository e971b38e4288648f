from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Index, text
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable
from wildlens.common.db import UtcDateTime, utcnow

_IMPORTED = text("external_id IS NOT NULL")


class Sequence(CatalogueTable, table=True):
    """Media of one deployment, each within the project's ``event_gap_s`` of the next.

    The id stays while media join the event; when one medium bridges two events they merge
    under the earlier one's id, so that exports and references stay valid.
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_deployment_id_start", "deployment_id", "start"),
        # The statistics' records of a changed sequence an import named are recomputed from
        # the media of its events, found here.
        Index(
            "ix_events_external_id",
            "project_id",
            "external_id",
            postgresql_where=_IMPORTED,
            sqlite_where=_IMPORTED,
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    deployment_id: uuid.UUID = Field(foreign_key="deployments.id", ondelete="CASCADE")
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime = Field(sa_type=UtcDateTime)
    media_count: int = 0
    # The id an imported package gave the event (Camtrap DP eventID, COCO seq_id): its media
    # stay together under it, and exports give it back.
    external_id: str | None = Field(default=None, max_length=200)
    # The smoothed label: the majority of the event's animal labels (people's when anyone
    # labelled the event, else the machine's latest), how many votes it got of how many.
    label_scientific_name: str = Field(default="", max_length=200)
    label_taxon_id: uuid.UUID | None = None
    label_method: str = Field(default="", max_length=10)
    label_votes: int = 0
    label_total: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)

    @property
    def label_share(self) -> float | None:
        return self.label_votes / self.label_total if self.label_total else None
