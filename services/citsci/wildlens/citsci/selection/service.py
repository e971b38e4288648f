"""Selection policies read and set, and selecting a subject set's subjects by its project's
policy: the catalogue's candidates weighed in the review queue's order until enough subjects
are chosen, made through the built-in volunteers' code path or sent through Zooniverse's.

Never chosen: media an expert validated (the catalogue's candidates are unverified media
only), media the set holds already, blanks the detector is sure of, and, where the project
hides people, media with people (skipped, each with the reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SelectionPolicy, SubjectSet
from wildlens.citsci.people import PEOPLE_REASON
from wildlens.citsci.selection import repository
from wildlens.citsci.selection.catalogue import candidates
from wildlens.citsci.selection.policy import reasons_for, shape
from wildlens.citsci.selection.schemas import (
    ChosenSubject,
    SelectionPolicyIn,
    SelectionPolicyPublic,
    Skipped,
)
from wildlens.citsci.settings import ZooniverseSettings
from wildlens.citsci.volunteers import service as volunteers
from wildlens.citsci.volunteers.catalogue import subject_media
from wildlens.citsci.volunteers.schemas import ClipIn
from wildlens.citsci.zooniverse import service as zooniverse
from wildlens.citsci.zooniverse.catalogue import project_media
from wildlens.citsci.zooniverse.gateway import Zooniverse
from wildlens.citsci.zooniverse.people import withdraw_hidden_people
from wildlens.common.db import Database, utcnow
from wildlens.common.errors import NotFound
from wildlens.common.storage import ObjectStore

__all__ = [
    "MAX_SCANNED",
    "Selection",
    "choose",
    "find_set",
    "make_builtin",
    "policy_of",
    "send_to_zooniverse",
    "set_policy",
]

log = structlog.get_logger(__name__)

# Candidates weighed per call at most: a project's whole queue is not walked for one call.
MAX_SCANNED = 5000


async def find_set(session: AsyncSession, subject_set_id: uuid.UUID) -> SubjectSet:
    """Raises NotFound."""
    s = await repository.subject_set(session, subject_set_id)
    if s is None:
        raise NotFound("subject set not found")
    return s


async def policy_of(session: AsyncSession, project_id: uuid.UUID) -> SelectionPolicyPublic:
    """The project's policy; the defaults where none was set."""
    row = await repository.policy(session, project_id)
    if row is None:
        return SelectionPolicyPublic(project_id=project_id)
    return SelectionPolicyPublic(
        **SelectionPolicyIn.model_validate(row.policy).model_dump(),
        project_id=project_id,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )


async def set_policy(
    session: AsyncSession, project_id: uuid.UUID, policy: SelectionPolicyIn, *, by: str
) -> SelectionPolicyPublic:
    row = SelectionPolicy(
        project_id=project_id, policy=policy.model_dump(), updated_by=by, updated_at=utcnow()
    )
    await repository.put_policy(session, row)
    return await policy_of(session, project_id)


@dataclass
class Selection:
    subjects: list[ChosenSubject] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    scanned: int = 0


async def choose(
    session: AsyncSession,
    client: Callable[[], httpx.AsyncClient],
    s: SubjectSet,
    policy: SelectionPolicyIn,
    limit: int,
) -> Selection:
    """Up to ``limit`` subjects for the set by the policy, each with why; nothing is made.

    A subject shows an event's pictures or a video clip's frames together (where the policy
    groups events), in a built-in set and on Zooniverse alike.

    Raises:
        Unavailable: the catalogue did not answer.
    """
    taken = await repository.media_in_set(session, s.id)
    found = Selection()
    async for c in candidates(client, s.project_id):
        if found.scanned >= MAX_SCANNED or len(found.subjects) >= limit:
            break
        found.scanned += 1
        media_id = uuid.UUID(str(c["media_id"]))
        if media_id in taken:
            continue
        reasons = reasons_for(c, policy)
        if not reasons:
            continue
        if c.get("people_hidden"):
            found.skipped.append(Skipped(media_id=media_id, reason=PEOPLE_REASON))
            continue
        shaped = shape(c, policy, taken)
        if shaped is None:
            why = (
                "nothing left to show: a video without frames, or its pictures are taken or "
                "show people"
            )
            found.skipped.append(Skipped(media_id=media_id, reason=why))
            continue
        found.skipped.extend(Skipped(media_id=m, reason=PEOPLE_REASON) for m in shaped.left_out)
        taken |= set(shaped.media_ids) | {media_id}
        found.subjects.append(
            ChosenSubject(
                media_ids=shaped.media_ids,
                chosen_media_id=media_id,
                reasons=reasons,
                clip=shaped.clip,
            )
        )
    log.info(
        "selection.chosen",
        subject_set=str(s.id),
        subjects=len(found.subjects),
        skipped=len(found.skipped),
        scanned=found.scanned,
    )
    return found


async def make_builtin(
    session: AsyncSession,
    client: Callable[[], httpx.AsyncClient],
    s: SubjectSet,
    found: Selection,
    *,
    created_by: str,
) -> None:
    """The chosen subjects made in the built-in set, as ``POST .../subjects`` makes them
    (checked against the catalogue again, gold standard where an expert validated every
    medium); each chosen subject is given its subject's id.

    Raises:
        Invalid: a medium changed since it was chosen (people labelled on it, say).
        Unavailable: the catalogue did not answer.
    """
    media = await subject_media(client, s.project_id, [x.media_ids for x in found.subjects])
    clips = [ClipIn.model_validate(x.clip.model_dump()) if x.clip else None for x in found.subjects]
    made, _ = await volunteers.make_subjects(session, s, media, created_by=created_by, clips=clips)
    by_media = {tuple(uuid.UUID(m) for m in x.media_ids): x.id for x in made}
    for chosen in found.subjects:
        chosen.subject_id = by_media.get(tuple(chosen.media_ids))


async def send_to_zooniverse(
    database: Database,
    settings: ZooniverseSettings,
    store: ObjectStore,
    client: Callable[[], httpx.AsyncClient],
    s: SubjectSet,
    found: Selection,
) -> zooniverse.SendReport:
    """The chosen subjects sent to the set's Zooniverse workflow, each with all its images
    in order, as ``.../zooniverse/send`` sends single images (the caller has committed what
    it read: sending commits as it goes).

    Raises:
        Invalid: a medium changed since it was chosen (people labelled on it, say).
        Unavailable: the catalogue did not answer.
        ZooniverseError: Zooniverse refused or could not be reached.
    """
    media_ids = [m for x in found.subjects for m in x.media_ids]
    gateway = Zooniverse(settings)
    # Subjects sent before the project hid people go first.
    await withdraw_hidden_people(database, client, s.project_id, gateway)
    sendable = iter(await project_media(client, s.project_id, media_ids))
    subjects = [[next(sendable) for _ in x.media_ids] for x in found.subjects]
    return await zooniverse.send(
        database, gateway, s.id, subjects, zooniverse.display_copies(store)
    )
