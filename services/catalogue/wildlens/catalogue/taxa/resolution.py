"""Resolving names against an online checklist (GBIF), the other way taxa enter the tree.

The platform this is built and tested on is offline and has no pygbif, so no resolver ships
here. A resolver turns a name into its lineage; :func:`store_lineage` puts that lineage into
the tree with the same upsert rules as a Darwin Core import (external ids ``gbif:<usageKey>``),
so a pygbif-backed resolver needs only to implement :class:`NameResolver`, e.g. from
``pygbif.species.name_backbone(name)`` (its ``kingdomKey`` … ``speciesKey`` and names give the
lineage) run in a worker thread, and stage ``taxonomy.changed`` after storing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Taxon
from wildlens.catalogue.taxa.importer import ImportReport, TaxonRow, apply_rows
from wildlens.catalogue.taxa.repository import taxa_by_external_id
from wildlens.common.errors import Invalid

__all__ = ["LineageItem", "NameResolver", "store_lineage"]


@dataclass(frozen=True)
class LineageItem:
    gbif_id: int
    rank: str
    scientific_name: str
    vernacular_names: dict[str, str] | None = None


class NameResolver(Protocol):
    async def resolve(self, name: str) -> list[LineageItem] | None:
        """The lineage of ``name`` from the root down to the name's own taxon, or None when
        the checklist does not know it."""
        ...


async def store_lineage(
    session: AsyncSession, lineage: list[LineageItem]
) -> tuple[Taxon, ImportReport]:
    """Upsert a resolved lineage (root first); returns the last (most specific) taxon."""
    if not lineage:
        raise Invalid("an empty lineage resolves to no taxon")
    rows = []
    parent = ""
    for line, item in enumerate(lineage, start=1):
        external_id = f"gbif:{item.gbif_id}"
        rows.append(
            TaxonRow(
                line=line,
                external_id=external_id,
                parent_external_id=parent,
                rank=item.rank.lower(),
                scientific_name=item.scientific_name,
                vernacular_names=dict(item.vernacular_names or {}),
                gbif_id=item.gbif_id,
            )
        )
        parent = external_id
    report = await apply_rows(session, rows)
    stored = await taxa_by_external_id(session, [parent])
    return stored[parent], report
