"""What exports say of a taxon beyond its name: its authority id (Darwin Core
``scientificNameID``, Camtrap DP ``taxonID``), its rank and its kingdom, where known."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Taxon
from wildlens.catalogue.taxa.repository import ancestor_links

__all__ = ["authority_id", "kingdoms"]

# IN lists are sent in chunks (asyncpg and SQLite cap bound parameters).
_CHUNK = 500


def authority_id(taxon: Taxon | None) -> str:
    """A resolvable id of the name in a checklist: GBIF's or WoRMS's, else the taxonID an
    imported list gave it when that is a URL or an LSID; empty when it has none (the ids the
    platform makes up, such as ``name:Anas``, identify nothing outside it)."""
    if taxon is None:
        return ""
    if taxon.gbif_id:
        return f"https://www.gbif.org/species/{taxon.gbif_id}"
    if taxon.worms_id:
        return f"urn:lsid:marinespecies.org:taxname:{taxon.worms_id}"
    if taxon.external_id.startswith(("http://", "https://", "urn:lsid:")):
        return taxon.external_id
    return ""


async def kingdoms(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The kingdom each taxon of ``ids`` is classified in (itself when it is one), for those
    whose lineage in the tree reaches one."""
    links = await ancestor_links(session, ids)
    nodes: dict[uuid.UUID, Taxon] = {}
    pending = list(links)
    for start in range(0, len(pending), _CHUNK):
        chunk = pending[start : start + _CHUNK]
        for taxon in await session.exec(select(Taxon).where(col(Taxon.id).in_(chunk))):
            nodes[taxon.id] = taxon
    found: dict[uuid.UUID, str] = {}
    for taxon_id in set(ids):
        node, seen = nodes.get(taxon_id), set()
        while node is not None and node.id not in seen and node.rank != "kingdom":
            seen.add(node.id)
            node = nodes.get(node.parent_id) if node.parent_id else None
        if node is not None and node.rank == "kingdom":
            found[taxon_id] = node.scientific_name
    return found
