"""Alert rules (managers) and the log of their webhook deliveries."""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from datetime import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.catalogue.access import require_project
from wildlens.catalogue.alerts.schemas import (
    AlertRuleCreate,
    AlertRuleCreated,
    AlertRulePublic,
    AlertRuleUpdate,
    AttemptPublic,
    DeliveryPublic,
)
from wildlens.catalogue.alerts.targets import refused_target
from wildlens.catalogue.deps import ContextDep, SessionDep
from wildlens.catalogue.models import AlertDelivery, AlertRule, DeliveryAttempt, Location, Taxon
from wildlens.catalogue.pagination import SortKey, page_by_keys, parse_datetime, parse_uuid
from wildlens.common.db import utcnow
from wildlens.common.db.pagination import page_by_id
from wildlens.common.errors import Invalid, NotFound
from wildlens.common.http import ERROR_RESPONSES, Page, PrincipalDep
from wildlens.common.service import ServiceContext

router = APIRouter(
    prefix="/v1/projects/{project_id}/alerts", tags=["alerts"], responses=ERROR_RESPONSES
)

Limit = Annotated[int, Query(ge=1, le=1000)]
_OPTIONAL = {"taxon_id", "observation_type", "time_from", "time_to", "date_from", "date_to"}


def _problem(field: str, message: str) -> dict[str, Any]:
    return {"location": ["body", field], "message": message, "type": "value_error"}


async def _check_target(ctx: ServiceContext, url: str) -> None:
    """422 for a webhook the catalogue will not send to (see ``alerts.targets``)."""
    problem = await refused_target(url, allow_private=ctx.settings.alerts.allow_private_targets)
    if problem is not None:
        raise Invalid(problem, fields=[_problem("webhook_url", problem)])


async def _check_references(
    session: AsyncSession,
    project_id: uuid.UUID,
    taxon_id: uuid.UUID | None,
    location_ids: list[uuid.UUID],
) -> None:
    """422 for a taxon that does not exist or a location of another project."""
    problems = []
    if taxon_id is not None and await session.get(Taxon, taxon_id) is None:
        problems.append(_problem("taxon_id", f"{taxon_id} is not a taxon"))
    for location_id in location_ids:
        location = await session.get(Location, location_id)
        if location is None or location.project_id != project_id:
            problems.append(
                _problem("location_ids", f"{location_id} is not a location of this project")
            )
    if problems:
        raise Invalid("; ".join(p["message"] for p in problems), fields=problems)


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value is not None else None


async def _rule(session: AsyncSession, project_id: uuid.UUID, rule_id: uuid.UUID) -> AlertRule:
    rule = await session.get(AlertRule, rule_id)
    if rule is None or rule.project_id != project_id:
        raise NotFound(f"alert rule {rule_id} not found in this project")
    return rule


@router.post("", status_code=201, response_model=AlertRuleCreated, operation_id="create_alert_rule")
async def create_alert_rule(
    project_id: uuid.UUID,
    body: AlertRuleCreate,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> AlertRuleCreated:
    """Create an alert rule: sightings that match it are sent as signed webhooks within
    seconds. The answer holds the signing secret, shown this once. Each delivery carries
    `Wildlens-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    await require_project(session, principal, project_id, "manager")
    await _check_references(session, project_id, body.taxon_id, body.location_ids)
    await _check_target(ctx, str(body.webhook_url))
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
        created_by=principal.subject,
    )
    session.add(rule)
    await session.flush()
    return AlertRuleCreated.model_validate(rule, from_attributes=True)


@router.get("", response_model=Page[AlertRulePublic], operation_id="list_alert_rules")
async def list_alert_rules(
    project_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[AlertRulePublic]:
    """The project's alert rules (managers; secrets are never shown again)."""
    await require_project(session, principal, project_id, "manager")
    query = select(AlertRule).where(AlertRule.project_id == project_id)
    rows, next_cursor = await page_by_id(
        session, query, col(AlertRule.id), limit=limit, cursor=cursor
    )
    return Page(items=[AlertRulePublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{rule_id}", response_model=AlertRulePublic, operation_id="get_alert_rule")
async def get_alert_rule(
    project_id: uuid.UUID, rule_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> AlertRule:
    """One alert rule."""
    await require_project(session, principal, project_id, "manager")
    return await _rule(session, project_id, rule_id)


@router.patch("/{rule_id}", response_model=AlertRulePublic, operation_id="update_alert_rule")
async def update_alert_rule(
    project_id: uuid.UUID,
    rule_id: uuid.UUID,
    body: AlertRuleUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    ctx: ContextDep,
) -> AlertRule:
    """Change an alert rule (pause it with `enabled: false`, rotate its `secret`)."""
    await require_project(session, principal, project_id, "manager")
    rule = await _rule(session, project_id, rule_id)
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
            await _check_target(ctx, value)
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


@router.delete("/{rule_id}", status_code=204, operation_id="delete_alert_rule")
async def delete_alert_rule(
    project_id: uuid.UUID, rule_id: uuid.UUID, session: SessionDep, principal: PrincipalDep
) -> None:
    """Delete an alert rule, its pending deliveries and their log."""
    await require_project(session, principal, project_id, "manager")
    rule = await _rule(session, project_id, rule_id)
    await session.delete(rule)
    await session.flush()


@router.get(
    "/{rule_id}/deliveries",
    response_model=Page[DeliveryPublic],
    operation_id="list_alert_deliveries",
)
async def list_alert_deliveries(
    project_id: uuid.UUID,
    rule_id: uuid.UUID,
    session: SessionDep,
    principal: PrincipalDep,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[DeliveryPublic]:
    """The rule's webhook deliveries, oldest first, each with every attempt made."""
    await require_project(session, principal, project_id, "manager")
    await _rule(session, project_id, rule_id)
    query = select(AlertDelivery).where(AlertDelivery.rule_id == rule_id)
    rows, next_cursor = await page_by_keys(
        session,
        query,
        [
            SortKey(col(AlertDelivery.created_at), parse_datetime),
            SortKey(col(AlertDelivery.id), parse_uuid),
        ],
        lambda row: [row.created_at, row.id],
        limit=limit,
        cursor=cursor,
    )
    attempts: dict[uuid.UUID, list[AttemptPublic]] = defaultdict(list)
    if rows:
        found = await session.exec(
            select(DeliveryAttempt)
            .where(col(DeliveryAttempt.delivery_id).in_([d.id for d in rows]))
            .order_by(col(DeliveryAttempt.number))
        )
        for attempt in found.all():
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
    return Page(items=items, next_cursor=next_cursor)
