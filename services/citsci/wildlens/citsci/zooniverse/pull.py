"""What Zooniverse volunteers said, pulled back: the workflow's classification export read
row by row (or the classifications Panoptes' API lists since the last one stored), each
classification of one of the set's subjects stored once (by its Zooniverse
id, without the volunteer's IP address or name), the set's retirement rules applied as they
arrive, and each subject that retires given the consensus the built-in volunteers' subjects
get, published as ``citsci.consensus`` through the outbox and retired on Zooniverse.

A subject that retired before and got classifications since (Zooniverse still delivers some
that were in flight) gets its consensus again, over all of them, as the next version of the
same consensus: the catalogue updates its observation rather than adding one.

A classification that is not well-formed (a row cut short, annotations of a shape the
workflow never had) is left out and named in the report, so that one bad record on Zooniverse
cannot keep a set from ever being pulled again. An export that cannot be read at all (not the
export's header, not CSV, not UTF-8) stores nothing: the whole pull is one transaction, and the
error names the line.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.aggregation import (
    Classification,
    RetirementReason,
    Skipped,
    read_classifications,
)
from wildlens.citsci.models import SubjectSet, ZooniverseClassification, ZooniverseSubject
from wildlens.citsci.volunteers.consensus import (
    ConsensusSubject,
    build_consensus,
    retirement,
    rules_of,
)
from wildlens.citsci.zooniverse import repository
from wildlens.citsci.zooniverse.answers import TaxonNames, answers_of
from wildlens.citsci.zooniverse.retirement import EXPERT, PEOPLE
from wildlens.common.db import utcnow
from wildlens.common.errors import Conflict, NotFound
from wildlens.common.service import ServiceBus

__all__ = [
    "PLATFORM",
    "PullReport",
    "consensus_subject",
    "store_classifications",
    "store_export",
    "workflow_of",
]

log = structlog.get_logger(__name__)

PLATFORM = "zooniverse"
# Classifications added to the session at a time.
BATCH = 500


@dataclass
class PullReport:
    # The export's classifications of the set's workflow; stored by this pull; stored before;
    # of subjects the set did not send (another set's, or made on Zooniverse).
    read: int = 0
    stored: int = 0
    already: int = 0
    other_subjects: int = 0
    # Subjects that retired by this pull; subjects retired before whose consensus it updated.
    retired: int = 0
    updated: int = 0
    # Classifications left out as malformed: how many, and what was wrong with the first few.
    malformed: int = 0
    problems: list[str] = field(default_factory=list)


def _volunteer(c: Classification) -> str:
    """Who classified, as kept: a logged-in volunteer by their Zooniverse user id; one who was
    not logged in by the classification alone, since the export's not-logged-in-<hash> name
    is a hash of their IP address, which a table of every address's hash would reverse."""
    if c.user_id is not None:
        return f"user:{c.user_id}"
    return f"not-logged-in:{c.classification_id}"


def workflow_of(s: SubjectSet | None, subject_set_id: uuid.UUID) -> str:
    """Raises NotFound, or Conflict when the set is not classified on Zooniverse."""
    if s is None:
        raise NotFound(f"subject set {subject_set_id} not found")
    if s.destination != "zooniverse" or not s.zooniverse_workflow_id:
        raise Conflict(f"subject set {subject_set_id} is not classified on Zooniverse")
    return s.zooniverse_workflow_id


def consensus_subject(z: ZooniverseSubject, workflow_id: str) -> ConsensusSubject:
    """Stable per Zooniverse subject and workflow."""
    return ConsensusSubject(
        consensus_id=f"{PLATFORM}:{workflow_id}:{z.zooniverse_subject_id}",
        subject_id=z.zooniverse_subject_id,
        media_ids=[str(m) for m in z.frames()],
        project_id=str(z.project_id),
        subject_set_id=str(z.subject_set_id),
        workflow_id=workflow_id,
        platform=PLATFORM,
    )


async def store_export(
    session: AsyncSession,
    bus: ServiceBus,
    subject_set_id: uuid.UUID,
    export: Path,
    names: TaxonNames,
) -> PullReport:
    """Store the export's new classifications of the set's subjects and retire what they
    retire. Flushes, never commits: the caller's transaction holds the whole pull.

    Raises:
        NotFound, Conflict: see ``workflow_of``.
        ExportError: not a classification export (its line named); malformed rows are
            left out and counted in the report instead.
    """
    with export.open(encoding="utf-8", newline="") as lines:
        return await store_classifications(
            session,
            bus,
            subject_set_id,
            lambda workflow_id, skipped: read_classifications(
                lines, workflow_id=workflow_id, skipped=skipped
            ),
            names,
        )


async def store_classifications(
    session: AsyncSession,
    bus: ServiceBus,
    subject_set_id: uuid.UUID,
    read: Callable[[int, Skipped], Iterable[Classification]],
    names: TaxonNames,
) -> PullReport:
    """Store the new classifications of the set's subjects that ``read`` gives for the set's
    workflow (its id given; what it leaves out as malformed counted in the ``Skipped`` given),
    and retire what they retire. Flushes, never commits.

    Raises:
        NotFound, Conflict: see ``workflow_of``.
        ExportError: what ``read`` raises for input it cannot read at all.
    """
    s = await repository.subject_set_for_update(session, subject_set_id)
    workflow_id = workflow_of(s, subject_set_id)
    assert s is not None
    subjects = {
        z.zooniverse_subject_id: z
        for z in (await repository.sent_in_set(session, subject_set_id)).values()
    }
    known = await repository.stored_classification_ids(session, subject_set_id)
    report = PullReport()
    touched: dict[uuid.UUID, ZooniverseSubject] = {}
    batch: list[ZooniverseClassification] = []
    skipped = Skipped()
    for c in read(int(workflow_id), skipped):
        report.read += 1
        if c.classification_id in known:
            report.already += 1
            continue
        z = subjects.get(str(c.subject_id))
        if z is None:
            report.other_subjects += 1
            continue
        known.add(c.classification_id)
        said = answers_of(c, z, names)
        batch.append(
            ZooniverseClassification(
                zooniverse_classification_id=c.classification_id,
                subject_id=z.id,
                subject_set_id=subject_set_id,
                project_id=z.project_id,
                volunteer=_volunteer(c),
                workflow_version=c.workflow_version[:20],
                created_at=c.created_at,
                gold_standard=c.gold_standard,
                expert=c.expert,
                nothing_here=said.nothing_here,
                taxa=said.taxa,
                boxes=said.boxes,
            )
        )
        touched[z.id] = z
        if len(batch) >= BATCH:
            await repository.add_classifications(session, batch)
            report.stored += len(batch)
            batch = []
    await repository.add_classifications(session, batch)
    report.stored += len(batch)
    report.malformed, report.problems = skipped.count, skipped.first
    await _retire(session, bus, s, workflow_id, touched.values(), report)
    log.info(
        "zooniverse.pulled",
        subject_set=str(subject_set_id),
        read=report.read,
        stored=report.stored,
        retired=report.retired,
        updated=report.updated,
        malformed=report.malformed,
    )
    if skipped.count:
        log.warning(
            "zooniverse.malformed_left_out",
            subject_set=str(subject_set_id),
            count=skipped.count,
            first=skipped.first[:3],
        )
    return report


async def _retire(
    session: AsyncSession,
    bus: ServiceBus,
    s: SubjectSet,
    workflow_id: str,
    touched: Iterable[ZooniverseSubject],
    report: PullReport,
) -> None:
    """Each subject that got classifications: retired by the set's rules as they came, or
    its consensus updated when it had retired before (not when an expert retired it or it
    was withdrawn for people)."""
    rules = rules_of(s)
    events = []
    for z in touched:
        # Read again under a lock: an expert's validation or a person labelled may have
        # retired it while the export was read, and their word stands.
        await session.refresh(z, with_for_update=True)
        if z.retirement_reason in (EXPERT, PEOPLE):
            continue
        classifications = await repository.classifications_of(session, z.id)
        if z.retired_at is None:
            reason = retirement(rules, classifications)
            if reason is None:
                continue
            z.retired_at = utcnow()
            z.retirement_reason = reason.value
            report.retired += 1
        else:
            reason = RetirementReason(z.retirement_reason or "")
            report.updated += 1
        z.consensus_version += 1
        z.updated_at = utcnow()
        session.add(z)
        events.append(
            build_consensus(
                consensus_subject(z, workflow_id),
                classifications,
                reason,
                z.consensus_version,
                z.retired_at,
            )
        )
    await session.flush()
    await bus.stage(session, events)
