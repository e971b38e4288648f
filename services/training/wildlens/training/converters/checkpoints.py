"""Which code wrote a PyTorch checkpoint, read from the names its pickle refers to, without
unpickling it (unpickling runs code; this only reads strings)."""

from __future__ import annotations

import pickletools
import zipfile
from pathlib import Path
from typing import Literal

__all__ = ["CheckpointFamily", "NotACheckpoint", "family_of"]

CheckpointFamily = Literal["yolov5", "ultralytics"]


class NotACheckpoint(Exception):
    """The file is not a PyTorch checkpoint of a detector Wildlens can convert."""


def _pickle_bytes(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
            if not names:
                raise NotACheckpoint("it is a zip file without a pickle")
            return archive.read(names[0])
    except zipfile.BadZipFile:
        # Checkpoints saved before PyTorch 1.6 are a bare pickle.
        return path.read_bytes()


def _module_names(data: bytes) -> set[str]:
    """Modules the pickle imports classes from (GLOBAL, and the strings before STACK_GLOBAL)."""
    modules: set[str] = set()
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name == "GLOBAL" and isinstance(arg, str):
                modules.add(arg.split(" ", 1)[0])
            elif opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                strings.append(str(arg))
            elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                modules.add(strings[-2])
    except Exception as exc:  # pickletools raises plain ValueErrors on garbage
        raise NotACheckpoint(f"its pickle cannot be read ({exc})") from exc
    return modules


def family_of(path: Path) -> CheckpointFamily:
    """``yolov5`` for YOLOv5 checkpoints (MegaDetector v5), ``ultralytics`` for Ultralytics
    ones (YOLOv8/9/10/11, MegaDetector v6).

    Raises:
        NotACheckpoint: neither, or not a checkpoint at all.
    """
    advice = (
        "for another model, export it to ONNX and add the .onnx file with --decoder and --labels"
    )
    try:
        modules = _module_names(_pickle_bytes(path))
    except NotACheckpoint as exc:
        raise NotACheckpoint(
            f"{path.name} is not a YOLOv5 or Ultralytics detector checkpoint: {exc}; {advice}"
        ) from exc
    if any(m == "ultralytics" or m.startswith("ultralytics.") for m in modules):
        return "ultralytics"
    if any(m.startswith(("models.yolo", "models.common", "yolov5.models")) for m in modules):
        return "yolov5"
    raise NotACheckpoint(
        f"{path.name} is not a YOLOv5 or Ultralytics detector checkpoint; {advice}"
    )
