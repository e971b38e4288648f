"""The taxon ranks an import accepts (Darwin Core's taxonRank vocabulary, lower-cased), from
the most general to the most specific."""

from __future__ import annotations

from wildlens.common.ranks import RANKS

# Common spellings in published checklists → the rank they mean.
ALIASES: dict[str, str] = {
    "division": "phylum",
    "sp.": "species",
    "ssp.": "subspecies",
    "infraspecies": "subspecies",
    "var.": "variety",
    "f.": "form",
}


def normalise_rank(value: str) -> str | None:
    """The rank ``value`` names, or None when it is not one we know."""
    rank = value.strip().lower()
    rank = ALIASES.get(rank, rank)
    return rank if rank in RANKS else None
