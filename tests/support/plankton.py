"""Generated plankton objects whose class neither the pixels nor the features settle alone.

Four classes: two shapes (a filled disc, a ring) in two sizes each. An imager's vignettes are
normalised, so every vignette shows its object at the same scale: the pixels tell the disc
from the ring but not the small from the large. The features (measured on the organism
before normalisation: axes in micrometres, the filled ellipse's area, a mean grey that says
nothing of the class) tell small from large but not disc from ring. Only both together name
every class.
"""

from __future__ import annotations

import io
import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["PLANKTON_CLASSES", "plankton_object"]

# class → (shape, range of the major axis in micrometres).
PLANKTON_CLASSES: dict[str, tuple[str, tuple[float, float]]] = {
    "Acartia clausi": ("disc", (300.0, 600.0)),
    "Calanus finmarchicus": ("disc", (750.0, 1200.0)),
    "Oithona similis": ("ring", (300.0, 600.0)),
    "Oncaea venusta": ("ring", (750.0, 1200.0)),
}


def plankton_object(name: str, seed: int, side: int = 48) -> tuple[bytes, dict[str, float]]:
    """A PNG vignette of class ``name`` and its features (area, major, minor, mean)."""
    shape, (low, high) = PLANKTON_CLASSES[name]
    rng = random.Random(seed)
    major = rng.uniform(low, high)
    minor = major * rng.uniform(0.8, 1.0)
    grey = rng.uniform(30.0, 110.0)
    # Normalised: the object fills most of its vignette whatever its size.
    extent = side * rng.uniform(0.7, 0.85)
    squash = minor / major
    x0 = rng.uniform(1, side - extent - 1)
    y0 = rng.uniform(1, side - extent * squash - 1)
    image = Image.new("L", (side, side), 235)
    draw = ImageDraw.Draw(image)
    box = (x0, y0, x0 + extent, y0 + extent * squash)
    if shape == "disc":
        draw.ellipse(box, fill=round(grey))
    else:
        draw.ellipse(box, outline=round(grey), width=max(3, round(extent / 7)))
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32)
    noise = np.random.default_rng(seed).standard_normal(pixels.shape) * 8
    out = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8), "L")
    buffer = io.BytesIO()
    out.save(buffer, format="PNG")
    features = {
        "area": round(math.pi / 4 * major * minor, 1),
        "major": round(major, 2),
        "minor": round(minor, 2),
        "mean": round(grey + rng.gauss(0, 4), 2),
    }
    return buffer.getvalue(), features
