"""``media.recorded`` → ``media.analyzed``.

Inference keeps nothing durable: it publishes the result and only then lets the bus ack, so a
crash means the image is analysed again, never skipped. Decoding and the model run happen in a
bounded thread pool, off the event loop.
"""

from __future__ import annotations

import asyncio
import io
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import structlog
from PIL import Image, UnidentifiedImageError

from wildlens.common.events import Envelope, unpack
from wildlens.common.events.v1.media_pb2 import (
    BoundingBox,
    Detection,
    MediaAnalyzed,
    MediaKind,
    MediaRecorded,
    ModelRef,
)
from wildlens.common.service.context import ServiceContext
from wildlens.inference.models.detector import Detection as FoundBox
from wildlens.inference.models.detector import Detector

log = structlog.get_logger(__name__)

# Decompression bombs are refused at ingest; this is a second line for bytes that bypassed it.
MAX_PIXELS = 200_000_000


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    if image.width * image.height > MAX_PIXELS:
        raise ValueError(f"image has {image.width * image.height} pixels")
    image.load()
    return image


class Analyzer:
    def __init__(self, ctx: ServiceContext, detector: Detector, *, workers: int = 2) -> None:
        self.ctx = ctx
        self.detector = detector
        self.threshold = ctx.settings.inference.detection_threshold
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="inference")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _ref(self) -> ModelRef:
        return ModelRef(
            name=self.detector.name, version=self.detector.version, sha256=self.detector.sha256
        )

    async def handle(self, envelopes: list[Envelope]) -> None:
        """Analyse a batch of recorded media in one model run and publish each result."""
        loop = asyncio.get_running_loop()
        jobs: list[tuple[MediaRecorded, Image.Image, dict[str, float]]] = []
        results: list[MediaAnalyzed] = []
        for envelope in envelopes:
            event = unpack(envelope, MediaRecorded)
            if event.kind not in (MediaKind.MEDIA_KIND_IMAGE, MediaKind.MEDIA_KIND_FRAME):
                continue  # videos are analysed through their frames
            started = time.perf_counter()
            data = await self.ctx.store.get_bytes(event.object_key)
            fetched = time.perf_counter()
            try:
                image = await loop.run_in_executor(self._pool, _decode, data)
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                results.append(self._failure(event, f"image could not be decoded: {exc}"))
                continue
            timings = {
                "fetch": (fetched - started) * 1000,
                "decode": (time.perf_counter() - fetched) * 1000,
            }
            jobs.append((event, image, timings))

        if jobs:
            started = time.perf_counter()
            detections = await loop.run_in_executor(
                self._pool, self.detector.detect, [image for _, image, _ in jobs]
            )
            per_image = (time.perf_counter() - started) * 1000 / len(jobs)
            for (event, image, timings), found in zip(jobs, detections, strict=True):
                timings["detect"] = per_image
                results.append(self._result(event, image, found, timings))
        if results:
            await self.ctx.publish(results)

    def _result(
        self,
        event: MediaRecorded,
        image: Image.Image,
        found: list[FoundBox],
        timings: dict[str, float],
    ) -> MediaAnalyzed:
        result = MediaAnalyzed(
            media_id=event.media_id,
            project_id=event.project_id,
            detector=self._ref(),
            image_width=image.width,
            image_height=image.height,
            detection_threshold=self.threshold,
            timings_ms=timings,
        )
        result.analyzed_at.FromDatetime(datetime.now(UTC))
        for detection in found:
            if detection.confidence < self.threshold:
                continue
            x, y, w, h = detection.bbox
            result.detections.append(
                Detection(
                    category=detection.category,
                    confidence=detection.confidence,
                    bbox=BoundingBox(x=x, y=y, width=w, height=h),
                )
            )
        return result

    def _failure(self, event: MediaRecorded, reason: str) -> MediaAnalyzed:
        log.warning("inference.undecodable", media_id=event.media_id, reason=reason)
        result = MediaAnalyzed(
            media_id=event.media_id,
            project_id=event.project_id,
            detector=self._ref(),
            failure=reason,
        )
        result.analyzed_at.FromDatetime(datetime.now(UTC))
        return result
