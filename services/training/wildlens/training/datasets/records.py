"""One confirmed observation as a dataset is built from it: what the catalogue's API says of
it and of its medium, and its taxon's lineage from the catalogue's taxon tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["VOLUNTEERS_PREFIX", "Ancestor", "Record", "name_key"]

# How the catalogue marks a volunteers' consensus label (``classified_by``).
VOLUNTEERS_PREFIX = "volunteers:"


def name_key(name: str) -> str:
    """How scientific names and class names are compared: case and blanks do not count."""
    return " ".join(name.split()).lower()


@dataclass(frozen=True, slots=True)
class Ancestor:
    """A taxon on a lineage: its rank and scientific name."""

    rank: str
    scientific_name: str


@dataclass(frozen=True, slots=True)
class Record:
    """One observation with a box, as the catalogue's API shows it.

    ``lineage`` runs from the observation's own taxon up to the root (empty when the taxon is
    not in the tree: then only its scientific name is known).
    """

    observation_id: str
    media_id: str
    scientific_name: str
    verification_state: str = "validated"
    classification_method: str = "human"
    classified_by: str = ""
    location_id: str = ""
    event_id: str = ""
    captured_at: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    taxon_id: str = ""
    lineage: tuple[Ancestor, ...] = field(default=())

    @property
    def by_volunteers(self) -> bool:
        return self.classification_method == "human" and self.classified_by.startswith(
            VOLUNTEERS_PREFIX
        )

    def names(self) -> list[tuple[str, str]]:
        """``(rank, name key)`` from the taxon itself up to the root; the taxon first even
        where the tree does not hold it."""
        own = name_key(self.scientific_name)
        found = [(a.rank, name_key(a.scientific_name)) for a in self.lineage]
        if not found or found[0][1] != own:
            found.insert(0, ("", own))
        return found
