"""Queries on the taxon tree. The recursive CTEs are plain SQL:1999 and run unchanged on
PostgreSQL and SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import CTE, ColumnElement, delete, func, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from wildlens.catalogue.models import LabelMapEntry, Observation, ProjectTaxon, Taxon
from wildlens.common.db.pagination import SortKey, page_by_keys, parse_str
from wildlens.common.http.pagination import PageParams

__all__ = [
    "ancestors",
    "descendants",
    "descendants_cte",
    "existing_ids",
    "get_taxon",
    "label_map_entries",
    "name_mapping",
    "page_taxa",
    "project_taxa",
    "relink_name",
    "replace_label_map_entries",
    "replace_project_taxa",
    "taxa_by_external_id",
    "taxa_by_gbif_id",
    "taxa_named",
    "unresolved_names",
]

# asyncpg and SQLite both cap bound parameters per statement; IN lists are sent in chunks.
_CHUNK = 500


def descendants_cte(taxon_id: uuid.UUID, name: str = "descendants") -> CTE:
    """A CTE with one column ``id``: the taxon and every taxon below it.

    UNION (not UNION ALL) makes the recursion stop even if the stored tree had a cycle.
    """
    base: Any = select(col(Taxon.id).label("id")).where(col(Taxon.id) == taxon_id)
    tree: CTE = base.cte(name, recursive=True)
    children = select(col(Taxon.id)).join(tree, col(Taxon.parent_id) == tree.c.id)
    return tree.union(children)


def ancestors_cte(ids: Iterable[uuid.UUID], name: str = "ancestors") -> CTE:
    """A CTE with ``id`` and ``parent_id`` for the taxa ``ids`` and everything above them."""
    base: Any = select(col(Taxon.id).label("id"), col(Taxon.parent_id).label("parent_id")).where(
        col(Taxon.id).in_(list(ids))
    )
    tree: CTE = base.cte(name, recursive=True)
    parents = select(col(Taxon.id), col(Taxon.parent_id)).join(
        tree, col(Taxon.id) == tree.c.parent_id
    )
    return tree.union(parents)


def descendant_ids_select(taxon_id: uuid.UUID) -> SelectOfScalar[Any]:
    """``SELECT id`` of the taxon and its descendants, to use inside another query."""
    tree = descendants_cte(taxon_id)
    return select(tree.c.id)


async def descendants(session: AsyncSession, taxon_id: uuid.UUID) -> set[uuid.UUID]:
    """The ids of the taxon and every taxon below it (empty when the taxon does not exist)."""
    rows = await session.exec(descendant_ids_select(taxon_id))
    return {r if isinstance(r, uuid.UUID) else uuid.UUID(str(r)) for r in rows.all()}


async def ancestors(session: AsyncSession, taxon: Taxon) -> list[Taxon]:
    """The taxa above ``taxon``, from its parent up to the root."""
    if taxon.parent_id is None:
        return []
    tree = ancestors_cte([taxon.parent_id])
    rows = (await session.exec(select(Taxon).where(col(Taxon.id).in_(select(tree.c.id))))).all()
    by_id = {t.id: t for t in rows}
    chain: list[Taxon] = []
    node = by_id.get(taxon.parent_id)
    while node is not None and node not in chain:
        chain.append(node)
        node = by_id.get(node.parent_id) if node.parent_id else None
    return chain


async def ancestor_links(
    session: AsyncSession, ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID | None]:
    """id → parent id for the taxa ``ids`` and all their ancestors."""
    links: dict[uuid.UUID, uuid.UUID | None] = {}
    pending = list(set(ids))
    for start in range(0, len(pending), _CHUNK):
        tree = ancestors_cte(pending[start : start + _CHUNK])
        for taxon_id, parent_id in (await session.exec(select(tree.c.id, tree.c.parent_id))).all():
            links[taxon_id] = parent_id
    return links


async def taxa_by_external_id(
    session: AsyncSession, external_ids: Iterable[str]
) -> dict[str, Taxon]:
    wanted = list(set(external_ids))
    found: dict[str, Taxon] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = (await session.exec(select(Taxon).where(col(Taxon.external_id).in_(chunk)))).all()
        found.update({t.external_id: t for t in rows})
    return found


async def taxa_by_gbif_id(session: AsyncSession, keys: Iterable[int]) -> dict[int, Taxon]:
    """The taxa with these GBIF keys, by key; where several share one, an accepted one."""
    wanted = list(set(keys))
    found: dict[int, Taxon] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = await session.exec(
            select(Taxon)
            .where(col(Taxon.gbif_id).in_(chunk))
            .order_by(col(Taxon.taxonomic_status) != "accepted", col(Taxon.created_at))
        )
        for taxon in rows:
            if taxon.gbif_id is not None:
                found.setdefault(taxon.gbif_id, taxon)
    return found


async def taxa_named(session: AsyncSession, name: str, rank: str) -> list[Taxon]:
    """The taxa with this scientific name and rank, accepted ones first."""
    rows = await session.exec(
        select(Taxon)
        .where(Taxon.scientific_name == name, Taxon.rank == rank)
        .order_by(col(Taxon.taxonomic_status) != "accepted", col(Taxon.created_at))
    )
    return list(rows.all())


async def existing_ids(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Taxon]:
    """The taxa among ``ids`` that exist, by id."""
    wanted = list(set(ids))
    found: dict[uuid.UUID, Taxon] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        rows = (await session.exec(select(Taxon).where(col(Taxon.id).in_(chunk)))).all()
        found.update({t.id: t for t in rows})
    return found


async def get_taxon(session: AsyncSession, taxon_id: uuid.UUID) -> Taxon | None:
    return await session.get(Taxon, taxon_id)


async def page_taxa(
    session: AsyncSession,
    page: PageParams,
    *,
    contains: str | None,
    rank: str | None,
) -> tuple[list[Taxon], str | None]:
    """Taxa whose search text contains ``contains`` (lower case), of ``rank`` if given, by
    scientific name."""
    query = select(Taxon)
    if contains:
        query = query.where(col(Taxon.search_text).contains(contains, autoescape=True))
    if rank is not None:
        query = query.where(Taxon.rank == rank)
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [SortKey(col(Taxon.scientific_name), parse_str), SortKey(col(Taxon.id))],
        lambda t: [t.scientific_name, t.id],
        page,
    )
    return list(rows), next_cursor


async def label_map_entries(
    session: AsyncSession, project_id: uuid.UUID, model_name: str
) -> list[tuple[LabelMapEntry, Taxon]]:
    """The project's map for one model, each entry with its taxon, by label."""
    query = (
        select(LabelMapEntry, Taxon)
        .join(Taxon, col(LabelMapEntry.taxon_id) == col(Taxon.id))
        .where(LabelMapEntry.project_id == project_id, LabelMapEntry.model_name == model_name)
        .order_by(col(LabelMapEntry.label))
    )
    return [(entry, taxon) for entry, taxon in (await session.exec(query)).all()]


async def replace_label_map_entries(
    session: AsyncSession,
    project_id: uuid.UUID,
    model_name: str,
    entries: Iterable[LabelMapEntry],
) -> None:
    await session.exec(
        delete(LabelMapEntry).where(
            col(LabelMapEntry.project_id) == project_id,
            col(LabelMapEntry.model_name) == model_name,
        )
    )
    session.add_all(list(entries))
    await session.flush()


async def project_taxa(session: AsyncSession, project_id: uuid.UUID) -> list[Taxon]:
    """The taxa the project expects, by scientific name."""
    query = (
        select(Taxon)
        .join(ProjectTaxon, col(ProjectTaxon.taxon_id) == col(Taxon.id))
        .where(ProjectTaxon.project_id == project_id)
        .order_by(col(Taxon.scientific_name), col(Taxon.id))
    )
    return list((await session.exec(query)).all())


async def replace_project_taxa(
    session: AsyncSession, project_id: uuid.UUID, rows: Iterable[ProjectTaxon]
) -> None:
    await session.exec(delete(ProjectTaxon).where(col(ProjectTaxon.project_id) == project_id))
    session.add_all(list(rows))
    await session.flush()


async def unresolved_names(session: AsyncSession, project_id: uuid.UUID) -> list[tuple[str, int]]:
    """(name, how many observations carry it) for the project's names linked to no taxon."""
    rows = await session.exec(
        select(Observation.scientific_name, func.count())
        .where(
            Observation.project_id == project_id,
            col(Observation.taxon_id).is_(None),
            Observation.scientific_name != "",
        )
        .group_by(col(Observation.scientific_name))
        .order_by(col(Observation.scientific_name))
    )
    return [(name, int(n)) for name, n in rows]


async def relink_name(
    session: AsyncSession,
    project_id: uuid.UUID,
    name: str,
    taxon_id: uuid.UUID,
    previous: uuid.UUID | None,
) -> int:
    """Link the project's observations named ``name`` that have no taxon (or the ``previous``
    mapping's) to ``taxon_id``; answers how many. One statement: no observation event."""
    linked: list[ColumnElement[bool]] = [col(Observation.taxon_id).is_(None)]
    if previous is not None:
        linked.append(col(Observation.taxon_id) == previous)
    result = await session.exec(
        update(Observation)
        .where(
            col(Observation.project_id) == project_id,
            col(Observation.scientific_name) == name,
            or_(*linked),
        )
        .values(taxon_id=taxon_id)
    )
    return int(result.rowcount or 0)


async def name_mapping(
    session: AsyncSession, project_id: uuid.UUID, model_name: str, label: str
) -> LabelMapEntry | None:
    return (
        await session.exec(
            select(LabelMapEntry).where(
                LabelMapEntry.project_id == project_id,
                LabelMapEntry.model_name == model_name,
                LabelMapEntry.label == label,
            )
        )
    ).first()
