"""Darwin Core's taxon ranks (its taxonRank vocabulary, lower-cased), from the most general to
the most specific: the catalogue's taxon tree is built of them, and a label spec rolls classes
up to one of them."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["RANKS", "Rank"]

Rank = Literal[
    "domain",
    "kingdom",
    "subkingdom",
    "phylum",
    "subphylum",
    "superclass",
    "class",
    "subclass",
    "infraclass",
    "superorder",
    "order",
    "suborder",
    "infraorder",
    "superfamily",
    "family",
    "subfamily",
    "tribe",
    "subtribe",
    "genus",
    "subgenus",
    "species",
    "subspecies",
    "variety",
    "form",
]
RANKS: tuple[str, ...] = get_args(Rank)
