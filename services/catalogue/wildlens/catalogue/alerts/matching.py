"""Rules against a medium's new machine observations, inside the analysis transaction.

Only a delivery row is written here (the outbox of webhooks); sending is the delivery
worker's, after the commit, so that a slow receiver never holds up the analysis consumer. A
project without enabled rules costs one indexed query per medium.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.alerts import repository
from wildlens.catalogue.models import (
    AlertDelivery,
    AlertRule,
    Deployment,
    Location,
    Media,
    Observation,
)
from wildlens.catalogue.models.clock import parse_offset
from wildlens.common.db import utcnow

__all__ = ["EVENT_TYPE", "queue_alerts", "rule_matches"]

EVENT_TYPE = "alert.triggered"


def _in_window(rule: AlertRule, local: datetime | None) -> bool:
    if rule.time_from is None and rule.date_from is None and rule.date_to is None:
        return True
    if local is None:
        return False  # a window cannot be judged without a capture time
    if rule.date_from is not None and local.date() < rule.date_from:
        return False
    if rule.date_to is not None and local.date() > rule.date_to:
        return False
    if rule.time_from is not None and rule.time_to is not None:
        start, end, now = (
            time.fromisoformat(rule.time_from),
            time.fromisoformat(rule.time_to),
            local.time(),
        )
        inside = start <= now <= end if start <= end else now >= start or now <= end
        if not inside:
            return False
    return True


def rule_matches(
    rule: AlertRule,
    observation: Observation,
    subtree: tuple[set[uuid.UUID], set[str]] | None,
) -> bool:
    """Whether ``observation`` is what ``rule`` looks for (place and time are checked apart)."""
    if observation.confidence is None or observation.confidence < rule.min_confidence:
        return False
    if rule.observation_type is not None and observation.observation_type != rule.observation_type:
        return False
    if subtree is not None:
        ids, names = subtree
        if observation.taxon_id is not None:
            return observation.taxon_id in ids
        return bool(observation.scientific_name) and observation.scientific_name in names
    return True


async def queue_alerts(
    session: AsyncSession, analysed: Sequence[tuple[uuid.UUID, uuid.UUID]], *, base_url: str = ""
) -> int:
    """Queue a webhook for every enabled rule that a medium's observations match (one per rule
    and medium, however often it is analysed); returns how many were queued. ``analysed``:
    (media id, project id) of the media with new results. ``base_url`` is the platform's
    public URL, for the link to the medium."""
    if not analysed:
        return 0
    projects = {project_id for _, project_id in analysed}
    rules = await repository.enabled_rules(session, projects)
    if not rules:
        return 0
    watched_projects = {r.project_id for r in rules}
    watched_ids = [m for m, project_id in analysed if project_id in watched_projects]
    watched = await repository.media(session, watched_ids)
    observations: dict[uuid.UUID, list[Observation]] = {m.id: [] for m in watched}
    for o in await repository.observations_of(session, list(observations)):
        if o.media_id is not None:
            observations[o.media_id].append(o)
    subtrees = {
        r.taxon_id: await repository.subtree(session, r.taxon_id)
        for r in rules
        if r.taxon_id is not None
    }
    queued = 0
    for m in watched:
        deployment = (
            await repository.deployment(session, m.deployment_id) if m.deployment_id else None
        )
        location = (
            await repository.location(session, deployment.location_id) if deployment else None
        )
        local = (
            m.captured_at.astimezone(parse_offset(deployment.utc_offset))
            if m.captured_at and deployment
            else m.captured_at
        )
        for rule in rules:
            if rule.project_id != m.project_id:
                continue
            if rule.location_ids and (
                location is None or str(location.id) not in rule.location_ids
            ):
                continue
            if not _in_window(rule, local):
                continue
            subtree = subtrees.get(rule.taxon_id) if rule.taxon_id else None
            matched = [o for o in observations[m.id] if rule_matches(rule, o, subtree)]
            if not matched or await repository.already_queued(session, rule.id, m.id):
                continue
            delivery = AlertDelivery(
                rule_id=rule.id, project_id=m.project_id, media_id=m.id, body=""
            )
            delivery.body = json.dumps(
                _payload(delivery, rule, m, deployment, location, matched, base_url),
                separators=(",", ":"),
            )
            session.add(delivery)
            queued += 1
    if queued:
        await session.flush()
        # The deliveries are outbox rows: the database's after-commit callbacks (the delivery
        # worker's among them) run for sessions that staged some, so the worker wakes at once.
        session.info["outbox_staged"] = True
    return queued


def _payload(
    delivery: AlertDelivery,
    rule: AlertRule,
    media: Media,
    deployment: Deployment | None,
    location: Location | None,
    matched: list[Observation],
    base_url: str,
) -> dict[str, Any]:
    return {
        "id": str(delivery.id),
        "type": EVENT_TYPE,
        "created_at": utcnow().isoformat(),
        "project_id": str(media.project_id),
        "rule": {"id": str(rule.id), "name": rule.name},
        "media": {
            "id": str(media.id),
            "captured_at": media.captured_at.isoformat() if media.captured_at else None,
            "deployment_id": str(deployment.id) if deployment else None,
            "location": {"id": str(location.id), "name": location.name} if location else None,
            "url": f"{base_url.rstrip('/')}/v1/media/{media.id}",
        },
        "observations": [
            {
                "id": str(o.id),
                "observation_type": o.observation_type,
                "category": o.category,
                "scientific_name": o.scientific_name,
                "taxon_id": str(o.taxon_id) if o.taxon_id else None,
                "confidence": o.confidence,
                "bbox": o.bbox,
                "classified_by": o.classified_by,
            }
            for o in matched
        ],
    }
