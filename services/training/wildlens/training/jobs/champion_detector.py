"""The detector a candidate detector would replace, run on the candidate's own test frames.

The champion is the detector in production for the project, else the global one. Its bundle
runs with ONNX Runtime over the test frames letterboxed by its own manifest's input, exactly
as inference prepares an upload, and its outputs are read by inference's own decoder for its
layout (a trained detector's ``generic`` boxes, MegaDetector's YOLO layouts alike); boxes are
brought back to each frame's pixels so that they compare with the confirmed boxes.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlmodel.ext.asyncio.session import AsyncSession

from wildlens.common.bundles import (
    MANIFEST_FILE,
    MODEL_FILE,
    DecodeConfig,
    ModelManifest,
    decode,
)
from wildlens.common.imaging import preprocess, upright
from wildlens.common.storage import ObjectStore
from wildlens.training.registry import repository as registry

__all__ = ["ChampionDetector", "find_champion_detector", "run_champion_detector"]

# Scores below this are not kept: too low to change any AP.
SCORE_FLOOR = 0.01


@dataclass(frozen=True)
class ChampionDetector:
    model_id: uuid.UUID
    name: str
    version: str
    manifest: ModelManifest
    onnx: bytes


async def find_champion_detector(
    session: AsyncSession, store: ObjectStore, project_id: uuid.UUID
) -> ChampionDetector | None:
    """The detector serving the project now, with its bundle; None where none is."""
    for scope in (project_id, None):
        models = await registry.serving(session, "detector", scope)
        if models:
            model = max(models, key=lambda m: m.created_at)
            manifest = ModelManifest.model_validate_json(
                await store.get_bytes(f"{model.bundle_key}/{MANIFEST_FILE}")
            )
            onnx = await store.get_bytes(f"{model.bundle_key}/{MODEL_FILE}")
            return ChampionDetector(model.id, model.name, model.version, manifest, onnx)
    return None


def run_champion_detector(
    champion: ChampionDetector, frames: Sequence[str], read: Callable[[str], bytes]
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]]:
    """For each frame (object key): its boxes (xyxy frame pixels), scores and label indices
    above ``SCORE_FLOOR`` after its own NMS and cap, and the frame's size. Blocking: run it
    in a thread.

    Raises:
        ValueError: its outputs do not have the layout its decoder reads.
    """
    import onnxruntime

    manifest = champion.manifest
    decoder = manifest.decoder
    if decoder is None:
        raise ValueError("its manifest names no decoder")
    config = DecodeConfig(
        np.full(len(manifest.label_names), SCORE_FLOOR, dtype=np.float32),
        manifest.nms_iou,
        manifest.max_detections,
    )
    session = onnxruntime.InferenceSession(champion.onnx, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    found = []
    for key in frames:
        with Image.open(io.BytesIO(read(key))) as opened:
            image = upright(opened).convert("RGB")
        tensor, placed = preprocess(image, champion.manifest.input)
        outputs = dict(
            zip(
                [o.name for o in session.get_outputs()],
                session.run(None, {name: tensor[None]}),
                strict=True,
            )
        )
        # Inference's own decoder for the bundle's layout, at a floor low enough for mAP
        # (which needs the ranking), with the bundle's NMS and cap.
        (raw,) = decode(decoder, outputs, config)
        boxes = np.asarray([d.box_xyxy for d in raw], dtype=np.float64).reshape(-1, 4)
        scores = np.asarray([d.score for d in raw], dtype=np.float64)
        labels = np.asarray([d.label_index for d in raw], dtype=np.int64)
        relative = placed.to_relative_xywh(boxes)
        w, h = image.width, image.height
        pixels = np.stack(
            [
                relative[:, 0] * w,
                relative[:, 1] * h,
                (relative[:, 0] + relative[:, 2]) * w,
                (relative[:, 1] + relative[:, 3]) * h,
            ],
            axis=1,
        )
        found.append((pixels, scores, labels, (w, h)))
    return found
