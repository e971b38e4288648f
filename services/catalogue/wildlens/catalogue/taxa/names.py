"""Linking the names an imported file gives to taxa of the tree.

A name is looked up, in this order: in the file's own taxonomic list (whose taxa an import
creates, with their authority id as ``external_id`` and their vernacular names), in the
project's own mappings (its managers' answers to unresolved names, kept as the label map of
model :data:`NAMES_MODEL`) and expected taxa, in the platform's tree, and last, where the
platform is set to, in an online checklist (GBIF's backbone): a name it matches exactly is
linked to its accepted taxon, added to the tree with its higher taxa.

A listed taxon the tree lacks is placed by the checklist where it knows the name as accepted
(the authority wins over a guess); otherwise under the higher taxa its entry names
(``kingdom`` … ``genus``) and, offline, under its genus when it is a binomial: a listed
species whose genus the tree lacks gets one.
What none of these knows stays unlinked, and is listed for the project's managers. Once the
checklist fails to answer, the rest of the import goes without it (its names stay unlinked):
an import never fails, nor waits more than one timeout, because the checklist is away.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import LabelMapEntry, ProjectTaxon, Taxon
from wildlens.catalogue.taxa.ranks import normalise_rank
from wildlens.catalogue.taxa.resolution import (
    ChecklistUnavailable,
    LineageItem,
    NameResolver,
    Resolution,
    store_lineage,
)

__all__ = ["NAMES_MODEL", "ListedTaxon", "NameLinker", "listed_taxa"]

log = structlog.get_logger(__name__)

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
    """Resolves the names of one import into ``project_id``; remembers what it resolved.

    ``resolver`` is the online checklist, when the platform has one: asked at most once per
    distinct name in an import, and not again in that import once it failed.
    """

    def __init__(
        self,
        session: AsyncSession,
        project_id: uuid.UUID,
        resolver: NameResolver | None = None,
    ) -> None:
        self._session = session
        self._project_id = project_id
        self._resolver = resolver
        self._checklist_failed = False
        self._asked: dict[str, Resolution | None] = {}
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
                listed_rank = normalise_rank(item.rank)
                own: LineageItem | None = None
                known = await self._accepted(name, listed_rank)
                if known is not None:
                    own, parent_id = known
                    rank = own.rank
                else:
                    rank = listed_rank or ("species" if binomial else "unranked")
                    parent_id = await self._parent(item, binomial.group(1) if binomial else None)
                taxon = Taxon(
                    external_id=(item.authority_id or f"{_MADE}{name}")[:200],
                    rank=rank,
                    scientific_name=name,
                    vernacular_names=dict(item.vernacular_names),
                    parent_id=parent_id,
                    # Found by its key when the checklist names it again (as a species' genus).
                    gbif_id=own.gbif_id if own is not None else None,
                    authorship=own.authorship if own is not None else "",
                )
                taxon.refresh_search_text()
                session.add(taxon)
                await session.flush()
                self._made[name] = taxon
                self.created += 1
                self.listed_created += 1
            self._listed[item.scientific_name.strip()] = taxon.id

    async def _accepted(
        self, name: str, listed_rank: str | None
    ) -> tuple[LineageItem, uuid.UUID | None] | None:
        """The checklist's accepted taxon of a listed name, and the taxon to place it under
        (its higher taxa stored as the checklist has them); None when the checklist does not
        know the name as the list means it."""
        resolution = await self._ask(name)
        # A synonym's lineage is its accepted name's, not the listed one's; a taxon of another
        # rank than the list's is a homonym, not the listed taxon.
        if resolution is None or resolution.synonym:
            return None
        own = resolution.lineage[-1]
        if listed_rank is not None and own.rank != listed_rank:
            return None
        if len(resolution.lineage) == 1:
            return own, None
        above, report = await store_lineage(self._session, resolution.lineage[:-1])
        self.created += report.created
        return own, above.id

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
            if taxon is None:
                taxon = await self._resolved(name)
            self._platform[name] = taxon.id if taxon else None
        return self._platform[name]

    async def _resolved(self, name: str) -> Taxon | None:
        """The taxon the checklist links ``name`` to (its accepted taxon, added to the tree
        with its higher taxa where the tree lacks them)."""
        resolution = await self._ask(name)
        if resolution is None:
            return None
        taxon, report = await store_lineage(self._session, resolution.lineage)
        self.created += report.created
        return taxon

    async def _ask(self, name: str) -> Resolution | None:
        """What the checklist says ``name`` means; None without one, or once it has failed."""
        if self._resolver is None or self._checklist_failed:
            return None
        if name not in self._asked:
            try:
                self._asked[name] = await self._resolver.resolve(name)
            except ChecklistUnavailable as error:
                # The rest of this import goes without it: its names stay unresolved, for the
                # managers to map, instead of the import failing or waiting on each name.
                self._checklist_failed = True
                log.warning(
                    "names.checklist_unavailable",
                    project_id=str(self._project_id),
                    name=name,
                    reason=error.detail,
                )
                return None
        return self._asked[name]


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
