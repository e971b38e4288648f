"""The built-in volunteers' rules: subjects made from the catalogue's media, the next subject
for a volunteer (gold standard mixed in), one classification per volunteer per subject,
retirement by the set's rules as classifications arrive, the consensus staged in the outbox,
and subjects an expert validated taken away from volunteers.

Flushes, never commits: routes and consumers own the transaction.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SubjectSet, VolunteerClassification, VolunteerSubject
from wildlens.citsci.volunteers import repository
from wildlens.citsci.volunteers.catalogue import CatalogueMedium
from wildlens.citsci.volunteers.consensus import (
    build_consensus,
    builtin_subject,
    names_of,
    retirement,
    rules_of,
)
from wildlens.citsci.volunteers.schemas import ClassificationCreate, ClipIn
from wildlens.citsci.volunteers.skill import estimate_skill, vote
from wildlens.common.db import utcnow
from wildlens.common.errors import Conflict, FieldError, Invalid, NotFound
from wildlens.common.service import ServiceBus

__all__ = [
    "Progress",
    "Stats",
    "classify",
    "expert_validated",
    "find_set",
    "make_subjects",
    "next_subject",
    "progress",
    "stats",
    "subject",
    "withdraw",
    "withdraw_people",
]

log = structlog.get_logger(__name__)


async def find_set(session: AsyncSession, subject_set_id: uuid.UUID) -> SubjectSet:
    """Raises NotFound."""
    s = await repository.subject_set(session, subject_set_id)
    if s is None:
        raise NotFound("subject set not found")
    return s


def require_builtin(s: SubjectSet) -> None:
    if s.destination != "builtin":
        raise Conflict(
            f"subject set {s.id} goes to {s.destination}: its subjects are sent there, not "
            "made here"
        )


async def subject(session: AsyncSession, subject_id: uuid.UUID) -> VolunteerSubject:
    found = await repository.subject(session, subject_id)
    if found is None:
        raise NotFound("subject not found")
    return found


async def make_subjects(
    session: AsyncSession,
    s: SubjectSet,
    subjects: Sequence[Sequence[CatalogueMedium]],
    *,
    created_by: str,
    clips: Sequence[ClipIn | None] | None = None,
) -> tuple[list[VolunteerSubject], int]:
    """New subjects in the set; one the set holds already (same media, same order) is left
    as it is. Media an expert validated make gold-standard subjects. ``clips``: for each
    subject, the part of a video its frames span (None: not a clip). Answers the new ones
    and how many were there already."""
    require_builtin(s)
    held = {tuple(x.media_ids) for x in await repository.subjects_in_set(session, s.id)}
    made: list[VolunteerSubject] = []
    already = 0
    for media, clip in zip(subjects, clips or [None] * len(subjects), strict=True):
        key = tuple(str(m.media_id) for m in media)
        if key in held:
            already += 1
            continue
        held.add(key)
        experts = [m.expert_names for m in media]
        gold = all(e is not None for e in experts)
        made.append(
            VolunteerSubject(
                subject_set_id=s.id,
                project_id=s.project_id,
                media_ids=list(key),
                sha256s=[m.sha256 for m in media],
                state="gold" if gold else "active",
                expert_names=sorted({n for e in experts for n in e or ()}) if gold else [],
                video_media_id=clip.video_media_id if clip else None,
                clip_start_s=clip.start_s if clip else None,
                clip_end_s=clip.end_s if clip else None,
                created_by=created_by,
            )
        )
    await repository.add(session, made)
    return made, already


async def next_subject(
    session: AsyncSession, project_id: uuid.UUID, volunteer: str, gold_rate: float
) -> VolunteerSubject | None:
    """The next subject for the volunteer: a gold-standard one at ``gold_rate``, else the
    oldest active one they have not classified (a gold one when none is left waits)."""
    if gold_rate > 0 and random.random() < gold_rate:
        gold = await repository.next_subject(session, project_id, volunteer, "gold")
        if gold is not None:
            return gold
    return await repository.next_subject(session, project_id, volunteer, "active")


def _check_taxa(data: ClassificationCreate, expected: Mapping[str, uuid.UUID]) -> None:
    """Each taxon named is on the project's list (its id filled in from there)."""
    wrong = []
    for i, t in enumerate(data.taxa):
        taxon_id = expected.get(t.scientific_name.casefold())
        if taxon_id is None or (t.taxon_id is not None and t.taxon_id != taxon_id):
            wrong.append(
                FieldError(
                    location=["body", "taxa", i, "scientific_name"],
                    message=f"{t.scientific_name!r} is not on the project's list of taxa",
                    type="not_found",
                )
            )
        else:
            t.taxon_id = taxon_id
    if wrong:
        raise Invalid("volunteers choose taxa from the project's list", fields=wrong)


@dataclass(frozen=True)
class Classified:
    classification: VolunteerClassification
    subject: VolunteerSubject
    retired: bool


async def classify(
    session: AsyncSession,
    bus: ServiceBus,
    subject_id: uuid.UUID,
    volunteer: str,
    data: ClassificationCreate,
    expected: Mapping[str, uuid.UUID] | None = None,
    *,
    skill_window: int | None = None,
) -> Classified:
    """Store the volunteer's classification; when it retires the subject by its set's rules,
    stage the consensus in the outbox. A Dawid-Skene set's consensus weighs volunteers by
    the skill estimated from the project's ``skill_window`` most recent classifications
    (all without it) plus every gold-standard one and the subject's own.

    Raises:
        NotFound: no such subject.
        Conflict: the volunteer classified it already, or it has retired.
        Invalid: a box is on a medium the subject does not show, or a taxon is not one
            ``expected`` (the project's list, by lower-case name; None or empty: any).
    """
    s = await repository.subject_for_update(session, subject_id)
    if s is None:
        raise NotFound("subject not found")
    if s.state == "retired":
        raise Conflict("the subject has retired: ask for the next one")
    if await repository.classification_of(session, subject_id, volunteer) is not None:
        raise Conflict("you have classified this subject already")
    if expected:
        _check_taxa(data, expected)
    shown = set(s.media_ids)
    wrong = [
        FieldError(
            location=["body", "boxes", i, "media_id"],
            message=f"medium {b.media_id} is not in the subject",
            type="not_found",
        )
        for i, b in enumerate(data.boxes)
        if str(b.media_id) not in shown
    ]
    if wrong:
        raise Invalid("boxes must be on the subject's media", fields=wrong)
    c = VolunteerClassification(
        subject_id=s.id,
        project_id=s.project_id,
        volunteer=volunteer,
        nothing_here=data.nothing_here,
        taxa=[t.model_dump(mode="json") for t in data.taxa],
        boxes=[b.model_dump(mode="json") for b in data.boxes],
    )
    await repository.add(session, [c])
    if s.state != "active":
        # A gold-standard subject measures the volunteer; the expert has decided it.
        return Classified(c, s, retired=False)
    subject_set = await repository.subject_set(session, s.subject_set_id)
    assert subject_set is not None
    classifications = await repository.classifications_of(session, s.id)
    reason = retirement(rules_of(subject_set), classifications)
    if reason is None:
        return Classified(c, s, retired=False)
    weighted = None
    if subject_set.consensus_method == "dawid_skene":
        rows = await repository.project_votes(
            session, s.project_id, recent=skill_window, subject_id=s.id
        )
        model = estimate_skill([vote(*r) for r in rows])
        weighted = model.chosen.get(s.id) if model is not None else None
    s.state = "retired"
    s.retired_at = utcnow()
    s.retirement_reason = reason.value
    s.consensus_version += 1
    event = build_consensus(
        builtin_subject(s),
        classifications,
        reason,
        s.consensus_version,
        s.retired_at,
        weighted=weighted,
    )
    s.consensus_names = sorted(label.scientific_name for label in event.labels)
    s.consensus_method = event.method
    session.add(s)
    await session.flush()
    await bus.stage(session, [event])
    log.info(
        "volunteers.retired",
        subject=str(s.id),
        reason=reason.value,
        classifications=len(classifications),
        consensus=event.consensus_id,
        method=event.method,
    )
    return Classified(c, s, retired=True)


async def expert_validated(
    session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID, names: Sequence[str]
) -> int:
    """An expert judged the medium: its subjects still waiting for volunteers stop going to
    them and become gold standard, measured against what the expert said. Answers how many."""
    subjects = await repository.subjects_showing(session, project_id, media_id)
    for s in subjects:
        s.state = "gold"
        s.expert_names = sorted(set(names))
        session.add(s)
    await session.flush()
    return len(subjects)


async def withdraw_people(session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID) -> int:
    """People were labelled on the medium and the project hides them: its subjects still
    shown to volunteers (waiting, or gold standard) go to nobody any more. Answers how many."""
    subjects = await repository.subjects_showing(
        session, project_id, media_id, states=("active", "gold")
    )
    await withdraw(session, subjects)
    if subjects:
        log.info("volunteers.withdrawn", media=str(media_id), subjects=len(subjects))
    return len(subjects)


async def withdraw(session: AsyncSession, subjects: Sequence[VolunteerSubject]) -> None:
    """The subjects show people the project hides: they go to nobody any more."""
    for x in subjects:
        x.state = "withdrawn"
        x.retirement_reason = "people"
        x.retired_at = utcnow()
        session.add(x)
    await session.flush()


@dataclass(frozen=True)
class Stats:
    classifications: int
    retired_classified: int
    agreed: int
    gold_classified: int
    gold_correct: int


async def stats(session: AsyncSession, project_id: uuid.UUID, volunteer: str) -> Stats:
    """The volunteer's classifications in the project, against the consensus of the subjects
    that retired and against the expert on gold-standard ones."""
    rows = await repository.classified_by(session, project_id, volunteer)
    retired = [(c, s) for c, s in rows if s.state == "retired"]
    gold = [(c, s) for c, s in rows if s.state == "gold"]

    def same(c: VolunteerClassification, names: Sequence[str]) -> bool:
        said = {n.casefold() for n in names_of(c)}
        return said == {n.casefold() for n in names if n}

    return Stats(
        classifications=len(rows),
        retired_classified=len(retired),
        agreed=sum(same(c, s.consensus_names) for c, s in retired),
        gold_classified=len(gold),
        gold_correct=sum(same(c, s.expert_names) for c, s in gold),
    )


@dataclass(frozen=True)
class Progress:
    active: int
    retired: int
    gold: int
    classifications: int
    volunteers: int


async def progress(session: AsyncSession, project_id: uuid.UUID) -> Progress:
    states, classifications, volunteers = await repository.progress(session, project_id)
    return Progress(
        states.get("active", 0),
        states.get("retired", 0),
        states.get("gold", 0),
        classifications,
        volunteers,
    )
