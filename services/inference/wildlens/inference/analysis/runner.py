"""Images in, detections out: the one path every image takes, whoever asked.

``media.recorded`` messages, backfills and ``POST /v1/predict`` all call :meth:`Analyzer.analyze`
for each image. Fetching happens on the event loop (it is I/O); decoding and letterboxing run in
a pool of threads, in parallel; the prepared tensors go to the shared micro-batcher, which runs
the detector on batches made of whatever is waiting, from every source. At most ``prefetch``
images are between fetch and result at any time, so a backlog of thousands of messages costs no
more memory than a few batches.

Inference keeps nothing durable: a consumer publishes the result and only then lets the bus
ack, so a crash means the image is analysed again, never skipped.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import structlog
from PIL import Image, UnidentifiedImageError

from wildlens.common.errors import Invalid, Unavailable
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Detection,
    MediaAnalyzed,
    MediaKind,
    MediaRecorded,
    ModelRef,
)
from wildlens.common.service.context import ServiceContext
from wildlens.inference.analysis.batcher import MicroBatcher
from wildlens.inference.analysis.objects import OBJECT_CATEGORY, WHOLE_OBJECT, ObjectResults
from wildlens.inference.classification.stage import (
    ClassificationStage,
    Lookups,
    MediaContext,
)
from wildlens.inference.metrics import IMAGES_ANALYZED
from wildlens.inference.models.detector import Detection as FoundBox
from wildlens.inference.models.detector import Detector, Prepared
from wildlens.inference.models.providers import pod_cores
from wildlens.inference.models.serving import ModelServing
from wildlens.inference.settings import InferenceSettings

__all__ = ["WHOLE_OBJECT", "Analysis", "Analyzer", "NoDetector", "Undecodable"]

log = structlog.get_logger(__name__)

# Decompression bombs are refused at ingest; this is a second line for bytes that bypassed it.
MAX_PIXELS = 200_000_000

Fetch = Callable[[], Awaitable[bytes]]


class Undecodable(Invalid):
    """The bytes are not an image this service can read."""


class NoDetector(Unavailable):
    """No detector serves the project (none configured, none promoted yet)."""


@dataclass
class Analysis:
    """One image analysed: the detector that ran, the decoded image, its boxes, and timings.

    ``image`` may have been decoded at a reduced scale where nothing needs its full
    resolution; ``size`` is the image's own width and height, as stored.
    """

    detector: Detector
    image: Image.Image
    detections: list[FoundBox]
    timings_ms: dict[str, float] = field(default_factory=dict)
    size: tuple[int, int] | None = None

    @property
    def width(self) -> int:
        return (self.size or self.image.size)[0]

    @property
    def height(self) -> int:
        return (self.size or self.image.size)[1]

    @property
    def model_ref(self) -> ModelRef:
        return ModelRef(
            name=self.detector.name, version=self.detector.version, sha256=self.detector.sha256
        )


def _decode(data: bytes, reduce_for: Detector | None = None) -> tuple[Image.Image, tuple[int, int]]:
    """The decoded image and its stored size; with ``reduce_for``, a JPEG is decoded at the
    smallest scale that detector can use (an eighth of the pixels of a 2048x1440 frame at
    640 px, decoded in a fraction of the time)."""
    try:
        image = Image.open(io.BytesIO(data))
        size = image.size
        if image.width * image.height > MAX_PIXELS:
            raise Undecodable(f"image has {image.width * image.height} pixels")
        if reduce_for is not None:
            reduce_for.draft(image)
        image.load()
    except Undecodable:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Undecodable(f"image could not be decoded: {exc}") from exc
    except Exception as exc:
        # Image plugins fail on malformed bytes in their own ways (struct.error, SyntaxError,
        # a missing optional codec); whatever it is, these bytes cannot be analysed here.
        raise Undecodable(f"image could not be decoded: {type(exc).__name__}: {exc}") from exc
    return image, size


@dataclass(frozen=True, slots=True)
class ObjectBatch:
    """A batch of single objects as read: their events, bytes, each one's share of the read,
    the batch's result template and each object's context."""

    events: Sequence[MediaRecorded]
    blobs: Sequence[bytes]
    fetch_ms: float
    build: ObjectResults
    contexts: Mapping[str, MediaContext]


def _analyse_objects(
    batch: ObjectBatch, stage: ClassificationStage | None, lookups: Lookups | None
) -> tuple[list[MediaAnalyzed], int]:
    """Decode each object, answer it, and classify the ones decoded: one blocking call for
    the batch. Returns the results in the events' order and how many were undecodable."""
    results: list[MediaAnalyzed] = []
    decoded: dict[str, Image.Image] = {}
    failed = 0
    for event, data in zip(batch.events, batch.blobs, strict=True):
        started = time.perf_counter()
        try:
            # Kept in its own mode (a plankton imager's vignettes are often grey): the crop
            # for the classifier converts it to RGB, once.
            image, size = _decode(data)
        except Undecodable as exc:
            log.warning("inference.undecodable", media_id=event.media_id)
            results.append(batch.build.failed(event, exc.detail))
            failed += 1
            continue
        decoded[event.media_id] = image
        timings = {"fetch": batch.fetch_ms, "decode": (time.perf_counter() - started) * 1000}
        results.append(batch.build.analysed(event, size, timings))
    if stage is not None and lookups is not None:
        stage.classify_with(lookups, results, decoded, batch.contexts)
    return results, failed


@dataclass
class _Decoded:
    image: Image.Image
    size: tuple[int, int]
    prepared: Prepared
    decode_ms: float


def _decode_and_prepare(detector: Detector, data: bytes, reduce: bool) -> _Decoded:
    started = time.perf_counter()
    image, size = _decode(data, detector if reduce else None)
    decoded = time.perf_counter()
    try:
        prepared = detector.prepare(image)
    except (OSError, ValueError) as exc:
        raise Undecodable(f"image could not be decoded: {exc}") from exc
    return _Decoded(image, size, prepared, (decoded - started) * 1000)


def decode_threads(settings: InferenceSettings) -> int:
    """The decoding pool's size: ``decode_workers``, else one thread more than the pod's
    cores, so the cores keep working while one thread waits for the interpreter between the
    steps that release it (decoding, resizing, the model run)."""
    return settings.decode_workers or pod_cores() + 1


def _run(detector: Detector, items: Sequence[Prepared]) -> list[list[FoundBox]]:
    return detector.detect_prepared(items)


class Analyzer:
    """Args:
    ctx: the inference service's context (store, publish, settings).
    serving: which detector serves which project.
    """

    def __init__(self, ctx: ServiceContext, serving: ModelServing) -> None:
        settings = InferenceSettings.of(ctx.settings)
        self.ctx = ctx
        self.serving = serving
        self.threshold = settings.detection_threshold
        self._pool = ThreadPoolExecutor(
            max_workers=decode_threads(settings), thread_name_prefix="inference-decode"
        )
        self.batcher: MicroBatcher[Detector, Prepared, list[FoundBox]] = MicroBatcher(
            _run, max_batch=settings.max_batch, max_wait=settings.max_wait_ms / 1000
        )
        self._slots = asyncio.Semaphore(settings.prefetch)
        # Species on the animal boxes, when a classifier serves (set by the service).
        self.classification: ClassificationStage | None = None

    async def close(self) -> None:
        await self.batcher.close()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def detector_for(self, project_id: str | None) -> Detector:
        detector = self.serving.detector(project_id)
        if detector is None:
            raise NoDetector("no detector serves this project yet")
        return detector

    async def analyze(
        self, fetch: Fetch, *, project_id: str | None, detector: Detector | None = None
    ) -> Analysis:
        """Fetch, decode, letterbox and detect one image.

        The detector is chosen once, here: a model promoted meanwhile does not change it.

        Raises:
            Undecodable: the bytes are no readable image.
            NoDetector: nothing serves the project.
        """
        detector = detector or self.detector_for(project_id)
        async with self._slots:
            started = time.perf_counter()
            data = await fetch()
            fetched = time.perf_counter()
            loop = asyncio.get_running_loop()
            done = await loop.run_in_executor(
                self._pool, _decode_and_prepare, detector, data, not self._needs_pixels(project_id)
            )
            del data  # the compressed bytes are not needed any more; the slot keeps the image
            prepared_at = time.perf_counter()
            # Rectangular letterboxes differ by image shape; a batch holds one shape.
            found = await self.batcher.submit(detector, done.prepared, done.prepared.shape)
            timings = {
                "fetch": (fetched - started) * 1000,
                "decode": done.decode_ms,
                "preprocess": (prepared_at - fetched) * 1000 - done.decode_ms,
                "detect": (time.perf_counter() - prepared_at) * 1000,
            }
            return Analysis(detector, done.image, found, timings, done.size)

    def _needs_pixels(self, project_id: str | None) -> bool:
        """Whether anything after detection needs the image at full resolution: a species
        classifier cuts its crops from it."""
        stage = self.classification
        return stage is not None and stage.classifier_for(project_id or "") is not None

    async def analyze_recorded(self, events: Sequence[MediaRecorded]) -> None:
        """Analyse a batch of recorded media and publish each result (``media.analyzed``)."""
        images = [
            e for e in events if e.kind in (MediaKind.MEDIA_KIND_IMAGE, MediaKind.MEDIA_KIND_FRAME)
        ]  # videos are analysed through their frames
        objects = [e for e in images if e.single_object]
        if objects:
            found = await self.analyze_objects(objects)
            if found:
                await self.ctx.publish(found)
        images = [e for e in images if not e.single_object]
        served = [e for e in images if self.serving.detector(e.project_id) is not None]
        for event in images:
            if self.serving.detector(event.project_id) is None:
                # Only other projects have a detector of their own: this one stays 'recorded',
                # as all media do without a detector; a backfill analyses it once one serves.
                log.warning(
                    "inference.no_detector_for_project",
                    media_id=event.media_id,
                    project_id=event.project_id,
                )
        images = served
        results = await self.analyze_many(
            [(e.media_id, e.project_id, self._fetch_key(e.object_key)) for e in images],
            source="recorded",
            contexts={e.media_id: MediaContext.of(e) for e in images},
        )
        if results:
            await self.ctx.publish(results)

    async def analyze_objects(self, events: Sequence[MediaRecorded]) -> list[MediaAnalyzed]:
        """Single objects: no detector runs; each whole image is one box, classified as it
        is, all of them in one batch (``media.analyzed`` names ``WHOLE_OBJECT`` as detector).

        An object whose bytes are no image gets a result saying so, the others are analysed;
        a missing object or a store that does not answer raises, so the batch is delivered
        again.
        """
        if not events:
            return []
        stage = self.classification
        contexts = {e.media_id: MediaContext.of(e) for e in events}
        build = ObjectResults(self.threshold)
        # Classifiers, taxonomies and priors are looked up first (cached, on the loop): then
        # the batch is read in one trip to the store's thread, and decoded, classified and
        # answered in one trip to the pool. A trip per object, or per step, costs a thread
        # hand-over and a loop wake-up each, more than reading and decoding a small vignette.
        lookups = (
            await stage.look_up_objects([e.project_id for e in events], OBJECT_CATEGORY)
            if stage is not None
            else None
        )
        # The read takes one of the prefetch slots.
        async with self._slots:
            started = time.perf_counter()
            blobs = await self.ctx.store.get_many([e.object_key for e in events])
            # Each object's share of the read, as each gets its share of the classification.
            fetch_ms = (time.perf_counter() - started) * 1000 / len(events)
        loop = asyncio.get_running_loop()
        results, failed = await loop.run_in_executor(
            self._pool,
            _analyse_objects,
            ObjectBatch(events, blobs, fetch_ms, build, contexts),
            stage,
            lookups,
        )
        if failed:
            IMAGES_ANALYZED.labels("object", "undecodable").inc(failed)
        if failed < len(events):
            IMAGES_ANALYZED.labels("object", "ok").inc(len(events) - failed)
        return results

    def _fetch_key(self, key: str) -> Fetch:
        store = self.ctx.store
        return lambda: store.get_bytes(key)

    async def analyze_many(
        self,
        items: Sequence[tuple[str, str, Fetch]],
        *,
        source: str,
        detector: Detector | None = None,
        contexts: Mapping[str, MediaContext] | None = None,
    ) -> list[MediaAnalyzed]:
        """``media.analyzed`` for each ``(media id, project id, fetch)``, analysed side by side.

        An undecodable image gets a result saying so; any other failure (storage down) raises
        once every image has settled, so the caller's message is delivered again.
        """

        decoded: dict[str, Image.Image] = {}

        async def one(media_id: str, project_id: str, fetch: Fetch) -> MediaAnalyzed:
            used = detector or self.detector_for(project_id)
            try:
                analysis = await self.analyze(fetch, project_id=project_id, detector=used)
            except Undecodable as exc:
                IMAGES_ANALYZED.labels(source, "undecodable").inc()
                return self._failure(media_id, project_id, used, exc.detail)
            IMAGES_ANALYZED.labels(source, "ok").inc()
            decoded[media_id] = analysis.image
            return self.result(media_id, project_id, analysis)

        settled = await asyncio.gather(
            *(one(m, p, fetch) for m, p, fetch in items), return_exceptions=True
        )
        for outcome in settled:
            if isinstance(outcome, BaseException):
                IMAGES_ANALYZED.labels(source, "failed").inc()
                raise outcome
        results = [outcome for outcome in settled if isinstance(outcome, MediaAnalyzed)]
        if self.classification is not None:
            # All animal crops of all these images, classified together.
            await self.classification.classify(results, decoded, contexts)
        return results

    def kept(self, analysis: Analysis) -> list[FoundBox]:
        """The detections at or above the platform's threshold."""
        return [d for d in analysis.detections if d.confidence >= self.threshold]

    def result(self, media_id: str, project_id: str, analysis: Analysis) -> MediaAnalyzed:
        result = MediaAnalyzed(
            media_id=media_id,
            project_id=project_id,
            detector=analysis.model_ref,
            image_width=analysis.width,
            image_height=analysis.height,
            detection_threshold=self.threshold,
            timings_ms=analysis.timings_ms,
        )
        result.analyzed_at.GetCurrentTime()
        for detection in self.kept(analysis):
            x, y, w, h = detection.bbox
            result.detections.append(
                Detection(
                    category=detection.category,
                    confidence=detection.confidence,
                    bbox=BoundingBox(x=x, y=y, width=w, height=h),
                )
            )
        return result

    def _failure(
        self, media_id: str, project_id: str, detector: Detector, reason: str
    ) -> MediaAnalyzed:
        log.warning("inference.undecodable", media_id=media_id, reason=reason)
        result = MediaAnalyzed(
            media_id=media_id,
            project_id=project_id,
            detector=ModelRef(name=detector.name, version=detector.version, sha256=detector.sha256),
            failure=reason,
        )
        result.analyzed_at.GetCurrentTime()
        return result
