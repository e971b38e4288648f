from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageFile

from tests.support import bad_files
from wildlens.common.errors import Invalid, WildlensError
from wildlens.ingest.media import ImageInfo, inspect_image, sniff_file

MAX_PIXELS = 120_000_000
MEDIA_CSV = bad_files.MEDIA_DIR.parent / "media.csv"


def _inspect(tmp_path: Path, data: bytes, *, max_pixels: int = MAX_PIXELS) -> ImageInfo:
    # Named .jpg whatever it is: the name must play no part.
    path = tmp_path / "upload.jpg"
    path.write_bytes(data)
    return inspect_image(path, sniff_file(path), max_pixels=max_pixels)


def _example_media() -> list[tuple[str, str]]:
    """(file name, EXIF date/time) of the example images, from the package's media table."""
    with MEDIA_CSV.open(newline="") as f:
        rows = [row for row in csv.DictReader(f) if row["filePath"].startswith("media/")]
    # The table's timestamps are the camera's EXIF times with the deployment's +01:00.
    assert all(row["timestamp"].endswith("+01:00") for row in rows)
    return [
        (row["fileName"], row["timestamp"][:19].replace("-", ":").replace("T", " ")) for row in rows
    ]


EXAMPLE_MEDIA = _example_media()


def test_the_example_package_has_ten_images() -> None:
    assert len(EXAMPLE_MEDIA) == 10
    assert EXAMPLE_MEDIA[0] == ("20210531082538-RCNX0031.JPG", "2021:04:11 20:43:09")


@pytest.mark.parametrize(("file_name", "taken"), EXAMPLE_MEDIA)
def test_real_reconyx_images_pass_with_their_metadata(file_name: str, taken: str) -> None:
    path = bad_files.MEDIA_DIR / file_name
    sniffed = sniff_file(path)

    info = inspect_image(path, sniffed, max_pixels=MAX_PIXELS)

    assert sniffed.content_type == "image/jpeg"
    assert sniffed.extension == "jpg"
    assert (info.width, info.height) == (2048, 1440)
    assert info.metadata.datetime_original == taken
    assert info.metadata.offset_time_original is None  # the HF2 does not write one
    assert info.metadata.make == "RECONYX"
    assert info.metadata.model == "HYPERFIRE 2 COVERT"  # written with a trailing NUL
    # Not in any EXIF tag: read from the Reconyx maker note.
    assert info.metadata.serial == "H2RXEM06043616"
    assert info.metadata.gps_latitude is None
    assert info.metadata.gps_longitude is None


@pytest.mark.parametrize(
    ("make", "size"),
    [
        (bad_files.valid_png, (64, 48)),
        (bad_files.valid_tiff, (64, 48)),
        (bad_files.valid_webp, (64, 48)),
        (bad_files.valid_lossless_webp, (64, 48)),
        (bad_files.small_jpeg, (64, 48)),
        (bad_files.jpeg_with_padding, (2048, 1440)),
        (bad_files.jpeg_followed_by_jpeg, (2048, 1440)),
        (bad_files.jpeg_with_broken_exif, (64, 48)),
    ],
)
def test_valid_images_are_accepted(
    tmp_path: Path, make: Callable[[], bytes], size: tuple[int, int]
) -> None:
    info = _inspect(tmp_path, make())

    assert (info.width, info.height) == size


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (bad_files.truncated_jpeg, Invalid, "JPEG data is truncated or corrupt: "),
        (bad_files.jpeg_with_garbage, Invalid, "JPEG data is truncated or corrupt: "),
        (bad_files.truncated_png, Invalid, "PNG data is truncated or corrupt: "),
        (
            bad_files.polyglot_jpeg_html,
            Invalid,
            "data after the end of the image looks like HTML or script",
        ),
        (bad_files.polyglot_jpeg_zip, Invalid, "data after the end of the image looks like a ZIP"),
        (
            bad_files.polyglot_jpeg_script,
            Invalid,
            "data after the end of the image looks like a script",
        ),
        (
            bad_files.polyglot_jpeg_pe,
            Invalid,
            "data after the end of the image looks like a Windows executable",
        ),
        (
            bad_files.png_bomb,
            Invalid,
            "image has 900000000 pixels, more than the limit of 120000000",
        ),
        (
            lambda: bad_files.png_header_only(20000, 10000),
            Invalid,
            "image has 200000000 pixels, more than the limit of 120000000",
        ),
        (
            # pillow-heif decodes HEIC, so a HEIC header with nothing behind it is corrupt.
            bad_files.fake_heic,
            Invalid,
            "HEIC data is truncated or corrupt",
        ),
    ],
)
def test_bad_images_are_refused_with_a_reason(
    tmp_path: Path, make: Callable[[], bytes], error: type[WildlensError], message: str
) -> None:
    with pytest.raises(error) as caught:
        _inspect(tmp_path, make())

    assert type(caught.value) is error
    assert message in caught.value.detail


def test_the_garbage_case_is_refused_by_decoding_not_by_luck(tmp_path: Path) -> None:
    with pytest.raises(Invalid) as caught:
        _inspect(tmp_path, bad_files.jpeg_with_garbage())

    assert (
        caught.value.detail
        == "JPEG data is truncated or corrupt: broken data stream when reading image file"
    )


def test_a_bomb_is_refused_before_anything_is_decoded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow was asked to open a decompression bomb")

    monkeypatch.setattr(Image, "open", no_decoding)

    with pytest.raises(Invalid, match="image has 900000000 pixels"):
        _inspect(tmp_path, bad_files.png_bomb())


def test_pillows_own_limit_is_respected_without_changing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)

    with pytest.raises(Invalid, match="image has 3072 pixels, more than the limit of 1000"):
        _inspect(tmp_path, bad_files.valid_png())

    assert Image.MAX_IMAGE_PIXELS == 1000


def test_inspecting_leaves_pillows_global_settings_alone(tmp_path: Path) -> None:
    before = (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES)

    _inspect(tmp_path, bad_files.small_jpeg())
    with pytest.raises(Invalid):
        _inspect(tmp_path, bad_files.png_bomb())

    assert (Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES) == before


def test_refuses_to_run_if_pillow_was_told_to_accept_truncated_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)

    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        _inspect(tmp_path, bad_files.truncated_jpeg())


def test_videos_are_not_images(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not video/mp4"):
        _inspect(tmp_path, bad_files.fake_mp4())
