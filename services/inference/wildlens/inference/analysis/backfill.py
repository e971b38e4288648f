"""``inference.requested``: analyse a project's existing media again (a backfill).

The catalogue says which media match (project, deployment, capture-time range) and hands out
their download URLs. One message analyses one page of them through the same analyzer and
micro-batcher as new media, publishes each result as ``media.analyzed`` with the model that made
it, and publishes the request again for the next page: a backfill of a whole project is many
short deliveries, spread over the replicas, none outliving the broker's delivery timeout. The
catalogue stores results per model version and ignores a repeat, so a backfill that is
delivered again (a crash half-way) converges instead of duplicating.

With a named model, the backfill uses the version this replica serves or, failing that, the
registry's entry for it, downloaded and checked like a promotion but not swapped in.
"""

from __future__ import annotations

from datetime import UTC

import httpx
import structlog

from wildlens.common.errors import NotFound, Unavailable
from wildlens.common.events.v1.inference_pb2 import InferenceRequested
from wildlens.common.service.clients import ServiceClients
from wildlens.common.service.context import ServiceContext
from wildlens.common.storage import DOWNLOAD_TIMEOUT, download
from wildlens.inference.analysis.catalogue import matching_page
from wildlens.inference.analysis.runner import Analyzer, Fetch
from wildlens.inference.models.detector import Detector
from wildlens.inference.models.serving import ModelServing, Promotion
from wildlens.inference.settings import InferenceSettings

__all__ = ["Backfiller", "registry_detector"]

log = structlog.get_logger(__name__)


class Backfiller:
    """Args:
    ctx: the inference context (catalogue and training clients, publish).
    analyzer: the analyzer new media go through too.
    serving: the models this replica serves, and its bundle cache.
    """

    def __init__(self, ctx: ServiceContext, analyzer: Analyzer, serving: ModelServing) -> None:
        self._ctx = ctx
        self._analyzer = analyzer
        self._serving = serving
        # Named models loaded for backfills only, by (name, version).
        self._named: dict[tuple[str, str], Detector] = {}

    async def run(self, request: InferenceRequested) -> int:
        """Analyse one page of the matching media, then hand the rest on; the number analysed.

        The results go out before the continuation, so a crash in between repeats this page
        (which the catalogue takes as a repeat) and never skips the rest.
        """
        detector = await self._detector(request)
        page, next_cursor = await matching_page(
            self._ctx.service_clients,
            request.project_id,
            deployment_id=request.deployment_id or None,
            captured_from=(
                request.captured_from.ToDatetime(tzinfo=UTC)
                if request.HasField("captured_from")
                else None
            ),
            captured_to=(
                request.captured_to.ToDatetime(tzinfo=UTC)
                if request.HasField("captured_to")
                else None
            ),
            cursor=request.cursor or None,
            limit=InferenceSettings.of(self._ctx.settings).backfill_page,
        )
        async with httpx.AsyncClient(timeout=DOWNLOAD_TIMEOUT) as downloads:
            items = [
                (m.media_id, m.project_id, self._fetch(m.url, downloads)) for m in page if m.url
            ]
            results = await self._analyzer.analyze_many(items, source="backfill", detector=detector)
        if results:
            await self._ctx.publish(results)
        if next_cursor:
            continuation = InferenceRequested()
            continuation.CopyFrom(request)
            continuation.cursor = next_cursor
            await self._ctx.publish([continuation])
        log.info(
            "inference.backfill_page",
            request_id=request.request_id,
            project_id=request.project_id,
            model=detector.name if detector else None,
            version=detector.version if detector else None,
            media=len(results),
            done=not next_cursor,
        )
        return len(results)

    def _fetch(self, url: str, client: httpx.AsyncClient) -> Fetch:
        store = self._ctx.store
        return lambda: download(store, url, client)

    async def _detector(self, request: InferenceRequested) -> Detector | None:
        """The named model, or ``None``: the one serving each project at the time."""
        if not request.model_name:
            self._analyzer.detector_for(request.project_id)  # NoDetector now, not per image
            return None
        version = request.model_version or None
        held = self._serving.find("detector", request.model_name, version)
        if isinstance(held, Detector):
            return held
        promotion = await registry_detector(self._ctx.service_clients, request.model_name, version)
        key = (promotion.name, promotion.version)
        if key not in self._named:
            model = await self._serving.build(promotion)
            assert isinstance(model, Detector)
            self._named[key] = model
        return self._named[key]


async def registry_detector(clients: ServiceClients, name: str, version: str | None) -> Promotion:
    """The training registry's entry for a detector (its newest version when none is named).

    Raises:
        NotFound: the registry has no such detector.
    """
    client = clients.client("training")
    response = await client.get("/v1/models", params={"kind": "detector", "limit": 1000})
    if response.status_code != 200:
        raise Unavailable(f"the model registry answered {response.status_code}")
    rows = [
        r
        for r in response.json()["items"]
        if r["name"] == name and (version is None or r["version"] == version)
    ]
    if not rows:
        named = f"{name} {version}" if version else name
        raise NotFound(f"detector {named} is not in the model registry")
    row = max(rows, key=lambda r: str(r["created_at"]))
    return Promotion(
        name=row["name"],
        version=row["version"],
        kind="detector",
        bundle_key=row["bundle_key"],
        sha256=row["sha256"],
    )
