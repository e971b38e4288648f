"""Per-minute summaries of a project's detection records, which the statistics read instead
of every observation.

A project of a million observations has perhaps a hundred thousand camera-minutes with an
animal in them; grouping and ordering those is what keeps a whole-project statistic fast.
The summaries are derived data: database triggers (see migration ``0008_statistics_summaries``)
note every change to an observation or a medium as a changed (deployment, minute), and
``summaries.refresh`` recomputes those minutes from the observations before a statistic is
read, and in the background between reads.

A deployment's location and clock offset and a taxon's name are copied into the detection
minutes; changing them notes the minutes concerned like any other change.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Index, Integer
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable

__all__ = ["SECONDS_PER_MINUTE", "DetectionMinute", "MediaMinute", "SummaryChange"]

SECONDS_PER_MINUTE = 60

# SQLite numbers rows only through INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for a table
# that takes a row for every change of every observation.
RowId = BigInteger().with_variant(Integer(), "sqlite")
SERIES_INCLUDE = [
    "last_epoch",
    "utc_offset_s",
    "records",
    "individuals",
    "verified",
    "deployment_id",
    "taxon_id",
]


class DetectionMinute(CatalogueTable, table=True):
    """The current animal records of one taxon in one minute of one deployment.

    A record is what ``records._records`` defines: a person's label, or the machine's where
    no person labelled the medium, of an animal with a taxon, not discarded. The deployment's
    location and clock offset and the taxon's name are copied in (triggers on deployments and
    taxa note their minutes when those change), so that a statistic reads the rows of one
    location and taxon in minute order straight from an index, with no join and no sort.
    """

    __tablename__ = "detection_minutes"
    __table_args__ = (
        Index("ix_detection_minutes_bucket", "project_id", "deployment_id", "minute"),
        # Covering on PostgreSQL: a statistic reads a project's minutes in series order
        # from the index alone.
        Index(
            "ix_detection_minutes_series",
            "project_id",
            "location_id",
            "taxon",
            "minute",
            "first_epoch",
            postgresql_include=SERIES_INCLUDE,
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    deployment_id: uuid.UUID
    location_id: uuid.UUID
    # The deployment's clock offset, in seconds east of UTC.
    utc_offset_s: int
    # Whole minutes since 1970-01-01 UTC.
    minute: int = Field(sa_type=BigInteger)
    taxon_id: uuid.UUID | None = None
    # The taxon's scientific name, or the observation's own where it has no taxon.
    taxon: str = Field(max_length=200)
    # A person made or confirmed the label and nobody marked it dubious.
    verified: bool
    records: int
    individuals: int
    first_epoch: int = Field(sa_type=BigInteger)
    last_epoch: int = Field(sa_type=BigInteger)


class MediaMinute(CatalogueTable, table=True):
    """One minute of one deployment's media (minute None: media without a capture time), and
    how many of them hold an animal, for the detection rate."""

    __tablename__ = "media_minutes"
    __table_args__ = (Index("ix_media_minutes_bucket", "project_id", "deployment_id", "minute"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    deployment_id: uuid.UUID
    minute: int | None = Field(default=None, sa_type=BigInteger)
    media: int
    with_animal: int
    with_verified_animal: int


class SummaryChange(CatalogueTable, table=True):
    """A (deployment, minute) whose summaries no longer match the observations.

    Written by triggers in the same transaction as the change; duplicates are allowed (a
    unique key would make every writer wait on every other), and a refresh takes them all.
    """

    __tablename__ = "summary_changes"
    __table_args__ = (Index("ix_summary_changes_project", "project_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    deployment_id: uuid.UUID
    minute: int | None = Field(default=None, sa_type=BigInteger)
