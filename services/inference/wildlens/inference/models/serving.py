"""Which model serves which project, and swapping in a promoted one without a restart.

Every kind (detector, classifier) has at most one global model and one per project; a project's
own model wins over the global one. Work looks its model up once, when it starts, and keeps
that object to the end, so a swap never changes the model under an image already being
analysed: in-flight batches finish on the old model, new work gets the new one.

A promotion is applied in order: download and check the bundle (``BundleCache``), build the
model, load it and run it once (``warm``), and only then swap it in. Any failure on the way
leaves the serving model as it was and is logged with its reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import structlog

from wildlens.common.bundles import Bundle, BundleError
from wildlens.common.errors import WildlensError
from wildlens.inference.metrics import MODEL_INFO, MODEL_LOADS, SERVING_INFO
from wildlens.inference.models.base import InferenceModel
from wildlens.inference.models.cache import BundleCache
from wildlens.inference.models.detector import Detector

__all__ = ["GLOBAL", "ModelKind", "ModelServing", "Promotion", "PromotionFailed"]

log = structlog.get_logger(__name__)

ModelKind = Literal["detector", "classifier"]
GLOBAL = "global"

# Builds an unloaded model of one kind from a checked bundle.
Factory = Callable[[Bundle], InferenceModel]


class PromotionFailed(BundleError):
    """A promoted bundle could not be downloaded, checked, loaded or warmed."""


@dataclass(frozen=True)
class Promotion:
    """What ``model.promoted`` (or the registry at start-up) says is in production."""

    name: str
    version: str
    kind: ModelKind
    bundle_key: str
    sha256: str
    project_id: str | None = None

    @property
    def scope(self) -> str:
        return self.project_id or GLOBAL


def _warm(model: InferenceModel) -> None:
    warm = getattr(model, "warm", None)
    if callable(warm):
        warm()
    else:
        model.load()


class ModelServing:
    """Args:
    cache: where promoted bundles are downloaded to.
    factories: how to build a model of each kind; a kind without one cannot be promoted.
    """

    def __init__(self, cache: BundleCache, factories: dict[str, Factory] | None = None) -> None:
        self._cache = cache
        self._factories: dict[str, Factory] = {"detector": Detector, **(factories or {})}
        self._models: dict[tuple[str, str], InferenceModel] = {}
        # Promotions are applied one at a time, in the order heard.
        self._lock = asyncio.Lock()

    def register_kind(self, kind: str, factory: Factory) -> None:
        """Let models of ``kind`` be promoted, built from their bundle by ``factory``."""
        self._factories[kind] = factory

    def current(self, kind: str, project_id: str | None = None) -> InferenceModel | None:
        """The model of ``kind`` serving ``project_id``: its own, else the global one."""
        if project_id:
            model = self._models.get((kind, project_id))
            if model is not None:
                return model
        return self._models.get((kind, GLOBAL))

    def serves(self, kind: str) -> bool:
        """Whether any model of ``kind`` serves, globally or for a project."""
        return any(k == kind for k, _ in self._models)

    def detector(self, project_id: str | None = None) -> Detector | None:
        model = self.current("detector", project_id)
        return model if isinstance(model, Detector) else None

    def find(self, kind: str, name: str, version: str | None = None) -> InferenceModel | None:
        """A model this replica holds by name (and version); for backfills with a named model."""
        for model in self._models.values():
            if model.manifest.kind == kind and model.name == name:
                if version is None or model.version == version:
                    return model
        return None

    def install(self, model: InferenceModel, project_id: str | None = None) -> None:
        """Serve ``model`` (already loaded) for its kind and scope from now on."""
        scope = project_id or GLOBAL
        self._models[(model.manifest.kind, scope)] = model
        facts = {
            "name": model.name,
            "version": model.version,
            "sha256": model.sha256,
            "providers": ",".join(model.providers),
        }
        # Project ids are not labels (unbounded); project-scoped models share one series.
        SERVING_INFO.labels(model.manifest.kind, "project" if project_id else GLOBAL).info(facts)
        if model.manifest.kind == "detector" and project_id is None:
            MODEL_INFO.info(facts)

    def describe(self) -> list[dict[str, Any]]:
        """What serves now, for ``/readyz``."""
        return [
            {
                "kind": kind,
                "scope": scope,
                "name": model.name,
                "version": model.version,
                "sha256": model.sha256,
                "providers": model.providers,
            }
            for (kind, scope), model in sorted(self._models.items())
        ]

    async def promote(self, promotion: Promotion) -> InferenceModel:
        """Download, check, load and warm the promoted bundle, then serve it.

        Raises:
            PromotionFailed: nothing changed; the previous model keeps serving.
        """
        async with self._lock:
            served = self.current(promotion.kind, promotion.project_id)
            same_scope = self._models.get((promotion.kind, promotion.scope))
            if same_scope is not None and (
                same_scope.name,
                same_scope.version,
                same_scope.sha256,
            ) == (promotion.name, promotion.version, promotion.sha256):
                return same_scope  # heard twice, or the registry names what already serves
            try:
                model = await self.build(promotion)
            except Exception as exc:
                MODEL_LOADS.labels(promotion.kind, "failed").inc()
                reason = exc.detail if isinstance(exc, WildlensError) else f"{exc}"
                log.error(
                    "inference.promotion_failed",
                    model=promotion.name,
                    version=promotion.version,
                    kind=promotion.kind,
                    scope=promotion.scope,
                    reason=reason,
                    serving=served.version if served else None,
                )
                raise PromotionFailed(
                    f"model {promotion.name} {promotion.version} was not loaded: {reason}; "
                    + (
                        f"{served.name} {served.version} keeps serving"
                        if served
                        else "nothing serves yet"
                    )
                ) from exc
            self.install(model, promotion.project_id)
            MODEL_LOADS.labels(promotion.kind, "ok").inc()
            log.info(
                "inference.model_swapped",
                model=model.name,
                version=model.version,
                kind=promotion.kind,
                scope=promotion.scope,
                previous=served.version if served else None,
                providers=model.providers,
            )
            return model

    async def build(self, promotion: Promotion) -> InferenceModel:
        """The promoted bundle, downloaded, checked, loaded and warmed, but not served."""
        factory = self._factories.get(promotion.kind)
        if factory is None:
            raise BundleError(f"this instance cannot serve {promotion.kind} models")
        bundle = await self._cache.fetch(promotion.bundle_key, promotion.sha256)
        manifest = bundle.manifest
        if manifest.kind != promotion.kind:
            raise BundleError(f"the bundle is a {manifest.kind}, promoted as a {promotion.kind}")
        if (manifest.name, manifest.version) != (promotion.name, promotion.version):
            raise BundleError(
                f"the bundle's manifest names {manifest.name} {manifest.version}, "
                f"promoted as {promotion.name} {promotion.version}"
            )
        model = factory(bundle)
        # Session creation and the first run are blocking and can take seconds on a GPU.
        await asyncio.to_thread(_warm, model)
        return model
