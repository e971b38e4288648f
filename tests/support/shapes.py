"""A small generated dataset for classifier training: each class a shape with its own texture
(a filled disc, a striped square, a chequered triangle), drawn in random colours at random
places and sizes on a noisy background, so that only shape and texture tell the classes apart."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["SHAPE_LABELS", "shape_crop", "shape_jpeg", "shape_samples"]

SHAPE_LABELS: tuple[str, ...] = ("disc", "striped-square", "chequered-triangle")


def shape_crop(label: int, seed: int, size: int = 48) -> Image.Image:
    rng = np.random.default_rng(seed)
    background = rng.uniform(40, 200, size=3)
    noise = rng.standard_normal((size, size, 3)) * 18
    pixels = np.clip(background + noise, 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
    # Half the range away in every channel: the texture always shows, whatever the colour.
    other = tuple((c + 128) % 256 for c in colour)
    # As a crop around a detection frames its animal: the shape fills most of it.
    extent = rng.uniform(0.7, 0.9) * size
    x0 = rng.uniform(0, size - extent)
    y0 = rng.uniform(0, size - extent)
    box = (x0, y0, x0 + extent, y0 + extent)
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    if label == 0:
        draw.ellipse(box, fill=255)
        texture = np.ones((size, size), dtype=bool)
    elif label == 1:
        draw.rectangle(box, fill=255)
        period = max(2, round(size / 12))
        texture = (np.arange(size)[:, None] // period) % 2 == 0
        texture = np.broadcast_to(texture, (size, size))
    else:
        draw.polygon([(x0 + extent / 2, y0), (x0, y0 + extent), (x0 + extent, y0 + extent)], 255)
        cell = max(2, round(size / 8))
        yy, xx = np.mgrid[0:size, 0:size]
        texture = ((yy // cell) + (xx // cell)) % 2 == 0
    fill = np.where(texture[..., None], np.array(colour), np.array(other)).astype(np.uint8)
    image.paste(Image.fromarray(fill, "RGB"), (0, 0), mask)
    # An outline, as an animal stands out from its background, even one of its own colour.
    edge = np.asarray(mask.filter(ImageFilter.FIND_EDGES)) > 0
    pixels = np.asarray(image).copy()
    pixels[edge] = other
    return Image.fromarray(pixels, "RGB")


def shape_jpeg(label: int, seed: int, size: int = 48) -> bytes:
    buffer = io.BytesIO()
    shape_crop(label, seed, size).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _loader(data: bytes) -> Callable[[], bytes]:
    def load() -> bytes:
        return data

    return load


def shape_samples(
    per_split: dict[str, int], seed: int = 0, size: int = 48
) -> list[tuple[Callable[[], bytes], int, str]]:
    """``(loader, class, split)`` for ``per_split[split]`` crops of each class in each split."""
    rows: list[tuple[Callable[[], bytes], int, str]] = []
    for s, (split, count) in enumerate(per_split.items()):
        for label in range(len(SHAPE_LABELS)):
            for i in range(count):
                seed_of = seed * 1_000_000 + s * 100_000 + label * 10_000 + i
                data = shape_jpeg(label, seed_of, size)
                rows.append((_loader(data), label, split))
    return rows
