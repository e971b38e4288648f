"""Bounding boxes between the catalogue's convention and the formats that differ from it.

The catalogue keeps relative ``[x, y, width, height]`` with a top-left origin (Camtrap DP's
and MegaDetector's convention); COCO Camera Traps has the same shape in pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["to_pixels", "to_relative"]


def to_relative(box: Sequence[float], width: int, height: int) -> list[float]:
    """A COCO pixel box ``[x, y, w, h]`` as fractions of an image ``width`` by ``height``."""
    x, y, w, h = box
    return [x / width, y / height, w / width, h / height]


def to_pixels(box: Sequence[float], width: int, height: int) -> list[float]:
    """A relative box as COCO pixels, rounded to hundredths of a pixel."""
    x, y, w, h = box
    return [round(x * width, 2), round(y * height, 2), round(w * width, 2), round(h * height, 2)]
