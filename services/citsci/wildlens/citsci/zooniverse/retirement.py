"""Subjects Wildlens retired, retired on Zooniverse too.

Wildlens retires a Zooniverse subject when its pulled classifications meet the set's rules,
or when an expert validates the medium it shows. The decision is committed first (the
subject's ``retired_at``), then told to Zooniverse; a call that fails leaves the subject
waiting, and the next pull or expert validation tells Zooniverse again: none is lost.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.aggregation import RetirementReason
from wildlens.citsci.volunteers.consensus import REASONS
from wildlens.citsci.zooniverse import repository
from wildlens.citsci.zooniverse.gateway import Zooniverse, ZooniverseError
from wildlens.common.db import Database, utcnow

__all__ = ["EXPERT", "PEOPLE", "expert_validated", "retire_pending", "zooniverse_reason"]

log = structlog.get_logger(__name__)

# The reasons kept for a subject whose medium an expert validated, or on which people were
# labelled in a project that hides them (both "other" to Zooniverse).
EXPERT = "expert"
PEOPLE = "people"


def zooniverse_reason(reason: str | None) -> str:
    """The reason as Panoptes takes it (classification_count, consensus, nothing_here,
    flagged, other)."""
    try:
        return REASONS[RetirementReason(reason or "")]
    except ValueError:
        return "other"


async def expert_validated(
    session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID
) -> int:
    """The project's Zooniverse subjects showing the medium retire (an expert has decided
    it); answers how many. Flushes: the caller's transaction commits, then
    ``retire_pending`` tells Zooniverse."""
    subjects = await repository.linked_showing(session, project_id, media_id)
    for z in subjects:
        z.retired_at = utcnow()
        z.retirement_reason = EXPERT
        session.add(z)
    await session.flush()
    return len(subjects)


async def retire_pending(
    db: Database, zooniverse: Zooniverse, subject_set_ids: Iterable[uuid.UUID] | None = None
) -> tuple[int, int]:
    """Tell Zooniverse of the subjects Wildlens retired (of these sets; all without them);
    answers how many it took and how many still wait (its call failed, tried next time)."""
    async with db.transaction() as session:
        pending = await repository.pending_retirements(session, subject_set_ids)
    calls: dict[tuple[uuid.UUID, str, str], list[str]] = defaultdict(list)
    for z, s in pending:
        if s.zooniverse_workflow_id:
            key = (s.id, s.zooniverse_workflow_id, zooniverse_reason(z.retirement_reason))
            calls[key].append(z.zooniverse_subject_id)
    retired = waiting = 0
    for (set_id, workflow_id, reason), subject_ids in calls.items():
        try:
            await zooniverse.retire(workflow_id, subject_ids, reason)
        except ZooniverseError as e:
            log.warning("zooniverse.retire_failed", subject_set=str(set_id), error=str(e))
            waiting += len(subject_ids)
            continue
        async with db.transaction() as session:
            await repository.set_state(session, set_id, subject_ids, "retired")
        retired += len(subject_ids)
    return retired, waiting
