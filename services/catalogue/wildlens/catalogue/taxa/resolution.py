"""Resolving names against an online checklist, the other way taxa enter the tree.

A :class:`NameResolver` (:mod:`wildlens.catalogue.taxa.gbif` is the one for GBIF's backbone)
says what a name means: the lineage of its accepted taxon, from the root down.
:func:`store_lineage` places that lineage in the tree the way an import places its taxa: what
the tree already has is linked as it is, and only what it lacks is added (external ids
``gbif:<usageKey>``), because the tree is shared by every project and only platform admins
edit it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Taxon
from wildlens.catalogue.taxa.importer import ImportReport
from wildlens.catalogue.taxa.ranks import normalise_rank
from wildlens.catalogue.taxa.repository import taxa_by_external_id, taxa_by_gbif_id, taxa_named
from wildlens.common.errors import Invalid, Unavailable

__all__ = [
    "ChecklistUnavailable",
    "LineageItem",
    "NameResolver",
    "Resolution",
    "gbif_external_id",
    "store_lineage",
]


@dataclass(frozen=True)
class LineageItem:
    gbif_id: int
    rank: str
    scientific_name: str
    vernacular_names: dict[str, str] | None = None
    authorship: str = ""


@dataclass(frozen=True)
class Resolution:
    """What a checklist says a name means."""

    # The lineage of the taxon the name is linked to, root first; that taxon is the last item.
    lineage: list[LineageItem]
    # The name asked is a synonym of that taxon, not its accepted name.
    synonym: bool = False


class ChecklistUnavailable(Unavailable):
    """The checklist did not answer, or answered something that is not an answer."""


class NameResolver(Protocol):
    async def resolve(self, name: str) -> Resolution | None:
        """What ``name`` means, or None when the checklist gives no sure answer.

        Raises:
            ChecklistUnavailable: the checklist could not be asked, or its answer was unreadable.
        """
        ...


def gbif_external_id(key: int) -> str:
    return f"gbif:{key}"


def _choose(candidates: list[Taxon], parent: Taxon | None) -> Taxon | None:
    """Of the tree's taxa with an item's name and rank, the one under the item above, else the
    first (accepted first)."""
    if parent is not None:
        for taxon in candidates:
            if taxon.parent_id == parent.id:
                return taxon
    return candidates[0] if candidates else None


async def store_lineage(
    session: AsyncSession, lineage: list[LineageItem]
) -> tuple[Taxon, ImportReport]:
    """Place a resolved lineage (root first) in the tree; returns its last (most specific)
    taxon and how many taxa were created and found.

    Each item is the tree's taxon with its GBIF key (its external id ``gbif:<key>``, else its
    ``gbif_id``), else one with its name and rank (preferably under the item above: the taxon
    a Darwin Core import or an earlier package made), else a new taxon under the item above.
    """
    if not lineage:
        raise Invalid("an empty lineage resolves to no taxon")
    keys = [item.gbif_id for item in lineage]
    by_external = await taxa_by_external_id(session, [gbif_external_id(k) for k in keys])
    by_key = await taxa_by_gbif_id(session, keys)
    report = ImportReport(rows=len(lineage))
    made: dict[int, Taxon] = {}
    parent: Taxon | None = None
    for item in lineage:
        rank = normalise_rank(item.rank) or "unranked"
        name = item.scientific_name.strip()[:300]
        external_id = gbif_external_id(item.gbif_id)
        taxon = made.get(item.gbif_id) or by_external.get(external_id) or by_key.get(item.gbif_id)
        if taxon is None:
            taxon = _choose(await taxa_named(session, name, rank), parent)
        if taxon is None:
            taxon = Taxon(
                external_id=external_id,
                parent_id=parent.id if parent is not None else None,
                rank=rank,
                scientific_name=name,
                authorship=item.authorship[:300],
                vernacular_names=dict(item.vernacular_names or {}),
                gbif_id=item.gbif_id,
            )
            taxon.refresh_search_text()
            session.add(taxon)
            await session.flush()
            made[item.gbif_id] = taxon
            report.created += 1
        else:
            report.unchanged += 1
        parent = taxon
    assert parent is not None  # the lineage is not empty
    return parent, report
