"""``observations.changed``: a medium's current labels, staged in the outbox with the change
that made them, so citsci hears of every change that commits and of nothing else.

Each event carries the medium's whole current state (the labels ``observations.current``
picks, with their top-k, and whether a person has judged it), so the latest one a consumer
holds for a medium is enough, whatever order they arrive in. ``cause`` says what changed
them: a model, a person, or volunteers' consensus written back, which citsci, whose
consensus it was, ignores rather than send the medium round again.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.observations import repository
from wildlens.catalogue.observations.current import current_observations, is_volunteer
from wildlens.common.db import utcnow
from wildlens.common.events.v1.observations_pb2 import ChangeCause, ObservationsChanged
from wildlens.common.service import ServiceBus

__all__ = ["ChangeCause", "stage_observations_changed"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _judged(observations: list[Any]) -> bool:
    """A person has judged one of the medium's labels, or labelled it: it is verified."""
    return any(
        o.verified_by or (o.classification_method == "human" and not is_volunteer(o))
        for o in observations
    )


def _label(o: Any) -> dict[str, Any]:
    """One observation row (``repository.ANNOUNCED_COLUMNS``) as a ``CurrentLabel``'s fields.

    Plain dicts, turned into messages once with the event: building each label and each
    top-k entry as a message of its own and copying it in cost the analysis consumer twice
    as much, and every analysed medium is announced."""
    label: dict[str, Any] = {
        "observation_id": str(o.id),
        "observation_type": o.observation_type,
        "scientific_name": o.scientific_name,
        "taxon_id": str(o.taxon_id) if o.taxon_id else "",
        "classification_method": o.classification_method,
        "classified_by": o.classified_by,
        "verification_state": o.verification_state,
        "top_k": [
            {
                "label": str(t.get("label", "")),
                "scientific_name": str(t.get("scientific_name", "")),
                "probability": float(t.get("probability", 0.0)),
            }
            for t in o.top_labels or ()
        ],
    }
    box = (o.bbox_x, o.bbox_y, o.bbox_width, o.bbox_height)
    if None not in box:
        label["bbox"] = box
    if o.confidence is not None:
        label["confidence"] = o.confidence
    if o.classification_confidence is not None:
        label["classification_probability"] = o.classification_confidence
    if o.count is not None and o.count >= 0:
        label["count"] = o.count
    return label


def _timestamp(moment: datetime) -> Timestamp:
    """``Timestamp.FromDatetime`` without its general time-zone handling, a tenth of its cost:
    the database's datetimes are aware, or naive in UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1_000)


def _event(
    medium: Any,
    observations: list[Any],
    cause: ChangeCause,
    changed_by: str | None,
    consensus_id: str,
    changed_at: Timestamp,
) -> ObservationsChanged:
    machine = current_observations(o for o in observations if o.classification_method == "machine")
    current = current_observations(observations)
    entropies = [o.classification_entropy for o in machine if o.classification_entropy is not None]
    margins = [o.classification_margin for o in machine if o.classification_margin is not None]
    return ObservationsChanged(
        media_id=str(medium.id),
        project_id=str(medium.project_id),
        deployment_id=str(medium.deployment_id) if medium.deployment_id else "",
        event_id=str(medium.event_id) if medium.event_id else "",
        labels=[_label(o) for o in current],
        verification_state="verified" if _judged(observations) else "unverified",
        cause=cause,
        changed_by=changed_by
        if changed_by is not None
        else (machine[0].classified_by if machine else ""),
        consensus_id=consensus_id,
        media_kind=medium.kind,
        captured_at=_timestamp(medium.captured_at) if medium.captured_at is not None else None,
        changed_at=changed_at,
        entropy=max(entropies) if entropies else None,
        margin=min(margins) if margins else None,
    )


async def stage_observations_changed(
    session: AsyncSession,
    bus: ServiceBus,
    media_ids: Collection[uuid.UUID],
    cause: ChangeCause,
    *,
    changed_by: str | None = None,
    consensus_id: str = "",
) -> None:
    """Stage one ``observations.changed`` per medium (media gone since change nothing);
    ``changed_by`` None: the model whose run makes the medium's machine label."""
    if not media_ids:
        return
    await session.flush()
    media, observations = await repository.announced_rows(session, media_ids)
    changed_at = _timestamp(utcnow())
    events = [
        _event(m, observations[m.id], cause, changed_by, consensus_id, changed_at)
        for m in sorted(media, key=lambda m: str(m.id))
    ]
    if events:
        await bus.stage(session, events)
