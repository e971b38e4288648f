"""Hearing about production models: ``model.promoted`` broadcasts and the training registry.

Every replica subscribes to ``model.promoted`` with a queue of its own, so each one swaps. A
replica that starts after a promotion missed it, so at start-up it asks the training service's
registry (``GET /v1/models?stage=production``), the owner of that state, which models are in
production, and loads those.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog

from wildlens.common.errors import Unavailable, WildlensError
from wildlens.common.events.v1.inference_pb2 import (
    MODEL_KIND_CLASSIFIER,
    MODEL_KIND_DETECTOR,
    MODEL_SCOPE_PROJECT,
    ModelPromoted,
)
from wildlens.common.service.context import ServiceContext
from wildlens.inference.models.serving import ModelKind, ModelServing, Promotion, PromotionFailed

__all__ = ["PromotionListener", "from_event", "production_models"]

log = structlog.get_logger(__name__)

_KINDS: dict[int, ModelKind] = {
    MODEL_KIND_DETECTOR: "detector",
    MODEL_KIND_CLASSIFIER: "classifier",
}
# How long a starting replica keeps asking a training service that does not answer yet.
REGISTRY_ATTEMPTS = 10
REGISTRY_BACKOFF_S = 1.0


def from_event(event: ModelPromoted) -> Promotion:
    kind = _KINDS.get(event.kind)
    if kind is None:
        raise PromotionFailed(f"model.promoted for {event.name} names no model kind")
    project = event.project_id if event.scope == MODEL_SCOPE_PROJECT else None
    if event.scope == MODEL_SCOPE_PROJECT and not project:
        raise PromotionFailed(
            f"model.promoted for {event.name} is project-scoped without a project"
        )
    return Promotion(
        name=event.name,
        version=event.version,
        kind=kind,
        bundle_key=event.bundle_key,
        sha256=event.sha256,
        project_id=project,
    )


async def production_models(ctx: ServiceContext) -> list[Promotion]:
    """The models the training registry has in production, newest per kind and scope."""
    client = ctx.client("training")
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"stage": "production", "limit": 1000}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/models", params=params)
        if response.status_code != 200:
            raise Unavailable(
                f"the training registry answered {response.status_code}: {response.text[:300]}"
            )
        body = response.json()
        rows.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            break
    newest: dict[tuple[str, str | None], dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: str(r["created_at"])):
        newest[(row["kind"], row["project_id"])] = row
    return [
        Promotion(
            name=row["name"],
            version=row["version"],
            kind=row["kind"],
            bundle_key=row["bundle_key"],
            sha256=row["sha256"],
            project_id=row["project_id"],
        )
        for row in newest.values()
        if row["kind"] in _KINDS.values()
    ]


class PromotionListener:
    """Applies promotions to ``serving``; ``on_change`` runs after each successful swap.

    Args:
        ctx: the inference context (the registry client, the bus).
        serving: the models this replica serves.
        on_change: called once a promoted model serves (the service starts consuming then).
    """

    def __init__(
        self,
        ctx: ServiceContext,
        serving: ModelServing,
        on_change: Callable[[], Awaitable[None]],
    ) -> None:
        self._ctx = ctx
        self._serving = serving
        self._on_change = on_change
        # Kinds and scopes a broadcast promoted since start-up: newer than the registry's
        # answer, which may still be on its way.
        self._heard: set[tuple[str, str]] = set()

    async def heard(self, events: list[ModelPromoted]) -> None:
        """``model.promoted``: load and swap each promoted model.

        A bundle that fails its checks is logged and acknowledged (hearing it again cannot
        fix it); storage that does not answer raises, so the promotion is delivered again.
        """
        for event in events:
            try:
                promotion = from_event(event)
                self._heard.add((promotion.kind, promotion.scope))
                await self._serving.promote(promotion)
            except PromotionFailed as exc:
                if isinstance(exc.__cause__, Unavailable):
                    raise exc.__cause__ from exc
                continue
            await self._on_change()

    async def load_production(self) -> None:
        """Load what the registry has in production; retried while training does not answer."""
        for attempt in range(1, REGISTRY_ATTEMPTS + 1):
            try:
                promotions = await production_models(self._ctx)
                break
            except (WildlensError, httpx.HTTPError) as exc:
                reason = exc.detail if isinstance(exc, WildlensError) else str(exc)
                if attempt == REGISTRY_ATTEMPTS or not _retryable(exc):
                    log.warning("inference.registry_unreachable", reason=reason)
                    return
                await asyncio.sleep(REGISTRY_BACKOFF_S * attempt)
        for promotion in promotions:
            if (promotion.kind, promotion.scope) in self._heard:
                continue
            try:
                await self._serving.promote(promotion)
            except PromotionFailed:
                continue  # logged with its reason; whatever served before keeps serving
            await self._on_change()


def _retryable(exc: Exception) -> bool:
    from wildlens.common.service.clients import ServiceNotConfigured

    # Without an address or a way to get a token, asking again cannot help.
    return not isinstance(exc, ServiceNotConfigured)
