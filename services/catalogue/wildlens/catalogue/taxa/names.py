"""Linking the names an imported file gives to taxa of the tree.

A name is looked up, in this order: in the file's own taxonomic list (whose taxa an import
creates, with their authority id as ``external_id`` and their vernacular names), in the
project's own mappings (its managers' answers to unresolved names, kept as the label map of
model :data:`NAMES_MODEL`) and expected taxa, then in the platform's tree. A new taxon goes
under the higher taxa its entry names (``kingdom`` … ``genus``) and, offline, a binomial's
genus is its parent: a listed species whose genus the tree lacks gets one.
What none of these knows stays unlinked, and is listed for the project's managers.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import LabelMapEntry, ProjectTaxon, Taxon
from wildlens.catalogue.taxa.ranks import normalise_rank

__all__ = ["NAMES_MODEL", "ListedTaxon", "NameLinker", "listed_taxa"]

# The label map holding a project's mappings of imported names to taxa.
NAMES_MODEL = "imported-names"

# The external id prefix of the higher taxa made up offline (they have no authority id).
_MADE = "name:"

_BINOMIAL = re.compile(r"^([A-Z][a-z]+) [a-z][a-z-]+$")


@dataclass(frozen=True)
class ListedTaxon:
    """One entry of a file's taxonomic list."""

    scientific_name: str
    authority_id: str = ""
    rank: str = ""
    vernacular_names: dict[str, str] = field(default_factory=dict)
    # The higher taxa the entry names, by rank ({"kingdom": "Animalia", "family": "Anatidae"}).
    lineage: dict[str, str] = field(default_factory=dict)


# The higher ranks a Camtrap DP taxonomic entry may name, from the top down.
_LINEAGE = ("kingdom", "phylum", "class", "order", "family", "genus")


def listed_taxa(entries: Any) -> list[ListedTaxon]:
    """A Camtrap DP ``taxonomic`` list, read leniently (entries without a name are skipped)."""
    listed = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not str(entry.get("scientificName") or "").strip():
            continue
        vernacular = entry.get("vernacularNames")
        listed.append(
            ListedTaxon(
                scientific_name=str(entry["scientificName"]).strip(),
                authority_id=str(entry.get("taxonID") or "").strip(),
                rank=str(entry.get("taxonRank") or ""),
                vernacular_names={str(k): str(v) for k, v in vernacular.items() if str(v).strip()}
                if isinstance(vernacular, dict)
                else {},
                lineage={
                    rank: str(entry[rank]).strip()
                    for rank in _LINEAGE
                    if str(entry.get(rank) or "").strip()
                },
            )
        )
    return listed


async def _named(session: AsyncSession, name: str, rank: str | None = None) -> Taxon | None:
    """The platform's taxon with this scientific name (of ``rank`` when given), accepted first."""
    query = select(Taxon).where(Taxon.scientific_name == name[:300])
    if rank:
        query = query.where(Taxon.rank == rank)
    return (await session.exec(query.order_by(col(Taxon.taxonomic_status) != "accepted"))).first()


class NameLinker:
    """Resolves the names of one import into ``project_id``; remembers what it resolved."""

    def __init__(self, session: AsyncSession, project_id: uuid.UUID) -> None:
        self._session = session
        self._project_id = project_id
        self._listed: dict[str, uuid.UUID] = {}
        self._project: dict[str, uuid.UUID] | None = None
        self._platform: dict[str, uuid.UUID | None] = {}
        self._made: dict[str, Taxon] = {}
        # Taxa made: those of the file's list, and all (higher taxa made up included).
        self.listed_created = 0
        self.created = 0

    async def add_listed(self, listed: list[ListedTaxon]) -> None:
        """Make the file's list known: its taxa found by authority id, else by name, else
        created (a species under its genus)."""
        session = self._session
        ids = [t.authority_id[:200] for t in listed if t.authority_id]
        by_authority = {
            t.external_id: t
            for t in await session.exec(select(Taxon).where(col(Taxon.external_id).in_(ids)))
        }
        # Higher ranks first, so a listed genus is there before its species.
        for item in sorted(listed, key=lambda t: len(t.scientific_name.split())):
            name = item.scientific_name.strip()[:300]
            taxon = by_authority.get(item.authority_id[:200]) if item.authority_id else None
            # A taxon the tree already has is linked as it is: the tree is shared by every
            # project, and only platform admins edit it (an import may add taxa, not change
            # them).
            if taxon is None:
                taxon = await _named(session, name)
            if taxon is None:
                binomial = _BINOMIAL.match(name)
                rank = normalise_rank(item.rank) or ("species" if binomial else "unranked")
                taxon = Taxon(
                    external_id=(item.authority_id or f"{_MADE}{name}")[:200],
                    rank=rank,
                    scientific_name=name,
                    vernacular_names=dict(item.vernacular_names),
                    parent_id=await self._parent(item, binomial.group(1) if binomial else None),
                )
                taxon.refresh_search_text()
                session.add(taxon)
                await session.flush()
                self._made[name] = taxon
                self.created += 1
                self.listed_created += 1
            self._listed[item.scientific_name.strip()] = taxon.id

    async def _parent(self, item: ListedTaxon, genus: str | None) -> uuid.UUID | None:
        """The parent of a new taxon: the most specific higher taxon its entry names (each
        found in the tree or made, top down), and offline a binomial's genus."""
        chain = [(r, n) for r, n in item.lineage.items() if n != item.scientific_name]
        chain.sort(key=lambda rank_name: _LINEAGE.index(rank_name[0]))
        if genus and "genus" not in item.lineage:
            chain.append(("genus", genus))
        parent: uuid.UUID | None = None
        for rank, name in chain:
            parent = await self._higher(rank, name[:300], parent)
        return parent

    async def _higher(self, rank: str, name: str, parent: uuid.UUID | None) -> uuid.UUID:
        taxon = self._made.get(name)
        if taxon is None and name in self._listed:
            return self._listed[name]
        if taxon is None:
            taxon = await _named(self._session, name, rank)
        if taxon is None:
            taxon = Taxon(external_id=f"{_MADE}{name}"[:200], rank=rank, scientific_name=name)
            taxon.refresh_search_text()
            self._made[name] = taxon
            self.created += 1
        if name in self._made:
            # A taxon this import made learns its place when an entry names it (one the tree
            # already had keeps its own: the tree is shared).
            if taxon.parent_id is None and parent is not None and parent != taxon.id:
                taxon.parent_id = parent
            self._session.add(taxon)
            await self._session.flush()
        self._listed[name] = taxon.id
        return taxon.id

    async def taxon_id(self, name: str) -> uuid.UUID | None:
        """The taxon ``name`` is linked to, or None when nothing knows it."""
        name = name.strip()
        if not name:
            return None
        if name in self._listed:
            return self._listed[name]
        if self._project is None:
            self._project = await _project_names(self._session, self._project_id)
        if name in self._project:
            return self._project[name]
        if name not in self._platform:
            taxon = await _named(self._session, name)
            self._platform[name] = taxon.id if taxon else None
        return self._platform[name]


async def _project_names(session: AsyncSession, project_id: uuid.UUID) -> dict[str, uuid.UUID]:
    """The project's expected taxa by name, overridden by its managers' mappings."""
    names = {
        t.scientific_name: t.id
        for t in await session.exec(
            select(Taxon)
            .join(ProjectTaxon, col(ProjectTaxon.taxon_id) == col(Taxon.id))
            .where(ProjectTaxon.project_id == project_id)
        )
    }
    for entry in await session.exec(
        select(LabelMapEntry).where(
            LabelMapEntry.project_id == project_id, LabelMapEntry.model_name == NAMES_MODEL
        )
    ):
        names[entry.label] = entry.taxon_id
    return names
