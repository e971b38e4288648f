"""The converters' own dependencies, imported only when a checkpoint is converted.

Reading a PyTorch checkpoint means unpickling the classes of the code that trained it: YOLOv5's
(the ``yolov5`` package, GPL-3.0; its source files say AGPL-3.0) for MegaDetector v5, and
Ultralytics' (``ultralytics``, AGPL-3.0) for MegaDetector v6 and other YOLOv8/9/11 checkpoints.
Wildlens itself is Apache-2.0 and installs neither: they come with the ``converters`` extra,
and only ``wildlens models add`` on a ``.pt`` file imports them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from typing import Any

__all__ = ["INSTALL", "ConverterMissing", "import_torch", "import_ultralytics", "import_yolov5"]

# yolov5's own requirements pin old versions of the platform's libraries (typer among them),
# so it is installed without them: the extra brings everything it imports.
INSTALL = "pip install 'wildlens-training[converters]' && pip install --no-deps yolov5==7.0.14"


class ConverterMissing(Exception):
    """A package the conversion needs is not installed; the message says which and why."""


def _missing(package: str, licence: str, what: str) -> ConverterMissing:
    return ConverterMissing(
        f"converting {what} needs the {package!r} package ({licence}), which Wildlens "
        f"(Apache-2.0) does not install by itself. Install the converters extra:\n  {INSTALL}"
    )


def import_torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise _missing("torch", "BSD-3-Clause", "a PyTorch checkpoint") from exc


def _offline() -> None:
    """Ultralytics reaches the network by default (settings sync, asset downloads, installing
    missing requirements with pip); a conversion needs none of it. The user's own choices in
    the environment win."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_AUTOINSTALL", "0")
    os.environ.setdefault("YOLO_VERBOSE", "0")


def import_ultralytics(what: str = "an Ultralytics checkpoint (MegaDetector v6)") -> Any:
    import_torch()
    _offline()
    try:
        return importlib.import_module("ultralytics")
    except ImportError as exc:
        raise _missing("ultralytics", "AGPL-3.0", what) from exc


def _pkg_resources_stand_in() -> None:
    """yolov5 7.0.14 imports ``pkg_resources`` for one function (``parse_version``); setuptools
    81 and later no longer ship it. The stand-in gives that function from ``packaging``."""
    if "pkg_resources" in sys.modules or importlib.util.find_spec("pkg_resources") is not None:
        return
    from packaging.version import parse

    stand_in = types.ModuleType("pkg_resources")
    stand_in.parse_version = parse  # type: ignore[attr-defined]
    sys.modules["pkg_resources"] = stand_in


def import_yolov5() -> Any:
    """``yolov5.models.yolo``, which also makes the checkpoints' own module names (``models.yolo``,
    ``models.common``: YOLOv5 pickles its classes under those) importable."""
    what = "a YOLOv5 checkpoint (MegaDetector v5)"
    import_ultralytics(what)  # yolov5 imports it too
    _pkg_resources_stand_in()
    try:
        return importlib.import_module("yolov5.models.yolo")
    except ImportError as exc:
        if exc.name in ("yolov5", "yolov5.models", "yolov5.models.yolo"):
            raise _missing("yolov5", "GPL-3.0", what) from exc
        raise ConverterMissing(
            f"the yolov5 package is installed but does not import ({exc}); reinstall the "
            f"converters extra:\n  {INSTALL}"
        ) from exc
