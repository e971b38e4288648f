"""Thumbnails and display copies: upright, resized, and free of every EXIF tag.

Display copies are what volunteers and the public see, so nothing the camera wrote survives
into them: no GPS position (a sensitive species' exact site), no maker note (serial numbers,
owner names), no XMP or comments. Only the colour profile is kept, because it changes no
fact about the capture and without it colours shift.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps

__all__ = ["Rendered", "render_derivatives"]

_THUMB_QUALITY = 80
_DISPLAY_QUALITY = 88


@dataclass(frozen=True, slots=True)
class Rendered:
    thumbnail: bytes
    display: bytes


def render_derivatives(source: Path, *, thumbnail_px: int, display_px: int) -> Rendered:
    """The thumbnail and display copy of the image at ``source`` as JPEG bytes.

    Blocking: run it in a worker thread. The longest side of each is at most ``thumbnail_px``
    and ``display_px``; an image smaller than that is not enlarged.
    """
    with Image.open(source) as opened:
        # JPEG can decode at 1/2, 1/4 or 1/8 scale directly: a 20 MP original need not be
        # decoded at full size to make a 1920 px copy. The orientation swap keeps the
        # long side the long side.
        opened.draft("RGB", (display_px, display_px))
        icc = opened.info.get("icc_profile")
        opened.load()
        # In place: a full-size copy per image is a large share of the work.
        ImageOps.exif_transpose(opened, in_place=True)
        image = _rgb(opened)
    display = _fit(image, display_px)
    thumbnail = _fit(display, thumbnail_px)
    return Rendered(
        thumbnail=_jpeg(thumbnail, _THUMB_QUALITY, icc, optimize=True),
        display=_jpeg(display, _DISPLAY_QUALITY, icc, optimize=False),
    )


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent areas become white rather than whatever colour the pixels hide.
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        # 16-bit scientific TIFFs: scale to 8 bits rather than clip at 255.
        return image.convert("I").point(lambda value: value / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def _fit(image: Image.Image, longest: int) -> Image.Image:
    width, height = image.size
    if max(width, height) <= longest:
        return image
    scale = longest / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Bicubic after an integer pre-reduction looks the same as Lanczos at these sizes and
    # costs a fraction of it; derivatives share the CPU with uploads.
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _jpeg(image: Image.Image, quality: int, icc: object, *, optimize: bool) -> bytes:
    # Whatever ``info`` the decoded original carried (EXIF, comment, XMP) would otherwise be
    # written into the copy by Pillow; the derivative is ours to strip.
    image.info = {}
    buffer = io.BytesIO()
    options: dict[str, object] = {"quality": quality, "optimize": optimize}
    if isinstance(icc, bytes) and icc:
        options["icc_profile"] = icc
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()
