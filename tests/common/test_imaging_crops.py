"""Square crops with context around detections, checked against boxes worked out by hand,
and the same crops as the clean JPEG bytes training caches."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from wildlens.common.imaging import CropBox, crop_box, crop_jpeg, square_crop


def _gradient(width: int, height: int) -> Image.Image:
    """Every pixel different, so a crop's pixels say where it was cut from."""
    xs, ys = np.meshgrid(np.arange(width), np.arange(height))
    pixels = np.stack([xs % 256, ys % 256, (xs + ys) % 256], axis=-1).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        # A 20x20 px box centred at (90, 40): side 20 * 1.3 = 26, from 90 - 13 and 40 - 13.
        ((0.4, 0.3, 0.1, 0.2), CropBox(77, 27, 103, 53, 26)),
        # At the top-left corner the square moves right and down, keeping its side: both
        # edges from 10 - 13 = -3 to 0.
        ((0.0, 0.0, 0.1, 0.2), CropBox(0, 0, 26, 26, 26)),
        # At the bottom-right corner it moves left and up: 177 -> 174, 77 -> 74.
        ((0.9, 0.8, 0.1, 0.2), CropBox(174, 74, 200, 100, 26)),
        # A 40x10 px box: the square follows the longer side, 40 * 1.3 = 52, centred (60, 45).
        ((0.2, 0.4, 0.2, 0.1), CropBox(34, 19, 86, 71, 52)),
    ],
)
def test_crop_box_by_hand(bbox: tuple[float, float, float, float], expected: CropBox) -> None:
    assert crop_box(bbox, 200, 100) == expected


def test_without_context_a_square_box_is_cut_exactly() -> None:
    assert crop_box((0.25, 0.5, 0.25, 0.5), 80, 40, context=0.0) == CropBox(20, 20, 40, 40, 20)


def test_the_crop_holds_the_pixels_of_its_box() -> None:
    image = _gradient(200, 100)
    crop = square_crop(image, (0.4, 0.3, 0.1, 0.2))
    assert crop.size == (26, 26)
    np.testing.assert_array_equal(np.asarray(crop), np.asarray(image)[27:53, 77:103])


def test_a_square_larger_than_the_image_is_clamped_and_padded_not_stretched() -> None:
    image = _gradient(200, 100)
    # A 20x100 px box: its square (130 px) is taller than the image, so the crop keeps the
    # full height, is 130 wide around the centre, and gets 15 black rows above and below.
    box = crop_box((0.45, 0.0, 0.1, 1.0), 200, 100)
    assert box == CropBox(35, 0, 165, 100, 130)
    crop = np.asarray(square_crop(image, (0.45, 0.0, 0.1, 1.0)))
    assert crop.shape == (130, 130, 3)
    assert not crop[:15].any()
    assert not crop[115:].any()
    np.testing.assert_array_equal(crop[15:115], np.asarray(image)[:, 35:165])


def test_grey_and_palette_images_are_cropped_to_rgb() -> None:
    grey = Image.new("L", (50, 50), 128)
    assert square_crop(grey, (0.2, 0.2, 0.4, 0.4)).mode == "RGB"


def test_nonsense_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="image size must be positive"):
        crop_box((0.1, 0.1, 0.1, 0.1), 0, 10)
    with pytest.raises(ValueError, match="context must not be negative"):
        crop_box((0.1, 0.1, 0.1, 0.1), 10, 10, context=-0.1)


def _jpeg_with_exif(image: Image.Image, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "TrailCam"  # make
    exif[0xA431] = "SERIAL-1234"  # body serial number
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes(), quality=95, comment=b"secret place")
    return out.getvalue()


def test_the_jpeg_crop_is_square_and_carries_no_metadata() -> None:
    original = _jpeg_with_exif(_gradient(200, 100))
    assert Image.open(io.BytesIO(original)).getexif()
    data = crop_jpeg(original, (0.4, 0.3, 0.1, 0.2))
    crop = Image.open(io.BytesIO(data))
    assert crop.format == "JPEG"
    assert crop.size == (26, 26)
    assert crop.mode == "RGB"
    assert not crop.getexif()
    assert "exif" not in crop.info
    assert "comment" not in crop.info
    assert b"SERIAL-1234" not in data
    assert b"TrailCam" not in data


def test_the_jpeg_crop_has_the_pixels_inference_crops() -> None:
    image = _gradient(200, 100)
    data = crop_jpeg(image, (0.2, 0.4, 0.2, 0.1), quality=100)
    decoded = np.asarray(Image.open(io.BytesIO(data)), dtype=np.int16)
    served = np.asarray(square_crop(image, (0.2, 0.4, 0.2, 0.1)), dtype=np.int16)
    assert decoded.shape == served.shape == (52, 52, 3)
    assert np.abs(decoded - served).mean() < 3


def test_the_jpeg_crop_is_cut_from_the_upright_image_and_can_be_resized() -> None:
    # A portrait photo stored landscape with "rotate 90° clockwise to show" (orientation 6):
    # boxes are drawn on what people see, 100 wide by 200 high.
    stored = _gradient(200, 100)
    upright = stored.transpose(Image.Transpose.ROTATE_270)
    data = crop_jpeg(_jpeg_with_exif(stored, orientation=6), (0.1, 0.1, 0.5, 0.25), quality=100)
    decoded = np.asarray(Image.open(io.BytesIO(data)), dtype=np.int16)
    expected = np.asarray(square_crop(upright, (0.1, 0.1, 0.5, 0.25)), dtype=np.int16)
    assert decoded.shape == expected.shape
    assert np.abs(decoded - expected).mean() < 3
    resized = Image.open(io.BytesIO(crop_jpeg(stored, (0.1, 0.1, 0.5, 0.25), size=32)))
    assert resized.size == (32, 32)


def test_a_box_around_a_whole_square_vignette_is_the_vignette_itself() -> None:
    # A single object's image is its crop: nothing is cut, and a grey one becomes RGB.
    image = _gradient(40, 40)
    assert square_crop(image, (0.0, 0.0, 1.0, 1.0)) is image
    grey = image.convert("L")
    crop = square_crop(grey, (0.0, 0.0, 1.0, 1.0))
    assert crop.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(crop), np.asarray(grey.convert("RGB")))
