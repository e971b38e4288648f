"""Sorting as EcoTaxa's users work: validate, doubt or reclassify a whole filtered selection
(the observation list's filters, object features among them) in one call.

Each observation changes as it would alone (its history gets a row, its medium's label is
smoothed and announced), all in one transaction: every observation of the selection
changes, or, on any error, none. A selection larger than the call's ``limit`` (at most
``MAX_SELECTION``) is refused before anything changes, so that a filter typed wrong never
rewrites a whole project.
"""

from __future__ import annotations

import uuid
from typing import Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import ProjectAccess
from wildlens.catalogue.observations import service as observations
from wildlens.catalogue.observations.schemas import Correction
from wildlens.catalogue.privacy import request_view
from wildlens.catalogue.queries import repository
from wildlens.catalogue.queries.filters import Filters
from wildlens.catalogue.queries.schemas import Reclassification, SelectionChange
from wildlens.catalogue.queries.service import check_references
from wildlens.common.errors import FieldError, Invalid
from wildlens.common.service import ServiceBus

__all__ = ["MAX_SELECTION", "judge_selection", "reclassify_selection"]

# The most observations one call changes: a day's sorting for the busiest EcoTaxa users,
# few enough to lock and record in one transaction.
MAX_SELECTION = 10_000


async def _selected(
    session: AsyncSession, access: ProjectAccess, f: Filters, limit: int
) -> list[uuid.UUID]:
    f = await check_references(session, access.project.id, f)
    visible = (await request_view(session, access)).visible_media()
    ids = await repository.selected_observation_ids(
        session, access.project.id, f, limit + 1, visible=visible
    )
    if len(ids) > limit:
        message = (
            f"the selection holds more than {limit} observations, more than this call may "
            f"change; narrow it with filters, or raise limit (at most {MAX_SELECTION})"
        )
        raise Invalid(
            message,
            fields=[FieldError(location=["query", "limit"], message=message, type="too_many")],
        )
    return list(ids)


async def judge_selection(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    f: Filters,
    limit: int,
    action: Literal["validate", "dubious"],
) -> SelectionChange:
    ids = await _selected(session, access, f, limit)
    judged, changed = await observations.judge_selection(session, bus, access, ids, action)
    return SelectionChange(action=action, matched=judged, changed=changed)


async def reclassify_selection(
    session: AsyncSession,
    bus: ServiceBus,
    access: ProjectAccess,
    f: Filters,
    limit: int,
    body: Reclassification,
) -> SelectionChange:
    """The selection's labels become ``body``'s taxon (or category), each validated."""
    morphological = body.taxon_id is None and (
        (body.scientific_name or "")
        in await repository.morphological_names(session, access.project.id)
    )
    named = body.model_dump(include={"taxon_id", "scientific_name"}, exclude_none=True)
    correction = Correction(**named, observation_type="unknown" if morphological else "animal")
    ids = await _selected(session, access, f, limit)
    judged, changed = await observations.correct_selection(
        session,
        bus,
        access,
        ids,
        correction,
        category="morphological" if morphological else "animal",
    )
    return SelectionChange(action="reclassify", matched=judged, changed=changed)
