"""What the statistics read instead of every observation: a project's detection records, and
per-minute counts of its media, with the changes awaiting a refresh of each.

A project of a million observations holds perhaps a hundred thousand records (a taxon in a
sequence); grouping those is what keeps a whole-project statistic fast. Both are derived
data: database triggers (see migrations ``0008_statistics_summaries`` and
``0013_detection_records``) note every change that can change them, in the same transaction
(a medium's changed minute; a changed record's sequence), and ``summaries.refresh`` recomputes
what was noted before a statistic is read, and in the background between reads.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Index, Integer, text
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable

__all__ = [
    "SECONDS_PER_MINUTE",
    "DetectionRecord",
    "DetectionRecordChange",
    "MediaMinute",
    "SummaryChange",
]

SECONDS_PER_MINUTE = 60

# SQLite numbers rows only through INTEGER PRIMARY KEY; PostgreSQL needs 64 bits for a table
# that takes a row for every change of every observation.
RowId = BigInteger().with_variant(Integer(), "sqlite")
_FIRST = text("previous_epoch IS NULL")
SERIES_INCLUDE = [
    "previous_epoch",
    "individuals",
    "utc_offset_s",
    "deployment_id",
    "first_epoch",
    "last_epoch",
    "taxon_id",
    "taxon_ids",
    "unresolved",
]


class DetectionRecord(CatalogueTable, table=True):
    """One detection record as the statistics count it: a taxon seen in one sequence at one
    deployment, with its time and its number of individuals (``records.COUNTING_RULE``: the
    sequence's event-level observations where it has them, else the most in any one of its
    media).

    Each record is kept twice where it can be: from all of the current animal labels
    (``verified`` false) and from the verified ones alone (``verified`` true), since the
    verified-only statistics choose between event-level and media-level counts among those.
    The span of its observations (``first_epoch``..``last_epoch``) says whether a period cuts
    it, and what the taxon ids of its observations were whether a taxon filter takes all of it:
    where neither, the record is the same whatever the scope. The deployment's location and
    clock offset and the taxon's name are copied in, so that a statistic reads the records
    of one location and taxon in time order from an index, with no join and no sort.
    """

    __tablename__ = "detection_records"
    __table_args__ = (
        # A refresh replaces the records of the sequences that changed.
        Index("ix_detection_records_sequence", "project_id", "sequence"),
        # Covering on PostgreSQL: a statistic reads a project's records of one taxon at one
        # location in time order straight from the index, with no join and no sort.
        Index(
            "ix_detection_records_series",
            "project_id",
            "verified",
            "location_id",
            "taxon",
            "epoch",
            postgresql_include=SERIES_INCLUDE,
        ),
        # The first record of each location's series of a taxon: where each taxon was first
        # seen, without reading the rest.
        Index(
            "ix_detection_records_firsts",
            "project_id",
            "verified",
            "taxon",
            "epoch",
            postgresql_where=_FIRST,
            sqlite_where=_FIRST,
        ),
        # A renamed taxon notes the sequences whose records carry its name.
        Index("ix_detection_records_taxon", "taxon"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    deployment_id: uuid.UUID
    # The deployment's location and clock offset (seconds east of UTC), copied in: triggers on
    # deployments note their sequences when either changes.
    location_id: uuid.UUID
    utc_offset_s: int
    # The sequence as ``records`` keys it: "event:" and the eventID an import gave, else
    # "catalogue:" and the catalogue's own event, else "media:" and the medium (media in no
    # event), or "observation:" and an event-level observation without an eventID.
    sequence: str = Field(max_length=300)
    # The taxon's scientific name, or the observations' own where they have no taxon.
    taxon: str = Field(max_length=300)
    # How many taxon ids the record's observations carry (0, 1, or 2 for several), the one
    # where there is one, and whether some of them carry none (named only).
    taxon_ids: int
    taxon_id: uuid.UUID | None = None
    unresolved: bool
    # Counted from verified observations only (a person made or confirmed the label and
    # nobody marked it dubious).
    verified: bool
    # Whole seconds since 1970-01-01 UTC: the record's time (the event's start, else its first
    # medium's capture), and the first and last time of any of its observations.
    epoch: int = Field(sa_type=BigInteger)
    first_epoch: int = Field(sa_type=BigInteger)
    last_epoch: int = Field(sa_type=BigInteger)
    # The time of the record before it among the project's records of its kind (verified or
    # not), location and taxon, in (epoch, deployment_id, sequence) order; None for the
    # first. Whether a record starts an independent detection then needs no window over the
    # records: the refresh keeps it current for the records after those it replaces.
    previous_epoch: int | None = Field(default=None, sa_type=BigInteger)
    individuals: int


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
    """A (deployment, minute) whose media summaries no longer match the media.

    Written by triggers in the same transaction as the change; duplicates are allowed (a
    unique key would make every writer wait on every other), and a refresh takes them all.
    """

    __tablename__ = "summary_changes"
    __table_args__ = (Index("ix_summary_changes_project", "project_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    deployment_id: uuid.UUID
    minute: int | None = Field(default=None, sa_type=BigInteger)


class DetectionRecordChange(CatalogueTable, table=True):
    """A sequence whose detection records no longer match the observations (``sequence``
    None: every record of the project, as after the table was first made).

    Written by triggers like ``SummaryChange``, duplicates allowed for the same reason.
    """

    __tablename__ = "detection_record_changes"
    __table_args__ = (Index("ix_detection_record_changes_project", "project_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    sequence: str | None = Field(default=None, max_length=300)
