"""Alert rules (managers) and the log of their webhook deliveries."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from wildlens.catalogue.access import ManagerDep
from wildlens.catalogue.alerts import service
from wildlens.catalogue.alerts.schemas import (
    AlertRuleCreate,
    AlertRuleCreated,
    AlertRulePublic,
    AlertRuleUpdate,
    DeliveryPublic,
)
from wildlens.catalogue.deps import SessionDep, SettingsDep
from wildlens.catalogue.models import AlertRule
from wildlens.common.http import ERROR_RESPONSES, Page, PageDep

router = APIRouter(
    prefix="/v1/projects/{project_id}/alerts", tags=["alerts"], responses=ERROR_RESPONSES
)


@router.post("", status_code=201, response_model=AlertRuleCreated, operation_id="create_alert_rule")
async def create_alert_rule(
    body: AlertRuleCreate,
    session: SessionDep,
    access: ManagerDep,
    settings: SettingsDep,
) -> AlertRuleCreated:
    """Create an alert rule: sightings that match it are sent as signed webhooks within
    seconds. The answer holds the signing secret, shown this once. Each delivery carries
    `Wildlens-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>`."""
    rule = await service.create_rule(
        settings, session, access.project.id, body, access.principal.subject
    )
    return AlertRuleCreated.model_validate(rule, from_attributes=True)


@router.get("", response_model=Page[AlertRulePublic], operation_id="list_alert_rules")
async def list_alert_rules(
    session: SessionDep,
    access: ManagerDep,
    page: PageDep,
) -> Page[AlertRulePublic]:
    """The project's alert rules (managers; secrets are never shown again)."""
    rows, next_cursor = await service.rules(session, access.project.id, page)
    return Page(items=[AlertRulePublic.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{rule_id}", response_model=AlertRulePublic, operation_id="get_alert_rule")
async def get_alert_rule(rule_id: uuid.UUID, session: SessionDep, access: ManagerDep) -> AlertRule:
    """One alert rule."""
    return await service.project_rule(session, access.project.id, rule_id)


@router.patch("/{rule_id}", response_model=AlertRulePublic, operation_id="update_alert_rule")
async def update_alert_rule(
    rule_id: uuid.UUID,
    body: AlertRuleUpdate,
    session: SessionDep,
    access: ManagerDep,
    settings: SettingsDep,
) -> AlertRule:
    """Change an alert rule (pause it with `enabled: false`, rotate its `secret`)."""
    return await service.update_rule(settings, session, access.project.id, rule_id, body)


@router.delete("/{rule_id}", status_code=204, operation_id="delete_alert_rule")
async def delete_alert_rule(rule_id: uuid.UUID, session: SessionDep, access: ManagerDep) -> None:
    """Delete an alert rule, its pending deliveries and their log."""
    await service.delete_rule(session, access.project.id, rule_id)


@router.get(
    "/{rule_id}/deliveries",
    response_model=Page[DeliveryPublic],
    operation_id="list_alert_deliveries",
)
async def list_alert_deliveries(
    rule_id: uuid.UUID,
    session: SessionDep,
    access: ManagerDep,
    page: PageDep,
) -> Page[DeliveryPublic]:
    """The rule's webhook deliveries, oldest first, each with every attempt made."""
    items, next_cursor = await service.deliveries(session, access.project.id, rule_id, page)
    return Page(items=items, next_cursor=next_cursor)
