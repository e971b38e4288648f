"""``citsci.consensus`` written back: what a retired subject's volunteers agreed on becomes
human observations classified by volunteer consensus.

Each medium of the subject gets one observation per consensus label (one ``blank`` where the
volunteers said nothing is there), ``classification_method`` human as Camtrap DP records
any person's label, ``classified_by`` ``volunteers:<platform>[:<subject set>]`` and the
label's agreement as its ``confidence`` (Camtrap DP's classificationProbability: "the level of
agreement among volunteers"). It stays ``predicted``: a second opinion for the review queue,
not an expert's verdict. Where it came from (subject, workflow, votes, evenness, blanks, the
volunteers' boxes) is kept beside it in ``volunteer_consensus``.

A consensus is idempotent on its ``consensus_id``: a later version rewrites the observations
an earlier one wrote (each change in their history, as a person's correction is), a repeated
or older version changes nothing. An observation an expert has since validated, doubted or
corrected keeps the expert's word. Every medium whose labels changed is announced as
``observations.changed`` with the volunteer-consensus cause, which citsci ignores.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import VOLUNTEERS_PREFIX, Media, Observation, VolunteerConsensus
from wildlens.catalogue.observations import repository
from wildlens.catalogue.observations.announcements import (
    ChangeCause,
    stage_observations_changed,
)
from wildlens.catalogue.observations.smoothing import smooth_events_of
from wildlens.catalogue.observations.verification import apply_to
from wildlens.common.db import utcnow
from wildlens.common.events.v1.citsci_pb2 import CitsciConsensus, ConsensusBox, ConsensusLabel
from wildlens.common.service import ServiceBus

__all__ = ["store_consensus"]

log = structlog.get_logger(__name__)

# Choices volunteers make when nothing is there (Zooniverse's "Nothing here" among them).
_BLANK_CHOICES = {"", "blank", "nothing here", "nothinghere", "nothing_here", "none", "empty"}
_TYPES = {"human": "human", "person": "human", "vehicle": "vehicle"}


@dataclass(frozen=True)
class _Label:
    """What one consensus observation of one medium says."""

    observation_type: str
    scientific_name: str
    taxon_id: uuid.UUID | None
    count: int | None
    behavior: str
    agreement: float
    votes: int
    bbox: tuple[float, float, float, float] | None


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _classified_by(event: CitsciConsensus) -> str:
    platform = event.platform or "wildlens"
    return f"{VOLUNTEERS_PREFIX}{platform}" + (
        f":{event.subject_set_id}" if event.subject_set_id else ""
    )


def _box(
    boxes: list[ConsensusBox], media_id: uuid.UUID, name: str, only_medium: bool
) -> tuple[float, float, float, float] | None:
    """The best-supported volunteers' box of this medium for this label (or for none)."""
    fitting = [
        b
        for b in boxes
        if (b.media_id == str(media_id) or (not b.media_id and only_medium))
        and (not b.scientific_name or b.scientific_name == name)
    ]
    if not fitting:
        return None
    best = max(fitting, key=lambda b: b.votes)
    return (best.x, best.y, best.width, best.height)


async def _taxon(session: AsyncSession, label: ConsensusLabel) -> tuple[uuid.UUID | None, str]:
    """The label's taxon (the id citsci resolved, else its name in the tree) and name."""
    given = _uuid(label.taxon_id) if label.taxon_id else None
    if given is not None:
        taxon = await repository.get_taxon(session, given)
        if taxon is not None:
            return taxon.id, taxon.scientific_name
    if label.scientific_name:
        named = await repository.taxon_named(session, label.scientific_name)
        if named is not None:
            return named.id, named.scientific_name
    return None, label.scientific_name


async def _labels(
    session: AsyncSession, event: CitsciConsensus, media_id: uuid.UUID
) -> list[_Label]:
    only_medium = len(event.media_ids) == 1
    boxes = list(event.boxes)
    found: list[_Label] = []
    for label in event.labels:
        taxon_id, name = await _taxon(session, label)
        choice = label.choice.strip().lower()
        if name or taxon_id:
            kind = "animal"
        elif choice in _BLANK_CHOICES:
            kind = "blank"
        else:
            kind = _TYPES.get(choice, "unknown")
        found.append(
            _Label(
                observation_type=kind,
                scientific_name=name,
                taxon_id=taxon_id,
                count=label.count if label.HasField("count") and kind != "blank" else None,
                behavior="|".join(label.behaviours),
                agreement=float(label.agreement),
                votes=int(label.votes),
                bbox=_box(boxes, media_id, name, only_medium) if kind == "animal" else None,
            )
        )
    if not found:
        # Retired as blank: the volunteers agree nothing is there.
        found.append(_Label("blank", "", None, None, "", float(event.fraction_blank), 0, bbox=None))
    return found


def _provenance(
    row: VolunteerConsensus, event: CitsciConsensus, label: _Label, retired_at: datetime
) -> None:
    row.consensus_id = event.consensus_id
    row.version = event.version
    row.subject_id = event.subject_id
    row.workflow_id = event.workflow_id
    row.subject_set_id = event.subject_set_id
    row.platform = event.platform
    row.method = event.method
    row.votes = label.votes
    row.agreement = label.agreement
    row.classification_count = event.classification_count
    row.pielou_evenness = float(event.pielou_evenness)
    row.fraction_blank = float(event.fraction_blank)
    row.boxes = [_box_json(b) for b in event.boxes]
    row.retirement_reason = event.retirement_reason
    row.retired_at = retired_at


def _box_json(box: ConsensusBox) -> dict[str, Any]:
    return {
        "media_id": box.media_id or None,
        "bbox": [box.x, box.y, box.width, box.height],
        "scientific_name": box.scientific_name,
        "votes": box.votes,
    }


def _say(o: Observation, label: _Label, by: str, at: datetime) -> None:
    """Make ``o`` say what the consensus says (the fields the history tracks, and the rest)."""
    o.observation_type = label.observation_type
    o.category = (label.scientific_name or label.observation_type)[:50]
    o.scientific_name = label.scientific_name
    o.taxon_id = label.taxon_id
    o.count = label.count
    o.behavior = label.behavior
    o.classification_method = "human"
    o.classified_by = by
    o.classified_at = at
    o.classification_timestamp = at
    o.confidence = label.agreement
    o.classification_confidence = None
    o.verification_state = "predicted"
    box = label.bbox or (None, None, None, None)
    o.bbox_x, o.bbox_y, o.bbox_width, o.bbox_height = box


def _judged(o: Observation) -> bool:
    """An expert has had their say on it since: their word stands."""
    return bool(o.verified_by) or not o.classified_by.startswith(VOLUNTEERS_PREFIX)


async def store_consensus(session: AsyncSession, bus: ServiceBus, event: CitsciConsensus) -> int:
    """Write the consensus back; answers how many observations it added or changed."""
    project_id = _uuid(event.project_id)
    if project_id is None or not event.consensus_id:
        log.warning("consensus.refused", consensus_id=event.consensus_id, reason="no project or id")
        return 0
    earlier = await repository.consensus_observations(session, project_id, event.consensus_id)
    if earlier and max(c.version for c, _ in earlier) >= event.version:
        # Delivered again, or overtaken by a later version: already written.
        return 0
    wanted = {m for m in (_uuid(i) for i in event.media_ids) if m is not None}
    media = [
        m for m in await repository.media_by_ids(session, wanted) if m.project_id == project_id
    ]
    if len(media) < len(wanted):
        log.warning(
            "consensus.media_missing",
            consensus_id=event.consensus_id,
            missing=sorted(str(m) for m in wanted - {m.id for m in media}),
        )
    by = _classified_by(event)
    retired_at = (
        event.retired_at.ToDatetime(tzinfo=UTC) if event.HasField("retired_at") else utcnow()
    )
    left: dict[uuid.UUID, list[tuple[VolunteerConsensus, Observation]]] = {}
    for row, o in earlier:
        left.setdefault(o.media_id or uuid.UUID(int=0), []).append((row, o))
    written = 0
    for medium in sorted(media, key=lambda m: str(m.id)):
        olds = left.pop(medium.id, [])
        for label in await _labels(session, event, medium.id):
            match = next(
                (
                    pair
                    for pair in olds
                    if (pair[1].observation_type, pair[1].scientific_name)
                    == (label.observation_type, label.scientific_name)
                ),
                olds[0] if olds else None,
            )
            if match is None:
                written += await _add(session, medium, label, event, by, retired_at)
                continue
            olds.remove(match)
            written += await _update(session, match, label, event, by, retired_at)
        for pair in olds:
            written += await _withdraw(session, pair, event, by)
    for pairs in left.values():
        # Media an earlier version named and this one does not.
        for pair in pairs:
            written += await _withdraw(session, pair, event, by)
    await session.flush()
    if written:
        changed = {m.id for m in media} | {o.media_id for _, o in earlier if o.media_id}
        await smooth_events_of(session, await repository.media_by_ids(session, changed))
        await stage_observations_changed(
            session,
            bus,
            changed,
            ChangeCause.CHANGE_CAUSE_VOLUNTEER_CONSENSUS,
            changed_by=by,
            consensus_id=event.consensus_id,
        )
    return written


async def _add(
    session: AsyncSession,
    medium: Media,
    label: _Label,
    event: CitsciConsensus,
    by: str,
    at: datetime,
) -> int:
    o = Observation(
        project_id=medium.project_id,
        media_id=medium.id,
        deployment_id=medium.deployment_id,
        observation_level="media",
        observation_type=label.observation_type,
        category="",
        event_start=medium.captured_at,
        event_end=medium.captured_at,
    )
    _say(o, label, by, at)
    session.add(o)
    await session.flush()
    row = VolunteerConsensus(
        observation_id=o.id,
        project_id=o.project_id,
        consensus_id=event.consensus_id,
        version=event.version,
        subject_id=event.subject_id,
    )
    _provenance(row, event, label, at)
    session.add(row)
    return 1


async def _update(
    session: AsyncSession,
    pair: tuple[VolunteerConsensus, Observation],
    label: _Label,
    event: CitsciConsensus,
    by: str,
    at: datetime,
) -> int:
    row, o = pair
    _provenance(row, event, label, at)
    session.add(row)
    if _judged(o):
        return 0

    def change(target: Observation, _actor: str, _now: datetime) -> None:
        _say(target, label, by, at)

    await apply_to(session, [o], "consensus", change, by)
    session.add(o)
    return 1


async def _withdraw(
    session: AsyncSession,
    pair: tuple[VolunteerConsensus, Observation],
    event: CitsciConsensus,
    by: str,
) -> int:
    """An earlier version's label this one no longer gives: discarded, unless an expert
    has taken it over."""
    row, o = pair
    row.version = event.version
    session.add(row)
    if _judged(o) or o.verification_state == "discarded":
        return 0

    def change(target: Observation, _actor: str, _now: datetime) -> None:
        target.verification_state = "discarded"

    await apply_to(session, [o], "consensus", change, by)
    return 1
