"""Sending a subject set's media to Zooniverse, retiring them there, pulling what volunteers
said (``pull``).

Each step is a call to Zooniverse that no rollback can take back, so these functions commit
their own progress, step by step, rather than flushing into a caller's transaction.

Sending is resumable and idempotent: each medium's progress is committed as it goes
(``created`` → ``uploaded`` → ``linked``), so a run that stops halfway (a 504, a restart)
is finished by the next one, which sends only what is missing. A subject Panoptes made whose
image never arrived is deleted there and the medium sent again; no medium becomes two
subjects of the set.

What leaves: the medium's GPS-free display copy, as bytes Panoptes stores itself (never a
link into our storage), and metadata that names no place: the medium's id and capture time,
in fields hidden from volunteers (Zooniverse hides names starting with ``#``).
"""

from __future__ import annotations

import io
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import structlog
from PIL import Image, UnidentifiedImageError
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.citsci.models import SubjectSet, ZooniverseSubject
from wildlens.citsci.zooniverse import repository
from wildlens.citsci.zooniverse.answers import TaxonNames
from wildlens.citsci.zooniverse.gateway import Zooniverse, ZooniverseError
from wildlens.citsci.zooniverse.pull import (
    PullReport,
    store_classifications,
    store_export,
    workflow_of,
)
from wildlens.citsci.zooniverse.recent import latest_id, read_recent
from wildlens.citsci.zooniverse.retirement import PEOPLE, retire_pending
from wildlens.common.db import Database, utcnow
from wildlens.common.errors import Conflict, NotFound
from wildlens.common.service import ServiceBus
from wildlens.common.storage import ObjectNotFound, ObjectStore
from wildlens.common.storage.layout import display_key

__all__ = [
    "MEDIA_IDS_FIELD",
    "MEDIA_ID_FIELD",
    "DisplayCopies",
    "Pulled",
    "SendReport",
    "SubjectMedium",
    "SubjectToSend",
    "display_copies",
    "media_of_subjects",
    "pull",
    "pull_classification_export",
    "retire",
    "send",
    "subject_set",
    "withdraw_people",
]

log = structlog.get_logger(__name__)

# The hidden metadata field that names the medium a subject shows: classification exports
# carry it back in ``subject_data``.
MEDIA_ID_FIELD = "#wildlens_media_id"
# For a subject of several media: all of them, in the order of its locations.
MEDIA_IDS_FIELD = "#wildlens_media_ids"
# Subjects linked to the set per call.
LINK_BATCH = 100
DISPLAY_TYPE = "image/jpeg"


@dataclass(frozen=True, slots=True)
class SubjectMedium:
    """A medium to show volunteers: what finds its display copy, and when it was taken."""

    media_id: uuid.UUID
    sha256: str
    captured_at: datetime | None = None


# Reads a medium's display copy; ObjectNotFound while it is not made yet.
DisplayCopies = Callable[[SubjectMedium], Awaitable[bytes]]


@dataclass
class SendReport:
    sent: int = 0
    already: int = 0
    # (medium, why) of the media this run could not send; the next run tries them again.
    failed: list[tuple[uuid.UUID, str]] = field(default_factory=list)


async def subject_set(session: AsyncSession, subject_set_id: uuid.UUID) -> SubjectSet | None:
    return await repository.subject_set(session, subject_set_id)


def display_copies(store: ObjectStore) -> DisplayCopies:
    """The display copies ingest made, GPS-free, from the shared object store."""

    async def read(medium: SubjectMedium) -> bytes:
        return await store.get_bytes(display_key(medium.sha256))

    return read


# A subject to send: one medium, or the media it shows in order (an event's pictures, a
# video clip's frames), the first naming it.
SubjectToSend = SubjectMedium | Sequence[SubjectMedium]


def _frames(subject: SubjectToSend) -> list[SubjectMedium]:
    return [subject] if isinstance(subject, SubjectMedium) else list(subject)


async def send(
    db: Database,
    zooniverse: Zooniverse,
    subject_set_id: uuid.UUID,
    subjects: Sequence[SubjectToSend],
    display: DisplayCopies,
) -> SendReport:
    """Send the subjects to the subject set's Zooniverse subject set (made, and linked to its
    workflow, the first time), each with all its images; what was sent before is left as it
    is. A subject is named by its first medium in reports.

    Raises:
        NotFound: no such subject set.
        Conflict: the set does not go to Zooniverse, or names no Zooniverse project or
            workflow.
        ZooniverseError: Zooniverse refused or could not be reached (what was sent before
            stays sent).
    """
    remote_set = await _remote_set(db, zooniverse, subject_set_id)
    s, remote_id = remote_set
    async with db.transaction() as session:
        sent = await repository.sent_in_set(session, subject_set_id)
    # Every medium a sent subject shows, whichever frame it is.
    held = {m: row for row in sent.values() for m in row.frames()}
    report = SendReport()
    to_link = [r.zooniverse_subject_id for r in sent.values() if r.state == "uploaded"]
    for subject in subjects:
        frames = _frames(subject)
        if not frames:
            continue
        key = frames[0].media_id
        before = next((held[f.media_id] for f in frames if f.media_id in held), None)
        if before is not None and before.state == "withdrawn":
            report.failed.append((key, "it was withdrawn: it shows people"))
            continue
        if before is not None and before.state in ("uploaded", "linked", "retired"):
            report.already += before.state != "uploaded"
            continue
        if before is not None:
            # Made there, some image perhaps never arrived: not shown half-made, made again.
            await zooniverse.delete_subject(before.zooniverse_subject_id)
            async with db.transaction() as session:
                await repository.forget_sent(session, before.id)
        try:
            images = [await display(f) for f in frames]
        except ObjectNotFound:
            why = "its display copy" if len(frames) == 1 else "a display copy of its media"
            report.failed.append((key, f"{why} is not made yet"))
            continue
        subject_id = await _send_one(db, zooniverse, s, frames, images)
        if subject_id is None:
            why = (
                "its image was not uploaded"
                if len(frames) == 1
                else "its images were not all uploaded"
            )
            report.failed.append((key, why))
            continue
        to_link.append(subject_id)
        report.sent += 1
        if len(to_link) >= LINK_BATCH:
            await _link(db, zooniverse, subject_set_id, remote_id, to_link)
            to_link = []
    if to_link:
        await _link(db, zooniverse, subject_set_id, remote_id, to_link)
    log.info(
        "zooniverse.sent",
        subject_set=str(subject_set_id),
        sent=report.sent,
        already=report.already,
        failed=len(report.failed),
    )
    return report


async def _remote_set(
    db: Database, zooniverse: Zooniverse, subject_set_id: uuid.UUID
) -> tuple[SubjectSet, str]:
    async with db.transaction() as session:
        s = await repository.subject_set(session, subject_set_id)
        if s is None:
            raise NotFound(f"subject set {subject_set_id} not found")
        if s.destination != "zooniverse":
            raise Conflict(f"subject set {subject_set_id} goes to {s.destination}, not Zooniverse")
        if not (s.zooniverse_project_id and s.zooniverse_workflow_id):
            raise Conflict(f"subject set {subject_set_id} names no Zooniverse project and workflow")
        if s.zooniverse_subject_set_id:
            return s, s.zooniverse_subject_set_id
        project_id, workflow_id = s.zooniverse_project_id, s.zooniverse_workflow_id
    remote_id = await zooniverse.create_subject_set(project_id, s.name)
    await zooniverse.link_to_workflow(workflow_id, remote_id)
    async with db.transaction() as session:
        found = await repository.subject_set(session, subject_set_id)
        assert found is not None
        found.zooniverse_subject_set_id = remote_id
        session.add(found)
        s = found
    return s, remote_id


async def _send_one(
    db: Database,
    zooniverse: Zooniverse,
    s: SubjectSet,
    frames: list[SubjectMedium],
    images: list[bytes],
) -> str | None:
    """The subject made and every image uploaded, in order; None when an upload failed (the
    subject stays ``created``, deleted and made again whole by the next run: Panoptes signs
    each location's URL once, when it makes the subject)."""
    assert s.zooniverse_project_id is not None
    first = frames[0]
    metadata = {MEDIA_ID_FIELD: str(first.media_id)}
    if len(frames) > 1:
        metadata[MEDIA_IDS_FIELD] = " ".join(str(f.media_id) for f in frames)
    if first.captured_at is not None:
        metadata["#captured_at"] = first.captured_at.isoformat()
    subject = await zooniverse.create_subject(
        s.zooniverse_project_id, metadata, [DISPLAY_TYPE] * len(frames)
    )
    width, height = _size(images[0])
    async with db.transaction() as session:
        await repository.add_sent(
            session,
            ZooniverseSubject(
                subject_set_id=s.id,
                project_id=s.project_id,
                media_id=first.media_id,
                media_ids=[str(f.media_id) for f in frames] if len(frames) > 1 else None,
                zooniverse_subject_id=subject.id,
                width=width,
                height=height,
            ),
        )
    for n, image in enumerate(images):
        try:
            await zooniverse.upload(subject, n, image, DISPLAY_TYPE)
        except ZooniverseError as e:
            log.warning(
                "zooniverse.upload_failed", media=str(frames[n].media_id), frame=n, error=str(e)
            )
            return None
    async with db.transaction() as session:
        await repository.set_state(session, s.id, [subject.id], "uploaded")
    return subject.id


def _size(image: bytes) -> tuple[int | None, int | None]:
    """The display copy's pixels (volunteers' boxes are drawn in them), from its header."""
    try:
        with Image.open(io.BytesIO(image)) as opened:
            return opened.size
    except (UnidentifiedImageError, OSError):
        return None, None


async def _link(
    db: Database,
    zooniverse: Zooniverse,
    subject_set_id: uuid.UUID,
    remote_id: str,
    subject_ids: list[str],
) -> None:
    await zooniverse.add_subjects(remote_id, subject_ids)
    async with db.transaction() as session:
        await repository.set_state(session, subject_set_id, subject_ids, "linked")


async def retire(
    db: Database,
    zooniverse: Zooniverse,
    subject_set_id: uuid.UUID,
    media_ids: Sequence[uuid.UUID],
    reason: str,
) -> int:
    """Retire the subjects showing the media in the set's workflow (Wildlens retired them:
    consensus, or an expert validated them); answers how many. Media never sent are left
    out."""
    async with db.transaction() as session:
        s = await repository.subject_set(session, subject_set_id)
        if s is None:
            raise NotFound(f"subject set {subject_set_id} not found")
        sent = await repository.sent_in_set(session, subject_set_id)
    wanted = set(media_ids)
    subject_ids = [
        r.zooniverse_subject_id
        for r in sent.values()
        if r.state == "linked" and wanted.intersection(r.frames())
    ]
    if not subject_ids or not s.zooniverse_workflow_id:
        return 0
    await zooniverse.retire(s.zooniverse_workflow_id, subject_ids, reason)
    async with db.transaction() as session:
        await repository.set_state(session, subject_set_id, subject_ids, "retired")
    return len(subject_ids)


async def pull_classification_export(
    db: Database, zooniverse: Zooniverse, subject_set_id: uuid.UUID, path: Path, *, generate: bool
) -> int:
    """Write the set's workflow's classification export to ``path``; answers its size."""
    async with db.transaction() as session:
        s = await repository.subject_set(session, subject_set_id)
    if s is None:
        raise NotFound(f"subject set {subject_set_id} not found")
    if not s.zooniverse_workflow_id:
        raise Conflict(f"subject set {subject_set_id} names no Zooniverse workflow")
    return await zooniverse.classification_export(s.zooniverse_workflow_id, path, generate=generate)


@dataclass(frozen=True, slots=True)
class Pulled:
    report: PullReport
    # Subjects whose retirement reached Zooniverse in this call; those still waiting.
    retired_on_zooniverse: int
    retirement_waiting: int


async def pull(
    db: Database,
    bus: ServiceBus,
    zooniverse: Zooniverse,
    subject_set_id: uuid.UUID,
    names: TaxonNames,
    *,
    generate: bool,
    recent: bool = False,
) -> Pulled:
    """Pull the set's workflow's classification export (a fresh one with ``generate``) into
    a file of its own, or with ``recent`` the classifications Panoptes' API lists after the
    newest one stored; store what is new in one transaction (see ``pull``), then retire on
    Zooniverse every subject of the set Wildlens retired.

    Raises:
        NotFound, Conflict: no such set, or it is not classified on Zooniverse.
        ExportError: the export is not readable at all (nothing stored); malformed
            classifications are left out and counted in the report.
        ZooniverseError: Zooniverse refused or could not be reached.
    """
    async with db.transaction() as session:
        s = await repository.subject_set(session, subject_set_id)
        workflow_of(s, subject_set_id)
        assert s is not None
        stored = await repository.stored_classification_ids(session, subject_set_id)
    if recent:
        if not s.zooniverse_project_id:
            raise Conflict(f"subject set {subject_set_id} names no Zooniverse project")
        listed = await zooniverse.classifications_since(s.zooniverse_project_id, latest_id(stored))
        async with db.transaction() as session:
            report = await store_classifications(
                session,
                bus,
                subject_set_id,
                lambda workflow_id, skipped: read_recent(listed, workflow_id, skipped),
                names,
            )
    else:
        with tempfile.TemporaryDirectory(prefix="zooniverse-export-") as folder:
            path = Path(folder) / "classifications.csv"
            await pull_classification_export(
                db, zooniverse, subject_set_id, path, generate=generate
            )
            async with db.transaction() as session:
                report = await store_export(session, bus, subject_set_id, path, names)
    retired, waiting = await retire_pending(db, zooniverse, [subject_set_id])
    return Pulled(report, retired, waiting)


async def media_of_subjects(
    db: Database, subject_set_id: uuid.UUID, subject_ids: Sequence[str]
) -> dict[str, uuid.UUID]:
    """Which medium each of the set's Zooniverse subjects shows (those it knows)."""
    async with db.transaction() as session:
        return await repository.media_of_subjects(session, subject_set_id, subject_ids)


async def withdraw_people(session: AsyncSession, project_id: uuid.UUID, media_id: uuid.UUID) -> int:
    """People were labelled on the medium and the project hides them: it is never sent or
    linked again, and its subjects volunteers may still be shown on Zooniverse retire there
    (in the caller's transaction; ``retirement.retire_pending`` tells Zooniverse once it
    commits, and again until Zooniverse takes it). Answers how many wait to be told."""
    rows = await repository.sent_of_medium(session, project_id, media_id)
    pending = changed = 0
    for row, workflow_id in rows:
        if row.state == "linked" and workflow_id:
            if row.retired_at is None:
                row.retired_at = utcnow()
                row.retirement_reason = PEOPLE
                pending += 1
                changed += 1
        elif row.state in ("created", "uploaded"):
            # Not in a workflow yet: a resumed send must not link it.
            row.state = "withdrawn"
            changed += 1
        session.add(row)
    await session.flush()
    if changed:
        log.info("zooniverse.withdrawn", media=str(media_id), subjects=changed)
    return pending
