"""A bundle from what users download: an ONNX file with the flags that describe it, or a
YOLOv5 / Ultralytics checkpoint exported to ONNX with the decoder and labels it implies."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from wildlens.common.bundles import (
    MODEL_FILE,
    Bundle,
    BundleError,
    DecoderName,
    check_onnx_file,
    write_bundle,
)
from wildlens.training.converters.checkpoints import family_of
from wildlens.training.converters.export import check_against_torch, export_onnx
from wildlens.training.converters.loaded import LoadedDetector

__all__ = ["BundleOptions", "MadeBundle", "SourceFile", "make_bundle", "source_file"]

Kind = Literal["detector", "classifier"]
_CHUNK = 1 << 20
_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class BundleOptions:
    """What the command line says about the model; None: from the checkpoint, or a default."""

    name: str | None = None
    version: str | None = None
    kind: Kind | None = None
    decoder: DecoderName | None = None
    labels: list[str] | None = None
    # Width and height of the model's input.
    input_size: tuple[int, int] | None = None
    letterbox: bool = True


@dataclass(frozen=True)
class SourceFile:
    """The file the user brought, as its publisher would describe it."""

    path: Path
    size: int
    sha256: str
    md5: str


@dataclass(frozen=True)
class MadeBundle:
    bundle: Bundle
    source: SourceFile
    # onnx (as brought), yolov5 or ultralytics (converted).
    origin: str
    seconds: float
    facts: dict[str, Any] = field(default_factory=dict)


def source_file(path: Path) -> SourceFile:
    sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha256.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return SourceFile(path, size, sha256.hexdigest(), md5.hexdigest())


def _default_name(path: Path) -> str:
    return _NAME_CHARACTERS.sub("-", path.stem).strip("-._") or "model"


def _manifest(
    options: BundleOptions,
    source: SourceFile,
    *,
    kind: Kind,
    decoder: DecoderName | None,
    labels: list[str],
    size: tuple[int, int],
    training: dict[str, Any],
    stride: int | None = None,
) -> dict[str, Any]:
    return {
        "name": options.name or _default_name(source.path),
        # The source file's own hash: adding the same file twice names the same version.
        "version": options.version or source.sha256[:12],
        "kind": kind,
        "input": {
            "width": size[0],
            "height": size[1],
            "letterbox": options.letterbox,
            # A checkpoint knows its stride (64 for MegaDetector v5's P6 network); an ONNX
            # file brought as it is gets the manifest's default, YOLO's 32.
            **({"stride": stride} if stride else {}),
        },
        **({"decoder": decoder} if decoder else {}),
        "labels": [{"label": label} for label in labels],
        "training": {
            **training,
            "source_file": source.path.name,
            "source_sha256": source.sha256,
        },
    }


def _from_onnx(path: Path, folder: Path, options: BundleOptions, source: SourceFile) -> Bundle:
    missing = [
        flag
        for flag, value in (("--labels", options.labels), ("--input-size", options.input_size))
        if not value
    ]
    kind: Kind = options.kind or "detector"
    if kind == "detector" and options.decoder is None:
        missing.append("--decoder")
    if missing:
        raise BundleError(
            f"an ONNX file does not say how to read it: give {', '.join(missing)} "
            "(decoders: megadetector-v5, yolov8, end2end, generic)"
        )
    check_onnx_file(path)
    manifest = _manifest(
        options,
        source,
        kind=kind,
        decoder=options.decoder,
        labels=options.labels or [],
        size=options.input_size or (0, 0),
        training={"converted_from": "onnx"},
    )
    return write_bundle(folder, path, manifest)


def _input_size(options: BundleOptions, loaded: LoadedDetector) -> tuple[int, int]:
    size = options.input_size or (loaded.trained_size or 640,) * 2
    stride = loaded.max_stride
    if size[0] % stride or size[1] % stride:
        raise BundleError(
            f"the input size {size[0]}x{size[1]} must be a multiple of the model's stride {stride}"
        )
    return size


def _rectangle(width: int, height: int, stride: int) -> tuple[int, int]:
    """A landscape rectangle of stride multiples, about 3:4 of the square: what a camera-trap
    frame letterboxes to."""
    return width, max(stride, (height * 3 // 4) // stride * stride)


def _from_checkpoint(
    path: Path, folder: Path, options: BundleOptions, source: SourceFile
) -> tuple[Bundle, str, dict[str, Any]]:
    family = family_of(path)
    if family == "yolov5":
        from wildlens.training.converters.yolov5 import load_yolov5

        loaded = load_yolov5(path)
    else:
        from wildlens.training.converters.ultralytics import load_ultralytics

        loaded = load_ultralytics(path)
    labels = options.labels or loaded.labels
    if len(labels) != len(loaded.labels):
        raise BundleError(
            f"--labels names {len(labels)} classes; the checkpoint has {len(loaded.labels)} "
            f"({', '.join(loaded.labels)})"
        )
    width, height = _input_size(options, loaded)
    onnx = export_onnx(loaded.module, width, height, loaded.decoder)
    difference = check_against_torch(loaded.module, onnx, width, height)
    # A free input size is checked at a rectangle too: a head that baked its grids in at
    # tracing would pass at the traced size only.
    rectangle = _rectangle(width, height, loaded.max_stride)
    difference = max(difference, check_against_torch(loaded.module, onnx, *rectangle))
    manifest = _manifest(
        options,
        source,
        kind="detector",
        decoder=options.decoder or loaded.decoder,
        labels=labels,
        size=(width, height),
        training={**loaded.facts, "converted_from": family},
        stride=loaded.max_stride,
    )
    facts = {**loaded.facts, "export_difference": difference}
    return write_bundle(folder, onnx, manifest), family, facts


def make_bundle(path: Path, folder: Path, options: BundleOptions) -> MadeBundle:
    """Write the bundle for ``path`` into ``folder`` (new, or empty).

    Raises:
        BundleError: flags missing or contradicting the model, or the result breaks the
            manifest's schema.
        ConverterMissing: a checkpoint needs the converters extra, which is not installed.
        NotACheckpoint: a ``.pt`` file that is not a YOLOv5 or Ultralytics detector.
        ExportMismatch: the exported ONNX does not compute what the checkpoint does.
    """
    if folder.exists() and any(folder.iterdir()):
        raise BundleError(f"{folder} is not empty; the bundle needs a folder of its own")
    started = time.perf_counter()
    source = source_file(path)
    if path.suffix.lower() == ".onnx":
        facts: dict[str, Any] = {}
        bundle, origin = _from_onnx(path, folder, options, source), "onnx"
    else:
        bundle, origin, facts = _from_checkpoint(path, folder, options, source)
    assert (folder / MODEL_FILE).is_file()
    return MadeBundle(bundle, source, origin, time.perf_counter() - started, facts)
