"""Ranked classifier labels an imported results file gave a machine observation."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable


class RankedClassifications(CatalogueTable, table=True):
    """A machine observation's classifier output as an imported results file ranked it,
    ``[[label, confidence], ...]`` best first; the observation keeps the top label, and
    exports give back the whole list."""

    __tablename__ = "ranked_classifications"

    observation_id: uuid.UUID = Field(
        foreign_key="observations.id", primary_key=True, ondelete="CASCADE"
    )
    labels: list[list[Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
