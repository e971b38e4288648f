"""Single-object imagery (plankton vignettes, as EcoTaxa holds them): the samples objects were
taken in, the acquisitions (an instrument's run over a sample) that imaged them, the processes
that cut the vignettes, each object's own fields, its morphometric features, and the
categories imported files sort objects into.

An object is a medium (its vignette) with a row in ``objects``; the medium keeps its position
(``latitude``/``longitude``) and time (``captured_at``), the object its depth and what ties it
to its sample, acquisition and process. Each table keeps the file's own columns as they came
(``fields``: EcoTaxa's ``sample_*``, ``acq_*``, ``process_*`` and free ``object_*`` text), so
that an export gives them back.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable

__all__ = [
    "MEDIA_KINDS",
    "Acquisition",
    "ObjectCategory",
    "ObjectFeature",
    "ObjectRecord",
    "Process",
    "Sample",
]

# What a project's media are: camera-trap (and video) images analysed by a detector, or
# single objects, each image one object's whole crop.
MEDIA_KINDS = ("camera_trap", "objects")


class Sample(CatalogueTable, table=True):
    """Where and when a volume of water (or a net tow) was taken: EcoTaxa's ``sample_*``."""

    __tablename__ = "samples"
    __table_args__ = (UniqueConstraint("project_id", "external_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    # ``sample_id``: imports upsert by it.
    external_id: str = Field(max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    # Every ``sample_*`` column as it came (without its prefix), numbers as numbers.
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # A profile's images per depth bin (UVP), given beside the TSV:
    # ``[{"depth_min": 0, "depth_max": 5, "images": 120}, ...]`` in metres, sorted by depth;
    # empty when none were given (net samples need none).
    depth_bins: list[dict[str, float]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default="[]"),
    )


class Acquisition(CatalogueTable, table=True):
    """One instrument's run over a sample: EcoTaxa's ``acq_*`` (volume imaged, sub-part)."""

    __tablename__ = "acquisitions"
    __table_args__ = (UniqueConstraint("project_id", "external_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    sample_id: uuid.UUID | None = Field(
        default=None, foreign_key="samples.id", index=True, ondelete="CASCADE"
    )
    external_id: str = Field(max_length=200)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class Process(CatalogueTable, table=True):
    """How the vignettes were cut and measured: EcoTaxa's ``process_*`` (pixel size, software)."""

    __tablename__ = "processes"
    __table_args__ = (UniqueConstraint("project_id", "external_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    external_id: str = Field(max_length=200)
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ObjectRecord(CatalogueTable, table=True):
    """What makes a medium an object: its sample, acquisition, process and depth."""

    __tablename__ = "objects"

    media_id: uuid.UUID = Field(primary_key=True, foreign_key="media.id", ondelete="CASCADE")
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    sample_id: uuid.UUID | None = Field(
        default=None, foreign_key="samples.id", index=True, ondelete="SET NULL"
    )
    acquisition_id: uuid.UUID | None = Field(
        default=None, foreign_key="acquisitions.id", index=True, ondelete="SET NULL"
    )
    process_id: uuid.UUID | None = Field(
        default=None, foreign_key="processes.id", index=True, ondelete="SET NULL"
    )
    # Metres below the surface.
    depth_min: float | None = None
    depth_max: float | None = None
    # The image's rank among the object's images (EcoTaxa's ``img_rank``).
    image_rank: int = 0
    # The category the file sorted the object into, as written (``egg<other``), and its id
    # in the system it came from; exports give them back while the label is unchanged.
    category: str = Field(default="", max_length=300)
    category_external_id: str = Field(default="", max_length=50)
    # The annotator's e-mail as the file gave it (the name is the observation's).
    annotator_email: str = Field(default="", max_length=300)
    # The file's other text columns of the object and its image, as they came.
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The object's other images (EcoTaxa's ``img_rank`` above 0: a FlowCam's or an IFCB's
    # further views), kept and exported, never classified nor counted on their own:
    # ``[{"rank": 1, "file_name": "o1_1.png", "object_key": ..., "sha256": ...,
    # "content_type": "image/png", "size_bytes": 1234}, ...]`` by rank.
    views: list[dict[str, Any]] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default="[]"),
    )


class ObjectFeature(CatalogueTable, table=True):
    """One named number measured on an object (area, major axis, mean grey, ...)."""

    __tablename__ = "object_features"
    __table_args__ = (
        # Filters and sorts on one feature walk a project's values of it in order.
        Index("ix_object_features_project_name_value", "project_id", "name", "value", "media_id"),
    )

    media_id: uuid.UUID = Field(primary_key=True, foreign_key="media.id", ondelete="CASCADE")
    name: str = Field(primary_key=True, max_length=100)
    project_id: uuid.UUID = Field(foreign_key="projects.id", ondelete="CASCADE")
    value: float


class ObjectCategory(CatalogueTable, table=True):
    """A category an imported file sorted objects into: a taxon of the tree, or a
    morphological category outside it (detritus, artefact, bubble, temporary ``t0…``
    groups), which abundances leave out unless asked."""

    __tablename__ = "object_categories"
    __table_args__ = (UniqueConstraint("project_id", "name"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    project_id: uuid.UUID = Field(foreign_key="projects.id", index=True, ondelete="CASCADE")
    # As the file wrote it (``egg<other``).
    name: str = Field(max_length=300)
    external_id: str = Field(default="", max_length=50)
    taxon_id: uuid.UUID | None = Field(default=None, foreign_key="taxa.id")
    morphological: bool = False
