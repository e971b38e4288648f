"""The ``file_name`` a COCO Camera Traps export gives each image: relative to the data set's
folder, one file per image, and the URL beside it where the file lives elsewhere."""

from __future__ import annotations

import uuid

from wildlens.catalogue.exchange.coco.files import image_files, is_relative
from wildlens.catalogue.models import Media


def _media(file_path: str = "", filename: str = "", **raw: str) -> Media:
    return Media(
        id=uuid.uuid4(),
        project_id=uuid.uuid4(),
        sha256="",
        object_key="",
        content_type="image/jpeg",
        file_path=file_path,
        filename=filename,
        raw_metadata={"coco": raw} if raw else {},
    )


def test_file_names_are_relative_and_each_image_has_its_own() -> None:
    files = image_files(
        [
            # A package's own photo keeps the path it was packed under.
            ("kept", _media("media/cam1/IMG_0001.JPG", "IMG_0001.JPG")),
            # Two cameras both named their photo IMG_0002.JPG, hosted elsewhere.
            ("a", _media("https://example.org/assets/a/file", "IMG_0002.JPG")),
            ("b", _media("https://example.org/assets/b/file", "IMG_0002.JPG")),
            # An absolute path on the machine the data came from.
            ("windows", _media("D:\\traps\\cam3\\IMG_0003.JPG")),
            # A URL and nothing else to name the file by.
            ("bare", _media("https://example.org/assets/c/file")),
            # A COCO file's relative name stays where the URL took the path's place.
            ("imported", _media("https://example.org/x.jpg", "x.jpg", file_name="site/x.jpg")),
        ]
    )
    assert {key: (f.file_name, f.url) for key, f in files.items()} == {
        "kept": ("media/cam1/IMG_0001.JPG", None),
        "a": ("a/IMG_0002.JPG", "https://example.org/assets/a/file"),
        "b": ("b/IMG_0002.JPG", "https://example.org/assets/b/file"),
        "windows": ("IMG_0003.JPG", None),
        "bare": ("bare.jpg", "https://example.org/assets/c/file"),
        "imported": ("site/x.jpg", "https://example.org/x.jpg"),
    }
    assert all(is_relative(f.file_name) for f in files.values())


def test_paths_outside_the_folder_are_not_relative() -> None:
    assert is_relative("media/a.jpg")
    for path in ("/data/a.jpg", "C:\\data\\a.jpg", "\\\\server\\share\\a.jpg", "../a.jpg", ""):
        assert not is_relative(path), path
