"""The taxon tree's rules and each project's label maps and expected taxa: every taxon named
must exist, a label is mapped once, and a change that inference caches is announced."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import LabelMapEntry, ProjectTaxon, Taxon
from wildlens.catalogue.taxa import repository
from wildlens.catalogue.taxa.events import stage_taxonomy_changed
from wildlens.catalogue.taxa.importer import ImportReport, import_taxa
from wildlens.catalogue.taxa.names import NAMES_MODEL
from wildlens.catalogue.taxa.ranks import normalise_rank
from wildlens.catalogue.taxa.schemas import (
    LabelMapEntryPublic,
    LabelMapItem,
    LabelMapPublic,
    NameMapped,
    ProjectTaxaPublic,
    TaxonSummary,
    UnresolvedName,
    UnresolvedNames,
)
from wildlens.common.db import utcnow
from wildlens.common.errors import Conflict, FieldError, Invalid, NotFound
from wildlens.common.http.pagination import PageParams
from wildlens.common.ranks import RANKS
from wildlens.common.service import ServiceBus
from wildlens.common.settings import LimitSettings

__all__ = [
    "import_taxon_file",
    "label_map",
    "map_name",
    "project_taxa",
    "replace_label_map",
    "replace_project_taxa",
    "search_taxa",
    "taxon_with_ancestors",
    "unresolved_names",
]


async def import_taxon_file(
    bus: ServiceBus, session: AsyncSession, data: bytes, limits: LimitSettings
) -> ImportReport:
    """Apply a Darwin Core Taxon file; inference hears of it when anything changed."""
    report = await import_taxa(session, data, limits)
    if report.created or report.updated:
        await stage_taxonomy_changed(bus, session, "taxa.imported")
    return report


async def search_taxa(
    session: AsyncSession, q: str | None, rank: str | None, page: PageParams
) -> tuple[list[Taxon], str | None]:
    wanted = None
    if rank is not None:
        wanted = normalise_rank(rank)
        if wanted is None:
            raise Invalid(
                f"unknown rank {rank!r}",
                fields=[
                    FieldError(
                        location=["query", "rank"],
                        message="one of " + ", ".join(RANKS),
                        type="enum",
                    )
                ],
            )
    contains = q.strip().lower() if q and q.strip() else None
    return await repository.page_taxa(session, page, contains=contains, rank=wanted)


async def taxon_with_ancestors(
    session: AsyncSession, taxon_id: uuid.UUID
) -> tuple[Taxon, list[Taxon]]:
    """The taxon and the taxa above it, from its parent up to the root."""
    taxon = await repository.get_taxon(session, taxon_id)
    if taxon is None:
        raise NotFound(f"taxon {taxon_id} not found")
    return taxon, await repository.ancestors(session, taxon)


def _unknown_taxa(
    ids: Sequence[uuid.UUID], found: dict[uuid.UUID, Taxon], where: list[str | int]
) -> list[FieldError]:
    return [
        FieldError(
            location=[*where, i], message=f"taxon {taxon_id} does not exist", type="unknown_taxon"
        )
        for i, taxon_id in enumerate(ids)
        if taxon_id not in found
    ]


async def label_map(
    session: AsyncSession, project_id: uuid.UUID, model_name: str
) -> LabelMapPublic:
    rows = await repository.label_map_entries(session, project_id, model_name)
    return LabelMapPublic(
        project_id=project_id,
        model_name=model_name,
        entries=[
            LabelMapEntryPublic(
                label=e.label, taxon_id=t.id, scientific_name=t.scientific_name, rank=t.rank
            )
            for e, t in rows
        ],
        updated_at=max((e.updated_at for e, _ in rows), default=None),
    )


async def replace_label_map(
    bus: ServiceBus,
    session: AsyncSession,
    project_id: uuid.UUID,
    model_name: str,
    entries: Sequence[LabelMapItem],
    actor: str,
) -> LabelMapPublic:
    """Replace the map whole: every taxon must exist and every label appear once."""
    taxon_ids = [e.taxon_id for e in entries]
    found = await repository.existing_ids(session, taxon_ids)
    problems = _unknown_taxa(taxon_ids, found, ["body", "entries"])
    repeated = {label for label, n in Counter(e.label for e in entries).items() if n > 1}
    problems += [
        FieldError(
            location=["body", "entries", i, "label"],
            message=f"label {e.label!r} is mapped more than once",
            type="duplicate",
        )
        for i, e in enumerate(entries)
        if e.label in repeated
    ]
    if problems:
        raise Invalid(f"{len(problems)} problem(s) in the label map", fields=problems)
    now = utcnow()
    await repository.replace_label_map_entries(
        session,
        project_id,
        model_name,
        (
            LabelMapEntry(
                project_id=project_id,
                model_name=model_name,
                label=e.label,
                taxon_id=e.taxon_id,
                updated_by=actor,
                updated_at=now,
            )
            for e in entries
        ),
    )
    await stage_taxonomy_changed(
        bus, session, "label_map.updated", project_id=project_id, model_name=model_name
    )
    return await label_map(session, project_id, model_name)


async def project_taxa(session: AsyncSession, project_id: uuid.UUID) -> ProjectTaxaPublic:
    rows = await repository.project_taxa(session, project_id)
    return ProjectTaxaPublic(
        project_id=project_id, taxa=[TaxonSummary.model_validate(t) for t in rows]
    )


async def replace_project_taxa(
    bus: ServiceBus,
    session: AsyncSession,
    project_id: uuid.UUID,
    taxon_ids: Sequence[uuid.UUID],
    actor: str,
) -> ProjectTaxaPublic:
    """Replace the list whole; every taxon must exist."""
    found = await repository.existing_ids(session, taxon_ids)
    problems = _unknown_taxa(taxon_ids, found, ["body", "taxon_ids"])
    if problems:
        raise Invalid(f"{len(problems)} taxon id(s) do not exist", fields=problems)
    await repository.replace_project_taxa(
        session,
        project_id,
        (
            ProjectTaxon(project_id=project_id, taxon_id=taxon_id, added_by=actor)
            for taxon_id in dict.fromkeys(taxon_ids)
        ),
    )
    await stage_taxonomy_changed(bus, session, "project_taxa.updated", project_id=project_id)
    return await project_taxa(session, project_id)


async def unresolved_names(session: AsyncSession, project_id: uuid.UUID) -> UnresolvedNames:
    rows = await repository.unresolved_names(session, project_id)
    return UnresolvedNames(
        project_id=project_id,
        items=[UnresolvedName(name=name, observations=n) for name, n in rows],
    )


async def map_name(
    session: AsyncSession, project_id: uuid.UUID, name: str, taxon_id: uuid.UUID, actor: str
) -> NameMapped:
    """Map an imported name to a taxon for this project: later imports use the mapping, and
    the observations that carry the name are linked now, quietly (they are not new sightings,
    so no alert is checked)."""
    taxon = await repository.get_taxon(session, taxon_id)
    if taxon is None:
        raise Invalid(
            "no such taxon",
            fields=[
                FieldError(
                    location=["body", "taxon_id"],
                    message=f"{taxon_id} is not a taxon",
                    type="unknown",
                )
            ],
        )
    entry = await repository.name_mapping(session, project_id, NAMES_MODEL, name)
    previous = entry.taxon_id if entry is not None else None
    if entry is None:
        entry = LabelMapEntry(
            project_id=project_id, model_name=NAMES_MODEL, label=name, taxon_id=taxon.id
        )
    entry.taxon_id, entry.updated_by, entry.updated_at = taxon.id, actor[:200], utcnow()
    session.add(entry)
    try:
        await session.flush()
    except IntegrityError as exc:
        # Mapped by a concurrent request between the look-up and the insert.
        raise Conflict(f"{name!r} was mapped meanwhile; read it again and retry") from exc
    relinked = await repository.relink_name(session, project_id, name, taxon.id, previous)
    return NameMapped(
        name=name,
        taxon_id=taxon.id,
        scientific_name=taxon.scientific_name,
        observations_relinked=relinked,
    )
