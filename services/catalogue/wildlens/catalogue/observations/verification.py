"""Validating, doubting, discarding, correcting and reverting observations, each change kept.

As in EcoTaxa, an observation is predicted (a machine's or the volunteers' label), validated,
dubious or discarded. Validating a machine's guess, or changing any label, makes the label
a person's, the way Camtrap DP records it: ``classification_method`` human and
``classified_by`` the person (the machine's label stays in the history). Validating a label a
person or the volunteers already gave, or correcting only its other fields, keeps who
identified it and when (``classified_by``, ``classification_timestamp``) and adds the
verifier (``verified_by``, ``verified_at``). Every change writes one row of
``observation_history`` with the fields before and after, so any earlier state can be
restored, and a revert is itself a change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.models import Observation, ObservationChange, Taxon
from wildlens.catalogue.observations.repository import changes, get_taxon, taxon_named, versions
from wildlens.catalogue.observations.schemas import Correction
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid, NotFound

__all__ = [
    "TRACKED",
    "apply_to",
    "correction",
    "revert",
    "snapshot",
    "state_change",
]

# The fields a person can change, directly or through a verification; what the history holds.
TRACKED: tuple[str, ...] = (
    "verification_state",
    "observation_type",
    "taxon_id",
    "scientific_name",
    "count",
    "life_stage",
    "sex",
    "behavior",
    "individual_id",
    "comments",
    "classification_confidence",
    "classification_method",
    "classified_by",
    "classification_timestamp",
    "verified_by",
    "verified_at",
)
_UUIDS = {"taxon_id"}
_TIMES = {"classification_timestamp", "verified_at"}

Change = Callable[[Observation, str, datetime], None]


def snapshot(observation: Observation) -> dict[str, Any]:
    """The tracked fields as JSON values."""
    out: dict[str, Any] = {}
    for name in TRACKED:
        value = getattr(observation, name)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[name] = value
    return out


def _restore(observation: Observation, state: dict[str, Any]) -> None:
    for name in TRACKED:
        if name not in state:
            continue
        value = state[name]
        if value is not None and name in _UUIDS:
            value = uuid.UUID(value)
        elif value is not None and name in _TIMES:
            value = datetime.fromisoformat(value)
        setattr(observation, name, value)


def state_change(state: str) -> Change:
    """Validate (the label becomes the person's), mark dubious, or discard."""

    def change(o: Observation, actor: str, now: datetime) -> None:
        if o.verification_state == state and o.verified_by == actor:
            # Saying the same thing twice is not a change.
            return
        o.verification_state = state
        o.verified_by = actor
        o.verified_at = now
        if state == "validated" and o.classification_method != "human":
            o.classification_method = "human"
            o.classified_by = actor
            o.classification_timestamp = now

    return change


async def correction(session: AsyncSession, body: Correction) -> Change:
    """The change a correction makes, with its taxon looked up once for all observations."""
    given = body.model_fields_set - {
        name for name in body.model_fields_set if getattr(body, name) is None
    }
    if not given:
        raise Invalid(
            "a correction needs at least one field to change",
            fields=[
                FieldError(location=["body"], message="no field given", type="missing_correction")
            ],
        )
    taxon: Taxon | None = None
    if body.taxon_id is not None:
        taxon = await get_taxon(session, body.taxon_id)
        if taxon is None:
            raise Invalid(
                f"taxon {body.taxon_id} does not exist",
                fields=[
                    FieldError(
                        location=["body", "taxon_id"],
                        message=f"taxon {body.taxon_id} does not exist",
                        type="unknown_taxon",
                    )
                ],
            )
        if body.scientific_name is not None and body.scientific_name != taxon.scientific_name:
            raise Invalid(
                f"taxon {taxon.id} is {taxon.scientific_name}, not {body.scientific_name}",
                fields=[
                    FieldError(
                        location=["body", "scientific_name"],
                        message="does not match taxon_id",
                        type="conflicting_taxon",
                    )
                ],
            )
    elif body.scientific_name is not None:
        taxon = await taxon_named(session, body.scientific_name)
    plain = {
        name: getattr(body, name)
        for name in ("observation_type", "count", "life_stage", "sex", "behavior")
        if name in given
    } | {name: getattr(body, name) for name in ("individual_id", "comments") if name in given}

    def change(o: Observation, actor: str, now: datetime) -> None:
        label = (o.observation_type, o.taxon_id, o.scientific_name)
        for name, value in plain.items():
            setattr(o, name, value)
        if taxon is not None:
            o.taxon_id = taxon.id
            o.scientific_name = taxon.scientific_name
        elif body.scientific_name is not None:
            # A name the tree does not hold yet: kept as given, matched by name in queries.
            o.taxon_id = None
            o.scientific_name = body.scientific_name
        o.verification_state = "validated"
        o.verified_by = actor
        o.verified_at = now
        if o.classification_method == "human" and label == (
            o.observation_type,
            o.taxon_id,
            o.scientific_name,
        ):
            # A person's label kept as it was: it is still theirs, now verified.
            return
        o.classification_method = "human"
        o.classified_by = actor
        o.classification_timestamp = now
        # The probability was the classifier's; a person's label has none.
        o.classification_confidence = None

    return change


async def apply_to(
    session: AsyncSession,
    observations: Sequence[Observation],
    action: str,
    change: Change,
    actor: str,
) -> dict[uuid.UUID, int]:
    """Make ``change`` to each observation and record it; observation id → its new version.

    An observation the change leaves as it was gets no history row.
    """
    now = utcnow()
    current = await versions(session, [o.id for o in observations])
    for o in observations:
        before = snapshot(o)
        change(o, actor, now)
        after = snapshot(o)
        if after == before:
            continue
        current[o.id] += 1
        session.add(o)
        session.add(
            ObservationChange(
                observation_id=o.id,
                project_id=o.project_id,
                version=current[o.id],
                action=action,
                changed_by=actor,
                changed_at=now,
                before=before,
                after=after,
            )
        )
    await session.flush()
    return current


async def revert(
    session: AsyncSession, observation: Observation, version: int, actor: str
) -> dict[uuid.UUID, int]:
    """Bring the observation back to the state it had at ``version``."""
    history = await changes(session, observation.id)
    if not history and version == 0:
        return {observation.id: 0}
    latest = history[-1].version if history else 0
    if version > latest:
        raise NotFound(
            f"observation {observation.id} has no version {version}; its versions are 0 to {latest}"
        )
    target = history[0].before if version == 0 else history[version - 1].after

    def change(o: Observation, _actor: str, _now: datetime) -> None:
        _restore(o, target)

    return await apply_to(session, [observation], "revert", change, actor)
