"""The classification stage: after detection, every animal box of every image in a batch is
cropped, classified in one go, and answered in the terms of its project.

The stage works on the ``media.analyzed`` results the detector stage produced, so whoever
asked for the analysis (``media.recorded``, a backfill, a prediction request) gets species
with it: :meth:`ClassificationStage.classify` fills each animal detection's classifications
in place and names the classifier in the result.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

import httpx
import numpy as np
import numpy.typing as npt
import structlog
from PIL import Image

from wildlens.common.events.v1.media_pb2 import (
    Detection,
    MediaAnalyzed,
    MediaRecorded,
    ModelRef,
)
from wildlens.common.events.v1.taxonomy_pb2 import TaxonomyChanged
from wildlens.common.imaging import CONTEXT, crop_box, square_crop, upright
from wildlens.common.prior import SpatiotemporalPrior, when
from wildlens.common.service.context import ServiceContext
from wildlens.inference.classification.classifier import Classifier
from wildlens.inference.classification.decide import CropOutcome, decide_many
from wildlens.inference.prior.source import PriorSource
from wildlens.inference.settings import InferenceSettings
from wildlens.inference.taxonomy.cache import TaxonomyCache
from wildlens.inference.taxonomy.catalogue import CatalogueTaxonomy
from wildlens.inference.taxonomy.decisions import allowed_labels
from wildlens.inference.taxonomy.geofence import Geofence, load_geofence
from wildlens.inference.taxonomy.tree import LabelTaxon, ProjectTaxonomy

__all__ = ["ClassificationStage", "Lookups", "MediaContext", "fill_detection"]

log = structlog.get_logger(__name__)

Vector = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MediaContext:
    """Where and when one medium was captured, for the geofence and the prior; and a single
    object's features, for a classifier that combines them with the pixels."""

    project_id: str
    location_id: str = ""
    region: str = ""
    captured_at: datetime | None = None
    features: Mapping[str, float] | None = None

    @classmethod
    def of(cls, event: MediaRecorded) -> MediaContext:
        captured = (
            event.captured_at.ToDatetime(tzinfo=UTC) if event.HasField("captured_at") else None
        )
        features = dict(event.features) if event.single_object and event.features else None
        return cls(event.project_id, event.location_id, event.region, captured, features)


class ServingModels(Protocol):
    """Which model of a kind serves a project (the service's model serving)."""

    def current(self, kind: str, project_id: str | None = None) -> object | None: ...


@dataclass(frozen=True, slots=True)
class _Job:
    result: MediaAnalyzed
    detection: Detection
    context: MediaContext


@dataclass(frozen=True, slots=True)
class _Served:
    classifier: Classifier
    ref: ModelRef


@dataclass(frozen=True)
class _Project:
    labels: list[LabelTaxon]
    taxonomy: ProjectTaxonomy
    prior: SpatiotemporalPrior | None
    weight: float


@dataclass(frozen=True)
class Lookups:
    """A batch's classifiers by project (None: none serves it), the taxonomy and prior of
    each project with something to classify, and how long looking them up took."""

    served: Mapping[str, _Served | None]
    projects: Mapping[str, _Project]
    lookup_ms: float


def _xywh(detection: Detection) -> tuple[float, float, float, float]:
    box = detection.bbox
    return box.x, box.y, box.width, box.height


def fill_detection(detection: Detection, outcome: CropOutcome) -> None:
    """Write one crop's answer into its ``media.analyzed`` detection."""
    del detection.classifications[:]
    # Made in place: building each message apart and appending it copies it once more.
    add = detection.classifications.add
    for score in outcome.classifications:
        add(
            label=score.label,
            scientific_name=score.scientific_name,
            confidence=score.confidence,
            taxon_id=score.taxon_id,
            rank=score.rank,
            image_confidence=score.image_confidence,
        )
    detection.prediction_source = outcome.source if outcome.classifications else ""
    detection.prior_changed = outcome.prior_changed


class ClassificationStage:
    """Args:
    classifier_for: the classifier serving a project (its own or the global one), or None;
        looked up for every batch, so a promoted classifier takes over at the next batch.
    taxonomy: each project's taxonomy, cached.
    priors: each project's spatiotemporal prior; None: no prior for anyone.
    prior_weights: the prior's weight per project id, ``"*"`` for every project.
    top_k: classifications kept per detection.
    rollup_threshold: below it the answer rolls up to an ancestor.
    categories: the detector categories that are classified.
    context: margin around each box, as a share of its longer side.
    """

    def __init__(
        self,
        classifier_for: Callable[[str], Classifier | None],
        taxonomy: TaxonomyCache,
        *,
        priors: PriorSource | None = None,
        prior_weights: Mapping[str, float] | None = None,
        top_k: int = 5,
        rollup_threshold: float = 0.65,
        categories: Sequence[str] = ("animal",),
        context: float = CONTEXT,
    ) -> None:
        self.classifier_for = classifier_for
        self.taxonomy = taxonomy
        self.priors = priors
        self.prior_weights = dict(prior_weights or {})
        self.top_k = top_k
        self.rollup_threshold = rollup_threshold
        self.categories = frozenset(categories)
        self.context = context
        # Each classifier's geofence ships in its bundle; read once per model file.
        self._geofences: dict[str, Geofence] = {}

    @classmethod
    def for_service(cls, ctx: ServiceContext, serving: ServingModels) -> ClassificationStage:
        """The stage for a running inference service: the classifier ``serving`` holds for
        each project, the catalogue's taxonomy and, where the settings give a project a prior
        weight, its prior."""
        settings = InferenceSettings.of(ctx.settings)

        def classifier_for(project_id: str) -> Classifier | None:
            model = serving.current("classifier", project_id)
            return model if isinstance(model, Classifier) else None

        weights = {p: w for p, w in settings.prior_weights.items() if w > 0}

        def catalogue() -> httpx.AsyncClient:
            return ctx.client("catalogue")

        return cls(
            classifier_for,
            TaxonomyCache(CatalogueTaxonomy(catalogue)),
            priors=PriorSource(catalogue, ttl_s=settings.prior_refresh_s) if weights else None,
            prior_weights=weights,
            top_k=settings.classifier_top_k,
            rollup_threshold=settings.rollup_threshold,
        )

    def taxonomy_changed(self, events: Sequence[TaxonomyChanged]) -> None:
        """Forget what the event names: one project's taxonomy and prior, or, when the shared
        tree changed, everything."""
        for event in events:
            log.info("inference.taxonomy_changed", project_id=event.project_id, reason=event.reason)
            self.taxonomy.invalidate(event.project_id)
            if self.priors is not None:
                self.priors.invalidate(event.project_id)

    def geofence(self, classifier: Classifier) -> Geofence:
        fence = self._geofences.get(classifier.sha256)
        if fence is None:
            fence = self._geofences[classifier.sha256] = load_geofence(classifier.bundle.root)
        return fence

    def _weight(self, project_id: str) -> float:
        return self.prior_weights.get(project_id, self.prior_weights.get("*", 0.0))

    async def _project(self, project_id: str, classifier: Classifier) -> _Project:
        manifest = classifier.manifest
        if not project_id:
            # An image sent for prediction outside any project: the bundle's names alone.
            return _Project(ProjectTaxonomy().resolve(manifest.labels), ProjectTaxonomy(), None, 0)
        taxonomy = await self.taxonomy.get(project_id, manifest.name, manifest.labels)
        weight = self._weight(project_id)
        prior = (
            await self.priors.get(project_id) if self.priors is not None and weight > 0 else None
        )
        return _Project(taxonomy.resolve(manifest.labels), taxonomy, prior, weight)

    def _classifiers(self, project_ids: Iterable[str]) -> dict[str, _Served | None]:
        """Each project's classifier (and its reference, made once per classifier)."""
        served: dict[str, _Served | None] = {}
        refs: dict[int, ModelRef] = {}
        for project_id in project_ids:
            if project_id in served:
                continue
            classifier = self.classifier_for(project_id)
            if classifier is None:
                served[project_id] = None
                continue
            ref = refs.get(id(classifier))
            if ref is None:
                ref = refs[id(classifier)] = ModelRef(
                    name=classifier.name, version=classifier.version, sha256=classifier.sha256
                )
            served[project_id] = _Served(classifier, ref)
        return served

    async def _looked_up(
        self, served: dict[str, _Served | None], wanted: Iterable[str], started: float
    ) -> Lookups:
        projects = [p for p in dict.fromkeys(wanted) if served.get(p) is not None]
        if len(projects) == 1:
            # The usual batch: one project, awaited directly (a gather makes a task of it).
            known = [
                await self._project(projects[0], cast(_Served, served[projects[0]]).classifier)
            ]
        else:
            known = await asyncio.gather(
                *(self._project(p, cast(_Served, served[p]).classifier) for p in projects)
            )
        return Lookups(
            served,
            dict(zip(projects, known, strict=True)),
            (time.perf_counter() - started) * 1000,
        )

    async def look_up(
        self, results: Sequence[MediaAnalyzed], images: Mapping[str, Image.Image]
    ) -> Lookups:
        """What :meth:`classify_with` needs that may wait on the network: each project's
        classifier, and the taxonomy and prior of each project with something to classify
        (a result not failed, with its image and a box of a classified category)."""
        started = time.perf_counter()
        served = self._classifiers(r.project_id for r in results)
        wanted = (
            r.project_id
            for r in results
            if not r.failure
            and r.media_id in images
            and any(d.category in self.categories for d in r.detections)
        )
        return await self._looked_up(served, wanted, started)

    async def look_up_objects(self, project_ids: Sequence[str], category: str) -> Lookups:
        """:meth:`look_up` for single objects, before they are read: each is one box of
        ``category``, so every project with a classifier has something to classify, if
        the stage classifies that category."""
        started = time.perf_counter()
        served = self._classifiers(project_ids)
        wanted = project_ids if category in self.categories else ()
        return await self._looked_up(served, wanted, started)

    async def classify(
        self,
        results: Sequence[MediaAnalyzed],
        images: Mapping[str, Image.Image],
        contexts: Mapping[str, MediaContext] | None = None,
    ) -> None:
        """Classify every animal detection of ``results`` in place, and name the classifier
        in each result it ran for.

        Args:
            results: ``media.analyzed`` results with their detections (failures are skipped).
            images: each result's decoded image, by media id.
            contexts: each medium's place and time, by media id; without one, a medium is
                judged by its project alone.
        """
        lookups = await self.look_up(results, images)
        if lookups.projects:
            await asyncio.to_thread(self.classify_with, lookups, results, images, contexts)
        else:
            # Nothing to crop: the classifier is only named, without a trip to a thread.
            self.classify_with(lookups, results, images, contexts)

    def classify_with(
        self,
        lookups: Lookups,
        results: Sequence[MediaAnalyzed],
        images: Mapping[str, Image.Image],
        contexts: Mapping[str, MediaContext] | None = None,
    ) -> None:
        """:meth:`classify` once :meth:`look_up` has looked up what it needs. Blocking: run it
        in a worker thread, where the caller may also have decoded the images (one trip to
        the thread for both)."""
        # Grouped by classifier: all crops a classifier gets go through it together.
        groups: dict[int, tuple[Classifier, list[_Job]]] = {}
        for result in results:
            image = images.get(result.media_id)
            served = lookups.served.get(result.project_id)
            if result.failure or image is None or served is None:
                continue
            result.classifier.CopyFrom(served.ref)
            context = (contexts or {}).get(result.media_id) or MediaContext(result.project_id)
            jobs = groups.setdefault(id(served.classifier), (served.classifier, []))[1]
            jobs += [
                _Job(result, detection, context)
                for detection in result.detections
                if detection.category in self.categories
            ]
        for classifier, jobs in groups.values():
            if jobs:
                started = time.perf_counter()
                outcomes = self._run(classifier, jobs, images, lookups.projects)
                for job, outcome in zip(jobs, outcomes, strict=True):
                    fill_detection(job.detection, outcome)
                media = {id(job.result): job.result for job in jobs}
                # Each medium's share of its group's run and of the batch's look-ups.
                elapsed = (time.perf_counter() - started) * 1000 + lookups.lookup_ms
                for result in media.values():
                    result.timings_ms["classify"] = elapsed / len(media)

    def _run(
        self,
        classifier: Classifier,
        jobs: Sequence[_Job],
        images: Mapping[str, Image.Image],
        projects: Mapping[str, _Project],
    ) -> list[CropOutcome]:
        """Crop, classify all crops in as few runs as the batch size allows, decide. Blocking."""
        # Boxes are drawn on the image as people see it (the detector turns it upright first),
        # so crops are cut from it upright too, as training cuts them.
        shown: dict[str, Image.Image] = {}
        for job in jobs:
            media_id = job.result.media_id
            if media_id not in shown:
                shown[media_id] = upright(images[media_id])
        crops = [self._crop(shown[job.result.media_id], _xywh(job.detection)) for job in jobs]
        # An object's features go with its crop; a classifier without a features model, or
        # an object without features, classifies by the pixels alone.
        probabilities = classifier.classify(crops, [job.context.features for job in jobs])
        fence = self.geofence(classifier)
        # Crops of one project and region share their labels and mask: decided together.
        places: dict[tuple[str, str], list[int]] = {}
        for n, job in enumerate(jobs):
            places.setdefault((job.context.project_id, job.context.region), []).append(n)
        outcomes: dict[int, CropOutcome] = {}
        for (project_id, region), rows in places.items():
            project = projects[project_id]
            decided = decide_many(
                probabilities[rows],
                project.labels,
                project.taxonomy,
                allowed_labels(project.labels, project.taxonomy, fence, region),
                priors=(
                    [self._prior(project, jobs[n].context) for n in rows]
                    if project.prior is not None
                    else None
                ),
                prior_weight=project.weight,
                threshold=self.rollup_threshold,
                top_k=self.top_k,
            )
            for n, outcome in zip(rows, decided, strict=True):
                outcomes[n] = outcome
        return [outcomes[n] for n in range(len(jobs))]

    def _crop(self, image: Image.Image, bbox: tuple[float, float, float, float]) -> Image.Image:
        """The square crop the classifier gets; a square image whose crop is all of it (a
        single object's vignette) goes as it is, grey or not: the classifier's preprocessing
        reads a grey image as RGB, without the copies a crop and a conversion would make."""
        box = crop_box(bbox, image.width, image.height, context=self.context)
        if box.width == box.height == image.width == image.height and image.mode in ("RGB", "L"):
            return image
        return square_crop(image, bbox, context=self.context)

    @staticmethod
    def _prior(project: _Project, context: MediaContext) -> Vector | None:
        if project.prior is None:
            return None
        month, hour = when(context.captured_at)
        return project.prior.probabilities(
            [label.key for label in project.labels], context.location_id, month, hour
        )
