"""Thumbnails and display copies: upright, within size, and with no EXIF left in them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from tests.support.located_images import ImageFormat, located_image, location_metadata
from wildlens.ingest.derivatives import render_derivatives

MEDIA = Path(__file__).resolve().parents[1] / "data" / "camtrap-dp" / "example" / "media"
GPS_IFD, EXIF_IFD, MAKER_NOTE, ORIENTATION = 0x8825, 0x8769, 0x927C, 0x0112


def gps_jpeg(*, orientation: int = 1, size: tuple[int, int] = (400, 200)) -> bytes:
    """A JPEG with a GPS position, a maker note and an orientation tag; left half red."""
    image = Image.new("RGB", size, (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, size[0] // 2, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD)[MAKER_NOTE] = b"SERIAL-12345 owner=Jane"
    exif.get_ifd(EXIF_IFD)[0x9003] = "2024:05:01 06:30:00"
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (52.0, 22.0, 12.5)
    gps[3], gps[4] = "E", (4.0, 53.0, 30.0)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif, quality=95, comment=b"site: nest 7")
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _assert_no_metadata(data: bytes) -> None:
    image = _open(data)
    exif = image.getexif()
    assert len(exif) == 0, dict(exif)
    assert not exif.get_ifd(GPS_IFD)
    assert MAKER_NOTE not in exif.get_ifd(EXIF_IFD)
    assert "exif" not in image.info
    assert "comment" not in image.info
    # Not hidden anywhere else in the file either.
    assert b"Exif\x00\x00" not in data
    assert b"SERIAL-12345" not in data
    assert b"nest 7" not in data


def test_gps_maker_note_and_comment_are_gone(tmp_path: Path) -> None:
    source = tmp_path / "gps.jpg"
    source.write_bytes(gps_jpeg())
    assert _open(source.read_bytes()).getexif().get_ifd(GPS_IFD)  # the input does have GPS
    rendered = render_derivatives(source, thumbnail_px=64, display_px=256)
    _assert_no_metadata(rendered.thumbnail)
    _assert_no_metadata(rendered.display)


def test_sizes_follow_the_longest_side_and_small_images_are_not_enlarged(
    tmp_path: Path,
) -> None:
    source = tmp_path / "gps.jpg"
    source.write_bytes(gps_jpeg(size=(400, 200)))
    rendered = render_derivatives(source, thumbnail_px=64, display_px=256)
    assert _open(rendered.thumbnail).size == (64, 32)
    assert _open(rendered.display).size == (256, 128)
    rendered = render_derivatives(source, thumbnail_px=64, display_px=1000)
    assert _open(rendered.display).size == (400, 200)


def test_the_exif_orientation_is_applied(tmp_path: Path) -> None:
    source = tmp_path / "rotated.jpg"
    # Orientation 6: the camera was turned; viewers rotate 90° clockwise to show it upright.
    source.write_bytes(gps_jpeg(orientation=6, size=(400, 200)))
    display = _open(render_derivatives(source, thumbnail_px=64, display_px=256).display)
    assert display.size == (128, 256)
    # The red left half of the stored pixels is the top half once upright.
    red, _green, blue = display.convert("RGB").getpixel((64, 32))  # type: ignore[misc]
    assert red > 200
    assert blue < 60
    red, _green, blue = display.convert("RGB").getpixel((64, 224))  # type: ignore[misc]
    assert blue > 200
    assert red < 60


def test_a_reconyx_maker_note_does_not_survive(tmp_path: Path) -> None:
    original = sorted(MEDIA.glob("*.JPG"))[0]
    with Image.open(original) as image:
        assert MAKER_NOTE in image.getexif().get_ifd(EXIF_IFD)
    rendered = render_derivatives(original, thumbnail_px=320, display_px=1024)
    assert max(_open(rendered.display).size) == 1024
    assert max(_open(rendered.thumbnail).size) == 320
    _assert_no_metadata(rendered.display)
    assert b"RECONYX" not in rendered.display


def test_transparent_png_becomes_an_rgb_jpeg_on_white(tmp_path: Path) -> None:
    source = tmp_path / "t.png"
    Image.new("RGBA", (50, 40), (0, 0, 0, 0)).save(source)
    display = _open(render_derivatives(source, thumbnail_px=16, display_px=64).display)
    assert display.format == "JPEG"
    assert display.mode == "RGB"
    assert display.getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize("image_format", ["JPEG", "PNG", "WEBP"])
def test_no_place_survives_from_exif_or_xmp(tmp_path: Path, image_format: ImageFormat) -> None:
    source = tmp_path / "located"
    source.write_bytes(located_image(50.699, 4.013, image_format=image_format))
    # The camera's EXIF fix and the photo software's XMP copy of it are both there.
    assert location_metadata(source.read_bytes()) == ["exif-gps", "xmp-gps"]
    rendered = render_derivatives(source, thumbnail_px=64, display_px=256)
    for derived in (rendered.display, rendered.thumbnail):
        assert location_metadata(derived) == []
        assert "xmp" not in _open(derived).info
        assert b"adobe:ns:meta" not in derived
