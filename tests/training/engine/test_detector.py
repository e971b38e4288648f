"""What the detector engine hands to inference: an ONNX export in the ``generic`` decoder's
layout for any batch size, which inference's detector loads and which finds what the torch
model finds, in the frame's own coordinates; and a clear failure where an export does not
match torch."""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from PIL import Image

from tests.support.scenes import scene
from wildlens.common.bundles import ModelManifest, write_bundle
from wildlens.inference.models.detector import Detector
from wildlens.training.engine.detection import (
    DetectorParityError,
    FrameSample,
    build_detector,
    check_detector_parity,
    export_detector_onnx,
    predict,
)
from wildlens.training.engine.detection.data import input_spec
from wildlens.training.engine.detection.trainer import frames_of
from wildlens.training.evaluation.detection import FrameDetections, evaluate_detector
from wildlens.training.jobs.champion_detector import ChampionDetector, run_champion_detector
from wildlens.training.jobs.detector_run import DETECTION_THRESHOLD, NMS_IOU, score_champion

SIZE = 96


def _frames(count: int) -> tuple[dict[str, bytes], list[FrameSample]]:
    store: dict[str, bytes] = {}
    samples = []
    for i in range(count):
        data, box = scene(i % 3, 500 + i)
        store[f"f{i}"] = data
        samples.append(FrameSample(f"f{i}", [box], [i % 3], "test", f"loc{i % 2}"))
    return store, samples


def _detector(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    model, base = build_detector("fcos_mobilenet_v3_small", 3, SIZE)
    assert base.source == "random"
    # Biased towards finding something, so that an untrained model's boxes pass a threshold.
    with torch.no_grad():
        model.head.classification_head.cls_logits.bias.fill_(2.0)  # type: ignore[union-attr, operator]
    return model.eval()


def test_the_export_serves_through_inference_the_boxes_torch_finds(tmp_path: Path) -> None:
    store, frames = _frames(3)
    model = _detector(0)
    onnx = export_detector_onnx(model, SIZE)
    parity = check_detector_parity(model, onnx, frames, SIZE, store.__getitem__)
    assert parity.images == 3
    assert parity.box_difference <= 1e-3
    assert parity.score_difference <= 1e-4

    # Any batch size: boxes [B, N, 4], scores and labels [B, N], no background class.
    session = onnxruntime.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    boxes, scores, labels = session.run(None, {"images": np.zeros((3, 3, SIZE, SIZE), np.float32)})
    assert boxes.shape[0] == 3
    assert boxes.shape[2] == 4
    assert scores.shape == labels.shape == boxes.shape[:2]
    assert set(np.unique(labels)) <= {0, 1, 2}

    bundle = write_bundle(
        tmp_path / "bundle",
        onnx,
        {
            "name": "scenes",
            "version": "1",
            "kind": "detector",
            "decoder": "generic",
            "input": input_spec(SIZE).model_dump(),
            "labels": [
                {"label": "disc", "scientific_name": "Asterias rubens"},
                {"label": "square"},
                {"label": "triangle"},
            ],
            "thresholds": {"default": 0.0},
            "nms_iou": 0.45,
            "max_detections": 5,
        },
    )
    image = Image.open(io.BytesIO(store["f0"])).convert("RGB")
    served = Detector(bundle).detect([image])[0]
    expected = predict(model, frames[:1], SIZE, store.__getitem__, floor=0.0, keep=100)[0]
    assert served
    # A label naming a taxon is an animal to the rest of the platform; the others keep theirs.
    assert {d.category for d in served} <= {"animal", "square", "triangle"}
    # Inference gives boxes relative to the frame; torch's are in letterboxed input pixels.
    scale = SIZE / max(image.width, image.height)
    pad_y = (SIZE - round(image.height * scale)) // 2
    x1, y1, x2, y2 = expected.boxes.T
    left, right = np.clip(x1 / scale / image.width, 0, 1), np.clip(x2 / scale / image.width, 0, 1)
    top = np.clip((y1 - pad_y) / scale / image.height, 0, 1)
    bottom = np.clip((y2 - pad_y) / scale / image.height, 0, 1)
    relative = np.stack([left, top, right - left, bottom - top], axis=1)
    for detection in served:
        same = (np.abs(relative - np.asarray(detection.bbox)).max(axis=1) <= 2e-3) & (
            np.abs(expected.scores - detection.confidence) <= 1e-3
        )
        assert same.any(), (detection, relative[:5], expected.scores[:5])


def test_an_export_that_does_not_match_torch_fails_with_the_differences() -> None:
    store, frames = _frames(2)
    with pytest.raises(DetectorParityError, match=r"over 2 test frames by .* of the image side"):
        check_detector_parity(
            _detector(0), export_detector_onnx(_detector(1), SIZE), frames, SIZE, store.__getitem__
        )


def test_the_serving_detector_runs_on_a_candidates_frames_as_inference_runs_it(
    tmp_path: Path,
) -> None:
    """A candidate's report scores the detector now serving on the same test frames: that
    detector's bundle, run as inference runs it, gives the boxes torch gives, in each frame's
    pixels; a bundle whose outputs are not in its decoder's layout is said so, never scored
    wrongly."""
    store, frames = _frames(3)
    model = _detector(2)
    onnx = export_detector_onnx(model, SIZE)
    manifest = ModelManifest.model_validate(
        {
            "name": "serving",
            "version": "1",
            "kind": "detector",
            "decoder": "generic",
            "input": input_spec(SIZE).model_dump(),
            "labels": [{"label": "disc"}, {"label": "square"}, {"label": "triangle"}],
            "sha256": hashlib.sha256(onnx).hexdigest(),
        }
    )
    champion = ChampionDetector(uuid.uuid4(), "serving", "1", manifest, onnx)
    ran = run_champion_detector(champion, [f.key for f in frames], store.__getitem__)
    expected = predict(model, frames, SIZE, store.__getitem__, floor=0.0, keep=1000)
    for (boxes, scores, labels, (w, h)), torch_found in zip(ran, expected, strict=True):
        assert (w, h) == Image.open(io.BytesIO(store[frames[0].key])).size
        scale = SIZE / max(w, h)
        pad_y = (SIZE - round(h * scale)) // 2
        pad_x = (SIZE - round(w * scale)) // 2
        best = int(np.argmax(torch_found.scores))
        x1, y1, x2, y2 = torch_found.boxes[best]
        in_frame = np.array(
            [(x1 - pad_x) / scale, (y1 - pad_y) / scale, (x2 - pad_x) / scale, (y2 - pad_y) / scale]
        ).clip(0, [w, h, w, h])
        same = (np.abs(boxes - in_frame).max(axis=1) <= 2e-3 * max(w, h)) & (
            np.abs(scores - torch_found.scores[best]) <= 1e-4
        )
        assert same.any()
        assert labels[same][0] == torch_found.labels[best]

    other = ChampionDetector(
        uuid.uuid4(), "v5", "1", manifest.model_copy(update={"decoder": "megadetector-v5"}), onnx
    )
    with pytest.raises(ValueError, match=r"megadetector-v5 output .* does not fit 3 labels"):
        run_champion_detector(other, [frames[0].key], store.__getitem__)


def test_the_serving_detector_gets_the_figures_the_candidate_gets_when_they_are_one_model() -> None:
    """The report's figures for the detector now serving come from the same COCO evaluation
    on the same frames as the candidate's: the same model, as a candidate and as the serving
    bundle, scores the same mAP, and the serving one is also scored class-agnostic."""
    store, frames = _frames(6)
    model = _detector(3)
    classes = ["disc", "square", "triangle"]
    onnx = export_detector_onnx(model, SIZE)
    manifest = ModelManifest.model_validate(
        {
            "name": "serving",
            "version": "1",
            "kind": "detector",
            "decoder": "generic",
            "input": input_spec(SIZE).model_dump(),
            "labels": [{"label": c} for c in classes],
            "thresholds": {"default": DETECTION_THRESHOLD},
            "nms_iou": NMS_IOU,
            "sha256": hashlib.sha256(onnx).hexdigest(),
        }
    )
    found = predict(model, frames, SIZE, store.__getitem__, nms_iou=NMS_IOU)
    # An untrained model finds no shape; the frames are given its own best box as the one a
    # person confirmed, so that both scorings have something to find.
    confirmed = []
    for frame, p in zip(frames, found, strict=True):
        w, h = Image.open(io.BytesIO(store[frame.key])).size
        scale = SIZE / max(w, h)
        pad_x, pad_y = (SIZE - round(w * scale)) // 2, (SIZE - round(h * scale)) // 2
        best = int(np.argmax(p.scores))
        x1, y1, x2, y2 = p.boxes[best]
        left, top = (x1 - pad_x) / scale / w, (y1 - pad_y) / scale / h
        box = (left, top, (x2 - x1) / scale / w, (y2 - y1) / scale / h)
        confirmed.append(
            FrameSample(frame.key, [box], [int(p.labels[best])], "test", frame.location_id)
        )
    frames = confirmed
    candidate = evaluate_detector(
        frames_of(frames, SIZE, store.__getitem__),
        [FrameDetections(p.boxes, p.scores, p.labels) for p in found],
        classes,
        dict.fromkeys(classes, DETECTION_THRESHOLD),
    )
    champion = ChampionDetector(uuid.uuid4(), "serving", "1", manifest, onnx)
    serving = score_champion(champion, frames, classes, store.__getitem__)
    assert candidate["map_50"] > 0
    for key in ("map_50", "map_50_95", "precision", "recall"):
        assert serving[key] == pytest.approx(candidate[key], abs=1e-3), key
    assert set(serving["per_location"]) == {"loc0", "loc1"}
    assert "map_50" in serving["class_agnostic"]

    # A serving detector whose labels name none of the classes is scored class-agnostic only.
    animals = manifest.model_copy(
        update={"labels": [manifest.labels[0].model_copy(update={"label": "animal"})] * 3}
    )
    agnostic = score_champion(
        ChampionDetector(uuid.uuid4(), "md", "5", animals, onnx), frames, classes, store.__getitem__
    )
    assert "map_50" not in agnostic
    assert agnostic["class_agnostic"]["map_50"] >= 0
