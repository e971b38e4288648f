"""The taxa exports name and KSO imports look up or add to a project."""

from __future__ import annotations

import uuid

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import LabelMapEntry, ProjectTaxon, Taxon

__all__ = [
    "expected_taxa",
    "label_map",
    "project_taxon_ids",
    "scientific_names",
    "taxa_by_id",
    "taxon_named",
]

# Ids per IN list when naming a subtree's taxa.
_NAMES_CHUNK = 500


async def expected_taxa(session: AsyncSession, project_id: uuid.UUID) -> list[Taxon]:
    """The project's expected species list, by scientific name."""
    return list(
        await session.exec(
            select(Taxon)
            .join(ProjectTaxon, col(ProjectTaxon.taxon_id) == col(Taxon.id))
            .where(ProjectTaxon.project_id == project_id)
            .order_by(col(Taxon.scientific_name))
        )
    )


async def taxa_by_id(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Taxon]:
    return {t.id: t for t in await session.exec(select(Taxon).where(col(Taxon.id).in_(ids)))}


async def scientific_names(
    session: AsyncSession, ids: list[uuid.UUID]
) -> list[tuple[uuid.UUID, str]]:
    """(id, scientific name) of the taxa ``ids``."""
    names: list[tuple[uuid.UUID, str]] = []
    for start in range(0, len(ids), _NAMES_CHUNK):
        for t in await session.exec(
            select(Taxon).where(col(Taxon.id).in_(ids[start : start + _NAMES_CHUNK]))
        ):
            names.append((t.id, t.scientific_name))
    return names


async def taxon_named(session: AsyncSession, scientific_name: str) -> Taxon | None:
    """The taxon with this scientific name, an accepted one first."""
    return (
        await session.exec(
            select(Taxon)
            .where(Taxon.scientific_name == scientific_name)
            .order_by(col(Taxon.taxonomic_status) != "accepted")
        )
    ).first()


async def project_taxon_ids(session: AsyncSession, project_id: uuid.UUID) -> set[uuid.UUID]:
    return {
        t.taxon_id
        for t in await session.exec(
            select(ProjectTaxon).where(ProjectTaxon.project_id == project_id)
        )
    }


async def label_map(
    session: AsyncSession, project_id: uuid.UUID, model_name: str
) -> dict[str, LabelMapEntry]:
    """The project's label map for ``model_name``, by label."""
    return {
        e.label: e
        for e in await session.exec(
            select(LabelMapEntry).where(
                LabelMapEntry.project_id == project_id, LabelMapEntry.model_name == model_name
            )
        )
    }
