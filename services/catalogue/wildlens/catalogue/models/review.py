"""What the review queue reads instead of every unverified observation: each unverified
medium's score parts, with the media awaiting a refresh of theirs.

A medium's parts are what its explanation (``observations.review``) scores, except rarity:
the lowest certainty of the newest machine run, the highest entropy and smallest margin of
its classifier's top-k, whether volunteers and the model disagree,
whether model versions disagree, whether nobody has analysed it yet, and ``base``, the sum
of those weights. Rarity depends on how many observations of a species the project has
validated, which changes with every validation, so it is added when the queue is read, from
the species the newest run names: one row per such species (one row, ``species`` empty, where
it names none), and the medium's score is the highest of its rows' ``base`` plus rarity.

Derived data, kept like the statistics summaries: triggers (migration ``0016_review_scores``)
note every medium whose parts a change can change, in the same transaction, and
``observations.review_scores.refresh`` recomputes the noted media before the queue is read.
"""

from __future__ import annotations

import uuid

from sqlalchemy import BigInteger, Index, Integer
from sqlmodel import Field

from wildlens.catalogue.models.base import CatalogueTable

__all__ = ["ReviewScore", "ReviewScoreChange"]

RowId = BigInteger().with_variant(Integer(), "sqlite")


class ReviewScore(CatalogueTable, table=True):
    """One unverified medium's score parts, with one species its newest run names."""

    __tablename__ = "review_scores"
    __table_args__ = (
        # A page of the queue walks each species' media highest base first, then by id (the
        # queue's order within one rarity), from the cursor on.
        Index("ix_review_scores_order", "project_id", "species", "descending", "media_id"),
        # A refresh replaces a medium's rows; a page looks up a medium's other species.
        Index("ix_review_scores_media", "media_id"),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    media_id: uuid.UUID
    # Taxon id as text, else the scientific name (``review_order``'s species key); empty
    # where the newest run names no species (never a key: a species has an id or a name).
    species: str = Field(default="", max_length=200)
    # How many species the newest run names (rows of this medium), at least 1.
    species_count: int = 1
    # Lowest certainty among the newest run's live observations; None without any.
    lowest: float | None = None
    # The highest entropy and the smallest margin of their top-k; None without any.
    entropy: float | None = None
    margin: float | None = None
    volunteers_disagree: bool = False
    models_disagree: bool = False
    not_analysed: bool = False
    # The score less rarity, rounded as the explanation's weights are.
    base: float = 0.0
    # ``-base``: ascending, with the id, it is the queue's order (highest first, then by id),
    # which an index of plain columns can hold.
    descending: float = 0.0


class ReviewScoreChange(CatalogueTable, table=True):
    """A medium whose score parts may no longer match its observations (``media_id`` None:
    every medium of the project, as after the table was first made).

    Written by triggers, duplicates allowed (a unique key would make writers wait on each
    other); a refresh takes them all.
    """

    __tablename__ = "review_score_changes"
    __table_args__ = (Index("ix_review_score_changes_project", "project_id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=RowId)
    project_id: uuid.UUID
    media_id: uuid.UUID | None = None
