"""Generated scenes for detector training: a frame of textured ground (noise over stripes or
blotches of its own colours) with one object of a few kinds of distinct shape (a disc, a
square, a triangle, a cross), each of random colour, at a random place and size; answers the
JPEG and the object's box, relative ``[x, y, w, h]`` as the catalogue keeps boxes."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["SCENE_KINDS", "scene"]

SCENE_KINDS: tuple[str, ...] = ("disc", "square", "triangle")
WIDTH, HEIGHT = 320, 240


def _ground(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(50, 170, size=3)
    other = rng.uniform(50, 170, size=3)
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(12, 40)
    stripes = (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) + 1) / 2
    pixels = base + stripes[..., None] * (other - base)
    pixels += rng.standard_normal((HEIGHT, WIDTH, 3)) * 14
    clipped: np.ndarray = np.clip(pixels, 0, 255)
    return clipped


def _shape(draw: ImageDraw.ImageDraw, kind: int, box: tuple[float, float, float, float]) -> None:
    x1, y1, x2, y2 = box
    if kind == 0:
        draw.ellipse(box, fill=255)
    elif kind == 1:
        draw.rectangle(box, fill=255)
    else:
        draw.polygon([((x1 + x2) / 2, y1), (x1, y2), (x2, y2)], fill=255)


def scene(kind: int, seed: int) -> tuple[bytes, tuple[float, float, float, float]]:
    """A frame with one object of ``SCENE_KINDS[kind]``, and its box."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(_ground(rng).astype(np.uint8), "RGB")
    side = rng.uniform(0.3, 0.45) * HEIGHT
    x1 = rng.uniform(4, WIDTH - side - 4)
    y1 = rng.uniform(4, HEIGHT - side - 4)
    box = (x1, y1, x1 + side, y1 + side)
    mask = Image.new("L", (WIDTH, HEIGHT), 0)
    _shape(ImageDraw.Draw(mask), kind, box)
    # Half the range away from the ground's mean in every channel: the object always shows,
    # as an animal does to the people who box it.
    ground = np.asarray(image, dtype=np.float64).reshape(-1, 3).mean(axis=0)
    colour = ((ground + 128 + rng.uniform(-30, 30, size=3)) % 256).astype(np.int64)
    fill = np.clip(colour + rng.standard_normal((HEIGHT, WIDTH, 3)) * 8, 0, 255).astype(np.uint8)
    image.paste(Image.fromarray(fill, "RGB"), (0, 0), mask)
    # An outline, as an animal stands out from ground of its own colour.
    edge = np.asarray(mask.filter(ImageFilter.FIND_EDGES)) > 0
    pixels = np.asarray(image).copy()
    pixels[edge] = (255 - colour).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(out, "JPEG", quality=92)
    return out.getvalue(), (x1 / WIDTH, y1 / HEIGHT, side / WIDTH, side / HEIGHT)
