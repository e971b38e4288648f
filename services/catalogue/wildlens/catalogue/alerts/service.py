"""Alert rules' rules: what a rule may name (a taxon of the tree, locations of its project, a
public webhook), which fields go together, and a secret for each."""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from datetime import time

from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.alerts import repository
from wildlens.catalogue.alerts.schemas import (
    AlertRuleCreate,
    AlertRuleUpdate,
    AttemptPublic,
    DeliveryPublic,
)
from wildlens.catalogue.alerts.targets import policy_of
from wildlens.catalogue.models import AlertRule
from wildlens.catalogue.settings import AlertSettings
from wildlens.common.db import utcnow
from wildlens.common.errors import FieldError, Invalid, NotFound
from wildlens.common.http.pagination import PageParams
from wildlens.common.settings import Settings

__all__ = [
    "create_rule",
    "delete_rule",
    "deliveries",
    "project_rule",
    "rules",
    "update_rule",
]

_OPTIONAL = {"taxon_id", "observation_type", "time_from", "time_to", "date_from", "date_to"}


def _problem(field: str, message: str) -> FieldError:
    return FieldError(location=["body", field], message=message, type="value_error")


async def _check_target(settings: Settings, url: str) -> None:
    """422 for a webhook the catalogue will not send to (see ``alerts.targets``)."""
    problem = await policy_of(AlertSettings.of(settings)).refusal(url)
    if problem is not None:
        raise Invalid(problem, fields=[_problem("webhook_url", problem)])


async def _check_references(
    session: AsyncSession,
    project_id: uuid.UUID,
    taxon_id: uuid.UUID | None,
    location_ids: list[uuid.UUID],
) -> None:
    """422 for a taxon that does not exist or a location of another project."""
    problems: list[FieldError] = []
    if taxon_id is not None and not await repository.taxon_exists(session, taxon_id):
        problems.append(_problem("taxon_id", f"{taxon_id} is not a taxon"))
    for location_id in location_ids:
        location = await repository.location(session, location_id)
        if location is None or location.project_id != project_id:
            problems.append(
                _problem("location_ids", f"{location_id} is not a location of this project")
            )
    if problems:
        raise Invalid("; ".join(p.message for p in problems), fields=problems)


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


async def project_rule(
    session: AsyncSession, project_id: uuid.UUID, rule_id: uuid.UUID
) -> AlertRule:
    """The rule, if it is one of the project's."""
    rule = await repository.rule(session, rule_id)
    if rule is None or rule.project_id != project_id:
        raise NotFound(f"alert rule {rule_id} not found in this project")
    return rule


async def create_rule(
    settings: Settings,
    session: AsyncSession,
    project_id: uuid.UUID,
    body: AlertRuleCreate,
    actor: str,
) -> AlertRule:
    await _check_references(session, project_id, body.taxon_id, body.location_ids)
    await _check_target(settings, str(body.webhook_url))
    rule = AlertRule(
        project_id=project_id,
        name=body.name,
        taxon_id=body.taxon_id,
        observation_type=body.observation_type,
        min_confidence=body.min_confidence,
        location_ids=[str(i) for i in dict.fromkeys(body.location_ids)],
        time_from=_hhmm(body.time_from),
        time_to=_hhmm(body.time_to),
        date_from=body.date_from,
        date_to=body.date_to,
        webhook_url=str(body.webhook_url),
        secret=body.secret or f"whsec_{secrets.token_urlsafe(32)}",
        enabled=body.enabled,
        created_by=actor,
    )
    session.add(rule)
    await session.flush()
    return rule


async def rules(
    session: AsyncSession, project_id: uuid.UUID, page: PageParams
) -> tuple[list[AlertRule], str | None]:
    return await repository.rules_page(session, project_id, page)


async def update_rule(
    settings: Settings,
    session: AsyncSession,
    project_id: uuid.UUID,
    rule_id: uuid.UUID,
    body: AlertRuleUpdate,
) -> AlertRule:
    """Apply the fields given; the rule must still make sense as a whole afterwards."""
    rule = await project_rule(session, project_id, rule_id)
    given = body.model_fields_set
    for name in given:
        value = getattr(body, name)
        if value is None and name not in _OPTIONAL:
            raise Invalid(f"{name} cannot be null", fields=[_problem(name, "cannot be null")])
    await _check_references(
        session,
        project_id,
        body.taxon_id if "taxon_id" in given else None,
        body.location_ids or [],
    )
    for name in given:
        value = getattr(body, name)
        if name in {"time_from", "time_to"}:
            value = _hhmm(value)
        elif name == "location_ids":
            value = [str(i) for i in dict.fromkeys(value)]
        elif name == "webhook_url":
            value = str(value)
            await _check_target(settings, value)
        setattr(rule, name, value)
    if (rule.time_from is None) != (rule.time_to is None):
        raise Invalid("time_from and time_to go together", fields=[_problem("time_to", "missing")])
    if rule.date_from and rule.date_to and rule.date_to < rule.date_from:
        raise Invalid(
            "date_to must not be before date_from", fields=[_problem("date_to", "too early")]
        )
    if rule.taxon_id is None and rule.observation_type is None:
        raise Invalid(
            "a rule needs a taxon_id, an observation_type, or both",
            fields=[_problem("taxon_id", "a rule needs a taxon_id or an observation_type")],
        )
    rule.updated_at = utcnow()
    session.add(rule)
    await session.flush()
    return rule


async def delete_rule(session: AsyncSession, project_id: uuid.UUID, rule_id: uuid.UUID) -> None:
    """Remove the rule; its deliveries and their log go with it."""
    rule = await project_rule(session, project_id, rule_id)
    await session.delete(rule)
    await session.flush()


async def deliveries(
    session: AsyncSession,
    project_id: uuid.UUID,
    rule_id: uuid.UUID,
    page: PageParams,
) -> tuple[list[DeliveryPublic], str | None]:
    """One page of the rule's deliveries, oldest first, each with every attempt made."""
    await project_rule(session, project_id, rule_id)
    rows, next_cursor = await repository.deliveries_page(session, rule_id, page)
    attempts: dict[uuid.UUID, list[AttemptPublic]] = defaultdict(list)
    for attempt in await repository.attempts_of(session, [d.id for d in rows]):
        attempts[attempt.delivery_id].append(AttemptPublic.model_validate(attempt))
    items = [
        DeliveryPublic(
            id=d.id,
            rule_id=d.rule_id,
            media_id=d.media_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            attempt_log=attempts[d.id],
        )
        for d in rows
    ]
    return items, next_cursor
