"""Model bundles: a folder holding ``model.onnx`` and its manifest ``wildlens-model.json``.

The format is the platform's contract between whoever makes or brings a model (training, the
model registry, ``wildlens models add``) and inference, which serves it; so it lives here.

The manifest says everything inference needs to run the ONNX file without guessing: the input
size and normalisation, which output decoder reads the raw tensors, the labels, the score
thresholds, and the SHA-256 of the ONNX file, which is checked before anything is loaded so
that a truncated or swapped file never serves predictions.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wildlens.common.errors import FieldError, Invalid

__all__ = [
    "FEATURES_FILE",
    "GEOFENCE_FILE",
    "MANIFEST_FILE",
    "MODEL_FILE",
    "Bundle",
    "BundleError",
    "DecoderName",
    "FeatureModel",
    "InputSpec",
    "LabelSpec",
    "ModelManifest",
    "Thresholds",
    "file_sha256",
    "load_bundle",
    "parse_manifest",
    "write_bundle",
]

MANIFEST_FILE = "wildlens-model.json"
MODEL_FILE = "model.onnx"
# A bundle may carry where each of its taxa is expected (``taxonomy/geofence.py`` reads it).
GEOFENCE_FILE = "geofence.json"
# A classifier that combines pixels with an object's features carries its second part here.
FEATURES_FILE = "features.onnx"

DecoderName = Literal["generic", "yolov8", "megadetector-v5", "end2end"]


class BundleError(Invalid):
    """A model bundle is missing, unreadable, malformed or does not match its hash."""


class _Strict(BaseModel):
    # A typo in a hand-written manifest ("treshold") must fail, not silently use a default.
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    letterbox: bool = True
    pad_value: int = Field(default=114, ge=0, le=255)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    scale: float = Field(default=1 / 255, gt=0)
    channel_order: Literal["RGB", "BGR"] = "RGB"
    # The network's largest downsampling factor: a model whose ONNX input takes any height and
    # width is fed the smallest rectangle of multiples of it that holds the letterboxed image
    # (YOLO detectors: 32; YOLOv5 P6 models such as MegaDetector v5: 64).
    stride: int = Field(default=32, gt=0, le=1024)

    @model_validator(mode="after")
    def _std_not_zero(self) -> Self:
        if any(s == 0 for s in self.std):
            raise ValueError("std must not contain 0")
        return self


class LabelSpec(_Strict):
    label: str = Field(min_length=1)
    scientific_name: str | None = None


class Thresholds(_Strict):
    default: float = Field(default=0.2, ge=0.0, le=1.0)
    per_label: dict[str, float] = Field(default_factory=dict)


class FeatureModel(_Strict):
    """The second part of a classifier that combines pixels with features (plankton objects'
    morphometrics): ``features.onnx`` takes one row per object, the image model's
    probabilities (calibrated, in the order of ``labels``) followed by the features in the
    order of ``names``, and answers one probability per label. An object that lacks some of
    the features gets ``fill`` (the training split's medians) for them; one without any is
    judged by the pixels alone."""

    names: list[str] = Field(min_length=1)
    fill: list[float]
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @model_validator(mode="after")
    def _one_fill_per_name(self) -> Self:
        if len(self.fill) != len(self.names):
            raise ValueError(f"fill has {len(self.fill)} values for {len(self.names)} names")
        if len(set(self.names)) != len(self.names):
            raise ValueError("feature names repeat")
        return self


class ModelManifest(_Strict):
    name: str = Field(min_length=1)
    version: str = Field(min_length=1)
    kind: Literal["detector", "classifier"]
    input: InputSpec
    # Only detectors need a decoder; a classifier's output is one score per label.
    decoder: DecoderName | None = None
    labels: list[LabelSpec] = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    thresholds: Thresholds = Field(default_factory=Thresholds)
    nms_iou: float = Field(default=0.45, gt=0.0, le=1.0)
    max_detections: int = Field(default=300, gt=0)
    # A classifier's logits are divided by it before the softmax: fitted on validation data so
    # that a 0.9 means right nine times in ten (1.0: the scores as the network gives them).
    temperature: float = Field(default=1.0, gt=0.0)
    metrics: dict[str, Any] = Field(default_factory=dict)
    training: dict[str, Any] = Field(default_factory=dict)
    # A classifier's tree model over its probabilities and the object's features (see
    # FeatureModel); None: the pixels alone.
    features: FeatureModel | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.kind == "detector" and self.decoder is None:
            raise ValueError("a detector needs a decoder")
        if self.kind == "detector" and self.features is not None:
            raise ValueError("only a classifier combines its scores with features")
        names = [item.label for item in self.labels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate labels: {', '.join(duplicates)}")
        unknown = sorted(set(self.thresholds.per_label) - set(names))
        if unknown:
            raise ValueError(f"thresholds.per_label names unknown labels: {', '.join(unknown)}")
        for label, value in self.thresholds.per_label.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"threshold for {label!r} must be within [0, 1], got {value}")
        return self

    @property
    def label_names(self) -> list[str]:
        return [item.label for item in self.labels]

    def threshold_for(self, label: str) -> float:
        return self.thresholds.per_label.get(label, self.thresholds.default)


@dataclass(frozen=True, slots=True)
class Bundle:
    manifest: ModelManifest
    onnx_path: Path
    root: Path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        # Streamed: detector weights run to hundreds of megabytes.
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _validation_error(where: str, error: ValidationError) -> BundleError:
    # Located as the README says field errors are: the part of the input first (a file here),
    # then the file's name, then the path inside it.
    fields = [
        FieldError(location=["file", MANIFEST_FILE, *e["loc"]], message=e["msg"], type=e["type"])
        for e in error.errors()
    ]
    summary = "; ".join(
        f"{'.'.join(str(part) for part in f.location[2:]) or '(manifest)'}: {f.message}"
        for f in fields
    )
    return BundleError(f"{MANIFEST_FILE} {where} is invalid: {summary}", fields=fields)


def _parse_manifest(where: str, data: Any) -> ModelManifest:
    try:
        return ModelManifest.model_validate(data)
    except ValidationError as error:
        raise _validation_error(where, error) from error


def parse_manifest(raw: bytes, where: str = "as sent") -> ModelManifest:
    """A manifest from its bytes, checked against the schema.

    Args:
        raw: the manifest file's content.
        where: where it came from, for the messages ("in <folder>", "as sent").

    Raises:
        BundleError: it is not UTF-8 JSON or breaks the schema.
    """
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise BundleError(f"{MANIFEST_FILE} {where} is not UTF-8 text: {error}") from error
    except RecursionError as error:
        # Thousands of nested brackets exhaust the parser: no manifest is shaped so.
        raise BundleError(f"{MANIFEST_FILE} {where} nests arrays and objects too deep") from error
    except json.JSONDecodeError as error:
        raise BundleError(
            f"{MANIFEST_FILE} {where} is not valid JSON: {error.msg} "
            f"(line {error.lineno}, column {error.colno})"
        ) from error
    return _parse_manifest(where, data)


def load_bundle(path: Path | str) -> Bundle:
    """Read and check a bundle folder.

    Args:
        path: the bundle folder.

    Raises:
        BundleError: a file is missing, the manifest is not JSON or breaks the schema, or the
            ONNX file's SHA-256 differs from the manifest's.
    """
    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"model bundle {root} is not a folder")
    manifest_path = root / MANIFEST_FILE
    onnx_path = root / MODEL_FILE
    if not manifest_path.is_file():
        raise BundleError(f"model bundle {root} has no {MANIFEST_FILE}")
    manifest = parse_manifest(manifest_path.read_bytes(), f"in {root}")
    if not onnx_path.is_file():
        raise BundleError(f"model bundle {root} has no {MODEL_FILE}")
    actual = file_sha256(onnx_path)
    if actual != manifest.sha256:
        raise BundleError(
            f"{MODEL_FILE} in {root} does not match its manifest: SHA-256 is {actual}, "
            f"the manifest says {manifest.sha256}"
        )
    if manifest.features is not None:
        features_path = root / FEATURES_FILE
        if not features_path.is_file():
            raise BundleError(f"model bundle {root} has no {FEATURES_FILE}")
        actual = file_sha256(features_path)
        if actual != manifest.features.sha256:
            raise BundleError(
                f"{FEATURES_FILE} in {root} does not match its manifest: SHA-256 is {actual}, "
                f"the manifest says {manifest.features.sha256}"
            )
    return Bundle(manifest=manifest, onnx_path=onnx_path, root=root)


def write_bundle(
    folder: Path | str, onnx: bytes | Path, manifest_fields: Mapping[str, Any]
) -> Bundle:
    """Write a bundle: the ONNX file, then a manifest carrying its SHA-256.

    Args:
        folder: the bundle folder; created if missing, its bundle files replaced.
        onnx: the serialised model, or the path of an ONNX file to copy.
        manifest_fields: every manifest field except ``sha256``, which is computed here.

    Raises:
        BundleError: the fields break the manifest schema.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    onnx_path = root / MODEL_FILE
    if isinstance(onnx, bytes):
        _atomic_write(onnx_path, onnx)
    elif Path(onnx).resolve() != onnx_path.resolve():
        shutil.copyfile(onnx, onnx_path)
    fields = {**manifest_fields, "sha256": file_sha256(onnx_path)}
    manifest = _parse_manifest(f"in {root}", fields)
    text = manifest.model_dump_json(indent=2, exclude_none=True) + "\n"
    # The manifest goes last and atomically: a reader never sees a manifest whose ONNX file
    # is still being written.
    _atomic_write(root / MANIFEST_FILE, text.encode("utf-8"))
    return load_bundle(root)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
