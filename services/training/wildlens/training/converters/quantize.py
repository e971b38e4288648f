"""An int8 variant of a detector bundle, and what it costs in accuracy against the fp32 model.

ONNX Runtime's dynamic quantisation stores the convolution and matrix weights as 8-bit
integers (a quarter of the size) and quantises activations on the fly, so no calibration
images are needed. Whether it pays depends on the CPU (integer dot-product instructions) and
the model, and it always moves the boxes a little: the variant is a bundle of its own (the
fp32 version with ``-int8`` appended), registered next to the fp32 model, never in its place,
and its precision, recall and box overlap on a labelled Camtrap DP package are measured next
to the fp32 model's and written into its manifest.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageOps

from wildlens.common.bundles import (
    Bundle,
    BundleError,
    DecodeConfig,
    decode,
    write_bundle,
)
from wildlens.common.imaging import preprocess

__all__ = [
    "Accuracy",
    "Quantized",
    "detector_accuracy",
    "labelled_boxes",
    "quantize_bundle",
]

Box = tuple[float, float, float, float]
# A detection counts as the labelled box when they overlap by at least this much.
MATCH_IOU = 0.5


@dataclass(frozen=True)
class Accuracy:
    """A detector on a labelled set, at its manifest's thresholds."""

    images: int
    labelled_boxes: int
    detections: int
    matched: int
    mean_iou: float
    ms_per_image: float

    @property
    def precision(self) -> float:
        return self.matched / self.detections if self.detections else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.labelled_boxes if self.labelled_boxes else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "images": self.images,
            "labelled_boxes": self.labelled_boxes,
            "detections": self.detections,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "mean_iou": round(self.mean_iou, 4),
            "ms_per_image": round(self.ms_per_image, 2),
        }


@dataclass(frozen=True)
class Quantized:
    bundle: Bundle
    fp32: Accuracy
    int8: Accuracy

    def report(self) -> dict[str, Any]:
        """Both models' figures and the change (int8 minus fp32), as the manifest keeps them."""
        fp32, int8 = self.fp32.as_dict(), self.int8.as_dict()
        return {
            "fp32": fp32,
            "int8": int8,
            "change": {
                key: round(int8[key] - fp32[key], 4)
                for key in ("precision", "recall", "mean_iou", "ms_per_image")
            },
        }


def labelled_boxes(package: Path) -> dict[Path, list[Box]]:
    """Image file → its labelled relative ``[x, y, w, h]`` boxes, from a Camtrap DP package
    (``media.csv``, ``observations.csv`` with bounding boxes, the files next to them)."""
    try:
        with (package / "media.csv").open(newline="", encoding="utf-8") as fh:
            files = {row["mediaID"]: _local_file(package, row) for row in csv.DictReader(fh)}
        boxes: dict[Path, list[Box]] = defaultdict(list)
        with (package / "observations.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                path = files.get(row.get("mediaID") or "")
                if not path or not row.get("bboxX"):
                    continue
                boxes[path].append(
                    (
                        float(row["bboxX"]),
                        float(row["bboxY"]),
                        float(row["bboxWidth"]),
                        float(row["bboxHeight"]),
                    )
                )
    except (OSError, KeyError, ValueError) as exc:
        raise BundleError(f"{package} is no Camtrap DP package with boxes: {exc}") from exc
    found = {path: items for path, items in boxes.items() if path.is_file()}
    if not found:
        raise BundleError(f"{package} has no image files with labelled boxes")
    return found


def _local_file(package: Path, row: dict[str, str]) -> Path | None:
    """Where a media row's file lies in the package: its relative ``filePath``, or its
    ``fileName`` in ``media/`` (packages that publish URLs keep the files there)."""
    candidates = [row.get("filePath") or "", f"media/{row.get('fileName') or ''}"]
    for candidate in candidates:
        if candidate and "://" not in candidate and (package / candidate).is_file():
            return package / candidate
    return None


def _iou(a: Box, b: Box) -> float:
    iw = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _detect(bundle: Bundle, session: ort.InferenceSession, image: Image.Image) -> list[Box]:
    """The boxes above the manifest's thresholds, relative to the upright image, prepared as
    serving prepares them (rectangular letterbox where the input takes any size)."""
    manifest = bundle.manifest
    assert manifest.decoder is not None
    shape = session.get_inputs()[0].shape
    any_size = not isinstance(shape[2], int) and not isinstance(shape[3], int)
    upright = ImageOps.exif_transpose(image).convert("RGB")
    tensor, transform = preprocess(upright, manifest.input, rectangular=any_size)
    names = [output.name for output in session.get_outputs()]
    outputs = dict(
        zip(names, session.run(None, {session.get_inputs()[0].name: tensor[None]}), strict=True)
    )
    (raw,) = decode(manifest.decoder, outputs, DecodeConfig.from_manifest(manifest))
    if not raw:
        return []
    relative = transform.to_relative_xywh([d.box_xyxy for d in raw])
    return [(float(x), float(y), float(w), float(h)) for x, y, w, h in relative if w > 0 and h > 0]


def detector_accuracy(bundle: Bundle, truth: dict[Path, list[Box]]) -> Accuracy:
    """Precision and recall at IoU 0.5 (each labelled box matched once, best overlap first),
    the mean IoU of the matches, and the time per image, on one CPU thread."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(
        str(bundle.onnx_path), sess_options=options, providers=["CPUExecutionProvider"]
    )
    detections = matched = 0
    overlaps: list[float] = []
    elapsed = 0.0
    for path, labelled in sorted(truth.items()):
        with Image.open(path) as image:
            image.load()
            started = time.perf_counter()
            found = _detect(bundle, session, image)
            elapsed += time.perf_counter() - started
        detections += len(found)
        pairs = sorted(
            ((_iou(f, t), i, j) for i, f in enumerate(found) for j, t in enumerate(labelled)),
            reverse=True,
        )
        used_found: set[int] = set()
        used_truth: set[int] = set()
        for iou, i, j in pairs:
            if iou < MATCH_IOU:
                break
            if i in used_found or j in used_truth:
                continue
            used_found.add(i)
            used_truth.add(j)
            overlaps.append(iou)
        matched += len(used_truth)
    return Accuracy(
        images=len(truth),
        labelled_boxes=sum(len(boxes) for boxes in truth.values()),
        detections=detections,
        matched=matched,
        mean_iou=float(np.mean(overlaps)) if overlaps else 0.0,
        ms_per_image=1000 * elapsed / max(len(truth), 1),
    )


def quantize_bundle(fp32: Bundle, folder: Path, labelled: Path) -> Quantized:
    """The int8 variant of the detector ``fp32`` in ``folder``, and both measured on the
    Camtrap DP package ``labelled``.

    Raises:
        BundleError: not a detector, no labelled boxes, or the model does not quantise.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    manifest = fp32.manifest
    if manifest.kind != "detector":
        raise BundleError("only detectors are quantised; a classifier keeps its fp32 model")
    truth = labelled_boxes(labelled)
    with tempfile.TemporaryDirectory(prefix="wildlens-int8-") as scratch:
        output = Path(scratch) / "model.onnx"
        try:
            # Unsigned weights: ONNX Runtime's CPU integer convolution takes uint8 x uint8.
            quantize_dynamic(fp32.onnx_path, output, weight_type=QuantType.QUInt8)
        except Exception as exc:  # the quantiser fails in its own ways on unusual graphs
            raise BundleError(f"the model could not be quantised: {exc}") from exc
        fields = manifest.model_dump(exclude={"sha256"}, exclude_none=True)
        fields["version"] = f"{manifest.version}-int8"
        fields["training"] = {
            **manifest.training,
            "quantized_from": {"version": manifest.version, "sha256": manifest.sha256},
            "quantization": "onnxruntime dynamic, uint8 weights",
        }
        bundle = write_bundle(folder, output, fields)
    fp32_accuracy = detector_accuracy(fp32, truth)
    int8_accuracy = detector_accuracy(bundle, truth)
    quantized = Quantized(bundle, fp32_accuracy, int8_accuracy)
    fields = bundle.manifest.model_dump(exclude={"sha256"}, exclude_none=True)
    fields["metrics"] = {
        **bundle.manifest.metrics,
        "int8_against_fp32": {"labelled_set": labelled.name, **quantized.report()},
    }
    return Quantized(write_bundle(folder, bundle.onnx_path, fields), fp32_accuracy, int8_accuracy)
